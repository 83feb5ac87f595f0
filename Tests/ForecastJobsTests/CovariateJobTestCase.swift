import Foundation
import Logging
import PostgresClient
@testable import ForecastConfig
@testable import ForecastJobs

/// What the covariate job tests (past-observed, future-known, static) share: a job's runner at a
/// fixed clock.
class CovariateJobTestCase: StoreTestCase {
    func runner(_ job: JobSettings, at now: Date) -> JobRunner {
        var runner = JobRunner(job: job, database: DatabaseSettings(url: "", schema: schema), logger: Logger(label: "test"))
        runner.now = { now }
        return runner
    }
}

/// The forecasts and states a run left, to compare a read on from the states with a full read
/// (the covariate and incremental-predict tests).
extension StoreTestCase {
    /// The latest forecast of each series and issue time: per step its value and bounds.
    func latest() async throws -> [String: [Double?]] {
        var result: [String: [Double?]] = [:]
        for row in try await db.query("""
            SELECT series, issued_at, forecast_value, lower_bound, upper_bound FROM \(table("latest_forecasts")) ORDER BY series, step
            """) {
            result[try row.decode(0, as: String.self) + "@\(try row.decode(1, as: Date.self).timeIntervalSince1970)", default: []]
                += [try row.decode(2, as: Double?.self), try row.decode(3, as: Double?.self), try row.decode(4, as: Double?.self)]
        }
        return result
    }

    /// The saved state of each series, as stored.
    func states() async throws -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        for row in try await db.query("SELECT series, state FROM \(table("series_state"))") {
            result[try row.decode(0, as: String.self)] = try row.decode(1, as: [UInt8].self)
        }
        return result
    }
}
