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

    // MARK: issue 15: what TOML 1.0 forbids is refused, what it allows is read

    func assertRefused(_ text: String, line: Int = 1, _ message: String? = nil, file: StaticString = #filePath, testLine: UInt = #line) {
        XCTAssertThrowsError(try TOMLParser.parse(text), text.debugDescription, file: file, line: testLine) { error in
            guard let error = error as? TOMLSyntaxError else { return XCTFail("\(error)", file: file, line: testLine) }
            XCTAssertEqual(error.line, line, "\(text.debugDescription): \(error)", file: file, line: testLine)
            if let message {
                XCTAssertTrue(error.message.contains(message), "\(text.debugDescription): \(error)", file: file, line: testLine)
            }
        }
    }

    func value(_ text: String, _ key: String = "a") throws -> TOMLValue? {
        try TOMLParser.parse(text)[key]?.value
    }

    func testBackslashSpaceInsideAMultiLineStringIsRefused() throws {
        assertRefused(#"a = """C:\ Program Files""""#, "must end the line")
        // Spaces after a line-ending backslash are fine: it trims them, the newline and the indent.
        XCTAssertEqual(try value("a = \"\"\"one \\  \n   two\"\"\""), .string("one two"))
        XCTAssertEqual(try value("a = \"\"\"one \\\n\n  two\"\"\""), .string("one two"))
    }

    func testCarriageReturnsWithoutLineFeedAreRefused() throws {
        assertRefused("# comment\r b = 1\na = 2", "carriage return")
        assertRefused("a = 1\rb = 2", "carriage return")
        assertRefused("a = \"x\ry\"", "carriage return")
        assertRefused("a = '''x\ry'''", "carriage return")
        // CRLF is a line end, inside multi-line strings too.
        let doc = try TOMLParser.parse("a = 1\r\n# c\r\nb = \"\"\"x\r\ny\"\"\"\r\n")
        XCTAssertEqual(doc["a"]?.value, .integer(1))
        XCTAssertEqual(doc["b"]?.value, .string("x\ny"))
        XCTAssertEqual(doc["b"]?.line, 3)
    }

    func testSignedOrMalformedPrefixedIntegersAreRefused() throws {
        for text in ["a = 0x-1", "a = 0x+1", "a = -0x1e", "a = +0x1", "a = 0x", "a = 0x_1", "a = 0x1_", "a = 0b12", "a = 0o8", "a = 0X1"] {
            assertRefused(text, "not a valid number")
        }
        XCTAssertEqual(try value("a = 0xdead_BEEF"), .integer(0xdead_beef))
        XCTAssertEqual(try value("a = 0o7_55"), .integer(0o755))
        XCTAssertEqual(try value("a = 0b1_0"), .integer(2))
    }

    func testIntegersBeyond64BitsAreRefused() throws {
        XCTAssertEqual(try value("a = 9_223_372_036_854_775_807"), .integer(.max))
        XCTAssertEqual(try value("a = -9223372036854775808"), .integer(.min))
        assertRefused("a = 9223372036854775808", "64-bit")
        assertRefused("a = 0x8000000000000000", "64-bit")
    }

    func testMalformedFloatsAreRefused() throws {
        for text in ["a = 1e_23", "a = 1_e23", "a = 1e23_", "a = 1._5", "a = 1.", "a = .5", "a = 1.e5", "a = 1__0", "a = _1",
                     "a = 01.5", "a = +-1", "a = inf_", "a = Inf", "a = 1e", "a = 1.5.5", "a = 1ee5"] {
            assertRefused(text)
        }
        XCTAssertEqual(try value("a = 1e2_3"), .float(1e23))
        XCTAssertEqual(try value("a = -0.0"), .float(-0.0))
        XCTAssertEqual(try value("a = 6.626e-34"), .float(6.626e-34))
        XCTAssertEqual(try value("a = 1E+2"), .float(100))
        guard case .float(let nan)? = try value("a = -nan") else { return XCTFail("nan") }
        XCTAssertTrue(nan.isNaN)
    }

    func testControlCharactersInStringsAndCommentsAreRefused() throws {
        for c in ["\u{0}", "\u{8}", "\u{B}", "\u{C}", "\u{1F}", "\u{7F}"] {
            assertRefused("a = \"x\(c)\"", "control character")
            assertRefused("a = 'x\(c)'", "control character")
            assertRefused("a = \"\"\"x\(c)\"\"\"", "control character")
            assertRefused("a = '''x\(c)'''", "control character")
            assertRefused("a = 1 # x\(c)", "control character")
        }
        XCTAssertEqual(try value("a = \"x\ty\" # tab\tok"), .string("x\ty"))
        XCTAssertEqual(try value("a = \"\\u001F\\u007F\""), .string("\u{1F}\u{7F}"))
    }

    func testInlineTablesAndArraysAreCompleteAsWritten() {
        assertRefused("a = {b = 1}\n[a]", line: 2, "defined as a table on line 1")
        assertRefused("a = {b = 1}\n[a.c]", line: 2, "inline table")
        assertRefused("a = {b = 1}\na.c = 2", line: 2)
        assertRefused("a = {b = {c = 1}}\n[a.b.d]", line: 2)
        assertRefused("a = {b.c = 1, b = {}}", line: 1, "defined twice")
        assertRefused("a = {}\n[[a]]", line: 2)
        assertRefused("a = []\n[[a]]", line: 2, "array")
        assertRefused("a = [{b = 1}]\n[[a]]", line: 2)
        assertRefused("a = [{b = 1}]\n[a.c]", line: 2)
    }

    func testDottedKeysDoNotReopenTablesDefinedElsewhere() throws {
        assertRefused("[a.b]\nx = 1\n[a]\nb.y = 2", line: 4, "defined on line 1")
        assertRefused("[a]\nb.c = 1\n[a.b]", line: 3, "defined twice")
        assertRefused("a.b = 1\n[a]", line: 2, "defined twice")
        assertRefused("[[a]]\n[a]", line: 2, "defined twice")
        // In the section that created them, dotted keys may add to their tables.
        let doc = try TOMLParser.parse("[t]\na.b = 1\na.c = 2\n[t.a.d]\ne = 3")
        guard case .table(let t)? = doc["t"]?.value, case .table(let a)? = t["a"]?.value else { return XCTFail("t.a") }
        XCTAssertEqual(a.keys, ["b", "c", "d"])
    }

    func testQuotedKeysWithDotsAreOneKey() throws {
        let doc = try TOMLParser.parse("[a.\"b.c\"]\nx = 1\n[a.b.c]\ny = 2\n[a]\n'b.d'.z = 3")
        guard case .table(let a)? = doc["a"]?.value, case .table(let quoted)? = a["b.c"]?.value,
              case .table(let b)? = a["b"]?.value, case .table(let c)? = b["c"]?.value else { return XCTFail("a") }
        XCTAssertEqual(a.keys, ["b.c", "b", "b.d"])
        XCTAssertEqual(quoted.keys, ["x"])
        XCTAssertEqual(c["y"]?.value, .integer(2))
        assertRefused("[a.\"b.c\"]\n[a]\n'b.c'.z = 3", line: 3, "defined on line 1")
    }

    func testArrayOfTablesElementsHaveTheirOwnSubtables() throws {
        // forecastd's own shape: a dotted key in one job, a header in the next.
        let doc = try TOMLParser.parse("""
            [[jobs]]
            source.table = "a"
            [[jobs]]
            [jobs.source]
            table = "b"
            """)
        guard case .array(let jobs)? = doc["jobs"]?.value else { return XCTFail("jobs") }
        let tables = jobs.map { job -> TOMLValue? in
            guard case .table(let j) = job.value, case .table(let source)? = j["source"]?.value else { return nil }
            return source["table"]?.value
        }
        XCTAssertEqual(tables, [.string("a"), .string("b")])
        assertRefused("[[jobs]]\n[jobs.source]\n[jobs.source]", line: 3, "defined twice")
        assertRefused("[[jobs]]\nsource.table = 1\n[jobs.source]", line: 3, "defined twice")
    }

    func testTooManyClosingQuotesAreRefused() throws {
        XCTAssertEqual(try value("a = \"\"\"x\"\"\"\"\""), .string("x\"\""))
        XCTAssertEqual(try value("a = '''x'''''"), .string("x''"))
        assertRefused("a = \"\"\"x\"\"\"\"\"\"")
        assertRefused("a = '''x''''''")
        assertRefused("a = \"x\"\"")
    }

    func testTOML11ExtensionsAreRefused() {
        assertRefused("a = \"\\e\"", "invalid escape")
        assertRefused("a = \"\\x41\"", "invalid escape")
        assertRefused("a = {b = 1\n}", "one line")
        assertRefused("a = {\n b = 1 }")
        assertRefused("a = {b = 1,}")
    }

    func testDatesAndTimesAreRefusedClearly() {
        for text in ["a = 1979-05-27", "a = 1979-05-27T07:32:00Z", "a = 1979-05-27 07:32:00", "a = 07:32:00"] {
            assertRefused(text, "dates and times are not supported")
        }
    }
}
