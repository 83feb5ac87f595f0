import CLibPQ
import Foundation

/// One PostgreSQL session over libpq.
///
/// The actor runs on its own OS thread (see `ConnectionThreadExecutor`), so blocking libpq calls
/// never occupy Swift's cooperative pool. Calls from outside are `await`ed one at a time; code
/// that needs several statements in a row without interleaving (a transaction, a streaming
/// read that feeds local state) runs in a closure isolated to the connection, see
/// `transaction(_:)` and `withConnection(_:)`.
public actor PostgresConnection {
    private let executor: ConnectionThreadExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private let conninfo: String
    /// The connection string with its password masked, for logs and error messages.
    public nonisolated let redactedConnectionInfo: String

    /// The libpq connection; nil once `close()` has been called.
    var handle: OpaquePointer?
    var transactionDepth = 0
    var listeningChannels: Set<String> = []
    /// Set while a stream or COPY owns the session. libpq would run a statement issued from the
    /// row handler by silently discarding the rest of the stream; this makes it an error instead.
    var busyWith: String?

    private init(conninfo: String) {
        self.conninfo = conninfo
        self.redactedConnectionInfo = PostgresConnectionInfo.redacted(conninfo)
        self.executor = ConnectionThreadExecutor(name: "forecastd-pg")
    }

    /// Connects with a libpq connection string (`host=... dbname=...`) or URI
    /// (`postgresql://user@host/db?sslmode=require`). libpq applies PG* environment variables,
    /// ~/.pgpass, sslmode and connect_timeout.
    public static func connect(_ conninfo: String) async throws -> PostgresConnection {
        let connection = PostgresConnection(conninfo: conninfo)
        try await connection.open()
        return connection
    }

    /// A new session to the same server with the same connection string.
    public nonisolated func sibling() async throws -> PostgresConnection {
        try await PostgresConnection.connect(conninfo)
    }

    // Isolated, so PQfinish runs on the connection's thread like every other libpq call; the
    // thread ends after it.
    isolated deinit {
        if let handle { PQfinish(handle) }
        executor.shutdown()
    }

    private func open() throws {
        // The caller's string is expanded as the "dbname" keyword; the keywords after it pin the
        // client encoding (rows are decoded as UTF-8) and name the application unless the
        // caller's string does.
        let keywords = ["dbname", "client_encoding", "fallback_application_name"]
        let values = [conninfo, "UTF8", "forecastd"]
        let pointer = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in PQconnectdbParams(keywordPointers, valuePointers, 1) }
        }
        guard let pointer, PQstatus(pointer) == CONNECTION_OK else {
            // libpq quotes a string it cannot parse, password and all.
            let message = PostgresConnectionInfo.redacting(PostgresError.connectionMessage(pointer), of: conninfo)
            let error = PostgresError(.connectionFailed, message)
            PQfinish(pointer)
            throw error
        }
        handle = pointer
    }

    /// True while the session is usable: not closed and not broken.
    public var isConnected: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// The server's version number, e.g. 150018 for 15.18.
    public var serverVersion: Int { handle.map { Int(PQserverVersion($0)) } ?? 0 }

    /// Re-establishes a lost (or closed) connection with the original connection string.
    /// Transactions open before the loss are gone; LISTEN registrations are restored.
    public func reconnect() throws {
        if let handle {
            PQreset(handle)
            guard PQstatus(handle) == CONNECTION_OK else {
                throw PostgresError(.connectionFailed, PostgresConnectionInfo.redacting(PostgresError.connectionMessage(handle), of: conninfo))
            }
        } else {
            try open()
        }
        transactionDepth = 0
        for channel in listeningChannels.sorted() {
            try execute("LISTEN " + escapeIdentifier(channel))
        }
    }

    /// Ends the session. Later calls fail with a usage error until `reconnect()`.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
        transactionDepth = 0
    }

    /// Runs `body` on the connection's thread with direct, synchronous access to it, so that
    /// several calls happen without other tasks' statements in between and closures passed to
    /// `stream` or `copyIn` may capture local state.
    public func withConnection<T: Sendable>(_ body: @Sendable (isolated PostgresConnection) throws -> T) rethrows -> T {
        try body(self)
    }

    // MARK: - Statements

    /// Runs one statement with bound parameters and returns all its rows.
    public func query(_ sql: String, _ parameters: any PostgresEncodable...) throws -> [PostgresRow] {
        try query(sql, parameters: parameters)
    }

    public func query(_ sql: String, parameters: [any PostgresEncodable]) throws -> [PostgresRow] {
        let result = try run(sql, parameters)
        return (0..<Int32(result.rowCount)).map { PostgresRow(result: result, row: $0) }
    }

    /// Runs one statement with bound parameters and returns the number of rows it affected
    /// (inserted, updated, deleted, or returned by a SELECT).
    @discardableResult
    public func execute(_ sql: String, _ parameters: any PostgresEncodable...) throws -> Int {
        try execute(sql, parameters: parameters)
    }

    @discardableResult
    public func execute(_ sql: String, parameters: [any PostgresEncodable]) throws -> Int {
        let result = try run(sql, parameters)
        return Int(String(cString: PQcmdTuples(result.pointer))) ?? 0
    }

    /// Runs SQL that may hold several statements separated by semicolons (a migration file),
    /// without parameters. Stops at the first failing statement; outside an explicit transaction,
    /// statements before it stay applied.
    public func executeScript(_ sql: String) throws {
        let pointer = try connectedHandle()
        _ = try check(PQexec(pointer, sql), pointer)
    }

    /// Quotes an identifier with libpq's rules for this connection's encoding.
    public func escapeIdentifier(_ name: String) throws -> String {
        let pointer = try connectedHandle()
        guard let escaped = PQescapeIdentifier(pointer, name, name.utf8.count) else {
            throw PostgresError(.usage, PostgresError.connectionMessage(pointer))
        }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }

    // MARK: - Transactions

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// Nested calls become savepoints, so an inner failure rolls back only the inner part (and
    /// the error still propagates unless the outer body catches it).
    public func transaction<T: Sendable>(_ body: @Sendable (isolated PostgresConnection) throws -> T) throws -> T {
        let pointer = try connectedHandle()
        let depth = transactionDepth
        let savepoint = "forecastd_savepoint_\(depth)"
        // A broken session has no transaction status (PQTRANS_UNKNOWN): say what happened to it.
        guard PQstatus(pointer) == CONNECTION_OK else {
            throw PostgresError(.connectionLost, "the connection to the server was lost: \(PostgresError.connectionMessage(pointer))")
        }
        if depth == 0 {
            guard PQtransactionStatus(pointer) == PQTRANS_IDLE else {
                throw PostgresError(.usage, "transaction() called while a transaction begun outside it is open")
            }
            try execute("BEGIN")
        } else {
            try execute("SAVEPOINT " + savepoint)
        }
        transactionDepth = depth + 1
        defer { transactionDepth = depth }

        let value: T
        do {
            value = try body(self)
        } catch {
            try? executeScript(depth == 0 ? "ROLLBACK" : "ROLLBACK TO SAVEPOINT \(savepoint); RELEASE SAVEPOINT \(savepoint)")
            throw error
        }
        // COMMIT of a transaction that an error (caught in the body) has aborted silently rolls
        // back; say so instead of returning as if the work were saved.
        if PQtransactionStatus(pointer) == PQTRANS_INERROR {
            try? executeScript(depth == 0 ? "ROLLBACK" : "ROLLBACK TO SAVEPOINT \(savepoint); RELEASE SAVEPOINT \(savepoint)")
            throw PostgresError(.usage, "the transaction was aborted by an earlier failed statement and has been rolled back")
        }
        try execute(depth == 0 ? "COMMIT" : "RELEASE SAVEPOINT " + savepoint)
        return value
    }

    // MARK: - Plumbing shared by the other files

    func connectedHandle() throws -> OpaquePointer {
        guard let handle else { throw PostgresError(.usage, "the connection is closed") }
        if let busyWith {
            throw PostgresError(.usage, "the connection is busy with \(busyWith); run other statements after it or on another connection")
        }
        return handle
    }

    /// Marks the session as owned by a stream or COPY for the duration of `body`.
    func whileBusy<T>(with operation: String, _ body: () throws -> T) rethrows -> T {
        busyWith = operation
        defer { busyWith = nil }
        return try body()
    }

    /// Executes one statement, asking for binary results.
    func run(_ sql: String, _ parameters: [any PostgresEncodable]) throws -> PostgresResult {
        let pointer = try connectedHandle()
        let bound = BoundParameters(parameters)
        let result = bound.withValuePointers { values in
            PQexecParams(pointer, sql, bound.count, bound.types, values, bound.lengths, bound.formats, 1)
        }
        return try check(result, pointer)
    }

    /// Wraps a successful result; turns anything else into a thrown error and frees it.
    func check(_ result: OpaquePointer?, _ pointer: OpaquePointer) throws -> PostgresResult {
        switch result.map(PQresultStatus) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return PostgresResult(result!)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            PQclear(result)
            abandonCopy(pointer, reason: "COPY runs through copyIn or copyOut")
            throw PostgresError(.usage, "COPY ... FROM STDIN / TO STDOUT must go through copyIn(_:_:) or copyOut(_:_:)")
        default:
            let error = PostgresError(result: result, connection: pointer)
            PQclear(result)
            throw error
        }
    }

    /// Leaves a COPY the caller did not expect, so the session can take the next statement.
    func abandonCopy(_ pointer: OpaquePointer, reason: String) {
        while let result = PQgetResult(pointer) {
            let status = PQresultStatus(result)
            PQclear(result)
            if status == PGRES_COPY_IN {
                _ = PQputCopyEnd(pointer, reason)
            } else if status == PGRES_COPY_OUT {
                var buffer: UnsafeMutablePointer<CChar>?
                while PQgetCopyData(pointer, &buffer, 0) > 0 { PQfreemem(buffer) }
            } else if status == PGRES_COPY_BOTH || PQstatus(pointer) != CONNECTION_OK {
                return
            }
        }
    }

    /// Reads results until libpq reports the command complete; the first error wins.
    func drainResults(_ pointer: OpaquePointer) -> PostgresError? {
        var firstError: PostgresError?
        while let result = PQgetResult(pointer) {
            let status = PQresultStatus(result)
            if status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE, firstError == nil {
                firstError = PostgresError(result: result, connection: pointer)
            }
            PQclear(result)
            if status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH { abandonCopy(pointer, reason: "abandoned") }
        }
        return firstError
    }
}

/// Calls `body` with NUL-terminated copies of `strings`, followed by a NULL entry.
func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return body(copies.map { UnsafePointer($0) } + [nil])
}
