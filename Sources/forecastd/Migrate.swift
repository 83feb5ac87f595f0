import ArgumentParser
import ForecastStore

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply migrations/ to the database; safe to run twice or from two hosts at once.")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Folder of numbered SQL files (default: the installed migrations of this build).")
    var migrations: String?

    func run() async throws {
        let configuration = try options.load()
        let files = try MigrationFile.load(directory: migrations ?? MigrationFile.defaultDirectory())
        let connection = try await Database.connect(configuration.database)
        defer { Task { await connection.close() } }
        do {
            let applied = try await Migrator(schema: configuration.database.schema, files: files).migrate(on: connection)
            if applied.isEmpty {
                print("schema \(configuration.database.schema) is current (\(files.count) migrations)")
            } else {
                for name in applied { print("applied \(name)") }
            }
        } catch let error as MigrationError {
            throw CommandFailure(message: error.description)
        }
    }
}
