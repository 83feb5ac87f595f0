import PostgresClient

/// Session-level advisory locks, for work that must not run twice at once across hosts (the
/// migrator). Transaction-level locks of one (job, series) are `ModelStore.lock`'s.
extension PostgresConnection {
    /// Runs `body` holding a session-level advisory lock named by `key`, waiting for it as long
    /// as another session holds it; released afterwards, also when `body` throws.
    public func withAdvisoryLock<T: Sendable>(key: String, _ body: @Sendable (isolated PostgresConnection) throws -> T) throws -> T {
        try execute("SELECT pg_advisory_lock(hashtext($1))", key)
        defer { _ = try? execute("SELECT pg_advisory_unlock(hashtext($1))", key) }
        return try body(self)
    }
}
