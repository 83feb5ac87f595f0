import CLibPQ

extension PostgresConnection {
    /// Runs a `COPY ... FROM STDIN` statement (text format) and feeds it the rows that `write`
    /// appends to the writer. Returns the number of rows the server stored. When `write` throws,
    /// the COPY is aborted, nothing is stored, and the error is rethrown. While the COPY runs the
    /// connection takes no other statement, so `write` must not run any.
    ///
    ///     try db.copyIn("COPY predictions (job, step, forecast_value) FROM STDIN") { writer in
    ///         for p in predictions {
    ///             try writer.append(p.job); try writer.append(p.step); try writer.append(p.value)
    ///             try writer.endRow()
    ///         }
    ///     }
    public func copyIn(_ copyStatement: String, _ write: (inout CopyWriter) throws -> Void) throws -> Int {
        let pointer = try connectedHandle()
        try startCopy(copyStatement, expecting: PGRES_COPY_IN, pointer)
        return try feedCopy(CopyWriter(connection: pointer), pointer, write)
    }

    /// Bulk-loads rows into `columns` of `table` with binary COPY: the writer encodes each value
    /// for its column's type (looked up first), so the server parses no text. Faster than
    /// `copyIn(_:_:)` for numbers and timestamps; columns must be of the types `CopyWriter`
    /// encodes in binary (integers, float4/8, bool, text/varchar/name/bpchar, json/jsonb,
    /// timestamptz/timestamp/date, bytea). `table` may be schema-qualified.
    public func copyIn(into table: String, columns: [String], _ write: (inout CopyWriter) throws -> Void) throws -> Int {
        let pointer = try connectedHandle()
        let target = quoteIdentifier(table)
        let columnList = columns.map { quoteIdentifier($0, qualified: false) }.joined(separator: ", ")
        let shape = try run("SELECT \(columnList) FROM \(target) LIMIT 0", [])
        let types = (0..<columns.count).map(shape.columnType)
        try startCopy("COPY \(target) (\(columnList)) FROM STDIN (FORMAT binary)", expecting: PGRES_COPY_IN, pointer)
        return try feedCopy(CopyWriter(connection: pointer, binaryColumns: types, columnNames: columns), pointer, write)
    }

    private func feedCopy(_ writer: consuming CopyWriter, _ pointer: OpaquePointer,
                          _ write: (inout CopyWriter) throws -> Void) throws -> Int {
        do {
            try whileBusy(with: "COPY FROM STDIN") { try write(&writer) }
            try writer.finish()
        } catch {
            // The server discards the whole COPY when the client ends it with an error message.
            _ = PQputCopyEnd(pointer, "COPY aborted by the client: \(error)")
            _ = drainResults(pointer)
            throw error
        }
        guard PQputCopyEnd(pointer, nil) == 1 else {
            throw PostgresError(.connectionLost, PostgresError.connectionMessage(pointer))
        }
        return try finishCopy(pointer)
    }

    /// Runs a `COPY ... TO STDOUT` statement and calls `body` with each row as the server sent
    /// it (in the statement's format: one line of text ending in a newline for the default text
    /// format). The bytes are valid only during the call. Returns the number of rows.
    public func copyOut(_ copyStatement: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let pointer = try connectedHandle()
        try startCopy(copyStatement, expecting: PGRES_COPY_OUT, pointer)
        var data: UnsafeMutablePointer<CChar>?
        while true {
            let length = PQgetCopyData(pointer, &data, 0)
            if length < 0 { break }  // -1: done, -2: failed; finishCopy reports which.
            defer { PQfreemem(data) }
            do {
                try whileBusy(with: "COPY TO STDOUT") { try body(UnsafeRawBufferPointer(start: data, count: Int(length))) }
            } catch {
                cancelRunningStatement(pointer)
                throw error
            }
        }
        return try finishCopy(pointer)
    }

    private func startCopy(_ statement: String, expecting expected: ExecStatusType, _ pointer: OpaquePointer) throws {
        let result = PQexec(pointer, statement)
        defer { PQclear(result) }
        let status = result.map(PQresultStatus)
        if status == expected { return }
        switch status {
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            abandonCopy(pointer, reason: "COPY in the wrong direction")
            throw PostgresError(.usage, "copyIn needs COPY ... FROM STDIN and copyOut needs COPY ... TO STDOUT")
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            throw PostgresError(.usage, "not a COPY statement: \(statement.prefix(60))")
        default:
            throw PostgresError(result: result, connection: pointer)
        }
    }

    /// Collects the COPY's final result: its row count, or the error that ended it.
    private func finishCopy(_ pointer: OpaquePointer) throws -> Int {
        var rows = 0
        var failure: PostgresError?
        while let result = PQgetResult(pointer) {
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK:
                rows = Int(String(cString: PQcmdTuples(result))) ?? 0
            default:
                if failure == nil { failure = PostgresError(result: result, connection: pointer) }
            }
            PQclear(result)
        }
        if let failure { throw failure }
        if PQstatus(pointer) != CONNECTION_OK {
            throw PostgresError(.connectionLost, PostgresError.connectionMessage(pointer))
        }
        return rows
    }

    /// Asks the server to stop the running statement and reads what is left of its output, so the
    /// session is ready for the next one. Used when the caller's row handler throws mid-stream.
    func cancelRunningStatement(_ pointer: OpaquePointer) {
        if let cancel = PQgetCancel(pointer) {
            var message = [CChar](repeating: 0, count: 256)
            _ = PQcancel(cancel, &message, Int32(message.count))
            PQfreeCancel(cancel)
        }
        var data: UnsafeMutablePointer<CChar>?
        while PQgetCopyData(pointer, &data, 0) > 0 { PQfreemem(data) }
        _ = drainResults(pointer)
    }
}
