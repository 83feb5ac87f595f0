import Foundation
import ArgumentParser
import ForecastConfig
import Forecasting
import ForecastStore
import ForecastJobs

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration, connect, and check each job's source without writing.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let configuration = try options.load()
        print("configuration \(configuration.path ?? ""): valid, \(configuration.jobs.count) job(s)")
        let connection = try await Database.connect(configuration.database)
        let server = await connection.serverVersion
        print("database: connected (\(connection.redactedConnectionInfo.isEmpty ? "libpq defaults" : connection.redactedConnectionInfo), server \(server / 10000).\(server % 100))")
        var problems: [SourceCheck.Problem] = []
        for job in configuration.jobs {
            let found = try await SourceCheck.check(job, on: connection)
            print("job \(job.name): " + (found.isEmpty ? "source ok" : "\(found.count) problem(s)"))
            print("    train \(job.trainEvery.explained(after: Date())); predict \(job.predictEvery.explained(after: Date()))")
            print("    " + JobPlan(job).modelSummary)
            if !job.source.pastCovariates.isEmpty {
                print("    past covariates: " + job.source.pastCovariates.map { "\"\($0)\"" }.joined(separator: ", "))
            }
            if !job.source.futureCovariates.isEmpty {
                print("    future covariates: " + job.source.futureCovariates.map { "\"\($0)\"" }.joined(separator: ", ")
                      + " (read for the \(job.horizon) steps after each forecast's origin too)")
            }
            if job.holidays != nil {
                print("    holidays: from the job's holidays query, as future-known " + HolidayCalendar.featureNames.joined(separator: ", "))
            }
            if job.source.staticCovariates != nil {
                print("    static covariates: one row per series from source.static_covariates, numeric columns scaled, others one-hot (constant inputs)")
            }
            problems += found
        }
        await connection.close()
        guard problems.isEmpty else {
            throw ConfigurationError(file: configuration.path, message: problems.map(\.description).joined(separator: "\n"))
        }
    }
}
