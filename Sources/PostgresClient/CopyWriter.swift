import CLibPQ
import Foundation

/// Writes rows for `COPY ... FROM STDIN`, handing them to libpq in large chunks.
///
/// Append the fields of a row in column order, then call `endRow()`.
///
/// In text format (`copyIn(_:_:)`), text is escaped (`\\`, `\t`, `\n`, `\r`), NULL is
/// written as `\N`, floating point specials as `NaN`, `Infinity`, `-Infinity`, and timestamps in
/// ISO form with an explicit UTC offset, so the server's DateStyle and TimeZone do not matter.
/// In binary format (`copyIn(into:columns:_:)`), each value is encoded for its column's type,
/// which the writer knows; the server then parses nothing, which makes bulk loads faster.
public struct CopyWriter: ~Copyable {
    /// Bytes handed to libpq per PQputCopyData call: large enough that the call overhead
    /// vanishes, small enough to stay in cache and to keep the server fed while the next chunk
    /// is built (64 KiB came out ahead of 16 KiB, 256 KiB and 1 MiB; benchmarks/RESULTS.md).
    static let chunkSize = 64 * 1024

    private let connection: OpaquePointer
    let buffer: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    var count = 0
    var fieldsInRow = 0
    /// The columns' type OIDs in binary format; nil in text format.
    let binaryColumns: [UInt32]?
    let columnNames: [String]
    /// Rows completed with `endRow()`.
    public internal(set) var rowCount = 0

    init(connection: OpaquePointer, binaryColumns: [UInt32]? = nil, columnNames: [String] = []) {
        self.connection = connection
        self.binaryColumns = binaryColumns
        self.columnNames = columnNames
        // Room for a whole chunk plus one field of the largest fixed-size form (a timestamp).
        capacity = Self.chunkSize + 64
        buffer = .allocate(capacity: capacity)
        if binaryColumns != nil { putBinaryHeader() }
    }

    deinit { buffer.deallocate() }

    // MARK: - Fields

    public mutating func appendNull() throws {
        if binaryColumns != nil { return try appendBinaryNull() }
        separate()
        put(ASCII.backslash)
        put(ASCII.capitalN)
        try flushIfFull()
    }

    public mutating func append(_ value: Int) throws { try append(Int64(value)) }

    public mutating func append(_ value: Int64) throws {
        if binaryColumns != nil { return try appendBinary(value) }
        separate()
        try reserve(20)
        if value < 0 { put(ASCII.minus) }
        var magnitude = value.magnitude
        var digits = 1
        var scale: UInt64 = 10
        while digits < 20 && magnitude >= scale {
            digits += 1
            scale = scale &* 10
        }
        var index = count + digits - 1
        repeat {
            buffer[index] = ASCII.zero &+ UInt8(truncatingIfNeeded: magnitude % 10)
            magnitude /= 10
            index -= 1
        } while magnitude > 0
        count += digits
        try flushIfFull()
    }

    public mutating func append(_ value: Double) throws {
        if binaryColumns != nil { return try appendBinary(value) }
        try appendText(value)
    }

    public mutating func append(_ value: Float) throws {
        if binaryColumns != nil { return try appendBinary(Double(value)) }
        try appendText(value)
    }

    /// A float in COPY's text format: PostgreSQL's spellings of NaN and the infinities, else the
    /// shortest text Swift prints that reads back as the same value (of its own precision).
    private mutating func appendText<F: BinaryFloatingPoint & CustomStringConvertible>(_ value: F) throws {
        separate()
        if value.isNaN {
            try putASCII("NaN")
        } else if value.isInfinite {
            try putASCII(value > 0 ? "Infinity" : "-Infinity")
        } else {
            try putASCII(value.description)
        }
    }

    public mutating func append(_ value: Bool) throws {
        if binaryColumns != nil { return try appendBinary(value) }
        separate()
        put(value ? ASCII.t : ASCII.f)
        try flushIfFull()
    }

    /// A timestamp as `YYYY-MM-DD HH:MM:SS.ffffff+00`, good for timestamptz (and for timestamp
    /// and date columns, which read the UTC wall-clock time).
    public mutating func append(_ value: Date) throws {
        if binaryColumns != nil { return try appendBinary(value) }
        separate()
        let micros = PostgresEpoch.microseconds(value)
        if micros == Int64.max || micros == Int64.min {
            try putASCII(micros > 0 ? "infinity" : "-infinity")
            return
        }
        try reserve(40)
        let secondsPerDay: Int64 = 86_400
        let totalSeconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = Int(micros - totalSeconds * 1_000_000)
        let days = totalSeconds >= 0 ? totalSeconds / secondsPerDay : (totalSeconds - secondsPerDay + 1) / secondsPerDay
        let secondOfDay = Int(totalSeconds - days * secondsPerDay)
        let (year, month, day) = Self.civilDate(daysSince2000: days)
        if year < 1 || year > 9999 {
            // Outside four-digit years: let Foundation format it and keep the ISO shape.
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            formatter.timeZone = TimeZone(identifier: "UTC")
            try putASCII(formatter.string(from: value))
            return
        }
        putDigits(year, 4); put(ASCII.minus); putDigits(month, 2); put(ASCII.minus); putDigits(day, 2)
        put(ASCII.space)
        putDigits(secondOfDay / 3600, 2); put(ASCII.colon)
        putDigits(secondOfDay / 60 % 60, 2); put(ASCII.colon); putDigits(secondOfDay % 60, 2)
        if fraction != 0 {
            put(ASCII.dot)
            putDigits(fraction, 6)
        }
        put(ASCII.plus); put(ASCII.zero); put(ASCII.zero)
        try flushIfFull()
    }

    public mutating func append(_ value: String) throws {
        if binaryColumns != nil { return try appendBinary(value) }
        separate()
        var value = value
        try value.withUTF8 { bytes in try putEscaped(bytes) }
    }

    /// bytea in hex form (`\\x0aff`: the backslash itself escaped for COPY).
    /// One-dimensional arrays (`float8[]`, `int4[]`/`int8[]`, `timestamptz[]`), in binary COPY only.
    public mutating func append(_ values: [Double?]) throws {
        guard binaryColumns != nil else { throw Self.arraysNeedBinary }
        try appendBinary(values)
    }

    public mutating func append(_ values: [Int]) throws {
        guard binaryColumns != nil else { throw Self.arraysNeedBinary }
        try appendBinary(values)
    }

    public mutating func append(_ values: [Date]) throws {
        guard binaryColumns != nil else { throw Self.arraysNeedBinary }
        try appendBinary(values)
    }

    static let arraysNeedBinary = PostgresError(.usage, "arrays are written by binary COPY only (copyIn(into:columns:))")

    public mutating func append(_ value: [UInt8]) throws {
        if binaryColumns != nil { return try appendBinary(value) }
        separate()
        try putASCII("\\\\x")
        for byte in value {
            try reserve(2)
            put(Self.hexDigit(byte >> 4))
            put(Self.hexDigit(byte & 0x0f))
        }
        try flushIfFull()
    }

    /// Any bindable value; JSON is written as its text.
    public mutating func append(_ value: some PostgresEncodable) throws {
        switch value.postgresValue {
        case .null: try appendNull()
        case .int(let number): try append(number)
        case .double(let number): try append(number)
        case .text(let text), .json(let text): try append(text)
        case .bool(let flag): try append(flag)
        case .timestamp(let date): try append(date)
        case .bytea(let bytes): try append(bytes)
        }
    }

    /// Appends a whole row and ends it.
    public mutating func appendRow(_ values: any PostgresEncodable...) throws {
        for value in values { try append(value) }
        try endRow()
    }

    public mutating func endRow() throws {
        if binaryColumns != nil { return try endBinaryRow() }
        put(ASCII.newline)
        fieldsInRow = 0
        rowCount += 1
        try flushIfFull()
    }

    // MARK: - Buffer

    /// Sends the rest: what is buffered and, in binary format, the trailer.
    mutating func finish() throws {
        guard fieldsInRow == 0 else {
            throw PostgresError(.usage, "the last row has \(fieldsInRow) fields but endRow() was not called")
        }
        if binaryColumns != nil {
            try reserve(2)
            putBigEndian(UInt16(0xFFFF))
        }
        try flush()
    }

    /// Sends what is buffered to libpq.
    mutating func flush() throws {
        guard count > 0 else { return }
        let bytes = UnsafeRawPointer(buffer).assumingMemoryBound(to: CChar.self)
        guard PQputCopyData(connection, bytes, Int32(count)) == 1 else {
            throw PostgresError(PQstatus(connection) == CONNECTION_OK ? .server : .connectionLost,
                                PostgresError.connectionMessage(connection))
        }
        count = 0
    }

    private mutating func separate() {
        if fieldsInRow > 0 { put(ASCII.tab) }
        fieldsInRow += 1
    }

    /// Every field ends with `flushIfFull`, so a field starts below `chunkSize`; the 64 bytes of
    /// slack above it take separators and short fixed-size writes, longer ones reserve first.
    mutating func reserve(_ bytes: Int) throws {
        if count + bytes > capacity { try flush() }
    }

    mutating func flushIfFull() throws {
        if count >= Self.chunkSize { try flush() }
    }

    mutating func put(_ byte: UInt8) {
        buffer[count] = byte
        count += 1
    }

    private mutating func putDigits(_ value: Int, _ width: Int) {
        var value = value
        for index in stride(from: width - 1, through: 0, by: -1) {
            buffer[count + index] = ASCII.zero + UInt8(value % 10)
            value /= 10
        }
        count += width
    }

    private mutating func putASCII(_ text: String) throws {
        var text = text
        try text.withUTF8 { bytes in try putRaw(bytes, from: 0, to: bytes.count) }
        try flushIfFull()
    }

    /// Copies text, escaping the bytes COPY's text format gives a meaning: backslash, tab,
    /// newline and carriage return. Runs of plain bytes are copied in one go.
    private mutating func putEscaped(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        var start = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == ASCII.backslash || byte == ASCII.tab || byte == ASCII.newline || byte == ASCII.carriageReturn {
                try putRaw(bytes, from: start, to: index)
                try reserve(2)
                put(ASCII.backslash)
                switch byte {
                case ASCII.tab: put(ASCII.t)
                case ASCII.newline: put(ASCII.n)
                case ASCII.carriageReturn: put(ASCII.r)
                default: put(ASCII.backslash)
                }
                start = index + 1
            }
            index += 1
        }
        try putRaw(bytes, from: start, to: bytes.count)
        try flushIfFull()
    }

    mutating func putRaw(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) throws {
        var position = start
        while position < end {
            if count >= capacity { try flush() }
            let length = min(end - position, capacity - count)
            (buffer + count).update(from: bytes.baseAddress! + position, count: length)
            count += length
            position += length
        }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? ASCII.zero + nibble : ASCII.a + nibble - 10
    }

    /// Days since 2000-01-01 to a proleptic Gregorian date (Howard Hinnant's civil_from_days).
    static func civilDate(daysSince2000: Int64) -> (year: Int, month: Int, day: Int) {
        let z = daysSince2000 + 10_957 + 719_468  // days since 0000-03-01
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }
}

/// Byte values of the ASCII characters COPY's text format uses. Plain constants rather than
/// `UInt8(ascii:)` calls keep the writer fast in debug builds too.
enum ASCII {
    static let tab: UInt8 = 0x09
    static let newline: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let plus: UInt8 = 0x2B
    static let minus: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let zero: UInt8 = 0x30
    static let colon: UInt8 = 0x3A
    static let capitalN: UInt8 = 0x4E
    static let backslash: UInt8 = 0x5C
    static let a: UInt8 = 0x61
    static let f: UInt8 = 0x66
    static let n: UInt8 = 0x6E
    static let r: UInt8 = 0x72
    static let t: UInt8 = 0x74
}
