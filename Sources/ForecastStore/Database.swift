import ForecastConfig
import PostgresClient

/// How the service reaches PostgreSQL: one place that connects and reports failures without
/// ever showing the password of the connection string.
public enum Database {
    public static func connect(_ settings: DatabaseSettings) async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(settings.url)
        } catch let error as PostgresError {
            throw DatabaseUnavailable(target: PostgresConnectionInfo.redacted(settings.url), underlying: error)
        }
    }
}

public struct DatabaseUnavailable: Error, CustomStringConvertible {
    public var target: String
    public var underlying: PostgresError
    public var description: String { "cannot connect to the database (\(target.isEmpty ? "libpq defaults" : target)): \(underlying.message)" }
}
