import Foundation
import NeuralNet
import XCTest
@testable import Forecasting

/// Holidays (issue 14, item 4): a job's dates become three future-known covariates of every step,
/// in the grid's time zone, known for the horizon without any row there.
final class HolidayTests: XCTestCase {
    func testDatesParseAsLocalDays() {
        XCTAssertEqual(HolidayCalendar.day(parsing: "1970-01-02"), 1)
        XCTAssertEqual(HolidayCalendar.day(parsing: "2024-12-25"), CivilDate(year: 2024, month: 12, dayOfMonth: 25).day)
        XCTAssertNil(HolidayCalendar.day(parsing: "2024-13-01"))
        XCTAssertNil(HolidayCalendar.day(parsing: "christmas"))
    }

    /// Hourly demand in Paris with Christmas and the 1st of January as holidays: every hour of
    /// the day is a holiday, those of the days before and after flagged, and the steps ahead of
    /// the series (the horizon, without a row) carry them as well.
    func testTheFeaturesLieOnEveryStepAndTheHorizonInTheGridsZone() throws {
        let paris = grid("1h", "Europe/Paris")
        let start = instant(2024, 12, 20, 0, in: "Europe/Paris")
        let rows = (0..<(24 * 12)).map { h in SourceRow(key: "s", time: start.addingTimeInterval(Double(h) * 3600), value: Double(h % 24)) }
        var settings = SeriesSettings(grid: paris, minimumLength: 1, futureSteps: 48)
        settings.holidays = HolidayCalendar(days: [HolidayCalendar.day(parsing: "2024-12-25")!, HolidayCalendar.day(parsing: "2025-01-01")!])
        let series = try XCTUnwrap(SeriesBuilder.build(rows, settings: settings).first?.series)
        XCTAssertEqual(series.covariateNames, HolidayCalendar.featureNames)
        XCTAssertEqual(series.count, 24 * 12)
        let day = { (step: Int) in (step / 24) + 20 }  // the local day of December of a step
        let holiday = series.covariates[0], before = series.covariates[1], after = series.covariates[2]
        for step in 0..<series.count {
            XCTAssertEqual(holiday.values[step], day(step) == 25 ? 1 : 0, "step \(step)")
            XCTAssertEqual(before.values[step], day(step) == 24 || day(step) == 31 ? 1 : 0, "step \(step)")
            XCTAssertEqual(after.values[step], day(step) == 26 ? 1 : 0, "step \(step)")
        }
        XCTAssertTrue(holiday.states.allSatisfy { $0 == .observed })
        // Ahead: the 1st of January (24 hours), then the 2nd, the day after it.
        XCTAssertEqual(holiday.ahead, Array(repeating: 1, count: 24) + Array(repeating: 0, count: 24))
        XCTAssertEqual(after.ahead, Array(repeating: 0, count: 24) + Array(repeating: 1, count: 24))
        XCTAssertNil(series.missingFuture(horizon: 48))

        // A step longer than a day holds any of its days.
        var weekly = SeriesSettings(grid: grid("7d", "Europe/Paris"), minimumLength: 1, futureSteps: 1)
        weekly.holidays = settings.holidays
        let weeks = try XCTUnwrap(SeriesBuilder.build(rows, settings: weekly).first?.series)
        XCTAssertTrue(weeks.covariates[0].values.contains(1))
    }

    /// A model reading the holidays reads on from its state to a full read's bits.
    func testReadingOnWithHolidaysEqualsAFullRead() throws {
        let start = instant(2024, 1, 1)
        var generator = SplitMix64(seed: 3)
        let holidays = Set([5, 12, 19, 23].map { CivilDate(year: 2024, month: 1, dayOfMonth: $0).day })
        let firstDay = CivilDate(year: 2024, month: 1, dayOfMonth: 1).day
        var rows: [SourceRow] = []
        for h in 0..<(24 * 26) {
            let off: Double = holidays.contains(firstDay + h / 24) ? 4 : 0
            let value: Double = 10 + 3 * sin(Double(h) * .pi / 12) - off + generator.uniform(in: -0.2...0.2)
            rows.append(SourceRow(key: "s", time: start.addingTimeInterval(Double(h) * 3600), value: value))
        }
        var settings = SeriesSettings(grid: grid("1h"), maxGap: 3, minimumLength: 1, futureSteps: 6)
        settings.holidays = HolidayCalendar(days: holidays)
        var newSettings = settings
        newSettings.leadingCovariates = true
        let build = { (rows: [SourceRow], s: SeriesSettings) in try XCTUnwrap(SeriesBuilder.build(rows, settings: s).first?.series) }
        let full = try build(rows, settings)
        var forecaster = smallForecasterSettings(horizon: 6)
        forecaster.epochs = 2
        forecaster.futureCovariates = HolidayCalendar.featureNames
        let model = try RecurrentForecaster.train(series: [full], settings: forecaster)
        XCTAssertEqual(model.network.config.futureFeatures, 3)
        let decoded = try ModelArchive.decode(try ModelArchive.encode(model))
        let (reread, finalState) = try model.forecast(full)
        for cut in [full.count - 30, full.count - 5] {
            let (_, saved) = try model.forecast(try build(Array(rows[..<cut]), settings))
            let state = try XCTUnwrap(saved)
            let (incremental, next) = try decoded.forecast(continuing: state, with: try build(Array(rows[cut...]), newSettings), maxGap: 3)
            XCTAssertEqual(incremental, reread, "cut at \(cut)")
            XCTAssertEqual(SeriesStateArchive.encode(try XCTUnwrap(next)), SeriesStateArchive.encode(try XCTUnwrap(finalState)))
        }
        // A holiday declared in the horizon changes the forecast.
        var declared = settings
        declared.holidays = HolidayCalendar(days: holidays.union([CivilDate(year: 2024, month: 1, dayOfMonth: 27).day]))
        let (changed, _) = try model.forecast(try build(rows, declared))
        XCTAssertNotEqual(changed, reread)
    }
}
