import Foundation
import Logging
import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastJobs
@testable import ForecastStore
@testable import Forecasting

/// A choice the guard averaged with ETS (`ModelGuard.joiningStatistical`) through the service: stored
/// with `averaged_with` in the models table, read back, and forecast again at predict as
/// training published it, only when rows arrived after the mark it saves (`FullReadMark`).
final class AveragedModelTests: StoreTestCase {
    /// Quarterly arrivals from New Zealand to Australia, 1981 Q1 to 2008 Q2 (the shared
    /// `aus_arrivals_quarterly.csv`): with the defaults the guard chooses Theta there and ETS ties
    /// with it (to 2008 Q4, ETS, an Akaike-weighted combination since, is chosen itself).
    static let arrivals: [Double] = [
        49140, 87467, 85841, 61882, 42045, 63081, 73275, 54808, 41030, 56155, 69395, 58423, 37039, 71564,
        71260, 54597, 41646, 63668, 67803, 72177, 55192, 89073, 97746, 94696, 71130, 111416, 127619, 117078,
        90498, 135435, 176899, 131457, 83029, 111748, 128509, 126021, 75584, 109472, 122164, 111222, 90067, 114050,
        152662, 123821, 75376, 107369, 128550, 136250, 90758, 124972, 153153, 130393, 90095, 113799, 148605, 127879,
        95295, 130073, 166383, 146632, 132410, 166735, 205120, 167569, 142502, 160522, 205250, 177366, 128179, 184943,
        212263, 183996, 143015, 179577, 215732, 190461, 154537, 212401, 229048, 221071, 162480, 215840, 233074, 203493,
        159879, 191215, 226008, 213000, 150700, 203400, 241800, 243200, 188873, 252262, 312956, 278709, 219527, 270782,
        325633, 282908, 212323, 269964, 307149, 286361, 219885, 301654, 320737, 295727, 222770, 282076
    ]

    static func quarter(_ i: Int) -> Date {
        Calendar(identifier: .gregorian).date(byAdding: .month, value: 3 * i, to: ISO8601DateFormatter().date(from: "1981-01-01T00:00:00Z")!)!
    }

    func testAChoiceAveragedWithETSIsStoredAndForecastAgainAtPredict() async throws {
        let arrivals = table("arrivals")
        try await db.executeScript("CREATE TABLE \(arrivals) (origin text, quarter timestamptz, arrivals double precision)")
        let rows = Self.arrivals.enumerated().map { (Self.quarter($0.offset), $0.element) }
        _ = try await db.copyIn("COPY \(arrivals) FROM STDIN") { writer in
            for (quarter, value) in rows {
                try writer.append("NZ")
                try writer.append(quarter)
                try writer.append(value)
                try writer.endRow()
            }
        }
        // A job with only the required keys but one network: on these arrivals one network's
        // backtest leaves Theta the choice (the default ensemble is chosen, combined with Theta).
        var job = JobSettings(name: "aus", frequency: try Frequency(parsing: "3mo"), horizon: 8,
                              source: SourceSettings(origin: .table("\(schema).arrivals"), seriesColumn: "origin", timeColumn: "quarter",
                                                     valueColumn: "arrivals"))
        job.model.ensemble = 1
        var runner = JobRunner(job: job, database: DatabaseSettings(url: "", schema: schema), logger: Logger(label: "test"))
        let now = Self.quarter(Self.arrivals.count)
        runner.now = { now }
        let trained = try await runner.train(on: db)
        XCTAssertEqual(trained.status, .succeeded, "\(trained.errors)")

        let active = try await db.query("SELECT cell, hyperparameters::text, reason FROM \(table("models")) WHERE status = 'active'")
        XCTAssertEqual(active.count, 1)
        let (cell, hyperparameters, reason) = (try active[0].decode(0, as: String.self), try active[0].decode(1, as: String.self),
                                               try active[0].decode(2, as: String.self))
        let partners = try XCTUnwrap(StatisticalModel.averagedWith(hyperparameters: hyperparameters), "\(cell): \(reason)")
        XCTAssertEqual(partners.first?.method, .ets, "ETS joins; ARIMA too where it beat Theta: \(hyperparameters)")
        XCTAssertEqual(cell, "theta")
        XCTAssertTrue(reason.hasPrefix("\(StatisticalModel.listed(partners.map(\.name))): backtest MASE "), reason)
        XCTAssertTrue(reason.contains(" as Theta averaged with ETS"), reason)
        guard case .averaged(.statistical(let theta), with: partners) = PublishedForm(cell: ModelCell(rawValue: cell)!, hyperparameters: hyperparameters,
                                                                                      jobSeason: 4) else {
            return XCTFail("the jsonb record reads back as Theta averaged with ETS: \(hyperparameters)")
        }
        XCTAssertEqual(theta.method, .theta)
        let marksQuery = "SELECT series, last_step, state FROM \(table("series_state"))"
        let marks = try await db.query(marksQuery)
        XCTAssertEqual(marks.count, 1)
        XCTAssertEqual(try marks.first?.decode(2, as: [UInt8].self), SeriesStateArchive.fullReadMark,
                       "ETS reads the series in full: it saves a mark, no state")
        XCTAssertEqual(try marks.first?.decode(1, as: Date.self), Self.quarter(Self.arrivals.count - 1), "the mark stands at the last quarter read")

        let forecastsQuery = "SELECT forecast_value, lower_bound, upper_bound, issued_at, target_ts FROM \(table("predictions")) ORDER BY issued_at, target_ts"
        let forecasts = { () async throws -> [[Double]] in
            try await self.db.query(forecastsQuery).map {
                try [$0.decode(0, as: Double.self), $0.decode(1, as: Double.self), $0.decode(2, as: Double.self),
                     $0.decode(3, as: Date.self).timeIntervalSince1970, $0.decode(4, as: Date.self).timeIntervalSince1970]
            }
        }
        let published = try await forecasts()
        XCTAssertEqual(published.count, 8)

        // No row after the mark: the forecast stands, nothing is read or fitted again.
        let unchanged = try await runner.predict(on: db)
        XCTAssertEqual(unchanged.status, .succeeded, "\(unchanged.errors)")
        XCTAssertEqual(unchanged.pointsRead, 0)
        XCTAssertEqual(unchanged.rowsWritten, 0)
        let kept = try await forecasts()
        XCTAssertEqual(kept, published)

        // Without the mark the series is read in full and fitted again: from the same rows,
        // what training published.
        try await db.execute("DELETE FROM \(table("predictions"))")
        try await db.execute("DELETE FROM \(table("series_state"))")
        let predicted = try await runner.predict(on: db)
        XCTAssertEqual(predicted.status, .succeeded, "\(predicted.errors)")
        XCTAssertEqual(predicted.pointsRead, Int64(Self.arrivals.count))
        let again = try await forecasts()
        XCTAssertEqual(again.map { Array($0[..<3]) }, published.map { Array($0[..<3]) }, "predict forecasts, from the same rows, what training published")
        let markedAgain = try await db.query(marksQuery)
        XCTAssertEqual(try markedAgain.first?.decode(1, as: Date.self), Self.quarter(Self.arrivals.count - 1), "predict saves the mark again")

        // A new quarter: the whole history is read and fitted again, the mark moves on.
        _ = try await db.execute("INSERT INTO \(arrivals) VALUES ('NZ', $1, 230000)", Self.quarter(Self.arrivals.count))
        let later = Self.quarter(Self.arrivals.count + 1)
        runner.now = { later }
        let next = try await runner.predict(on: db)
        XCTAssertEqual(next.status, .succeeded, "\(next.errors)")
        XCTAssertEqual(next.pointsRead, 1 + Int64(Self.arrivals.count + 1), "the new row found after the mark, then the whole series")
        let latest = try await db.query("SELECT min(target_ts) FROM \(table("predictions")) WHERE issued_at = (SELECT max(issued_at) FROM \(table("predictions")))")
        XCTAssertEqual(try latest.first?.decode(0, as: Date.self), later, "forecast from the new quarter on")
        let moved = try await db.query(marksQuery)
        XCTAssertEqual(moved.count, 1)
        XCTAssertEqual(try moved.first?.decode(1, as: Date.self), Self.quarter(Self.arrivals.count))
    }
}
