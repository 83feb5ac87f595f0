import Foundation

/// A value bound to a statement parameter (`$1`, `$2`, ...). Values travel separately from the
/// SQL text, so they are never spliced into it.
public enum PostgresValue: Sendable, Hashable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case bool(Bool)
    case timestamp(Date)
    case json(String)
    case bytea([UInt8])
}

/// A Swift type that can be bound to a statement parameter.
public protocol PostgresEncodable: Sendable {
    var postgresValue: PostgresValue { get }
}

extension PostgresValue: PostgresEncodable {
    public var postgresValue: PostgresValue { self }
}

extension PostgresValue: ExpressibleByNilLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByBooleanLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension Int: PostgresEncodable { public var postgresValue: PostgresValue { .int(Int64(self)) } }
extension Int64: PostgresEncodable { public var postgresValue: PostgresValue { .int(self) } }
extension Int32: PostgresEncodable { public var postgresValue: PostgresValue { .int(Int64(self)) } }
extension Int16: PostgresEncodable { public var postgresValue: PostgresValue { .int(Int64(self)) } }
extension Double: PostgresEncodable { public var postgresValue: PostgresValue { .double(self) } }
extension Float: PostgresEncodable { public var postgresValue: PostgresValue { .double(Double(self)) } }
extension String: PostgresEncodable { public var postgresValue: PostgresValue { .text(self) } }
extension Substring: PostgresEncodable { public var postgresValue: PostgresValue { .text(String(self)) } }
extension Bool: PostgresEncodable { public var postgresValue: PostgresValue { .bool(self) } }
extension Date: PostgresEncodable { public var postgresValue: PostgresValue { .timestamp(self) } }
extension Data: PostgresEncodable { public var postgresValue: PostgresValue { .bytea([UInt8](self)) } }
extension Array: PostgresEncodable where Element == UInt8 {
    public var postgresValue: PostgresValue { .bytea(self) }
}
extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresValue: PostgresValue { self?.postgresValue ?? .null }
}

/// Type OIDs of the built-in types this module binds and decodes (from pg_type.dat).
public enum PostgresTypeOID {
    public static let bool: UInt32 = 16
    public static let bytea: UInt32 = 17
    public static let char: UInt32 = 18
    public static let name: UInt32 = 19
    public static let int8: UInt32 = 20
    public static let int2: UInt32 = 21
    public static let int4: UInt32 = 23
    public static let text: UInt32 = 25
    public static let oid: UInt32 = 26
    public static let json: UInt32 = 114
    public static let xml: UInt32 = 142
    public static let float4: UInt32 = 700
    public static let float8: UInt32 = 701
    public static let unknown: UInt32 = 705
    public static let bpchar: UInt32 = 1042
    public static let varchar: UInt32 = 1043
    public static let date: UInt32 = 1082
    public static let timestamp: UInt32 = 1114
    public static let timestamptz: UInt32 = 1184
    public static let numeric: UInt32 = 1700
    public static let uuid: UInt32 = 2950
    public static let jsonb: UInt32 = 3802
    public static let int4Array: UInt32 = 1007
    public static let int8Array: UInt32 = 1016
    public static let float8Array: UInt32 = 1022
    public static let timestamptzArray: UInt32 = 1185

    static func typeName(_ type: UInt32) -> String {
        switch type {
        case bool: "bool"
        case bytea: "bytea"
        case char: "\"char\""
        case name: "name"
        case int8: "int8"
        case int2: "int2"
        case int4: "int4"
        case text: "text"
        case oid: "oid"
        case json: "json"
        case xml: "xml"
        case float4: "float4"
        case float8: "float8"
        case unknown: "unknown"
        case bpchar: "bpchar"
        case varchar: "varchar"
        case date: "date"
        case timestamp: "timestamp"
        case timestamptz: "timestamptz"
        case numeric: "numeric"
        case uuid: "uuid"
        case jsonb: "jsonb"
        default: "type oid \(type)"
        }
    }
}

/// Timestamps on the wire count microseconds from 2000-01-01 00:00 UTC; `Date` counts seconds
/// from 2001-01-01 00:00 UTC. The year between them (2000 is a leap year) is 366 days.
enum PostgresEpoch {
    static let secondsFrom2000To2001: Int64 = 366 * 86_400
    static let microsecondsFrom2000To2001: Int64 = secondsFrom2000To2001 * 1_000_000

    static func microseconds(_ date: Date) -> Int64 {
        let micros = (date.timeIntervalSinceReferenceDate * 1_000_000).rounded()
        guard micros.isFinite else { return micros > 0 ? Int64.max : Int64.min }
        return Int64(micros) + microsecondsFrom2000To2001
    }

    static func date(microseconds: Int64) -> Date {
        // PostgreSQL's 'infinity' and '-infinity' timestamps.
        if microseconds == Int64.max { return .distantFuture }
        if microseconds == Int64.min { return .distantPast }
        return Date(timeIntervalSinceReferenceDate: Double(microseconds - microsecondsFrom2000To2001) / 1_000_000)
    }
}

/// Parameters laid out the way PQexecParams wants them.
///
/// Numbers, booleans, timestamps and bytea go in binary with their type OID: exact, and
/// independent of server settings such as DateStyle. Text and JSON go as text with the OID left
/// unspecified, so the server infers their type from context (a string can fill a text,
/// varchar, jsonb or enum column alike).
struct BoundParameters {
    private(set) var types: [UInt32] = []
    private(set) var formats: [Int32] = []
    private(set) var lengths: [Int32] = []
    private var offsets: [Int?] = []
    // Starts non-empty so that an empty bytea still gets a non-NULL pointer (NULL means SQL NULL).
    private var storage: [UInt8] = [0]

    init(_ values: [any PostgresEncodable]) {
        types.reserveCapacity(values.count)
        for value in values { append(value.postgresValue) }
    }

    var count: Int32 { Int32(types.count) }

    private mutating func append(_ value: PostgresValue) {
        switch value {
        case .null: add(type: 0, format: 0, bytes: nil)
        case .int(let number): addBinary(PostgresTypeOID.int8, bigEndian: UInt64(bitPattern: number))
        case .double(let number): addBinary(PostgresTypeOID.float8, bigEndian: number.bitPattern)
        case .bool(let flag): add(type: PostgresTypeOID.bool, format: 1, bytes: [flag ? 1 : 0])
        case .timestamp(let date):
            addBinary(PostgresTypeOID.timestamptz, bigEndian: UInt64(bitPattern: PostgresEpoch.microseconds(date)))
        case .text(let string), .json(let string): add(type: 0, format: 0, bytes: Array(string.utf8) + [0])
        case .bytea(let bytes): add(type: PostgresTypeOID.bytea, format: 1, bytes: bytes)
        }
    }

    private mutating func addBinary(_ type: UInt32, bigEndian value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { add(type: type, format: 1, bytes: Array($0)) }
    }

    private mutating func add(type: UInt32, format: Int32, bytes: [UInt8]?) {
        types.append(type)
        formats.append(format)
        if let bytes {
            offsets.append(storage.count)
            lengths.append(Int32(format == 0 ? bytes.count - 1 : bytes.count))
            storage.append(contentsOf: bytes)
        } else {
            offsets.append(nil)
            lengths.append(0)
        }
    }

    /// Calls `body` with a pointer per parameter (NULL for SQL NULL), valid only during the call.
    func withValuePointers<R>(_ body: ([UnsafePointer<CChar>?]) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { raw in
            let base = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
            return try body(offsets.map { offset in offset.map { UnsafePointer(base + $0) } })
        }
    }
}
