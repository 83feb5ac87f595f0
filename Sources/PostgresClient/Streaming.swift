import CLibPQ

extension PostgresConnection {
    /// Runs a query and hands its rows to `body` one at a time as they arrive, so a result of
    /// millions of rows never sits in memory. Returns the number of rows. When `body` throws, the
    /// query is cancelled on the server and the error is rethrown.
    ///
    /// libpq's single-row mode delivers each row as its own small result while the server keeps
    /// sending; no transaction or cursor is needed. The connection is busy until the last row:
    /// `body` cannot run other statements on it (they fail with "another command is already in
    /// progress").
    @discardableResult
    public func stream(_ sql: String, _ parameters: any PostgresEncodable..., body: (PostgresRow) throws -> Void) throws -> Int {
        try stream(sql, parameters: parameters, body: body)
    }

    @discardableResult
    public func stream(_ sql: String, parameters: [any PostgresEncodable], body: (PostgresRow) throws -> Void) throws -> Int {
        let pointer = try connectedHandle()
        let bound = BoundParameters(parameters)
        let sent = bound.withValuePointers { values in
            PQsendQueryParams(pointer, sql, bound.count, bound.types, values, bound.lengths, bound.formats, 1)
        }
        guard sent == 1 else { throw PostgresError(result: nil, connection: pointer) }
        guard PQsetSingleRowMode(pointer) == 1 else {
            _ = drainResults(pointer)
            throw PostgresError(.usage, "could not switch to single-row mode")
        }

        return try whileBusy(with: "a streaming read") { try receiveRows(pointer, body) }
    }

    private func receiveRows(_ pointer: OpaquePointer, _ body: (PostgresRow) throws -> Void) throws -> Int {
        var rows = 0
        var failure: PostgresError?
        while let result = PQgetResult(pointer) {
            switch PQresultStatus(result) {
            case PGRES_SINGLE_TUPLE:
                do {
                    try body(PostgresRow(result: PostgresResult(result), row: 0))
                } catch {
                    cancelRunningStatement(pointer)
                    throw error
                }
                rows += 1
            case PGRES_TUPLES_OK, PGRES_COMMAND_OK:
                PQclear(result)
            case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
                PQclear(result)
                abandonCopy(pointer, reason: "COPY runs through copyIn or copyOut")
                failure = failure ?? PostgresError(.usage, "COPY must go through copyIn(_:_:) or copyOut(_:_:)")
            default:
                failure = failure ?? PostgresError(result: result, connection: pointer)
                PQclear(result)
            }
        }
        if let failure { throw failure }
        return rows
    }
}
