import Foundation

/// COPY's binary format: a signature and two zero words, then per row a 16-bit field count and
/// per field a 32-bit length (−1 for NULL) followed by the value in the type's binary send
/// format, and finally a field count of −1.
extension CopyWriter {
    private static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]

    mutating func putBinaryHeader() {
        for byte in Self.signature { put(byte) }
        putBigEndian(UInt32(0))  // flags
        putBigEndian(UInt32(0))  // header extension length
    }

    mutating func putBigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes in
            (buffer + count).update(from: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        }
        count += MemoryLayout<T>.size
    }

    /// Starts the next field and returns its column's type; the row's field count goes first.
    private mutating func beginBinaryField() throws -> UInt32 {
        let columns = binaryColumns!
        guard fieldsInRow < columns.count else {
            throw PostgresError(.usage, "a row has more fields than the \(columns.count) columns of the COPY")
        }
        try reserve(16)
        if fieldsInRow == 0 { putBigEndian(UInt16(columns.count)) }
        fieldsInRow += 1
        return columns[fieldsInRow - 1]
    }

    private func mismatch(_ type: UInt32, _ swiftType: Any.Type) -> PostgresError {
        let column = fieldsInRow - 1
        return PostgresError(.usage, "column \(column) \"\(columnNames[column])\" is \(PostgresTypeOID.typeName(type)): "
                                 + "binary COPY cannot write a \(swiftType) into it (use text COPY or another type)")
    }

    private mutating func putFixed<T: FixedWidthInteger>(_ value: T) throws {
        putBigEndian(Int32(MemoryLayout<T>.size))
        putBigEndian(value)
        try flushIfFull()
    }

    mutating func appendBinaryNull() throws {
        _ = try beginBinaryField()
        putBigEndian(Int32(-1))
        try flushIfFull()
    }

    mutating func appendBinary(_ value: Int64) throws {
        let type = try beginBinaryField()
        switch type {
        case PostgresTypeOID.int8: try putFixed(value)
        case PostgresTypeOID.int4:
            guard let narrow = Int32(exactly: value) else { throw outOfRange(value, type) }
            try putFixed(narrow)
        case PostgresTypeOID.int2:
            guard let narrow = Int16(exactly: value) else { throw outOfRange(value, type) }
            try putFixed(narrow)
        case PostgresTypeOID.float8: try putFixed(Double(value).bitPattern)
        case PostgresTypeOID.float4: try putFixed(Float(value).bitPattern)
        default: throw mismatch(type, Int64.self)
        }
    }

    private func outOfRange(_ value: Int64, _ type: UInt32) -> PostgresError {
        PostgresError(.usage, "\(value) does not fit column \(fieldsInRow - 1) \"\(columnNames[fieldsInRow - 1])\" (\(PostgresTypeOID.typeName(type)))")
    }

    mutating func appendBinary(_ value: Double) throws {
        let type = try beginBinaryField()
        switch type {
        case PostgresTypeOID.float8: try putFixed(value.bitPattern)
        case PostgresTypeOID.float4: try putFixed(Float(value).bitPattern)
        default: throw mismatch(type, Double.self)
        }
    }

    mutating func appendBinary(_ value: Bool) throws {
        let type = try beginBinaryField()
        guard type == PostgresTypeOID.bool else { throw mismatch(type, Bool.self) }
        try putFixed(UInt8(value ? 1 : 0))
    }

    mutating func appendBinary(_ value: Date) throws {
        let type = try beginBinaryField()
        let micros = PostgresEpoch.microseconds(value)
        switch type {
        case PostgresTypeOID.timestamptz, PostgresTypeOID.timestamp: try putFixed(micros)
        case PostgresTypeOID.date:
            let days = micros >= 0 ? micros / 86_400_000_000 : (micros - 86_399_999_999) / 86_400_000_000
            try putFixed(Int32(clamping: days))
        default: throw mismatch(type, Date.self)
        }
    }

    mutating func appendBinary(_ value: String) throws {
        let type = try beginBinaryField()
        var value = value
        switch type {
        case PostgresTypeOID.jsonb:
            try value.withUTF8 { bytes in
                putBigEndian(Int32(bytes.count + 1))
                put(1)  // jsonb format version
                try putRaw(bytes, from: 0, to: bytes.count)
            }
        case _ where BinaryFormat.isTextual(type) && type != PostgresTypeOID.char && type != PostgresTypeOID.unknown:
            try value.withUTF8 { bytes in
                putBigEndian(Int32(bytes.count))
                try putRaw(bytes, from: 0, to: bytes.count)
            }
        default: throw mismatch(type, String.self)
        }
        try flushIfFull()
    }

    mutating func appendBinary(_ value: [UInt8]) throws {
        let type = try beginBinaryField()
        guard type == PostgresTypeOID.bytea else { throw mismatch(type, [UInt8].self) }
        putBigEndian(Int32(value.count))
        try value.withUnsafeBufferPointer { bytes in try putRaw(bytes, from: 0, to: bytes.count) }
        try flushIfFull()
    }

    /// A one-dimensional array in `array_send`'s form: dimensions, a has-NULL flag, the element
    /// type, then each element as a field of its own (length, bytes; −1 for NULL).
    private mutating func putArray(count: Int, element: UInt32, elementSize: Int, nullCount: Int,
                                   _ putElement: (inout CopyWriter, Int) -> Bool) throws {
        try reserve(24)
        putBigEndian(Int32(20 + count * 4 + (count - nullCount) * elementSize))
        putBigEndian(Int32(1))  // dimensions
        putBigEndian(Int32(nullCount > 0 ? 1 : 0))
        putBigEndian(element)
        putBigEndian(Int32(count))
        putBigEndian(Int32(1))  // lower bound
        for index in 0..<count {
            try reserve(16)
            if !putElement(&self, index) { putBigEndian(Int32(-1)) }
        }
        try flushIfFull()
    }

    mutating func appendBinary(_ values: [Double?]) throws {
        let type = try beginBinaryField()
        guard type == PostgresTypeOID.float8Array else { throw mismatch(type, [Double?].self) }
        let nulls = values.reduce(0) { $0 + ($1 == nil ? 1 : 0) }
        try putArray(count: values.count, element: PostgresTypeOID.float8, elementSize: 8, nullCount: nulls) { writer, i in
            guard let value = values[i] else { return false }
            writer.putBigEndian(Int32(8))
            writer.putBigEndian(value.bitPattern)
            return true
        }
    }

    mutating func appendBinary(_ values: [Int]) throws {
        let type = try beginBinaryField()
        switch type {
        case PostgresTypeOID.int4Array:
            if let wide = values.first(where: { Int32(exactly: $0) == nil }) { throw outOfRange(Int64(wide), type) }
            try putArray(count: values.count, element: PostgresTypeOID.int4, elementSize: 4, nullCount: 0) { writer, i in
                writer.putBigEndian(Int32(4))
                writer.putBigEndian(Int32(values[i]))
                return true
            }
        case PostgresTypeOID.int8Array:
            try putArray(count: values.count, element: PostgresTypeOID.int8, elementSize: 8, nullCount: 0) { writer, i in
                writer.putBigEndian(Int32(8))
                writer.putBigEndian(Int64(values[i]))
                return true
            }
        default: throw mismatch(type, [Int].self)
        }
    }

    mutating func appendBinary(_ values: [Date]) throws {
        let type = try beginBinaryField()
        guard type == PostgresTypeOID.timestamptzArray else { throw mismatch(type, [Date].self) }
        try putArray(count: values.count, element: PostgresTypeOID.timestamptz, elementSize: 8, nullCount: 0) { writer, i in
            writer.putBigEndian(Int32(8))
            writer.putBigEndian(PostgresEpoch.microseconds(values[i]))
            return true
        }
    }

    mutating func endBinaryRow() throws {
        guard fieldsInRow == binaryColumns!.count else {
            throw PostgresError(.usage, "a row has \(fieldsInRow) fields but the COPY has \(binaryColumns!.count) columns")
        }
        fieldsInRow = 0
        rowCount += 1
        try flushIfFull()
    }
}
