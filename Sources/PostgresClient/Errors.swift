import CLibPQ

/// An error from PostgreSQL, from libpq, or from using this module wrongly.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The connection could not be established (wrong host, authentication, timeout...).
        case connectionFailed = "connection failed"
        /// An established connection broke; `PostgresConnection.reconnect()` may bring it back.
        case connectionLost = "connection lost"
        /// The server rejected a statement; `sqlState` says why.
        case server = "server error"
        /// A value could not be decoded into the requested Swift type.
        case decoding = "decoding error"
        /// The API was used wrongly (closed connection, COPY through `query`, ...).
        case usage = "usage error"
    }

    public var kind: Kind
    public var message: String
    /// The five-character SQLSTATE code, e.g. "23505" for a unique violation.
    public var sqlState: String?
    public var detail: String?
    public var hint: String?
    /// The failing constraint, table, column and schema when the server names them.
    public var constraint: String?
    public var table: String?
    public var column: String?
    public var schema: String?

    public init(_ kind: Kind, _ message: String, sqlState: String? = nil, detail: String? = nil, hint: String? = nil) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
    }

    public var description: String {
        var text = "PostgreSQL \(kind.rawValue)"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": \(message)"
        if let detail { text += " DETAIL: \(detail)" }
        if let hint { text += " HINT: \(hint)" }
        return text
    }

    /// SQLSTATE classes and codes that mean the session is gone: class 08 (connection exception)
    /// and 57P (operator intervention: shutdown, crash, database dropped, idle timeout).
    static func isConnectionLoss(sqlState: String) -> Bool {
        sqlState.hasPrefix("08") || sqlState.hasPrefix("57P")
    }
}

extension PostgresError {
    /// The error a failed result reports, or the connection's last error when libpq gave no result.
    init(result: OpaquePointer?, connection: OpaquePointer?) {
        guard let result, let sqlState = Self.field(result, "C") else {
            let resultMessage = result.map { String(cString: PQresultErrorMessage($0)).trimmingWhitespace() } ?? ""
            let message = resultMessage.isEmpty ? Self.connectionMessage(connection) : resultMessage
            let lost = connection == nil || PQstatus(connection) != CONNECTION_OK
            self.init(lost ? .connectionLost : .server, message)
            return
        }
        let lost = Self.isConnectionLoss(sqlState: sqlState) || PQstatus(connection) != CONNECTION_OK
        self.init(lost ? .connectionLost : .server,
                  Self.field(result, "M") ?? Self.connectionMessage(connection),
                  sqlState: sqlState, detail: Self.field(result, "D"), hint: Self.field(result, "H"))
        constraint = Self.field(result, "n")
        table = Self.field(result, "t")
        column = Self.field(result, "c")
        schema = Self.field(result, "s")
    }

    /// libpq's message for the connection's last failure, trimmed of its trailing newline.
    static func connectionMessage(_ connection: OpaquePointer?) -> String {
        guard let connection, let text = PQerrorMessage(connection) else { return "no connection" }
        let message = String(cString: text).trimmingWhitespace()
        return message.isEmpty ? "unknown libpq error" : message
    }

    private static func field(_ result: OpaquePointer, _ code: Unicode.Scalar) -> String? {
        guard let value = PQresultErrorField(result, Int32(code.value)) else { return nil }
        return String(cString: value)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        return String(scalars)
    }
}
