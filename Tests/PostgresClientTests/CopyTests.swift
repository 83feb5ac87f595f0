import Foundation
import XCTest
@testable import PostgresClient

/// The shape of forecastd's predictions table, for the bulk tests.
let predictionColumns = """
    job text, series text, model_id bigint, issued_at timestamptz, target_ts timestamptz, step int,
    forecast_value float8, lower_bound float8, upper_bound float8, confidence_level float8
    """

final class CopyTests: XCTestCase {
    func testCopyInOfAMillionPredictionRows() async throws {
        try await copyInAMillionPredictionRows(.text)
    }

    func testBinaryCopyInOfAMillionPredictionRows() async throws {
        try await copyInAMillionPredictionRows(.binary)
    }

    enum CopyFormat: String { case text, binary }

    /// A million rows of the predictions table's shape through `COPY ... FROM STDIN` in the
    /// given format, checked by aggregates over what arrived.
    func copyInAMillionPredictionRows(_ format: CopyFormat) async throws {
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("copy_\(format)_predictions")
        try await db.execute("CREATE TABLE \(table) (\(predictionColumns))")
        let rowCount = 1_000_000
        let origin = Date(timeIntervalSince1970: 1_700_000_000)
        let series = (0..<100).map { "station_\($0)" }
        let targets = (1...24).map { origin.addingTimeInterval(Double($0) * 3600) }
        let write: (inout CopyWriter) throws -> Void = { writer in
            for index in 0..<rowCount {
                let step = index % 24 + 1
                let value = Double(index) * 0.001
                try writer.append("nyc_temperature")
                try writer.append(series[index / 24 % 100])
                try writer.append(index / 2400)
                try writer.append(origin)
                try writer.append(targets[step - 1])
                try writer.append(step)
                try writer.append(value)
                try writer.append(value - 1.5)
                try writer.append(value + 1.5)
                try writer.append(0.8)
                try writer.endRow()
            }
        }
        let start = ContinuousClock.now
        let copied = switch format {
        case .text: try await db.copyIn("COPY \(table) FROM STDIN", write)
        case .binary: try await db.copyIn(into: "public.\(table)", columns: [
            "job", "series", "model_id", "issued_at", "target_ts", "step",
            "forecast_value", "lower_bound", "upper_bound", "confidence_level",
        ], write)
        }
        print("\(format) COPY of \(rowCount) rows took \(ContinuousClock.now - start)")
        XCTAssertEqual(copied, rowCount)
        let row = try await db.query("""
            SELECT count(*), count(DISTINCT series), sum(step), max(forecast_value), min(issued_at), max(target_ts)
            FROM \(table)
            """)[0]
        XCTAssertEqual(try row.decode(0, as: Int.self), rowCount)
        XCTAssertEqual(try row.decode(1, as: Int.self), 100)
        XCTAssertEqual(try row.decode(2, as: Int.self), rowCount / 24 * (1...24).reduce(0, +) + (0...(rowCount % 24)).reduce(0, +))
        XCTAssertEqual(try row.decode(3, as: Double.self), Double(rowCount - 1) * 0.001)
        XCTAssertEqual(try row.decode(4, as: Date.self), origin)
        XCTAssertEqual(try row.decode(5, as: Date.self), origin.addingTimeInterval(24 * 3600))
        try await db.execute("DROP TABLE \(table)")
    }

    func testBinaryCopyInEncodesEachColumnType() async throws {
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("copy_binary_types")
        try await db.execute("""
            CREATE TEMP TABLE \(table) (i int2, n int8, m int4, f float8, r float4, b bool, t text, v varchar(10),
                                       ts timestamptz, tl timestamp, d date, j jsonb, js json, y bytea)
            """)
        let columns = ["i", "n", "m", "f", "r", "b", "t", "v", "ts", "tl", "d", "j", "js", "y"]
        let moment = Date(timeIntervalSince1970: 951_782_400.000001)
        let copied = try await db.copyIn(into: table, columns: columns) { writer in
            try writer.appendRow(1, Int64.min, Int32.max, Double.nan, Float.infinity, true, "tab\tnew\nline\\", "v",
                                 moment, moment, moment, PostgresValue.json(#"{"a":1}"#), PostgresValue.json("[1, 2]"), [UInt8]([0, 255]))
            try writer.appendRow(2, Int?.none, 7, -Double.infinity, Float(0.1), false, "", String?.none,
                                 Date?.none, Date?.none, Date?.none, PostgresValue.null, PostgresValue.null, [UInt8]())
        }
        XCTAssertEqual(copied, 2)
        let rows = try await db.query("SELECT * FROM \(table) ORDER BY i")
        XCTAssertEqual(try rows[0].decode("n", as: Int64.self), .min)
        XCTAssertEqual(try rows[0].decode("m", as: Int32.self), .max)
        XCTAssertTrue(try rows[0].decode("f", as: Double.self).isNaN)
        XCTAssertEqual(try rows[0].decode("r", as: Float.self), .infinity)
        XCTAssertEqual(try rows[0].decode("b", as: Bool.self), true)
        XCTAssertEqual(try rows[0].decode("t", as: String.self), "tab\tnew\nline\\")
        XCTAssertEqual(try rows[0].decode("ts", as: Date.self).timeIntervalSince1970, moment.timeIntervalSince1970, accuracy: 1e-7)
        XCTAssertEqual(try rows[0].decode("tl", as: Date.self).timeIntervalSince1970, moment.timeIntervalSince1970, accuracy: 1e-7)
        XCTAssertEqual(try rows[0].decode("d", as: Date.self).timeIntervalSince1970, 951_782_400)
        XCTAssertEqual(try rows[0].decode("j", as: String.self), #"{"a": 1}"#)
        XCTAssertEqual(try rows[0].decode("js", as: String.self), "[1, 2]")
        XCTAssertEqual(try rows[0].decode("y", as: [UInt8].self), [0, 255])
        XCTAssertNil(try rows[1].decode("n", as: Int?.self))
        XCTAssertEqual(try rows[1].decode("f", as: Double.self), -.infinity)
        XCTAssertEqual(try rows[1].decode("r", as: Float.self), 0.1)
        XCTAssertNil(try rows[1].decode("ts", as: Date?.self))
        XCTAssertEqual(try rows[1].decode("y", as: [UInt8].self), [])
    }

    /// One-dimensional arrays in binary COPY: NULL elements, empty arrays, the element types the
    /// store writes (latest_origins), read back as the server prints them.
    func testBinaryCopyInWritesArrays() async throws {
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("copy_binary_arrays")
        try await db.execute("CREATE TEMP TABLE \(table) (k int4, f float8[], i int4[], l int8[], t timestamptz[])")
        let moment = Date(timeIntervalSince1970: 951_782_400.5)
        let copied = try await db.copyIn(into: table, columns: ["k", "f", "i", "l", "t"]) { writer in
            try writer.append(1)
            try writer.append([1.5, nil, -0.25, Double.infinity] as [Double?])
            try writer.append([1, -2, 3])
            try writer.append([Int.max])
            try writer.append([moment, moment + 3600])
            try writer.endRow()
            try writer.append(2)
            try writer.append([] as [Double?])
            try writer.append([] as [Int])
            try writer.append([] as [Int])
            try writer.append([] as [Date])
            try writer.endRow()
        }
        XCTAssertEqual(copied, 2)
        try await db.execute("SET TimeZone = 'UTC'")
        let rows = try await db.query("SELECT f::text, i::text, l::text, t::text, array_length(f, 1) FROM \(table) ORDER BY k")
        XCTAssertEqual(try rows[0].decode(0, as: String.self), "{1.5,NULL,-0.25,Infinity}")
        XCTAssertEqual(try rows[0].decode(1, as: String.self), "{1,-2,3}")
        XCTAssertEqual(try rows[0].decode(2, as: String.self), "{9223372036854775807}")
        XCTAssertEqual(try rows[0].decode(3, as: String.self), "{\"2000-02-29 00:00:00.5+00\",\"2000-02-29 01:00:00.5+00\"}")
        XCTAssertEqual(try rows[1].decode(0, as: String.self), "{}")
        XCTAssertNil(try rows[1].decode(4, as: Int?.self))
        await XCTAssertThrowsErrorAsync(try await db.copyIn(into: table, columns: ["k", "i"]) { writer in
            try writer.append(3)
            try writer.append([Int(Int32.max) + 1])
        }) { error in XCTAssertEqual((error as? PostgresError)?.kind, .usage) }
        await XCTAssertThrowsErrorAsync(try await db.copyIn("COPY \(table) (f) FROM STDIN") { writer in
            try writer.append([1.0] as [Double?])
        }) { error in XCTAssertEqual((error as? PostgresError)?.kind, .usage) }
    }

    func testBinaryCopyInRejectsValuesThatDoNotFitTheColumn() async throws {
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("copy_binary_mismatch")
        try await db.execute("CREATE TEMP TABLE \(table) (small int2, label text)")
        await XCTAssertThrowsErrorAsync(try await db.copyIn(into: table, columns: ["small", "label"]) { writer in
            try writer.appendRow(1, "ok")
            try writer.appendRow(70_000, "too big")
        }) { error in
            let error = error as? PostgresError
            XCTAssertEqual(error?.kind, .usage)
            XCTAssertTrue(error?.message.contains("small") ?? false, "\(String(describing: error))")
        }
        await XCTAssertThrowsErrorAsync(try await db.copyIn(into: table, columns: ["small", "label"]) { writer in
            try writer.appendRow("text into int2", "x")
        }) { error in XCTAssertEqual((error as? PostgresError)?.kind, .usage) }
        await XCTAssertThrowsErrorAsync(try await db.copyIn(into: table, columns: ["small", "label"]) { writer in
            try writer.append(1)
            try writer.endRow()
        }) { error in XCTAssertEqual((error as? PostgresError)?.kind, .usage) }
        await XCTAssertThrowsErrorAsync(try await db.copyIn(into: table, columns: ["small", "nope"]) { _ in }) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "42703")
        }
        let count = try await db.query("SELECT count(*) FROM \(table)")[0].decode(0, as: Int.self)
        XCTAssertEqual(count, 0)
    }

    func testCopyInEscapesTextAndWritesEveryType() async throws {
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("copy_types")
        try await db.execute("""
            CREATE TEMP TABLE \(table) (i int, t text, n int8, f float8, r float4, b bool, ts timestamptz, d date, j jsonb, y bytea)
            """)
        let awkward = "tab\there\nnew line\\backslash\r\\N not null, ünïcödé \\."
        let moment = Date(timeIntervalSince1970: 951_782_400.000001)  // 2000-02-29 00:00:00.000001 UTC
        let early = Date(timeIntervalSince1970: -86_400 * 365.25 * 100 + 0.5)  // before 1970 and 2000
        let copied = try await db.copyIn("COPY \(table) FROM STDIN") { writer in
            try writer.appendRow(1, awkward, Int64.min, Double.nan, Float.infinity, true, moment, moment, PostgresValue.json(#"{"a":"\t"}"#), [UInt8]([0, 9, 10, 92, 255]))
            try writer.appendRow(2, "", Int64.max, -Double.infinity, -Float.infinity, false, early, early, PostgresValue.null, [UInt8]())
            try writer.appendRow(3, String?.none, Int?.none, 0.1, Float(0.1), Bool?.none, Date?.none, Date?.none, PostgresValue.null, [UInt8]?.none)
        }
        XCTAssertEqual(copied, 3)
        let rows = try await db.query("SELECT * FROM \(table) ORDER BY i")
        XCTAssertEqual(try rows[0].decode("t", as: String.self), awkward)
        XCTAssertEqual(try rows[0].decode("n", as: Int64.self), .min)
        XCTAssertTrue(try rows[0].decode("f", as: Double.self).isNaN)
        XCTAssertEqual(try rows[0].decode("r", as: Float.self), .infinity)
        XCTAssertEqual(try rows[0].decode("b", as: Bool.self), true)
        XCTAssertEqual(try rows[0].decode("ts", as: Date.self).timeIntervalSince1970, moment.timeIntervalSince1970, accuracy: 1e-7)
        XCTAssertEqual(try rows[0].decode("d", as: Date.self).timeIntervalSince1970, 951_782_400)
        XCTAssertEqual(try rows[0].decode("j", as: String.self), #"{"a": "\t"}"#)
        XCTAssertEqual(try rows[0].decode("y", as: [UInt8].self), [0, 9, 10, 92, 255])
        XCTAssertEqual(try rows[1].decode("t", as: String.self), "")
        XCTAssertEqual(try rows[1].decode("n", as: Int64.self), .max)
        XCTAssertEqual(try rows[1].decode("f", as: Double.self), -.infinity)
        XCTAssertEqual(try rows[1].decode("ts", as: Date.self).timeIntervalSince1970, early.timeIntervalSince1970, accuracy: 1e-7)
        XCTAssertEqual(try rows[1].decode("y", as: [UInt8].self), [])
        XCTAssertEqual(try rows[2].decode("f", as: Double.self), 0.1)
        XCTAssertEqual(try rows[2].decode("r", as: Float.self), 0.1)
        for column in ["t", "n", "b", "ts", "d", "j", "y"] {
            XCTAssertTrue(rows[2].isNull(try XCTUnwrap(rows[2].columnNames.firstIndex(of: column))), column)
        }
    }

    func testThrowingWriterAbortsTheCopy() async throws {
        struct Stop: Error {}
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("copy_abort")
        try await db.execute("CREATE TEMP TABLE \(table) (x int)")
        await XCTAssertThrowsErrorAsync(try await db.copyIn("COPY \(table) FROM STDIN") { writer in
            for index in 0..<100_000 { try writer.appendRow(index) }
            throw Stop()
        }) { error in XCTAssertTrue(error is Stop, "\(error)") }
        let count = try await db.query("SELECT count(*) FROM \(table)")[0].decode(0, as: Int.self)
        XCTAssertEqual(count, 0)
    }

    func testStatementInsideTheWriterIsAUsageErrorAndAbortsTheCopy() async throws {
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("copy_reentrant")
        try await db.execute("CREATE TEMP TABLE \(table) (x int)")
        await XCTAssertThrowsErrorAsync(try await db.withConnection { db in
            try db.copyIn("COPY \(table) FROM STDIN") { writer in
                try writer.appendRow(1)
                _ = try db.query("SELECT 1")
            }
        }) { error in XCTAssertEqual((error as? PostgresError)?.kind, .usage, "\(error)") }
        let count = try await db.query("SELECT count(*) FROM \(table)")[0].decode(0, as: Int.self)
        XCTAssertEqual(count, 0)
    }

    func testServerRejectionOfCopiedDataIsAServerError() async throws {
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("copy_reject")
        try await db.execute("CREATE TEMP TABLE \(table) (x int)")
        await XCTAssertThrowsErrorAsync(try await db.copyIn("COPY \(table) FROM STDIN") { writer in
            try writer.appendRow("not a number")
        }) { error in XCTAssertEqual((error as? PostgresError)?.sqlState, "22P02") }
        await XCTAssertThrowsErrorAsync(try await db.copyIn("SELECT 1") { _ in }) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .usage)
        }
        await XCTAssertThrowsErrorAsync(try await db.query("COPY \(table) FROM STDIN")) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .usage)
        }
        let count = try await db.query("SELECT count(*) FROM \(table)")[0].decode(0, as: Int.self)
        XCTAssertEqual(count, 0)
    }

    func testCopyOutDeliversServerRows() async throws {
        let db = try await TestDatabase.connect()
        let lines = try await db.withConnection { db in
            var lines: [String] = []
            let count = try db.copyOut("COPY (SELECT i, 'a\tb' FROM generate_series(1, 3) i) TO STDOUT") { bytes in
                lines.append(String(decoding: bytes, as: UTF8.self))
            }
            XCTAssertEqual(count, 3)
            return lines
        }
        XCTAssertEqual(lines, ["1\ta\\tb\n", "2\ta\\tb\n", "3\ta\\tb\n"])
    }
}
