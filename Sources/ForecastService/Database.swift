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

extension PostgresConnection {
    /// Runs `body` holding a session-level advisory lock named by `key`, waiting for it as long
    /// as another session holds it; released afterwards, also when `body` throws.
    public func withAdvisoryLock<T: Sendable>(key: String, _ body: @Sendable (isolated PostgresConnection) throws -> T) throws -> T {
        try execute("SELECT pg_advisory_lock(hashtext($1))", key)
        defer { _ = try? execute("SELECT pg_advisory_unlock(hashtext($1))", key) }
        return try body(self)
    }
}
