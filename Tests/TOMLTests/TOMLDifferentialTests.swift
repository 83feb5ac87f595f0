import Foundation
import TOML
import XCTest

/// The Swift reader against Python's `tomllib` (a compliant TOML 1.0 reader, in the standard
/// library since Python 3.11) over the hand-written corpus and seeded random documents: both
/// must accept or refuse the same documents, and read the same values. Dates and times, which
/// forecastd never reads, must be refused where tomllib reads them, and so must integers
/// beyond 64 bits (the specification asks for an error where a value cannot be kept exactly).
final class TOMLDifferentialTests: XCTestCase {
    /// Prints one line per document: [name, kind, canonical value or error]; kind is "ok",
    /// "date" (reads a date or time), "bigint" (an integer beyond 64 bits) or "error".
    static let tomllibDump = #"""
    import json, math, os, struct, sys, tomllib

    def esc(s):
        return '"' + ''.join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else '\\u{%X}' % ord(c) for c in s) + '"'

    def dump(v, flags):
        if isinstance(v, bool):
            return 'true' if v else 'false'
        if isinstance(v, int):
            if not -2**63 <= v < 2**63:
                flags.add('bigint')
            return 'i%d' % v
        if isinstance(v, float):
            return 'nan' if math.isnan(v) else 'f' + struct.pack('>d', v).hex()
        if isinstance(v, str):
            return esc(v)
        if isinstance(v, list):
            return '[' + ','.join(dump(x, flags) for x in v) + ']'
        if isinstance(v, dict):
            return '{' + ','.join(esc(k) + '=' + dump(v[k], flags) for k in sorted(v)) + '}'
        flags.add('date')
        return 'date'

    folder = sys.argv[1]
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), 'rb') as f:
            data = f.read()
        try:
            flags = set()
            text = dump(tomllib.loads(data.decode('utf-8')), flags)
            kind = 'date' if 'date' in flags else 'bigint' if 'bigint' in flags else 'ok'
        except Exception as e:
            kind, text = 'error', '%s: %s' % (type(e).__name__, e)
        print(json.dumps([name, kind, text]))
    """#

    func testAgreesWithPythonTomllib() throws {
        var documents = TOMLCorpus.documents.map { (name: "corpus-\($0.name)", bytes: $0.bytes) }
        var generator = DocumentGenerator(seed: 20_261_201)
        for i in 0..<3000 {
            documents.append((name: String(format: "generated-%04d", i), bytes: Array(generator.document().utf8)))
        }
        let python = try runTomllib(on: documents)

        // Per source ("corpus", "generated"): documents tomllib reads (valid) and refuses (invalid),
        // and how many of each the Swift reader agrees on.
        var counts: [String: (valid: Int, validAgree: Int, invalid: Int, invalidAgree: Int)] = [:]
        var disagreements: [String] = []
        for (name, bytes) in documents {
            guard let (kind, expected) = python[name] else { return XCTFail("tomllib printed nothing for \(name)") }
            let swift: Result<String, Error>
            if let text = String(validating: bytes, as: UTF8.self) {
                swift = Result { Self.canonical(.table(try TOMLParser.parse(text))) }
            } else {
                swift = .failure(TOMLSyntaxError(line: 1, message: "not UTF-8"))
            }
            let ok: Bool
            switch (kind, swift) {
            case ("ok", .success(let value)): ok = value == expected
            case ("date", .failure(let error)): ok = "\(error)".contains("dates and times are not supported")
            case ("bigint", .failure(let error)): ok = "\(error)".contains("64-bit")
            case ("error", .failure): ok = true
            default: ok = false
            }
            let source = String(name.prefix { $0 != "-" })
            var c = counts[source] ?? (0, 0, 0, 0)
            if kind == "error" {
                c.invalid += 1
                c.invalidAgree += ok ? 1 : 0
            } else {
                c.valid += 1
                c.validAgree += ok ? 1 : 0
            }
            counts[source] = c
            if !ok {
                let text = String(decoding: bytes, as: UTF8.self)
                disagreements.append("\(name) \(text.debugDescription)\n  tomllib: \(kind) \(expected)\n  swift:   \(swift)")
            }
        }
        for (source, c) in counts.sorted(by: { $0.key < $1.key }) {
            print("TOML differential test, \(source): valid \(c.validAgree)/\(c.valid) agree, invalid \(c.invalidAgree)/\(c.invalid) agree")
        }
        let total = counts.values.reduce((valid: 0, invalid: 0)) { ($0.valid + $1.valid, $0.invalid + $1.invalid) }
        XCTAssertEqual(disagreements, [], disagreements.prefix(30).joined(separator: "\n"))
        XCTAssertGreaterThan(total.valid, 500, "the generator should give a good share of valid documents")
        XCTAssertGreaterThan(total.invalid, 500)
    }

    /// Writes the documents to a temporary folder and reads them with tomllib in one process.
    func runTomllib(on documents: [(name: String, bytes: [UInt8])]) throws -> [String: (String, String)] {
        guard (try? run(["python3", "-c", "import tomllib"]).status) == 0 else {
            throw XCTSkip("the differential test needs python3 with tomllib (Python ≥ 3.11)")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("toml-differential-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for (name, bytes) in documents {
            try Data(bytes).write(to: folder.appendingPathComponent(name))
        }
        let (status, output) = try run(["python3", "-c", Self.tomllibDump, folder.path])
        XCTAssertEqual(status, 0, "python3 failed")
        var results: [String: (String, String)] = [:]
        for line in output.split(separator: "\n") {
            let fields = try JSONDecoder().decode([String].self, from: Data(line.utf8))
            results[fields[0]] = (fields[1], fields[2])
        }
        return results
    }

    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.standardError
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The same text the Python script prints: keys sorted by code point, floats by their bits.
    static func canonical(_ value: TOMLValue) -> String {
        switch value {
        case .string(let s): return escape(s)
        case .integer(let i): return "i\(i)"
        case .float(let f):
            if f.isNaN { return "nan" }
            let hex = String(f.bitPattern, radix: 16)
            return "f" + String(repeating: "0", count: 16 - hex.count) + hex
        case .boolean(let b): return b ? "true" : "false"
        case .array(let items): return "[" + items.map { canonical($0.value) }.joined(separator: ",") + "]"
        case .table(let table):
            let keys = table.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
            return "{" + keys.map { escape($0) + "=" + canonical(table[$0]!.value) }.joined(separator: ",") + "}"
        }
    }

    static func escape(_ s: String) -> String {
        "\"" + s.unicodeScalars.map { c in
            (0x20..<0x7F).contains(c.value) && c != "\"" && c != "\\" ? String(c) : "\\u{\(String(c.value, radix: 16, uppercase: true))}"
        }.joined() + "\""
    }
}

/// Random TOML documents from a seed: keys bare and quoted (dots, escapes, the same few names
/// again and again so that tables collide), dotted keys, headers and arrays of tables, numbers in
/// every base and form, strings of the four kinds with escapes, arrays and inline tables nested.
/// About half are then damaged by one edit (a character removed, doubled or inserted), which
/// gives near-misses of every rule.
struct DocumentGenerator {
    /// SplitMix64. TOML's tests depend on nothing of forecastd, so they keep their own 6 lines
    /// rather than reach for Forecasting's.
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func pick<T>(_ options: [T]) -> T { options[below(options.count)] }

    mutating func document() -> String {
        var lines: [String] = []
        for _ in 0..<(1 + below(8)) {
            switch below(10) {
            case 0, 1: lines.append("[\(key())]")
            case 2: lines.append("[[\(key())]]")
            case 3: lines.append(pick(["", "# a comment", "  # indented é", "\t"]))
            default: lines.append("\(key()) = \(value(depth: 0))" + (chance(20) ? " # c" : ""))
            }
        }
        var text = lines.joined(separator: chance(10) ? "\r\n" : "\n") + (chance(50) ? "\n" : "")
        if chance(50) { damage(&text) }
        return text
    }

    mutating func damage(_ text: inout String) {
        var scalars = Array(text.unicodeScalars)
        let at = below(scalars.count + 1)
        switch below(3) {
        case 0 where at < scalars.count: scalars.remove(at: at)
        case 1 where at < scalars.count: scalars.insert(scalars[at], at: at)
        default:
            let inserted: [Unicode.Scalar] = ["\"", "'", "\\", "\r", "\n", "\u{7F}", "\u{0}", "\u{1F}", "_", ".", "e", "+", "-",
                                              "=", "[", "]", "{", "}", ",", "#", " ", "\t", "x", "0", "é"]
            scalars.insert(pick(inserted), at: at)
        }
        text = String(String.UnicodeScalarView(scalars))
    }

    mutating func key() -> String {
        (0..<(1 + (chance(30) ? below(3) : 0))).map { _ in simpleKey() }.joined(separator: pick([".", ".", " . "]))
    }

    mutating func simpleKey() -> String {
        switch below(10) {
        case 0: return "\"\(pick(["a.b", "a", "", "sp ace", "é", "q\\\"", "t\\tab", "\\u0061"]))\""
        case 1: return "'\(pick(["a.b", "a", "", "b\\c", "x y"]))'"
        case 2: return pick(["1", "-", "_", "0x1", "true", "inf", "A", "a-b_c"])
        default: return pick(["a", "b", "c", "d"])
        }
    }

    mutating func value(depth: Int) -> String {
        switch below(depth < 3 ? 10 : 7) {
        case 0, 1: return integer()
        case 2: return float()
        case 3: return pick(["true", "false"])
        case 4, 5: return string()
        case 6: return pick(["inf", "-inf", "+inf", "nan", "-nan", "+nan"])
        case 7, 8:
            let items = (0..<below(4)).map { _ in value(depth: depth + 1) }
            let separator = pick([",", ", ", " ,\n  ", ",\n# c\n"])
            return "[" + items.joined(separator: separator) + (chance(20) && !items.isEmpty ? "," : "") + "]"
        default:
            let pairs = (0..<below(4)).map { _ in "\(key()) = \(value(depth: depth + 1))" }
            return "{" + (chance(50) ? " " : "") + pairs.joined(separator: ", ") + (chance(50) ? " " : "") + "}"
        }
    }

    mutating func digits(_ alphabet: String, count: Int) -> String {
        var s = ""
        for i in 0..<count {
            if i > 0 && chance(10) { s += "_" }
            s.append(pick(Array(alphabet)))
        }
        return s
    }

    mutating func integer() -> String {
        switch below(8) {
        case 0: return "0x" + digits("0123456789abcdefABCDEF", count: 1 + below(17))
        case 1: return "0o" + digits("01234567", count: 1 + below(22))
        case 2: return "0b" + digits("01", count: 1 + below(65))
        case 3: return pick(["9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809", "0", "-0", "+0"])
        default:
            let sign = pick(["", "", "-", "+"])
            return sign + String(1 + below(9)) + digits("0123456789", count: below(chance(10) ? 20 : 6))
        }
    }

    mutating func float() -> String {
        let sign = pick(["", "", "-", "+"])
        var s = sign + (chance(20) ? "0" : String(1 + below(9)) + digits("0123456789", count: below(4)))
        let fraction = chance(70)
        if fraction { s += "." + digits("0123456789", count: 1 + below(8)) }
        if !fraction || chance(40) {
            s += pick(["e", "E"]) + pick(["", "+", "-"]) + digits("0123456789", count: 1 + below(3))
        }
        return s
    }

    mutating func string() -> String {
        let pieces = ["plain", " ", "é", "日本", "😀", "#", "=", ",", "[", "]", "{", "}", ".", "'", "\"", "\\", "\t"]
        let escapes = ["\\n", "\\t", "\\\\", "\\\"", "\\b", "\\f", "\\r", "\\u00e9", "\\U0001F600", "\\u0000", "\\u001f"]
        var body = ""
        for _ in 0..<below(6) { body += pick(pieces) }
        switch below(4) {
        case 0:
            var basic = ""
            for _ in 0..<below(6) {
                let piece = chance(40) ? pick(escapes) : pick(pieces)
                basic += piece == "\"" ? "\\\"" : piece == "\\" ? "\\\\" : piece
            }
            return "\"\(basic)\""
        case 1:
            return "'\(body.replacingOccurrences(of: "'", with: ""))'"
        case 2:
            var multi = ""
            for _ in 0..<below(6) {
                multi += pick(["\n", "\\\n   ", "\"", "\"\"", pick(escapes), pick(pieces).replacingOccurrences(of: "\\", with: "\\\\")])
            }
            return "\"\"\"" + pick(["", "\n"]) + multi.replacingOccurrences(of: "\"\"\"", with: "\"\"") + "\"\"\""
        default:
            let multi = (body + pick(["\n", "''", "'", ""])).replacingOccurrences(of: "'''", with: "''")
            return "'''" + pick(["", "\n"]) + multi + "'''"
        }
    }
}
