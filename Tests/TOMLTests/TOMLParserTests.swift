import XCTest
import TOML

final class TOMLParserTests: XCTestCase {
    func testValuesOfEveryKind() throws {
        let doc = try TOMLParser.parse(#"""
            # comment
            s = "a\tb\u00e9\"q\"" # trailing comment
            lit = 'C:\path'
            ml = """
            one
            two"""
            i = 1_000
            neg = -7
            hex = 0xff
            f = 6.02e23
            pinf = +inf
            b = true
            arr = [ 1, 2,
                    3, ] # multi-line with trailing comma
            inline = { x = 1, y.z = "w" }
            "quoted key" = 1
            dotted.key = 2
            """#)
        XCTAssertEqual(doc["s"]?.value, .string("a\tbé\"q\""))
        XCTAssertEqual(doc["lit"]?.value, .string(#"C:\path"#))
        XCTAssertEqual(doc["ml"]?.value, .string("one\ntwo"))
        XCTAssertEqual(doc["i"]?.value, .integer(1000))
        XCTAssertEqual(doc["neg"]?.value, .integer(-7))
        XCTAssertEqual(doc["hex"]?.value, .integer(255))
        XCTAssertEqual(doc["f"]?.value, .float(6.02e23))
        XCTAssertEqual(doc["pinf"]?.value, .float(.infinity))
        XCTAssertEqual(doc["b"]?.value, .boolean(true))
        XCTAssertEqual(doc["b"]?.line, 12)
        guard case .array(let items)? = doc["arr"]?.value else { return XCTFail("arr") }
        XCTAssertEqual(items.map(\.value), [.integer(1), .integer(2), .integer(3)])
        XCTAssertEqual(items.last?.line, 14)
        guard case .table(let inline)? = doc["inline"]?.value, case .table(let y)? = inline["y"]?.value else { return XCTFail("inline") }
        XCTAssertEqual(inline["x"]?.value, .integer(1))
        XCTAssertEqual(y["z"]?.value, .string("w"))
        XCTAssertEqual(doc["quoted key"]?.value, .integer(1))
        guard case .table(let dotted)? = doc["dotted"]?.value else { return XCTFail("dotted") }
        XCTAssertEqual(dotted["key"]?.value, .integer(2))
        XCTAssertEqual(doc.keys.first, "s")
    }

    func testArraysOfTablesWithSubtables() throws {
        let doc = try TOMLParser.parse("""
            [[jobs]]
            name = "a"
            [jobs.model]
            cell = "gru"
            [[jobs]]
            name = "b"
            [jobs.model]
            cell = "rnn"
            """)
        guard case .array(let jobs)? = doc["jobs"]?.value else { return XCTFail("jobs") }
        XCTAssertEqual(jobs.count, 2)
        XCTAssertEqual(jobs.map(\.line), [1, 5])
        guard case .table(let second) = jobs[1].value, case .table(let model)? = second["model"]?.value else { return XCTFail("second") }
        XCTAssertEqual(model["cell"]?.value, .string("rnn"))
        XCTAssertEqual(model["cell"]?.line, 8)
    }

    func testMalformedInputIsRefusedWithTheLine() {
        for (text, line) in [("a = [1, 2", 1), ("a = 1 b = 2", 1), ("\n\na = 01", 3), ("a = 2024-01-01", 1), ("a = \"\\q\"", 1),
                             ("[a]\nb = 1\n[a.b]", 3), ("a = { b = 1", 1), ("= 3", 1)] {
            XCTAssertThrowsError(try TOMLParser.parse(text), text) { error in
                XCTAssertEqual((error as? TOMLSyntaxError)?.line, line, "\(text): \(error)")
            }
        }
    }
}
