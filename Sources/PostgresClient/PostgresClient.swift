/// PostgresClient owns forecastd's access to PostgreSQL through libpq: connections
/// (`PostgresConnection`, Connection.swift) and their dedicated threads (Executor.swift),
/// parameters bound as values (Values.swift) and rows decoded from PostgreSQL's binary format
/// (Rows.swift, Decoding.swift), transactions with savepoints for nesting, bulk writes with
/// COPY in text or binary format (Copy.swift, CopyWriter*.swift), streaming reads
/// (Streaming.swift), LISTEN/NOTIFY (Notifications.swift), errors with SQLSTATE
/// (Errors.swift), identifier quoting and password-free connection strings for logs
/// (ConnectionInfo.swift). Every blocking libpq call runs on the connection's own thread,
/// never on Swift's cooperative pool.
import CLibPQ

public enum LibPQ {
    /// The linked libpq's version, e.g. 150018 for 15.18.
    public static var version: Int { Int(PQlibVersion()) }
}
