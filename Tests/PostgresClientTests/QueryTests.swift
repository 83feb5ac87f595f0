import Foundation
import XCTest
@testable import PostgresClient

final class QueryTests: XCTestCase {
    func testDecodesEveryType() async throws {
        let db = try await TestDatabase.connect()
        let rows = try await db.query("""
            SELECT 7::int2 AS small, 70000::int4 AS medium, 9000000000::int8 AS big,
                   1.5::float4 AS single, 2.25::float8 AS double, 12345.678::numeric AS exact,
                   'héllo'::text AS text, 'v'::varchar(3) AS varchar, 'pg_class'::name AS name,
                   true AS yes, false AS no,
                   '2024-03-10 12:34:56.789012+00'::timestamptz AS tstz,
                   '2024-03-10 12:34:56'::timestamp AS ts, '2024-03-10'::date AS day,
                   '{"a": [1, 2]}'::jsonb AS jsonb, '{"b":1}'::json AS json,
                   '\\x00ff10'::bytea AS bytes, NULL::int AS nothing
            """)
        XCTAssertEqual(rows.count, 1)
        let row = rows[0]
        XCTAssertEqual(try row.decode("small", as: Int16.self), 7)
        XCTAssertEqual(try row.decode("small", as: Int.self), 7)
        XCTAssertEqual(try row.decode("medium", as: Int32.self), 70000)
        XCTAssertEqual(try row.decode("big", as: Int64.self), 9_000_000_000)
        XCTAssertThrowsError(try row.decode("big", as: Int32.self))
        XCTAssertEqual(try row.decode("single", as: Float.self), 1.5)
        XCTAssertEqual(try row.decode("double", as: Double.self), 2.25)
        XCTAssertEqual(try row.decode("exact", as: Double.self), 12345.678)
        XCTAssertEqual(try row.decode("exact", as: String.self), "12345.678")
        XCTAssertEqual(try row.decode("text", as: String.self), "héllo")
        XCTAssertEqual(try row.decode("varchar", as: String.self), "v")
        XCTAssertEqual(try row.decode("name", as: String.self), "pg_class")
        XCTAssertEqual(try row.decode("yes", as: Bool.self), true)
        XCTAssertEqual(try row.decode("no", as: Bool.self), false)
        let expected = Date(timeIntervalSince1970: 1_710_074_096.789012)
        XCTAssertEqual(try row.decode("tstz", as: Date.self).timeIntervalSince1970, expected.timeIntervalSince1970, accuracy: 1e-6)
        XCTAssertEqual(try row.decode("ts", as: Date.self).timeIntervalSince1970, 1_710_074_096, accuracy: 1e-6)
        XCTAssertEqual(try row.decode("day", as: Date.self).timeIntervalSince1970, 1_710_028_800, accuracy: 1e-6)
        XCTAssertEqual(try row.decode("jsonb", as: String.self), #"{"a": [1, 2]}"#)
        XCTAssertEqual(try row.decode("json", as: String.self), #"{"b":1}"#)
        XCTAssertEqual(try row.decode("bytes", as: [UInt8].self), [0x00, 0xff, 0x10])
        XCTAssertEqual(try row.decode("bytes", as: Data.self), Data([0x00, 0xff, 0x10]))
        XCTAssertTrue(row.isNull(17))
        XCTAssertNil(try row.decode("nothing", as: Int?.self))
        XCTAssertEqual(try row.decode("big", as: Int?.self), 9_000_000_000)
        XCTAssertEqual(try row.decode("nothing", as: PostgresValue.self), .null)
        XCTAssertEqual(try row.decode("jsonb", as: PostgresValue.self), .json(#"{"a": [1, 2]}"#))
    }

    func testNonOptionalNullIsADecodingErrorNamingTheColumn() async throws {
        let db = try await TestDatabase.connect()
        let row = try await db.query("SELECT NULL::text AS series")[0]
        XCTAssertThrowsError(try row.decode(0, as: String.self)) { error in
            let error = error as! PostgresError
            XCTAssertEqual(error.kind, .decoding)
            XCTAssertTrue(error.message.contains("series"), error.message)
        }
        XCTAssertNil(try row.decode(0, as: Bool?.self)) // NULL is nil whatever the column's type
        let text = try await db.query("SELECT 'x'::text")[0]
        XCTAssertThrowsError(try text.decode(0, as: Bool?.self)) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .decoding)
        }
        let number = try await db.query("SELECT 1.5::float8 AS value")[0]
        XCTAssertThrowsError(try number.decode(0, as: Bool.self)) { error in
            let message = (error as? PostgresError)?.message ?? ""
            XCTAssertTrue(message.contains("\"value\"") && message.contains("float8") && message.contains("Bool"), message)
        }
        XCTAssertThrowsError(try row.decode("missing", as: String?.self))
    }

    func testNumericEdgeCases() async throws {
        let db = try await TestDatabase.connect()
        let row = try await db.query("""
            SELECT 0::numeric, -0.0001::numeric, 100000000::numeric, 'NaN'::numeric, 'Infinity'::numeric,
                   '-Infinity'::numeric, 123456789012345678::numeric, 1.50::numeric, sum(x) FROM (VALUES (5::int8), (6)) v(x)
            """)[0]
        XCTAssertEqual(try row.decode(0, as: String.self), "0")
        XCTAssertEqual(try row.decode(1, as: String.self), "-0.0001")
        XCTAssertEqual(try row.decode(2, as: String.self), "100000000")
        XCTAssertTrue(try row.decode(3, as: Double.self).isNaN)
        XCTAssertEqual(try row.decode(4, as: Double.self), .infinity)
        XCTAssertEqual(try row.decode(5, as: Double.self), -.infinity)
        XCTAssertEqual(try row.decode(6, as: Int64.self), 123_456_789_012_345_678)
        XCTAssertEqual(try row.decode(7, as: String.self), "1.50")
        XCTAssertThrowsError(try row.decode(7, as: Int.self))
        XCTAssertEqual(try row.decode(8, as: Int.self), 11)
    }

    func testBoundParametersRoundTrip() async throws {
        let db = try await TestDatabase.connect()
        let date = Date(timeIntervalSince1970: 1_700_000_000.123456)
        let optionalText: String? = nil
        let row = try await db.query(
            "SELECT $1::int8, $2::float8, $3::text, $4::bool, $5::timestamptz, $6::jsonb, $7::bytea, $8::text, $9::int4, $10::text",
            42, 0.1, "it's; DROP TABLE x --", true, date, PostgresValue.json(#"{"k": "v"}"#), [UInt8]([1, 2, 0]), optionalText,
            Int32(-5), "")[0]
        XCTAssertEqual(try row.decode(0, as: Int.self), 42)
        XCTAssertEqual(try row.decode(1, as: Double.self), 0.1)
        XCTAssertEqual(try row.decode(2, as: String.self), "it's; DROP TABLE x --")
        XCTAssertEqual(try row.decode(3, as: Bool.self), true)
        XCTAssertEqual(try row.decode(4, as: Date.self).timeIntervalSince1970, date.timeIntervalSince1970, accuracy: 1e-6)
        XCTAssertEqual(try row.decode(5, as: String.self), #"{"k": "v"}"#)
        XCTAssertEqual(try row.decode(6, as: [UInt8].self), [1, 2, 0])
        XCTAssertNil(try row.decode(7, as: String?.self))
        XCTAssertEqual(try row.decode(8, as: Int.self), -5)
        XCTAssertEqual(try row.decode(9, as: String.self), "")
    }

    func testNaNAndInfinitiesRoundTripThroughFloat4AndFloat8Columns() async throws {
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("floats")
        try await db.execute("CREATE TEMP TABLE \(table) (i int, f4 float4, f8 float8)")
        let doubles: [Double] = [.nan, .infinity, -.infinity, 0, -0.0, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 0.1]
        let floats: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 0.1]
        for index in doubles.indices {
            try await db.execute("INSERT INTO \(table) VALUES ($1, $2, $3)", index, floats[index], doubles[index])
        }
        let rows = try await db.query("SELECT f4, f8 FROM \(table) ORDER BY i")
        XCTAssertEqual(rows.count, doubles.count)
        for (index, row) in rows.enumerated() {
            let f4 = try row.decode(0, as: Float.self), f8 = try row.decode(1, as: Double.self)
            if floats[index].isNaN { XCTAssertTrue(f4.isNaN) } else { XCTAssertEqual(f4.bitPattern, floats[index].bitPattern) }
            if doubles[index].isNaN { XCTAssertTrue(f8.isNaN) } else { XCTAssertEqual(f8.bitPattern, doubles[index].bitPattern) }
        }
        // Comparison through a bound parameter finds the special values, too.
        let count = try await db.query("SELECT count(*) FROM \(table) WHERE f8 = $1 OR f8 = $2 OR f8 = $3", Double.nan, Double.infinity, -Double.infinity)[0]
        XCTAssertEqual(try count.decode(0, as: Int.self), 3)
    }

    func testExecuteReportsAffectedRows() async throws {
        let db = try await TestDatabase.connect()
        let table = TestDatabase.uniqueTableName("affected")
        try await db.execute("CREATE TEMP TABLE \(table) (x int)")
        do { let value = try await db.execute("INSERT INTO \(table) SELECT generate_series(1, $1)", 10); XCTAssertEqual(value, 10) }
        do { let value = try await db.execute("UPDATE \(table) SET x = x + 1 WHERE x > $1", 7); XCTAssertEqual(value, 3) }
        do { let value = try await db.execute("DELETE FROM \(table)"); XCTAssertEqual(value, 10) }
        try await db.executeScript("INSERT INTO \(table) VALUES (1); INSERT INTO \(table) VALUES (2);")
        do { let value = try await db.query("SELECT x FROM \(table) ORDER BY x").map { try $0.decode(0, as: Int.self) }; XCTAssertEqual(value, [1, 2]) }
    }

    func testQuoteIdentifier() async throws {
        XCTAssertEqual(quoteIdentifier("public.weather"), #""public"."weather""#)
        XCTAssertEqual(quoteIdentifier(#"my"table"#), #""my""table""#)
        XCTAssertEqual(quoteIdentifier("a.b", qualified: false), #""a.b""#)
        let db = try await TestDatabase.connect()
        do { let value = try await db.escapeIdentifier(#"Weird "name""#); XCTAssertEqual(value, #""Weird ""name""""#) }
        let row = try await db.query("SELECT 1 AS \(quoteIdentifier("Mixed Case"))")[0]
        XCTAssertEqual(try row.decode("Mixed Case", as: Int.self), 1)
    }
}
