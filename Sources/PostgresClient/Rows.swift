import CLibPQ
import Foundation

/// Owns one libpq result. A PGresult is read-only once libpq hands it over, so rows of it can be
/// read from any thread; it is freed when the last row referring to it goes away.
final class PostgresResult: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { PQclear(pointer) }

    var rowCount: Int { Int(PQntuples(pointer)) }
    var columnCount: Int { Int(PQnfields(pointer)) }

    func columnName(_ column: Int) -> String { String(cString: PQfname(pointer, Int32(column))) }
    func columnType(_ column: Int) -> UInt32 { PQftype(pointer, Int32(column)) }

    /// The first column with exactly this name. (PQfnumber would fold unquoted names to lower
    /// case; results report names as they are, so compare them as they are.)
    func columnIndex(_ name: String) -> Int? {
        name.withCString { wanted in
            (0..<Int32(columnCount)).first { strcmp(PQfname(pointer, $0), wanted) == 0 }.map(Int.init)
        }
    }
}

/// One row of a result; values are decoded on demand with `decode(_:as:)`. The rows of one
/// `query` share its libpq result, which lives as long as any of them.
public struct PostgresRow: Sendable {
    let result: PostgresResult
    let row: Int32

    public var columnCount: Int { result.columnCount }
    public var columnNames: [String] { (0..<columnCount).map(result.columnName) }
    public func columnName(_ column: Int) -> String { result.columnName(column) }
    /// The column's type OID (see `PostgresTypeOID`).
    public func columnType(_ column: Int) -> UInt32 { result.columnType(column) }

    public func isNull(_ column: Int) -> Bool { PQgetisnull(result.pointer, row, Int32(column)) != 0 }

    /// Decodes a column; NULL decodes only into an Optional.
    public func decode<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws -> T {
        guard column >= 0 && column < columnCount else {
            throw PostgresError(.usage, "column \(column) out of range: the result has \(columnCount) columns")
        }
        let index = Int32(column)
        let cell = PostgresCell(result: result.pointer, column: column)
        if PQgetisnull(result.pointer, row, index) != 0 {
            return try T.decodeNull(cell)
        }
        let length = Int(PQgetlength(result.pointer, row, index))
        let bytes = UnsafeRawBufferPointer(start: PQgetvalue(result.pointer, row, index), count: length)
        return try T.decode(bytes, cell)
    }

    /// Decodes a column by its name as the result reports it (unquoted names come back lower case).
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let index = result.columnIndex(column) else {
            throw PostgresError(.usage, "no column named \"\(column)\" in the result (columns: \(columnNames.joined(separator: ", ")))")
        }
        return try decode(index, as: type)
    }
}

/// Where a value being decoded comes from: its column and type. Used by decoders to check the
/// type and to name the column in errors.
public struct PostgresCell {
    /// The row's result, kept alive by the row for as long as a decoder runs. Not a reference to
    /// `PostgresResult`, which would cost a retain and a release per decoded value.
    let result: OpaquePointer
    public let column: Int

    public var type: UInt32 { PQftype(result, Int32(column)) }
    public var columnName: String { String(cString: PQfname(result, Int32(column))) }

    /// A decoding error that names the column, its type and the Swift type wanted.
    public func mismatch<T>(_ swiftType: T.Type, _ reason: String? = nil) -> PostgresError {
        var message = "column \(column) \"\(columnName)\" of type \(PostgresTypeOID.typeName(type)) cannot be decoded as \(swiftType)"
        if let reason { message += ": \(reason)" }
        return PostgresError(.decoding, message)
    }
}
