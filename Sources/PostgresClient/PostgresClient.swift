/// PostgresClient owns forecastd's access to PostgreSQL through libpq: connections,
/// parameterised queries with typed decoding, transactions, COPY in and out, streaming
/// reads and LISTEN/NOTIFY. Every blocking libpq call runs on the connection's own
/// thread, never on Swift's cooperative pool.
import CLibPQ

public enum LibPQ {
    /// The linked libpq's version, e.g. 150018 for 15.18.
    public static var version: Int { Int(PQlibVersion()) }
}
