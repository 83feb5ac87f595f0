// The TOML module: TOML 1.0 documents into values with line numbers. It knows nothing of
// forecastd (no keys, defaults or domain types); its callers read the values it returns and
// name lines in their own errors.

import Foundation

/// A parsed TOML document in which every value remembers the line it was written on, so a
/// caller's errors about *unknown keys and wrong types* can name the line, not only syntax
/// errors (the reason for a reader of our own rather than a general library).
///
/// Supported: comments, bare/quoted/dotted keys, `[tables]`, `[[arrays of tables]]`, basic and
/// literal strings (single- and multi-line), integers (decimal, `_` separators, hex/octal/binary),
/// floats (including `inf` and `nan`), booleans, arrays and inline tables. Dates and times are
/// refused with a clear error.
public indirect enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([TOMLNode])
    case table(TOMLTable)

    /// "a string", "an integer", ...: for messages such as "expected a number, found a string".
    public var typeName: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a float"
        case .boolean: return "a boolean"
        case .array: return "an array"
        case .table: return "a table"
        }
    }
}

/// A value with the line where it appears (1-based).
public struct TOMLNode: Sendable, Equatable {
    public var value: TOMLValue
    public var line: Int

    public init(value: TOMLValue, line: Int) {
        self.value = value
        self.line = line
    }
}

/// A table keeps its keys in file order, so errors are reported in reading order.
public struct TOMLTable: Sendable, Equatable {
    public private(set) var keys: [String] = []
    public private(set) var entries: [String: TOMLNode] = [:]
    /// Line of the `[header]` (or first key) that opened this table.
    public var line: Int

    public init(line: Int) { self.line = line }

    public subscript(key: String) -> TOMLNode? {
        get { entries[key] }
        set {
            if entries[key] == nil, newValue != nil { keys.append(key) }
            if newValue == nil { keys.removeAll { $0 == key } }
            entries[key] = newValue
        }
    }
}

public struct TOMLSyntaxError: Error, Sendable, CustomStringConvertible {
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}

/// Reads TOML 1.0: what the specification allows is accepted (dates and times aside), what it
/// forbids is refused with the line. Python's `tomllib` is the yardstick: `TOMLDifferentialTests`
/// compares the two on accept/reject and on every value.
///
/// Which tables may be written to follows the specification's rules, kept as in `tomllib`:
/// - a value written with `=` (inline tables and arrays included) is complete: no header, dotted
///   key or later key adds to it;
/// - a table may be defined by a `[header]` once; dotted keys create tables that a header may
///   not define later, and that later sections may not extend with dotted keys either;
/// - each `[[header]]` starts a fresh table: the tables below it may be defined again.
public enum TOMLParser {
    public static func parse(_ text: String) throws -> TOMLTable {
        var parser = Parser(text)
        return try parser.document()
    }
}

// MARK: - The document while it is read

/// A table being built. A class, so that a header or dotted key walks to a nested table and
/// adds to it in place; `build()` turns it into the value types callers see.
private final class TableBuilder {
    var line: Int
    private(set) var keys: [String] = []
    private var entries: [String: Entry] = [:]

    init(line: Int) { self.line = line }

    subscript(key: String) -> Entry? {
        get { entries[key] }
        set {
            if entries[key] == nil { keys.append(key) }
            entries[key] = newValue
        }
    }

    func build() -> TOMLTable {
        var table = TOMLTable(line: line)
        for key in keys {
            switch entries[key]! {
            case .value(let node):
                table[key] = node
            case .table(let child):
                table[key] = TOMLNode(value: .table(child.build()), line: child.line)
            case .tables(let children, let line):
                let elements = children.map { TOMLNode(value: .table($0.build()), line: $0.line) }
                table[key] = TOMLNode(value: .array(elements), line: line)
            }
        }
        return table
    }
}

private enum Entry {
    /// Written as `key = value`, inline tables and arrays included: complete as written.
    case value(TOMLNode)
    /// Opened by a `[header]`, a longer header or a dotted key.
    case table(TableBuilder)
    /// The elements of `[[header]]`; what follows writes into the last one.
    case tables([TableBuilder], line: Int)
}

private struct Parser {
    let chars: [Unicode.Scalar]
    var index = 0
    var line = 1
    let root = TableBuilder(line: 1)
    /// The table that `key = value` lines write into: the last header's key.
    var header: [String] = []
    /// Tables a `[header]` may no longer define, and dotted keys no longer extend, with the line
    /// that defined them: headers, `[[header]]` arrays, dotted-key tables of earlier sections.
    var defined: [[String]: Int] = [:]
    /// Tables created by dotted keys in the current section: they join `defined` at the next header.
    var dottedInSection: [([String], Int)] = []

    /// "\r\n" reads as "\n" everywhere, inside strings too (as the specification allows); a
    /// carriage return without a line feed stays, and is refused wherever it appears.
    init(_ text: String) {
        var chars: [Unicode.Scalar] = []
        chars.reserveCapacity(text.unicodeScalars.count)
        var carriageReturn = false
        for c in text.unicodeScalars {
            if carriageReturn && c != "\n" { chars.append("\r") }
            carriageReturn = c == "\r"
            if !carriageReturn { chars.append(c) }
        }
        if carriageReturn { chars.append("\r") }
        self.chars = chars
    }

    // MARK: characters

    var atEnd: Bool { index >= chars.count }
    var peek: Unicode.Scalar? { atEnd ? nil : chars[index] }

    func peek(_ offset: Int) -> Unicode.Scalar? {
        index + offset < chars.count ? chars[index + offset] : nil
    }

    func starts(with word: String) -> Bool {
        for (offset, scalar) in word.unicodeScalars.enumerated() where peek(offset) != scalar { return false }
        return true
    }

    func error(_ message: String) -> TOMLSyntaxError { TOMLSyntaxError(line: line, message: message) }

    mutating func advance() {
        if chars[index] == "\n" { line += 1 }
        index += 1
    }

    mutating func advance(by count: Int) {
        for _ in 0..<count { advance() }
    }

    /// Control characters other than tab: refused in strings and comments (newlines where a
    /// line may not end, the caller checks first).
    static func isControl(_ c: Unicode.Scalar) -> Bool {
        (c.value < 0x20 && c != "\t") || c.value == 0x7F
    }

    static func isBareKeyCharacter(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "-"
    }

    static func describe(_ c: Unicode.Scalar?) -> String {
        guard let c else { return "the end of the file" }
        switch c {
        case "\n": return "the end of the line"
        case "\r": return "a carriage return without a line feed (line ends are \\n or \\r\\n)"
        case "\t": return "a tab"
        default:
            if isControl(c) { return "the control character U+\(String(format: "%04X", c.value))" }
            return "'\(c)'"
        }
    }

    /// A key as written in TOML: `a.b`, `jobs."my job"`.
    static func display(_ key: some Sequence<String>) -> String {
        key.map { part in
            if !part.isEmpty && part.unicodeScalars.allSatisfy(isBareKeyCharacter) { return part }
            let escaped = part.unicodeScalars.map { c -> String in
                switch c {
                case "\"": return "\\\""
                case "\\": return "\\\\"
                default: return isControl(c) ? String(format: "\\u%04X", c.value) : String(c)
                }
            }.joined()
            return "\"\(escaped)\""
        }.joined(separator: ".")
    }

    mutating func skipSpaces() {
        while let c = peek, c == " " || c == "\t" { advance() }
    }

    mutating func skipComment() throws {
        guard peek == "#" else { return }
        advance()
        while let c = peek, c != "\n" {
            guard !Self.isControl(c) else { throw error("\(Self.describe(c)) is not allowed in a comment") }
            advance()
        }
    }

    /// Spaces, newlines and comments: what may stand between array elements.
    mutating func skipArraySpace() throws {
        while let c = peek {
            if c == " " || c == "\t" || c == "\n" { advance() } else if c == "#" { try skipComment() } else { break }
        }
    }

    mutating func expectLineEnd(after what: String) throws {
        skipSpaces()
        try skipComment()
        guard let c = peek else { return }
        guard c == "\n" else { throw error("unexpected \(Self.describe(c)) after the \(what); expected the end of the line") }
        advance()
    }

    // MARK: document

    mutating func document() throws -> TOMLTable {
        while true {
            skipSpaces()
            guard let c = peek else { break }
            if c == "\n" {
                advance()
                continue
            }
            if Self.isBareKeyCharacter(c) || c == "\"" || c == "'" {
                try keyValueLine()
                try expectLineEnd(after: "value")
            } else if c == "[" {
                for (table, line) in dottedInSection where defined[table] == nil { defined[table] = line }
                dottedInSection = []
                try tableHeader()
                try expectLineEnd(after: "table header")
            } else if c == "#" {
                try expectLineEnd(after: "comment")
            } else {
                throw error("expected a key, a [table] or a comment, found \(Self.describe(c))")
            }
        }
        return root.build()
    }

    // MARK: headers

    mutating func tableHeader() throws {
        let headerLine = line
        advance()
        let isArray = peek == "["
        if isArray { advance() }
        skipSpaces()
        let key = try dottedKey()
        if isArray {
            guard peek == "]" && peek(1) == "]" else { throw error("expected ']]' to close the array-of-tables header") }
            advance(by: 2)
            try appendTable(key, line: headerLine)
        } else {
            guard peek == "]" else { throw error("expected ']' to close the table header") }
            advance()
            try defineTable(key, line: headerLine)
        }
        header = key
    }

    mutating func defineTable(_ key: [String], line: Int) throws {
        if let first = defined[key] {
            throw TOMLSyntaxError(line: line, message: "table '\(Self.display(key))' is defined twice (first on line \(first))")
        }
        defined[key] = line
        let parent = try nest(Array(key.dropLast()), below: root, named: [], line: line)
        let last = key.last!
        switch parent[last] {
        case nil:
            parent[last] = .table(TableBuilder(line: line))
        case .table(let table):
            table.line = line  // created on the way to a longer header; defined here
        case .tables(_, let first):
            throw TOMLSyntaxError(line: line, message: "table '\(Self.display(key))' is defined twice (first on line \(first))")
        case .value(let node):
            throw Self.alreadyAValue(key, node, line: line)
        }
    }

    mutating func appendTable(_ key: [String], line: Int) throws {
        // A fresh element: the tables below it may be defined again.
        defined = defined.filter { !$0.key.starts(with: key) }
        defined[key] = line
        let parent = try nest(Array(key.dropLast()), below: root, named: [], line: line)
        let last = key.last!
        switch parent[last] {
        case nil:
            parent[last] = .tables([TableBuilder(line: line)], line: line)
        case .tables(var elements, let first):
            elements.append(TableBuilder(line: line))
            parent[last] = .tables(elements, line: first)
        case .table(let table):
            throw TOMLSyntaxError(line: line, message: "'\(Self.display(key))' is already a table (line \(table.line)), not an array of tables")
        case .value(let node):
            throw Self.alreadyAValue(key, node, line: line)
        }
    }

    static func alreadyAValue(_ key: [String], _ node: TOMLNode, line: Int) -> TOMLSyntaxError {
        let complete = switch node.value {
        case .table: "; an inline table is complete as written"
        case .array: "; an array is complete as written"
        default: ""
        }
        return TOMLSyntaxError(line: line, message: "'\(display(key))' is already defined as \(node.value.typeName) on line \(node.line)\(complete)")
    }

    /// The table at `path` below `base`, creating missing tables; an array of tables stands
    /// for its last element. `named` is the path of `base`, for messages.
    func nest(_ path: [String], below base: TableBuilder, named: [String], line: Int) throws -> TableBuilder {
        var table = base
        for (i, key) in path.enumerated() {
            switch table[key] {
            case nil:
                let child = TableBuilder(line: line)
                table[key] = .table(child)
                table = child
            case .table(let child):
                table = child
            case .tables(let elements, _):
                table = elements.last!
            case .value(let node):
                throw Self.alreadyAValue(named + path[...i], node, line: line)
            }
        }
        return table
    }

    // MARK: key = value

    mutating func keyValueLine() throws {
        let (key, node) = try keyValue()
        for length in 1..<key.count {
            let table = header + key[..<length]
            if let first = defined[table] {
                throw TOMLSyntaxError(line: node.line, message: "a dotted key cannot add to '\(Self.display(table))', defined on line \(first)")
            }
            dottedInSection.append((table, node.line))
        }
        let parent = try nest(header + key.dropLast(), below: root, named: [], line: node.line)
        try put(node, at: key, in: parent)
    }

    func put(_ node: TOMLNode, at key: [String], in parent: TableBuilder) throws {
        let last = key.last!
        if let existing = parent[last] {
            let first = switch existing {
            case .value(let node): node.line
            case .table(let table): table.line
            case .tables(_, let line): line
            }
            throw TOMLSyntaxError(line: node.line, message: "key '\(Self.display(key))' is defined twice (first on line \(first))")
        }
        parent[last] = .value(node)
    }

    mutating func keyValue() throws -> ([String], TOMLNode) {
        let keyLine = line
        let key = try dottedKey()
        guard peek == "=" else {
            throw error("expected '=' after the key '\(Self.display(key))', found \(Self.describe(peek))")
        }
        advance()
        skipSpaces()
        let value = try value()
        return (key, TOMLNode(value: value, line: keyLine))
    }

    /// `a`, `a.b`, `"a b". 'c'`: the parts, with the spaces after the key skipped.
    mutating func dottedKey() throws -> [String] {
        var key = [try simpleKey()]
        skipSpaces()
        while peek == "." {
            advance()
            skipSpaces()
            key.append(try simpleKey())
            skipSpaces()
        }
        return key
    }

    mutating func simpleKey() throws -> String {
        switch peek {
        case "\"": return try basicString()
        case "'": return try literalString()
        default:
            var key = ""
            while let c = peek, Self.isBareKeyCharacter(c) {
                key.unicodeScalars.append(c)
                advance()
            }
            guard !key.isEmpty else { throw error("expected a key, found \(Self.describe(peek))") }
            return key
        }
    }

    // MARK: values

    mutating func value() throws -> TOMLValue {
        switch peek {
        case "\"": return .string(starts(with: "\"\"\"") ? try multilineBasicString() : try basicString())
        case "'": return .string(starts(with: "'''") ? try multilineLiteralString() : try literalString())
        case "[": return try array()
        case "{": return try inlineTable()
        default: break
        }
        if starts(with: "true") {
            advance(by: 4)
            return .boolean(true)
        }
        if starts(with: "false") {
            advance(by: 5)
            return .boolean(false)
        }
        var token = ""
        while let c = peek, !(c == " " || c == "\t" || c == "," || c == "]" || c == "}" || c == "#" || Self.isControl(c)) {
            token.unicodeScalars.append(c)
            advance()
        }
        guard !token.isEmpty else { throw error("expected a value, found \(Self.describe(peek))") }
        return try number(token)
    }

    /// Integers, floats, `inf` and `nan`, checked against TOML's grammar in full; dates and
    /// times are recognised only to be refused clearly.
    func number(_ token: String) throws -> TOMLValue {
        let t = Array(token.utf8)
        func isDigit(_ i: Int) -> Bool { i < t.count && t[i] >= UInt8(ascii: "0") && t[i] <= UInt8(ascii: "9") }
        if (t.count > 4 && (0..<4).allSatisfy(isDigit) && t[4] == UInt8(ascii: "-"))
            || (t.count > 2 && isDigit(0) && isDigit(1) && t[2] == UInt8(ascii: ":")) {
            throw error("'\(token)': dates and times are not supported")
        }
        switch token {
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan": return .float(.nan)
        case "-nan": return .float(-.nan)
        default: break
        }
        // An unquoted connection string (`url = postgresql://user:secret@host/db`) is not echoed.
        let shown = token.contains(where: { $0 == ":" || $0 == "@" || $0 == "=" }) ? "an unquoted value" : "'\(token)'"
        let invalid = error("\(shown) is not a valid " + (token.first.map { $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." } == true
            ? "number" : "value (a string needs quotes)"))
        let outOfRange = error("'\(token)' is outside the range of 64-bit integers")

        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where token.hasPrefix(prefix) {
            // digit (_? digit)*
            let digits = token.dropFirst(2)
            var previousWasDigit = false
            for c in digits {
                if c == "_" {
                    guard previousWasDigit else { throw invalid }
                    previousWasDigit = false
                } else {
                    guard c.isASCII, c.hexDigitValue.map({ $0 < radix }) == true else { throw invalid }
                    previousWasDigit = true
                }
            }
            guard previousWasDigit else { throw invalid }
            guard let v = Int64(digits.replacingOccurrences(of: "_", with: ""), radix: radix) else { throw outOfRange }
            return .integer(v)
        }

        // [+-]? (0 | [1-9] (_? digit)*) (. digit (_? digit)*)? ([eE] [+-]? digit (_? digit)*)?
        var i = 0
        func digits() -> Bool {
            guard isDigit(i) else { return false }
            i += 1
            while isDigit(i) || (t[i...].first == UInt8(ascii: "_") && isDigit(i + 1)) { i += isDigit(i) ? 1 : 2 }
            return true
        }
        if i < t.count, t[i] == UInt8(ascii: "+") || t[i] == UInt8(ascii: "-") { i += 1 }
        if i < t.count, t[i] == UInt8(ascii: "0") {
            i += 1
        } else if !digits() {
            throw invalid
        }
        var isFloat = false
        if i < t.count, t[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() else { throw invalid }
            isFloat = true
        }
        if i < t.count, t[i] == UInt8(ascii: "e") || t[i] == UInt8(ascii: "E") {
            i += 1
            if i < t.count, t[i] == UInt8(ascii: "+") || t[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() else { throw invalid }
            isFloat = true
        }
        guard i == t.count else {
            let sign = t.first == UInt8(ascii: "+") || t.first == UInt8(ascii: "-") ? 1 : 0
            if t.count > sign + 1, t[sign] == UInt8(ascii: "0"), isDigit(sign + 1) || t[sign + 1] == UInt8(ascii: "_") {
                throw error("'\(token)' is not a valid number: leading zeros are not allowed")
            }
            throw invalid
        }
        let cleaned = token.replacingOccurrences(of: "_", with: "")
        if isFloat {
            guard let v = Double(cleaned) else { throw invalid }
            return .float(v)
        }
        guard let v = Int64(cleaned) else { throw outOfRange }
        return .integer(v)
    }

    mutating func array() throws -> TOMLValue {
        advance()
        var items: [TOMLNode] = []
        try skipArraySpace()
        if peek == "]" {
            advance()
            return .array(items)
        }
        while true {
            let itemLine = line
            items.append(TOMLNode(value: try value(), line: itemLine))
            try skipArraySpace()
            guard let c = peek, c == "," || c == "]" else {
                throw error("expected ',' or ']' in the array, found \(Self.describe(peek))")
            }
            advance()
            if c == "]" { return .array(items) }
            try skipArraySpace()
            if peek == "]" {
                advance()
                return .array(items)
            }
        }
    }

    /// `{ a = 1, b.c = 2 }` on one line; its dotted keys build tables inside it only.
    mutating func inlineTable() throws -> TOMLValue {
        let table = TableBuilder(line: line)
        advance()
        skipSpaces()
        if peek == "}" {
            advance()
            return .table(table.build())
        }
        while true {
            let (key, node) = try keyValue()
            let parent = try nest(Array(key.dropLast()), below: table, named: [], line: node.line)
            try put(node, at: key, in: parent)
            skipSpaces()
            guard let c = peek, c == "," || c == "}" else {
                let hint = peek == "\n" ? " (an inline table stays on one line)" : ""
                throw error("expected ',' or '}' in the inline table, found \(Self.describe(peek))\(hint)")
            }
            advance()
            if c == "}" { return .table(table.build()) }
            skipSpaces()
        }
    }

    // MARK: strings

    mutating func basicString() throws -> String {
        advance()
        var result = ""
        while true {
            guard let c = peek, c != "\n" else { throw error("unterminated string") }
            if c == "\"" {
                advance()
                return result
            }
            if c == "\\" {
                advance()
                result.unicodeScalars.append(try escape())
            } else {
                try refuseControl(c, in: "a string")
                result.unicodeScalars.append(c)
                advance()
            }
        }
    }

    mutating func multilineBasicString() throws -> String {
        advance(by: 3)
        if peek == "\n" { advance() }
        var result = ""
        while true {
            guard let c = peek else { throw error("unterminated multi-line string") }
            if starts(with: "\"\"\"") {
                advance(by: 3)
                closingQuotes("\"", into: &result)
                return result
            }
            if c == "\\" {
                advance()
                if let n = peek, n == " " || n == "\t" || n == "\n" {
                    // A backslash ending a line trims the newline and the whitespace after it;
                    // only spaces may stand between it and the line end.
                    skipSpaces()
                    guard atEnd || peek == "\n" else {
                        throw error("a backslash followed by a space must end the line (write \\\\ for a backslash)")
                    }
                    while let s = peek, s == " " || s == "\t" || s == "\n" { advance() }
                } else {
                    result.unicodeScalars.append(try escape())
                }
            } else {
                if c != "\n" { try refuseControl(c, in: "a string") }
                result.unicodeScalars.append(c)
                advance()
            }
        }
    }

    /// Up to two quotes right before the closing delimiter belong to the string.
    mutating func closingQuotes(_ quote: Unicode.Scalar, into result: inout String) {
        for _ in 0..<2 where peek == quote {
            result.unicodeScalars.append(quote)
            advance()
        }
    }

    func refuseControl(_ c: Unicode.Scalar, in what: String) throws {
        guard Self.isControl(c) else { return }
        throw error("\(Self.describe(c)) is not allowed in \(what)" + (c == "\r" ? "" : "; write it as an escape such as \\u001F"))
    }

    mutating func escape() throws -> Unicode.Scalar {
        guard let c = peek else { throw error("unterminated escape sequence") }
        advance()
        switch c {
        case "b": return "\u{08}"
        case "t": return "\t"
        case "n": return "\n"
        case "f": return "\u{0C}"
        case "r": return "\r"
        case "\"": return "\""
        case "\\": return "\\"
        case "u", "U":
            let width = c == "u" ? 4 : 8
            var hex = ""
            for _ in 0..<width {
                guard let h = peek, h.properties.isASCIIHexDigit else {
                    throw error("invalid \\\(c) escape: it takes \(width) hexadecimal digits")
                }
                hex.unicodeScalars.append(h)
                advance()
            }
            guard let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                throw error("invalid unicode escape \\\(c)\(hex): not a Unicode scalar value")
            }
            return scalar
        default:
            throw error("invalid escape sequence '\\\(c)' (write \\\\ for a backslash)")
        }
    }

    mutating func literalString() throws -> String {
        advance()
        var result = ""
        while true {
            guard let c = peek, c != "\n" else { throw error("unterminated string") }
            advance()
            if c == "'" { return result }
            try refuseControl(c, in: "a string")
            result.unicodeScalars.append(c)
        }
    }

    mutating func multilineLiteralString() throws -> String {
        advance(by: 3)
        if peek == "\n" { advance() }
        var result = ""
        while true {
            guard let c = peek else { throw error("unterminated multi-line string") }
            if starts(with: "'''") {
                advance(by: 3)
                closingQuotes("'", into: &result)
                return result
            }
            if c != "\n" { try refuseControl(c, in: "a string") }
            result.unicodeScalars.append(c)
            advance()
        }
    }
}
