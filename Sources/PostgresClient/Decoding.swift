import Foundation

/// A Swift type that can be read from a column. Results arrive in PostgreSQL's binary format:
/// exact for floating point, and independent of server settings such as DateStyle.
public protocol PostgresDecodable {
    /// Decodes a non-NULL value from its binary representation.
    static func decode(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> Self
    /// What a NULL becomes. Only `Optional` accepts NULL; everything else throws.
    static func decodeNull(_ cell: PostgresCell) throws -> Self
}

extension PostgresDecodable {
    public static func decodeNull(_ cell: PostgresCell) throws -> Self {
        throw PostgresError(.decoding,
                            "column \(cell.column) \"\(cell.columnName)\" is NULL; decode it as \(Self.self)? to accept NULL")
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> Self {
        try Wrapped.decode(bytes, cell)
    }
    public static func decodeNull(_ cell: PostgresCell) throws -> Self { nil }
}

// MARK: - Wire formats

extension UnsafeRawBufferPointer {
    func bigEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int = 0) -> T {
        T(bigEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

enum BinaryFormat {
    /// Reads a fixed-size big-endian integer, checking the length the server sent.
    static func integer<T: FixedWidthInteger>(_ type: T.Type, _ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> T {
        guard bytes.count == MemoryLayout<T>.size else {
            throw cell.mismatch(T.self, "expected \(MemoryLayout<T>.size) bytes, got \(bytes.count)")
        }
        return bytes.bigEndian(T.self)
    }

    /// Any integer column (int2, int4, int8, oid) widened to Int64; nil for other types.
    static func int64(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> Int64? {
        switch cell.type {
        case PostgresTypeOID.int2: Int64(try integer(Int16.self, bytes, cell))
        case PostgresTypeOID.int4: Int64(try integer(Int32.self, bytes, cell))
        case PostgresTypeOID.int8: try integer(Int64.self, bytes, cell)
        case PostgresTypeOID.oid: Int64(try integer(UInt32.self, bytes, cell))
        default: nil
        }
    }

    /// Any float, integer or numeric column as Double; nil for other types.
    static func double(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> Double? {
        switch cell.type {
        case PostgresTypeOID.float8: Double(bitPattern: try integer(UInt64.self, bytes, cell))
        case PostgresTypeOID.float4: Double(Float(bitPattern: try integer(UInt32.self, bytes, cell)))
        case PostgresTypeOID.numeric: Double(try numericText(bytes, cell))
        default: try int64(bytes, cell).map(Double.init)
        }
    }

    /// A numeric value as exact decimal text ("NaN", "Infinity" and "-Infinity" included).
    ///
    /// The binary form is: digit count, weight of the first digit, sign, display scale, then
    /// base-10000 digits; digit i stands for digits[i] × 10000^(weight − i).
    static func numericText(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> String {
        guard bytes.count >= 8 else { throw cell.mismatch(String.self, "numeric value too short") }
        let digitCount = Int(bytes.bigEndian(Int16.self, at: 0))
        let weight = Int(bytes.bigEndian(Int16.self, at: 2))
        let sign = bytes.bigEndian(UInt16.self, at: 4)
        let scale = Int(bytes.bigEndian(Int16.self, at: 6))
        guard bytes.count == 8 + 2 * digitCount else { throw cell.mismatch(String.self, "numeric length mismatch") }
        switch sign {
        case 0xC000: return "NaN"
        case 0xD000: return "Infinity"
        case 0xF000: return "-Infinity"
        default: break
        }
        func digit(_ power: Int) -> Int {
            let index = weight - power
            return index >= 0 && index < digitCount ? Int(bytes.bigEndian(Int16.self, at: 8 + 2 * index)) : 0
        }
        var text = sign == 0x4000 ? "-" : ""
        if weight < 0 {
            text += "0"
        } else {
            text += String(digit(weight))
            for power in stride(from: weight - 1, through: 0, by: -1) { text += fourDigits(digit(power)) }
        }
        if scale > 0 {
            var fraction = ""
            var power = -1
            while fraction.count < scale {
                fraction += fourDigits(digit(power))
                power -= 1
            }
            text += "." + fraction.prefix(scale)
        }
        return text
    }

    private static func fourDigits(_ value: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    static func uuidText(_ bytes: UnsafeRawBufferPointer) -> String {
        let hex = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        return [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }.joined(separator: "-")
    }

    /// Columns whose binary form is their UTF-8 text.
    static func isTextual(_ type: UInt32) -> Bool {
        switch type {
        case PostgresTypeOID.text, PostgresTypeOID.varchar, PostgresTypeOID.bpchar, PostgresTypeOID.name,
             PostgresTypeOID.char, PostgresTypeOID.unknown, PostgresTypeOID.json, PostgresTypeOID.xml:
            true
        default:
            false
        }
    }
}

// MARK: - Conformances

extension Int64: PostgresDecodable {
    public static func decode(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> Int64 {
        if let value = try BinaryFormat.int64(bytes, cell) { return value }
        if cell.type == PostgresTypeOID.numeric {
            // sum(bigint) and friends return numeric; accept it when the value is a whole number.
            let text = try BinaryFormat.numericText(bytes, cell)
            let whole = text.split(separator: ".", maxSplits: 1)
            if let value = Int64(whole[0]), whole.count == 1 || whole[1].allSatisfy({ $0 == "0" }) { return value }
            throw cell.mismatch(Int64.self, "\(text) is not a 64-bit whole number")
        }
        throw cell.mismatch(Int64.self)
    }
}

extension PostgresDecodable where Self: FixedWidthInteger {
    public static func decode(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> Self {
        let wide = try Int64.decode(bytes, cell)
        guard let value = Self(exactly: wide) else { throw cell.mismatch(Self.self, "\(wide) is out of range") }
        return value
    }
}

extension Int: PostgresDecodable {}
extension Int32: PostgresDecodable {}
extension Int16: PostgresDecodable {}

extension Double: PostgresDecodable {
    public static func decode(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> Double {
        guard let value = try BinaryFormat.double(bytes, cell) else { throw cell.mismatch(Double.self) }
        return value
    }
}

extension Float: PostgresDecodable {
    public static func decode(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> Float {
        if cell.type == PostgresTypeOID.float4 { return Float(bitPattern: try BinaryFormat.integer(UInt32.self, bytes, cell)) }
        return Float(try Double.decode(bytes, cell))
    }
}

extension Bool: PostgresDecodable {
    public static func decode(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> Bool {
        guard cell.type == PostgresTypeOID.bool else { throw cell.mismatch(Bool.self) }
        return try BinaryFormat.integer(UInt8.self, bytes, cell) != 0
    }
}

extension String: PostgresDecodable {
    /// Text-like columns, json and jsonb (as JSON text), numeric (exact), integers, floats,
    /// bool and uuid. Other types need a `::text` cast in the query.
    public static func decode(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> String {
        let type = cell.type
        if BinaryFormat.isTextual(type) { return String(decoding: bytes, as: UTF8.self) }
        switch type {
        case PostgresTypeOID.jsonb:
            // jsonb's binary form is a version byte (1) followed by the JSON text.
            guard bytes.first == 1 else { throw cell.mismatch(String.self, "unknown jsonb format version") }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes.dropFirst()), as: UTF8.self)
        case PostgresTypeOID.numeric: return try BinaryFormat.numericText(bytes, cell)
        case PostgresTypeOID.uuid where bytes.count == 16: return BinaryFormat.uuidText(bytes)
        case PostgresTypeOID.bool: return try Bool.decode(bytes, cell) ? "true" : "false"
        case PostgresTypeOID.float4, PostgresTypeOID.float8: return String(describing: try Double.decode(bytes, cell))
        default:
            if let number = try BinaryFormat.int64(bytes, cell) { return String(number) }
            throw cell.mismatch(String.self, "cast the column to text in the query")
        }
    }
}

extension Date: PostgresDecodable {
    /// timestamptz; timestamp (without time zone) read as UTC; date as midnight UTC.
    public static func decode(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> Date {
        switch cell.type {
        case PostgresTypeOID.timestamptz, PostgresTypeOID.timestamp:
            return PostgresEpoch.date(microseconds: try BinaryFormat.integer(Int64.self, bytes, cell))
        case PostgresTypeOID.date:
            let days = try BinaryFormat.integer(Int32.self, bytes, cell)
            if days == Int32.max { return .distantFuture }
            if days == Int32.min { return .distantPast }
            return PostgresEpoch.date(microseconds: Int64(days) * 86_400_000_000)
        default:
            throw cell.mismatch(Date.self)
        }
    }
}

extension Array: PostgresDecodable where Element == UInt8 {
    public static func decode(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> [UInt8] {
        guard cell.type == PostgresTypeOID.bytea else { throw cell.mismatch([UInt8].self) }
        return [UInt8](bytes)
    }
}

extension Data: PostgresDecodable {
    public static func decode(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> Data {
        Data(try [UInt8].decode(bytes, cell))
    }
}

extension PostgresValue: PostgresDecodable {
    /// The closest case for the column's type: integers → int, float4/float8/numeric → double,
    /// timestamps and dates → timestamp, json/jsonb → json, bytea → bytea, text-like → text.
    public static func decode(_ bytes: UnsafeRawBufferPointer, _ cell: PostgresCell) throws -> PostgresValue {
        switch cell.type {
        case PostgresTypeOID.int2, PostgresTypeOID.int4, PostgresTypeOID.int8, PostgresTypeOID.oid:
            .int(try Int64.decode(bytes, cell))
        case PostgresTypeOID.float4, PostgresTypeOID.float8, PostgresTypeOID.numeric:
            .double(try Double.decode(bytes, cell))
        case PostgresTypeOID.bool: .bool(try Bool.decode(bytes, cell))
        case PostgresTypeOID.timestamptz, PostgresTypeOID.timestamp, PostgresTypeOID.date:
            .timestamp(try Date.decode(bytes, cell))
        case PostgresTypeOID.json, PostgresTypeOID.jsonb: .json(try String.decode(bytes, cell))
        case PostgresTypeOID.bytea: .bytea(try [UInt8].decode(bytes, cell))
        default: .text(try String.decode(bytes, cell))
        }
    }
    public static func decodeNull(_ cell: PostgresCell) throws -> PostgresValue { .null }
}
