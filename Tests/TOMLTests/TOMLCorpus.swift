// Hand-written documents for TOMLDifferentialTests, one or a few features each, after the
// sections of the TOML 1.0 specification and the kinds of case the toml-test suite covers
// (written here, not copied). Nothing says which are valid: Python's tomllib decides, and the
// test checks that the Swift reader agrees.
enum TOMLCorpus {
    /// Documents as bytes, so that invalid UTF-8 can be among them.
    static var documents: [(name: String, bytes: [UInt8])] {
        var all: [(String, [UInt8])] = []
        for (group, texts) in groups {
            for (i, text) in texts.enumerated() { all.append(("\(group)-\(i)", Array(text.utf8))) }
        }
        for (i, bytes) in rawBytes.enumerated() { all.append(("encoding-\(i)", bytes)) }
        return all
    }

    static let rawBytes: [[UInt8]] = [
        Array("a = \"".utf8) + [0xFF] + Array("\"".utf8),          // invalid UTF-8 in a string
        Array("# ".utf8) + [0xC3] + Array("\na = 1".utf8),          // truncated sequence in a comment
        Array("a = '".utf8) + [0xED, 0xA0, 0x80] + Array("'".utf8), // an encoded surrogate
        [0xEF, 0xBB, 0xBF] + Array("a = 1".utf8),                  // byte order mark
        Array("a = 1\n".utf8) + [0xEF, 0xBB, 0xBF],                // byte order mark later
        Array("a = \"é\" # ü".utf8),
    ]

    static let groups: [(String, [String])] = [
        ("issue15", [
            #"a = """C:\ Program Files""""#,
            "# comment\r b = 1\na = 2",
            "a = 1\rb = 2\rc = 3",
            "a = 0x-1", "a = 0x+1", "a = -0x1e", "a = +0x1e",
            "a = \"\u{1}\"", "a = 'x\u{7F}'", "# \u{0}\na = 1", "a = \"\"\"\u{8}\"\"\"",
            "a = {b = 1}\n[a]\nc = 2", "a = {b = 1}\na.c = 2", "a = [1]\n[[a]]", "a = [{}]\n[a.b]",
            "[a.b]\nx = 1\n[a]\nb.y = 2",
            "a = 1e_23",
            "a = \"\"\"x\"\"\"\"\"\"", "a = '''x''''''", "a = \"\"\"x\"\"\"\"\"", "a = '''x'''''",
            "\"a.b\" = 1\na.b = 2", "[\"a.b\"]\nx = 1\n[a.b]\nx = 2", "[a]\n\"b.c\" = 1\n[a.b]\nc = 2",
            "[[jobs]]\nsource.table = \"a\"\n[[jobs]]\n[jobs.source]\ntable = \"b\"",
        ]),
        ("comment", [
            "# only a comment", "a = 1 # after", "a = 1#nospace", "#\n#\n", "a = [ # in array\n 1, # one\n # alone\n 2 ]",
            "a = \"# not a comment\"", "# trailing tab\t\na = 1", "# ünïcödé ✓\na = 1", "a = 1 # \u{C}", "a = 1 # \u{1B}",
            "a = 1 # ok\n# ok\u{9}", "[t] # c\nx = 1", "[[t]] # c", "a = { b = 1 } # c", "# no newline at end",
        ]),
        ("key", [
            "bare_key-1 = 1", "1234 = 1", "\"quoted key\" = 1", "'literal key' = 1", "\"\" = 1", "'' = 1",
            "a.b.c = 1", "a . b . c = 1", "a.\"b.c\".d = 1", "\"a\".'b' = 1", "a = 1\nA = 2", "\"\\u00e9\" = 1",
            "\"a\\tb\" = 1", "a = 1\n\"a\" = 2", "a = 1\n'a' = 2", "a.b = 1\na = 2", "a = 1\na.b = 2",
            "= 1", "a b = 1", "a. = 1", ".a = 1", "a..b = 1", "a = ", "a", "a =", "a == 1", "a = 1 = 2",
            "[a]\n= 1", "é = 1", "a# = 1", "\"\"\"a\"\"\" = 1", "'''a''' = 1", "\"a\nb\" = 1", "a = 1 b = 2",
            "3.14 = 1", "true = 1", "inf = 1", "-1 = 1", "+1 = 1", "a-b_c = 1", "a\t=\t1", "  a = 1",
            "\"a\" \"b\" = 1", "a.'b'.\"c\" = {d.e = 1}", "\"\\\"\" = 1", "\"a\\e\" = 1",
        ]),
        ("string", [
            "a = \"basic\"", "a = \"tab\there\"", "a = \"\\b\\t\\n\\f\\r\\\"\\\\\"", "a = \"\\u00E9\\U0001F600\"",
            "a = \"\\uD800\"", "a = \"\\U00110000\"", "a = \"\\u12\"", "a = \"\\u12G4\"", "a = \"\\x41\"", "a = \"\\e\"",
            "a = \"\\ \"", "a = \"\\\"", "a = \"unclosed", "a = 'unclosed", "a = \"a\"b\"", "a = 'C:\\path\\'",
            "a = 'It''s'", "a = '''It's'''", "a = \"\"\"\nfirst\nsecond\"\"\"", "a = \"\"\"\r\nfirst\r\nsecond\"\"\"",
            "a = \"\"\"one \\\n    two \\\n\n    three\"\"\"", "a = \"\"\"one \\  \n two\"\"\"", "a = \"\"\"one \\ x\"\"\"",
            "a = \"\"\"\\\n\"\"\"", "a = \"\"\"a\"b\"\"c\"\"\"", "a = \"\"\"\"\"\"", "a = \"\"\"\"\"\"\"", "a = \"\"\"\"\"\"\"\"",
            "a = ''''''", "a = '''''''", "a = ''''''''", "a = '''\n'''", "a = '''a''b'''", "a = '''\\n'''",
            "a = \"\"\"unclosed", "a = '''unclosed", "a = \"\"\"x\"\"", "a = \"x\ny\"", "a = 'x\ny'",
            "a = \"\"\"x\u{7F}\"\"\"", "a = '''x\u{1F}'''", "a = \"\"\"\t\"\"\"", "a = '''\t'''", "a = \"\u{9}\"",
            "a = \"\"\"\\\t\n  x\"\"\"", "a = \"\"\"x\\\"\"\"\"", "a = \"é ü 日本\"", "a = \"\\U0000001F\"",
            "a = \"\"\"\\u0041\\n\"\"\"", "a = \"\"\"\\q\"\"\"", "a = \"\"\"a\\", "a = \"\"\"a\\ ",
            "a = \"x\" \"y\"", "a = \"x\"y", "a = 'x'y", "a = \"\"\"\r\"\"\"", "a = '''\r'''",
        ]),
        ("integer", [
            "a = 0", "a = +0", "a = -0", "a = 42", "a = +42", "a = -42", "a = 1_000", "a = 1__000", "a = _1",
            "a = 1_", "a = 01", "a = -01", "a = +01", "a = 00", "a = 0_0", "a = 9223372036854775807",
            "a = -9223372036854775808", "a = 9223372036854775808", "a = -9223372036854775809",
            "a = 0xDEADBEEF", "a = 0xdead_beef", "a = 0x_1", "a = 0x1_", "a = 0x", "a = 0X1", "a = 0xG",
            "a = 0o755", "a = 0o8", "a = 0O7", "a = 0b1010", "a = 0b2", "a = 0B1", "a = 0x7FFFFFFFFFFFFFFF",
            "a = 0x8000000000000000", "a = 0xFFFFFFFFFFFFFFFF", "a = 0o0", "a = 0b0", "a = 0x00", "a = 0x0001",
            "a = 1 2", "a = 1a", "a = --1", "a = ++1", "a = -+1", "a = 1-", "a = 1_2_3", "a = 12345678901234567890",
            "a = 0b11111111111111111111111111111111111111111111111111111111111111111", "a = 1,", "a = ٣",
        ]),
        ("float", [
            "a = 1.0", "a = +1.0", "a = -1.0", "a = 3.1415", "a = -0.01", "a = 5e+22", "a = 1e06", "a = -2E-2",
            "a = 6.626e-34", "a = 224_617.445_991_228", "a = 1e2_3", "a = 1e_23", "a = 1_e2", "a = 1._2",
            "a = 1_.2", "a = 1.", "a = .1", "a = -.1", "a = 1.e2", "a = 1e", "a = 1e+", "a = 1ee2", "a = 1e2.5",
            "a = 1.2.3", "a = 0.0", "a = -0.0", "a = +0.0", "a = 0e0", "a = 0E-0", "a = 00.1", "a = 01.1",
            "a = -01.1", "a = 1e400", "a = -1e400", "a = 1e-400", "a = 0.1e-7", "a = 1.7976931348623157e308",
            "a = 4.9e-324", "a = 123456789012345678901234567890.5", "a = 1e0_1", "a = 1.5_", "a = 1.5__5",
            "a = inf", "a = +inf", "a = -inf", "a = nan", "a = +nan", "a = -nan", "a = Inf", "a = NaN",
            "a = infinity", "a = in", "a = na", "a = inf_", "a = _inf", "a = 1inf", "a = [inf, nan]",
            "a = 3.14159265358979323846264338327950288", "a = 1e-7", "a = 9007199254740993",
        ]),
        ("boolean", [
            "a = true", "a = false", "a = True", "a = FALSE", "a = tru", "a = truee", "a = t", "a = f",
            "a = falsey", "a = [true,false]", "a = {b = true}", "a = true#c", "a = true,",
        ]),
        ("array", [
            "a = []", "a = [ ]", "a = [1,2,3]", "a = [1,]", "a = [,]", "a = [1,,2]", "a = [,1]", "a = [1 2]",
            "a = [\n1,\n2,\n]", "a = [[1,2],[3]]", "a = [1, \"a\", 1.5, true, [2], {b = 1}]", "a = [", "a = [1",
            "a = [1,", "a = ]", "a = [[]]", "a = [[[[[[[[1]]]]]]]]", "a = [ { b = 1 }, { b = 2 } ]",
            "a = [\"a\", 'b', \"\"\"c\"\"\", '''d''']", "a = [1] b = 2", "a = [1]]", "a = [1,\n# c\n]",
            "a = [1 # c\n, 2]", "a = [\"a]\", \"[b\"]", "a = [\"a,b\"]", "a = [-1, +2]", "a = [1.5,-inf]",
            "a = [\n\n]", "a = [{}]", "a = [\t1\t,\t2\t]",
        ]),
        ("inline", [
            "a = {}", "a = { }", "a = {b = 1}", "a = { b = 1, c = \"x\" }", "a = {b = {c = {d = 1}}}",
            "a = {b.c = 1, b.d = 2}", "a = {b.c = 1, b = 2}", "a = {b = 1, b = 2}", "a = {b = 1,}", "a = {,}",
            "a = {b = 1 c = 2}", "a = {b = 1", "a = {b = 1\n}", "a = {\nb = 1}", "a = {b = [1,\n2]}",
            "a = {b = 1}}", "a = {b}", "a = {b = }", "a = {= 1}", "a = {b = {}, b.c = 1}", "a = {b.c = 1, b.c.d = 2}",
            "a = {b = [], b.c = 1}", "a = {\"b.c\" = 1, b.c = 2}", "a = {b = 1} # c", "a = {\tb = 1\t}",
            "a = {b = 1}\n[a.c]", "a = {b = 1}\n[[a.c]]", "a = {}\n[a]", "a = {b.c = 1}\n[a.b]", "a = {b = 1}\na.c = 1",
            "[t]\na = {b = 1}\n[t.a]", "a = {b = {c = 1}}\na.b.d = 2", "a = { b = 1, c = { d = [1, {e = 2}] } }",
        ]),
        ("table", [
            "[a]", "[a]\nx = 1", "[ a ]", "[ a . b ]", "[a.b.c]\nx = 1", "[\"a\"]", "['a b']", "[a.\"b.c\"]",
            "[a]\n[a]", "[a]\n[b]\n[a]", "[a.b]\n[a]", "[a]\n[a.b]", "[a.b]\n[a.b]", "[a]\nb = 1\n[a.b]",
            "[a]\nb.c = 1\n[a.b]", "[a]\nb.c = 1\n[a.b.d]", "[a.b.d]\n[a]\nb.c = 1", "[a.b]\nc = 1\n[a]\nb.d = 2",
            "a.b = 1\n[a]", "a.b = 1\n[a.c]", "a.b.c = 1\n[a.b]", "[]", "[a", "[a]]", "[a] x", "[a\n]", "[a.]",
            "[.a]", "[a..b]", "[[a]\n", "[a]]\n", "[ [a]]", "[a] [b]", "[a]\n\n\n", "[a]b = 1", "[a=1]", "[#]",
            "[a]\nb = 1\n[a]", "a = 1\n[a]", "a = 1\n[a.b]", "a = [1]\n[a]", "[a]\n[b.c]\n[b]\n[b.c.d]",
            "[\"\"]\nx = 1", "[a.'']\nx = 1", "[a]\n[\"a\"]", "[a]\n['a']", "[a.b]\n['a'.\"b\"]", "[a.b]\n[a.\"b\"]",
            "[a]\nx = 1\n[b]\nx = 2\n[a.c]\nx = 3", "[a.b]\n[a.c]\n[a]\nd = 1",
        ]),
        ("array-of-tables", [
            "[[a]]", "[[a]]\n[[a]]", "[[a]]\nx = 1\n[[a]]\nx = 2", "[[a]]\n[a]", "[a]\n[[a]]", "[[a.b]]\n[[a.b]]",
            "[[a]]\n[a.b]\n[[a]]\n[a.b]", "[[a]]\n[a.b]\n[a.b]", "[[a]]\nb.c = 1\n[[a]]\n[a.b]",
            "[[a]]\nb.c = 1\n[a.b]", "[[a]]\n[[a.b]]\n[[a.b]]\n[[a]]\n[[a.b]]", "[[a]]\n[a.b]\n[[a.b]]",
            "[[a]]\n[[a.b]]\n[a.b]", "a = []\n[[a]]", "a = [{b = 1}]\n[[a]]", "[a]\nb = [1]\n[[a.b]]",
            "[[a]]\nb = {c = 1}\n[a.b.d]", "[[a]]\nb = {c = 1}\n[[a]]\n[a.b]", "[[a]]\n[a.b.c]\n[[a]]\n[a.b.c]",
            "[[ a ]]", "[[a] ]", "[ [a] ]", "[[a]]]", "[[a]", "[[]]", "[[a.\"b.c\"]]\n[[a.b.c]]",
            "[[a]]\n[[a]]\nx = 1\n[a.y]\nz = 2", "[[a]]\n[a.b]\n[[a]]\nb.c = 1", "[[a.b]]\n[a]\nc = 1",
            "[[a.b]]\n[a]\nb = 1", "[a.b]\n[[a]]", "[[a]]\nx.y = 1\n[[a]]\nx.y = 2",
            "[[fruit]]\nname = \"apple\"\n[fruit.physical]\ncolor = \"red\"\n[[fruit.variety]]\nname = \"red delicious\"\n[[fruit.variety]]\nname = \"granny smith\"\n[[fruit]]\nname = \"banana\"\n[[fruit.variety]]\nname = \"plantain\"",
            "[fruit.physical]\ncolor = \"red\"\n[[fruit]]\nname = \"apple\"",
            "[[fruit]]\nname = \"apple\"\n[[fruit.variety]]\nname = \"red\"\n[fruit.variety]\nname = \"granny\"",
        ]),
        ("whitespace", [
            "", " ", "\n", "\r\n", "\t", "a = 1\r\nb = 2\r\n", "a = 1\r", "a = 1\n\r\n", "a=1", "a\t=\t1\t",
            "\u{C}a = 1", "a = 1\u{B}", "\u{0}", "a = 1\n\u{0}", "a = \u{A0}1", "a = 1 \u{3000}", "\u{FEFF}a = 1",
        ]),
        ("datetime", [
            "a = 1979-05-27T07:32:00Z", "a = 1979-05-27T00:32:00.999999-07:00", "a = 1979-05-27 07:32:00Z",
            "a = 1979-05-27T07:32:00", "a = 1979-05-27", "a = 07:32:00", "a = 00:32:00.999999",
            "a = 1979-13-27", "a = 1979-02-30", "a = 1979-05-27T25:00:00", "a = 1979-5-27", "a = 7:32:00",
            "a = [1979-05-27]", "a = 1979-05-27x",
        ]),
        ("config", [
            """
            [database]
            url = "postgresql:///forecastd"
            schema = "forecastd"

            [daemon]
            concurrency = 2
            metrics_listen = "127.0.0.1:9464"

            [[jobs]]
            name = "temps"
            frequency = "1h"
            horizon = 24
            quantiles = [0.1, 0.5, 0.9]
            [jobs.source]
            table = "public.weather"
            time_column = "ts"
            value_column = "temp"
            [jobs.model]
            cell = "lstm"
            learning_rate = 1e-3

            [[jobs]]
            name = "prices"
            frequency = "1d"
            horizon = 7
            source = { query = "SELECT ts, v FROM p WHERE ts >= $1 AND ts < $2" }
            """,
            "[[jobs]]\nname = \"a\"\nsource.table = \"t\"\nsource.time_column = \"ts\"\n[[jobs]]\nname = \"b\"\n[jobs.source]\ntable = \"u\"",
        ]),
    ]
}
