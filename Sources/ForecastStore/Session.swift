import PostgresClient

/// Settings of one session (connection) that callers outside Store ask for by name: a
/// session-level advisory lock, for work that must not run twice at once across hosts (the
/// migrator; transaction-level locks of one (job, series) are `ModelStore.lock`'s), a statement
/// timeout and read-only mode.
extension PostgresConnection {
    /// Runs `body` holding a session-level advisory lock named by `key`, waiting for it as long
    /// as another session holds it; released afterwards, also when `body` throws.
    public func withAdvisoryLock<T: Sendable>(key: String, _ body: @Sendable (isolated PostgresConnection) throws -> T) throws -> T {
        try execute("SELECT pg_advisory_lock(hashtext($1))", key)
        defer { _ = try? execute("SELECT pg_advisory_unlock(hashtext($1))", key) }
        return try body(self)
    }

    /// Runs `body` under the session advisory lock `key` if no other session holds it; nil
    /// (and `body` not run) if one does.
    public func withAdvisoryLockIfFree<T: Sendable>(key: String, _ body: @Sendable (isolated PostgresConnection) throws -> T) throws -> T? {
        guard try query("SELECT pg_try_advisory_lock(hashtext($1))", key)[0].decode(0, as: Bool.self) else { return nil }
        defer { _ = try? execute("SELECT pg_advisory_unlock(hashtext($1))", key) }
        return try body(self)
    }

    /// Makes every later statement of the session fail once it has run for `seconds`.
    public func setStatementTimeout(seconds: Int) throws {
        try executeScript("SET statement_timeout = '\(seconds)s'")
    }

    /// Makes every later transaction of the session read-only, so a reader cannot write by mistake.
    public func setReadOnly() throws {
        try executeScript("SET default_transaction_read_only = on")
    }
}
