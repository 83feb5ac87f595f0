import Foundation
import XCTest
@testable import Forecasting
import NeuralNet

final class SeriesBuilderTests: XCTestCase {
    private func settings(_ frequency: String, _ zone: String = "UTC", aggregation: Aggregation = .mean,
                          maxGap: Int = 3, minimumLength: Int = 2) -> SeriesSettings {
        SeriesSettings(grid: grid(frequency, zone), aggregation: aggregation, maxGap: maxGap, minimumLength: minimumLength)
    }

    private func ready(_ outcomes: [SeriesOutcome], _ key: String,
                       file: StaticString = #filePath, line: UInt = #line) -> RegularSeries? {
        guard case .ready(let series)? = outcomes[key: key] else {
            XCTFail("\(key) is not ready: \(String(describing: outcomes[key: key]))", file: file, line: line)
            return nil
        }
        return series
    }

    func testHourlyGridWithDuplicatesAndRowsOutOfOrder() throws {
        let t0 = instant(2013, 1, 1, 6)
        let rows = [
            row("a", t0.addingTimeInterval(2 * 3600 + 60), 7),
            row("a", t0, 1),
            row("a", t0.addingTimeInterval(3 * 3600), 9),
            row("a", t0.addingTimeInterval(1800), 3),       // same hour as t0
            row("a", t0.addingTimeInterval(3600), 4),
            row("a", t0.addingTimeInterval(3600), 6),       // duplicate timestamp
            row("a", t0.addingTimeInterval(2 * 3600 + 60), 7),  // duplicate row
        ]
        let outcomes = SeriesBuilder.build(rows.shuffled(), settings: settings("1h"))
        let series = try XCTUnwrap(ready(outcomes, "a"))
        XCTAssertEqual(series.start, t0)
        XCTAssertEqual(series.values, [2, 5, 7, 9])
        XCTAssertEqual(series.states, [.observed, .observed, .observed, .observed])
        XCTAssertEqual(series.rows.read, 7)
        XCTAssertEqual(series.rows.dropped, 0)
        XCTAssertEqual(series.date(ofStep: 4), instant(2013, 1, 1, 10))
        XCTAssertEqual(series.endBucket - series.firstBucket, 4)
    }

    func testEveryAggregation() throws {
        let t0 = instant(2013, 6, 1)
        // One hour holds 3 (at :40), 1 (at :10), 2 (at :40, read later); the next holds -1 alone.
        let rows = [
            row("s", t0.addingTimeInterval(2400), 3),
            row("s", t0.addingTimeInterval(600), 1),
            row("s", t0.addingTimeInterval(3600 + 5), -1),
            row("s", t0.addingTimeInterval(2400), 2),
        ]
        let expected: [Aggregation: [Double]] = [
            .mean: [2, -1], .sum: [6, -1], .min: [1, -1], .max: [3, -1], .last: [2, -1],
        ]
        for aggregation in Aggregation.allCases {
            let outcomes = SeriesBuilder.build(rows, settings: settings("1h", aggregation: aggregation))
            XCTAssertEqual(ready(outcomes, "s")?.values, expected[aggregation], "\(aggregation)")
        }
        // "last" follows timestamps, not reading order.
        let late = [row("s", t0.addingTimeInterval(3000), 10), row("s", t0.addingTimeInterval(100), 20),
                    row("s", t0.addingTimeInterval(3700), 0)]
        XCTAssertEqual(ready(SeriesBuilder.build(late, settings: settings("1h", aggregation: .last)), "s")?.values, [10, 0])
    }

    func testMissingValuesNeverTakePart() throws {
        let t0 = instant(2013, 6, 1)
        let rows = [
            row("s", t0, 1), row("s", t0.addingTimeInterval(60), nil), row("s", t0.addingTimeInterval(120), .nan),
            row("s", t0.addingTimeInterval(3600), .infinity), row("s", t0.addingTimeInterval(3660), -.infinity),
            row("s", t0.addingTimeInterval(7200), 5), row("s", t0.addingTimeInterval(7260), nil),
        ]
        for aggregation in Aggregation.allCases {
            let series = try XCTUnwrap(ready(SeriesBuilder.build(rows, settings: settings("1h", aggregation: aggregation, maxGap: 0)), "s"))
            assertValues(series.values, [1, .nan, 5])
            XCTAssertEqual(series.states, [.observed, .missing, .observed])
            XCTAssertEqual(series.rows.missingValue, 5)
            XCTAssertEqual(series.rows.read, 7)
        }
        // A step whose only values are bad is a gap like any other, and gets interpolated.
        let filled = try XCTUnwrap(ready(SeriesBuilder.build(rows, settings: settings("1h", maxGap: 1)), "s"))
        XCTAssertEqual(filled.values, [1, 3, 5])
        XCTAssertEqual(filled.states, [.observed, .interpolated, .observed])
    }

    func testShortGapsAreInterpolatedLinearlyAndLongOnesStayMissing() throws {
        let t0 = instant(2013, 6, 1)
        func at(_ step: Int, _ value: Double) -> SourceRow { row("s", t0.addingTimeInterval(Double(step) * 3600), value) }
        // Observed at 0, 4 (gap of 3), 5, 10 (gap of 4), 11 (gap of 0), 13 (gap of 1).
        let rows = [at(0, 10), at(4, 50), at(5, 0), at(10, 100), at(11, -1), at(13, 1)]
        let series = try XCTUnwrap(ready(SeriesBuilder.build(rows, settings: settings("1h", maxGap: 3)), "s"))
        assertValues(series.values, [10, 20, 30, 40, 50, 0, .nan, .nan, .nan, .nan, 100, -1, 0, 1])
        XCTAssertEqual(series.states, [.observed, .interpolated, .interpolated, .interpolated, .observed, .observed,
                                       .missing, .missing, .missing, .missing, .observed, .observed, .interpolated, .observed])
        XCTAssertEqual(series.gaps, [Gap(start: 1, length: 3, interpolated: true), Gap(start: 6, length: 4, interpolated: false),
                                     Gap(start: 12, length: 1, interpolated: true)])
        XCTAssertEqual(series.observedCount, 6)
        XCTAssertEqual(series.interpolatedCount, 4)
        XCTAssertEqual(series.missingCount, 4)
        XCTAssertEqual(series.observedMask.filter { $0 }.count, 6)
        assertValues(series.observedValues, [10, .nan, .nan, .nan, 50, 0, .nan, .nan, .nan, .nan, 100, -1, .nan, 1])
        XCTAssertEqual(series.lastObservedStep, 13)
        // Interpolation that is not on a whole number: a third of the way.
        let thirds = try XCTUnwrap(ready(SeriesBuilder.build([at(0, 0), at(3, 1)], settings: settings("1h", maxGap: 2)), "s"))
        XCTAssertEqual(thirds.values[1], 1.0 / 3.0, accuracy: 1e-15)
        XCTAssertEqual(thirds.values[2], 2.0 / 3.0, accuracy: 1e-15)
        // With max_gap = 0 nothing is invented.
        let none = try XCTUnwrap(ready(SeriesBuilder.build(rows, settings: settings("1h", maxGap: 0)), "s"))
        XCTAssertEqual(none.interpolatedCount, 0)
        XCTAssertEqual(none.missingCount, 8)
    }

    func testFixedExtentKeepsLeadingAndTrailingStepsMissing() throws {
        let hourly = grid("1h")
        let first = hourly.index(of: instant(2013, 6, 1))!
        var settings = SeriesSettings(grid: hourly, maxGap: 5, extent: .buckets(first...(first + 5)))
        settings.minimumLength = 1
        let rows = [row("s", instant(2013, 6, 1, 2), 2), row("s", instant(2013, 6, 1, 3), 3),
                    row("s", instant(2013, 5, 31, 23), 9), row("s", instant(2013, 6, 1, 6), 9)]
        let series = try XCTUnwrap(ready(SeriesBuilder.build(rows, settings: settings), "s"))
        assertValues(series.values, [.nan, .nan, 2, 3, .nan, .nan])
        XCTAssertEqual(series.states, [.missing, .missing, .observed, .observed, .missing, .missing])
        XCTAssertEqual(series.rows.outsideExtent, 2)
        XCTAssertEqual(series.firstBucket, first)
    }

    func testDailyBucketsInTheJobsTimeZone() throws {
        let zone = "America/New_York"
        var rows: [SourceRow] = []
        // One reading per hour of absolute time from 8 to 12 March 2013 (local); 10 March has 23 hours.
        var time = instant(2013, 3, 8, in: zone)
        while time < instant(2013, 3, 12, in: zone) {
            rows.append(row("ny", time, 1))
            time += 3600
        }
        let series = try XCTUnwrap(ready(SeriesBuilder.build(rows, settings: settings("1d", zone, aggregation: .sum)), "ny"))
        XCTAssertEqual(series.values, [24, 24, 23, 24])
        XCTAssertEqual(series.start, instant(2013, 3, 8, in: zone))
        // In UTC the same rows are cut elsewhere.
        let utc = try XCTUnwrap(ready(SeriesBuilder.build(rows, settings: settings("1d", aggregation: .sum)), "ny"))
        XCTAssertEqual(utc.values, [19, 24, 24, 24, 4])

        rows.removeAll()
        time = instant(2013, 11, 2, in: zone)
        while time < instant(2013, 11, 5, in: zone) {
            rows.append(row("ny", time, 1))
            time += 3600
        }
        let autumn = try XCTUnwrap(ready(SeriesBuilder.build(rows, settings: settings("1d", zone, aggregation: .sum)), "ny"))
        XCTAssertEqual(autumn.values, [24, 25, 24])
    }

    func testWeeklyAndMonthlySeries() throws {
        var rows: [SourceRow] = []
        for day in 0..<70 {  // 1 January (a Tuesday) to 11 March 2013
            rows.append(row("w", instant(2013, 1, 1).addingTimeInterval(Double(day) * 86_400 + 43_200), Double(day)))
        }
        let weekly = try XCTUnwrap(ready(SeriesBuilder.build(rows, settings: settings("1w", aggregation: .min)), "w"))
        XCTAssertEqual(weekly.start, instant(2012, 12, 31))
        XCTAssertEqual(weekly.values, [0, 6, 13, 20, 27, 34, 41, 48, 55, 62, 69])
        let monthly = try XCTUnwrap(ready(SeriesBuilder.build(rows, settings: settings("1mo", aggregation: .max)), "w"))
        XCTAssertEqual(monthly.start, instant(2013, 1, 1))
        XCTAssertEqual(monthly.values, [30, 58, 69])
        XCTAssertEqual(monthly.date(ofStep: 3), instant(2013, 4, 1))
    }

    func testBusinessDaysDropWeekendRowsAndBridgeFridayToMonday() throws {
        // Thursday 3 January to Wednesday 16 January 2013, every calendar day, and a holiday gap.
        var rows: [SourceRow] = []
        for day in 3...16 where day != 10 {
            rows.append(row("spx", instant(2013, 1, day, 16), Double(day)))
        }
        let series = try XCTUnwrap(ready(SeriesBuilder.build(rows, settings: settings("1b", "America/New_York", maxGap: 1)), "spx"))
        // Thu 3, Fri 4, Mon 7 ... Fri 11, Mon 14 ... Wed 16; Thursday 10 is missing and filled.
        XCTAssertEqual(series.values, [3, 4, 7, 8, 9, 10, 11, 14, 15, 16])
        XCTAssertEqual(series.states[5], .interpolated)
        XCTAssertEqual(series.rows.offGrid, 4)  // 5, 6, 12, 13 January
        XCTAssertEqual(series.rows.dropped, 4)
        XCTAssertEqual(series.date(ofStep: 2), instant(2013, 1, 7, in: "America/New_York"))
        XCTAssertEqual(series.date(ofStep: 10), instant(2013, 1, 17, in: "America/New_York"))
        XCTAssertEqual(series.date(ofStep: 12), instant(2013, 1, 21, in: "America/New_York"))
    }

    func testBadSeriesAreSkippedWithAReasonAndTheOthersGoOn() throws {
        let t0 = instant(2013, 6, 1)
        var rows: [SourceRow] = []
        for step in 0..<10 {
            let time = t0.addingTimeInterval(Double(step) * 3600)
            rows.append(row("good", time, Double(step % 3)))
            rows.append(row("constant", time, 0.1))
            rows.append(row("constant", time, 0.1))  // means of equal values may differ in the last bit
            rows.append(row("missing", time, step.isMultiple(of: 2) ? nil : .nan))
            if step < 3 { rows.append(row("short", time, Double(step))) }
        }
        rows.append(row("weekend", instant(2013, 6, 1, 12), 1))  // a Saturday, for the business-day run
        var settings = settings("1h", minimumLength: 5)
        let outcomes = SeriesBuilder.build(rows, settings: settings, expectedKeys: ["absent"])
        XCTAssertEqual(outcomes.map(\.key), ["absent", "constant", "good", "missing", "short", "weekend"])
        XCTAssertNotNil(ready(outcomes, "good"))
        XCTAssertEqual(outcomes[key: "absent"]?.skipReason, .empty)
        XCTAssertEqual(outcomes[key: "missing"]?.skipReason, .allMissing(rows: 10))
        XCTAssertEqual(outcomes[key: "short"]?.skipReason, .tooShort(needed: 5, got: 3))
        XCTAssertEqual(outcomes[key: "short"]?.series?.values, [0, 1, 2])
        XCTAssertEqual(outcomes[key: "weekend"]?.skipReason, .tooShort(needed: 5, got: 1))
        guard case .constant(let value)? = outcomes[key: "constant"]?.skipReason else {
            return XCTFail("constant series not recognised: \(String(describing: outcomes[key: "constant"]))")
        }
        XCTAssertEqual(value, 0.1, accuracy: 1e-15)
        XCTAssertEqual(outcomes[key: "constant"]?.series?.count, 10)
        // The fallback serves what has a season of history, and nothing that has not.
        XCTAssertEqual(outcomes[key: "constant"]?.fallbackSeries(season: 4)?.count, 10)
        XCTAssertEqual(outcomes[key: "short"]?.fallbackSeries(season: 3)?.values, [0, 1, 2])
        XCTAssertNil(outcomes[key: "short"]?.fallbackSeries(season: 4))
        XCTAssertNil(outcomes[key: "missing"]?.fallbackSeries(season: 1))
        XCTAssertNil(outcomes[key: "good"]?.fallbackSeries(season: 1))  // ready: the network's
        // Where nothing serves it, the reason names the fallback's need beside the network's.
        XCTAssertEqual(outcomes[key: "short"]?.unservedReason(season: 4),
                       "too short: 3 steps; the network needs 5, the seasonal-naive fallback a season (4 steps)")
        XCTAssertEqual(outcomes[key: "weekend"]?.unservedReason(season: 1),
                       "too short: 1 step; the network needs 5, the seasonal-naive fallback a season (1 step)")
        XCTAssertEqual(outcomes[key: "missing"]?.unservedReason(season: 4), "all 10 values are missing (NULL, NaN or infinite)")

        settings.grid = grid("1b")
        let business = SeriesBuilder.build(rows, settings: settings)
        guard case .skipped(let weekend)? = business[key: "weekend"] else { return XCTFail("weekend row came out") }
        XCTAssertEqual(weekend.reason, .empty)
        XCTAssertEqual(weekend.rows.offGrid, 1)
        XCTAssertEqual(business[key: "good"]?.skipReason, .empty)  // 1 June 2013 was a Saturday
        XCTAssertFalse(SkipReason.tooShort(needed: 5, got: 3).description.isEmpty)
    }

    func testAStrayTimestampDoesNotBlowUpTheGrid() throws {
        var settings = settings("1s")
        settings.maximumLength = 1_000
        let rows = [row("s", instant(2013, 1, 1), 1), row("s", instant(2013, 1, 2), 2),
                    row("t", instant(2013, 1, 1), 1), row("t", Date(timeIntervalSince1970: 1e15), 3),
                    row("t", instant(2013, 1, 1, 0, 0, 1), 2)]
        let outcomes = SeriesBuilder.build(rows, settings: settings)
        XCTAssertEqual(outcomes[key: "s"]?.skipReason, .gridTooLong(steps: 86_401, limit: 1_000))
        let t = try XCTUnwrap(ready(outcomes, "t"))
        XCTAssertEqual(t.values, [1, 2])
        XCTAssertEqual(t.rows.offGrid, 1)
    }

    func testIncrementalBuilderMatchesTheOneShotBuild() {
        var generator = SplitMix64(state: 3)
        let t0 = instant(2013, 1, 1).timeIntervalSince1970
        let rows = (0..<5_000).map { _ in
            row(["a", "b", "c"][Int.random(in: 0..<3, using: &generator)],
                Date(timeIntervalSince1970: t0 + generator.uniform(in: 0...(86_400 * 20))),
                generator.uniform(in: 0...1) < 0.05 ? nil : generator.uniform(in: -10...10))
        }
        let settings = settings("1h", "Europe/Paris", maxGap: 2)
        var builder = SeriesBuilder(settings: settings)
        for row in rows { builder.add(key: row.key, time: row.time, value: row.value) }
        let incremental = builder.finish()
        let oneShot = SeriesBuilder.build(rows.reversed(), settings: settings)
        XCTAssertEqual(incremental.count, 3)
        for (a, b) in zip(incremental, oneShot) {
            XCTAssertEqual(a.key, b.key)
            assertValues(a.series!.values, b.series!.values, accuracy: 1e-9)
        }
    }

    /// 10,000 series × 2,000 hourly points; the full size runs in release builds only.
    func testGroupingAndGriddingIsFast() {
        #if DEBUG
        let (seriesCount, points) = (500, 200)
        #else
        let (seriesCount, points) = (10_000, 2_000)
        #endif
        let keys = (0..<seriesCount).map { "series-\($0)" }
        let t0 = instant(2013, 1, 1).timeIntervalSince1970
        let rows = LazyRowSequence(keys: keys, points: points, start: t0)
        let started = Date()
        let outcomes = SeriesBuilder.build(rows, settings: settings("1h", "America/New_York"))
        let seconds = Date().timeIntervalSince(started)
        XCTAssertEqual(outcomes.count, seriesCount)
        XCTAssertTrue(outcomes.allSatisfy { $0.series?.count == points })
        print("grouped and gridded \(seriesCount) × \(points) rows in \(seconds) s")
        #if !DEBUG
        XCTAssertLessThan(seconds, 8)  // about 2 s on a busy 2-core machine; generous for loaded CI
        #endif
    }
}

/// Rows interleaved across series (as a table filled in time order returns them), generated
/// on the fly so the test does not hold them all.
struct LazyRowSequence: Sequence {
    let keys: [String]
    let points: Int
    let start: Double

    var underestimatedCount: Int { keys.count * points }

    struct Iterator: IteratorProtocol {
        let rows: LazyRowSequence
        var index = 0

        mutating func next() -> SourceRow? {
            guard index < rows.keys.count * rows.points else { return nil }
            defer { index += 1 }
            let point = index / rows.keys.count, series = index % rows.keys.count
            return SourceRow(key: rows.keys[series], time: Date(timeIntervalSince1970: rows.start + Double(point) * 3600 + 60),
                             value: Double((point * 7 + series) % 23))
        }
    }

    func makeIterator() -> Iterator { Iterator(rows: self) }
}
