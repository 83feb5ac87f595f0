import ArgumentParser
import ForecastConfig
import ForecastStore
import Foundation
import PostgresClient

/// `forecastd status`: jobs, last runs, next runs and active models with their accuracy, as a
/// table. Reads only, in a read-only session.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each job's last runs, next scheduled runs and active models with their backtest accuracy.")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let configuration = try options.load()
        let connection: PostgresConnection
        do {
            connection = try await Database.connect(configuration.database)
        } catch {
            throw CommandFailure(message: "cannot read the status: \(error)")
        }
        let report: StatusReport
        do {
            report = try await read(configuration, on: connection)
        } catch {
            await connection.close()
            throw (error as? CommandFailure) ?? CommandFailure(message: "cannot read the status: \(error)")
        }
        await connection.close()
        let colour = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        print(report.render(now: Date(), colour: colour), terminator: "")
    }

    func read(_ configuration: Configuration, on connection: PostgresConnection) async throws -> StatusReport {
        let schema = configuration.database.schema
        try await connection.setReadOnly()
        let migrations = try await Migrator(schema: schema, files: try MigrationFile.load(directory: MigrationFile.defaultDirectory()))
            .status(on: connection)
        guard !migrations.applied.isEmpty else {
            throw CommandFailure(message: "schema \"\(schema)\" has no forecastd tables; run `forecastd migrate` first")
        }
        if !migrations.isCurrent {
            print("note: migrations pending (\(migrations.pending.joined(separator: ", "))); run `forecastd migrate`\n")
        }
        return try await StatusReport.load(jobs: configuration.jobs.map(\.name), schema: schema, on: connection)
    }
}
