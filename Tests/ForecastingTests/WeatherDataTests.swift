import Foundation
import XCTest
@testable import Forecasting

/// The bundled hourly NYC weather of 2013: three stations with real missing hours.
final class WeatherDataTests: XCTestCase {
    func testStationsComeOutWithTheirLengthsAndGaps() throws {
        let file = repositoryRoot.appendingPathComponent("examples/data/weather_nyc_2013.csv")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else {
            throw XCTSkip("\(file.path) is not there")
        }
        let parser = ISO8601DateFormatter()
        var rows: [SourceRow] = []
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            let time = try XCTUnwrap(parser.date(from: String(fields[1])))
            rows.append(SourceRow(key: String(fields[0]), time: time, value: Double(fields[2])))
        }
        XCTAssertEqual(rows.count, 26_115)
        let settings = SeriesSettings(grid: grid("1h", "America/New_York"), aggregation: .mean, maxGap: 3, minimumLength: 24 * 7)
        let outcomes = SeriesBuilder.build(rows.shuffled(), settings: settings)
        XCTAssertEqual(outcomes.map(\.key), ["EWR", "JFK", "LGA"])
        // Observed hours, interior gaps (runs), interpolated hours (runs ≤ 3), missing hours (two 5-hour runs).
        let expected: [String: (observed: Int, gaps: Int, interpolated: Int, missing: Int, nullValues: Int)] = [
            "EWR": (8_702, 18, 18, 10, 1), "JFK": (8_706, 14, 14, 10, 0), "LGA": (8_706, 14, 14, 10, 0),
        ]
        for outcome in outcomes {
            guard case .ready(let series) = outcome, let want = expected[series.key] else {
                return XCTFail("\(outcome.key) did not come out: \(String(describing: outcome.skipReason))")
            }
            XCTAssertEqual(series.count, 8_730, series.key)
            XCTAssertEqual(series.start, instant(2013, 1, 1, 6), series.key)
            XCTAssertEqual(series.date(ofStep: series.count - 1), instant(2013, 12, 30, 23), series.key)
            XCTAssertEqual(series.observedCount, want.observed, series.key)
            XCTAssertEqual(series.gaps.count, want.gaps, series.key)
            XCTAssertEqual(series.interpolatedCount, want.interpolated, series.key)
            XCTAssertEqual(series.missingCount, want.missing, series.key)
            XCTAssertEqual(series.gaps.filter { !$0.interpolated }.map(\.length), [5, 5], series.key)
            XCTAssertEqual(series.rows.missingValue, want.nullValues, series.key)
            XCTAssertEqual(series.frequency.defaultSeasonLength, 24)
        }
        // Daily means in New York time: 1 January starts at 06:00 UTC = 01:00 EST, so 365 local days
        // run from 1 January to 30 December.
        var daily = settings
        daily.grid = grid("1d", "America/New_York")
        daily.minimumLength = 2
        let days = try XCTUnwrap(SeriesBuilder.build(rows, settings: daily)[key: "JFK"]?.series)
        XCTAssertEqual(days.count, 364)
        XCTAssertEqual(days.start, instant(2013, 1, 1, in: "America/New_York"))
        XCTAssertEqual(days.missingCount + days.interpolatedCount, 0)
    }
}
