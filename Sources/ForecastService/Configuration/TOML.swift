import Foundation

/// A parsed TOML document in which every value remembers the line it was written on, so
/// configuration errors can name the line. forecastd reads its own small TOML subset parser
/// rather than a general library because errors about *unknown keys and wrong types* need
/// those lines too, not only syntax errors.
///
/// Supported: comments, bare/quoted/dotted keys, `[tables]`, `[[arrays of tables]]`, basic and
/// literal strings (single- and multi-line), integers (decimal, `_` separators, hex/octal/binary),
/// floats (including `inf` and `nan`), booleans, arrays and inline tables. Dates are refused with
/// a clear error: no forecastd key takes one.
public indirect enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([TOMLNode])
    case table(TOMLTable)

    var typeName: String {
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
}

/// A table keeps its keys in file order, so errors are reported in reading order.
public struct TOMLTable: Sendable, Equatable {
    public private(set) var keys: [String] = []
    public private(set) var entries: [String: TOMLNode] = [:]
    /// Line of the `[header]` (or first key) that opened this table.
    public var line: Int

    init(line: Int) { self.line = line }

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
    public var description: String { "line \(line): \(message)" }
}

public enum TOMLParser {
    public static func parse(_ text: String) throws -> TOMLTable {
        var parser = Parser(Array(text.unicodeScalars))
        return try parser.document()
    }
}

private struct Parser {
    let chars: [Unicode.Scalar]
    var index = 0
    var line = 1
    var root = TOMLTable(line: 1)
    /// Path of the table that `key = value` lines currently write into.
    var currentPath: [PathStep] = []
    /// Tables created by `[header]` or `[[header]]`; defining one twice is an error.
    var definedTables: Set<String> = []
    /// Tables created implicitly by dotted keys or inline tables; they cannot be reopened or extended.
    var sealedTables: Set<String> = []

    enum PathStep: Hashable { case key(String), lastElement(String) }

    init(_ chars: [Unicode.Scalar]) { self.chars = chars }

    var atEnd: Bool { index >= chars.count }
    var peek: Unicode.Scalar? { atEnd ? nil : chars[index] }

    func peek(_ offset: Int) -> Unicode.Scalar? {
        index + offset < chars.count ? chars[index + offset] : nil
    }

    func error(_ message: String) -> TOMLSyntaxError { TOMLSyntaxError(line: line, message: message) }

    mutating func advance() {
        if chars[index] == "\n" { line += 1 }
        index += 1
    }

    mutating func skipSpaces() {
        while let c = peek, c == " " || c == "\t" { advance() }
    }

    mutating func skipComment() {
        if peek == "#" { while let c = peek, c != "\n" { advance() } }
    }

    /// Spaces, comments and newlines: what may stand between array elements.
    mutating func skipWhitespaceAndComments() {
        while let c = peek {
            if c == " " || c == "\t" || c == "\n" || c == "\r" { advance() } else if c == "#" { skipComment() } else { break }
        }
    }

    mutating func expectLineEnd() throws {
        skipSpaces()
        skipComment()
        if peek == "\r" { advance() }
        guard atEnd || peek == "\n" else {
            throw error("unexpected '\(peek.map(String.init) ?? "")' after the value; expected the end of the line")
        }
        if !atEnd { advance() }
    }

    mutating func document() throws -> TOMLTable {
        while true {
            skipWhitespaceAndComments()
            guard let c = peek else { break }
            if c == "[" {
                try tableHeader()
            } else {
                try keyValueLine()
            }
        }
        return root
    }

    // MARK: headers

    mutating func tableHeader() throws {
        let headerLine = line
        advance()
        let isArray = peek == "["
        if isArray { advance() }
        skipSpaces()
        let keys = try dottedKey()
        skipSpaces()
        guard peek == "]" else { throw error("expected ']' to close the table header") }
        advance()
        if isArray {
            guard peek == "]" else { throw error("expected ']]' to close the array-of-tables header") }
            advance()
        }
        try expectLineEnd()

        var path: [PathStep] = []
        for key in keys.dropLast() { path.append(try stepInto(key, at: path, line: headerLine)) }
        let last = keys.last!
        let fullName = (path.map(describe) + [last]).joined(separator: ".")
        if isArray {
            let sealed = sealedTables.contains(fullName)
            try modify(path) { table in
                var elements: [TOMLNode]
                if let existing = table[last] {
                    guard case .array(let items) = existing.value, items.allSatisfy({ if case .table = $0.value { return true } else { return false } }),
                          !sealed else {
                        throw TOMLSyntaxError(line: headerLine, message: "'\(fullName)' is already defined as something other than an array of tables")
                    }
                    elements = items
                } else {
                    elements = []
                }
                elements.append(TOMLNode(value: .table(TOMLTable(line: headerLine)), line: headerLine))
                table[last] = TOMLNode(value: .array(elements), line: table[last]?.line ?? headerLine)
            }
            currentPath = path + [.lastElement(last)]
            definedTables = definedTables.filter { !$0.hasPrefix(fullName + ".") }
        } else {
            guard !definedTables.contains(fullName), !sealedTables.contains(fullName) else {
                throw TOMLSyntaxError(line: headerLine, message: "table '\(fullName)' is defined twice")
            }
            try modify(path) { table in
                if let existing = table[last] {
                    guard case .table = existing.value else {
                        throw TOMLSyntaxError(line: headerLine, message: "'\(fullName)' is already defined as \(existing.value.typeName)")
                    }
                } else {
                    table[last] = TOMLNode(value: .table(TOMLTable(line: headerLine)), line: headerLine)
                }
            }
            definedTables.insert(fullName)
            currentPath = path + [.key(last)]
        }
    }

    func describe(_ step: PathStep) -> String {
        switch step {
        case .key(let k), .lastElement(let k): return k
        }
    }

    /// The step that walks into `key` below `path`: into the newest element when it is an array of tables.
    mutating func stepInto(_ key: String, at path: [PathStep], line: Int) throws -> PathStep {
        var step = PathStep.key(key)
        try modify(path) { table in
            if let existing = table[key] {
                switch existing.value {
                case .table: step = .key(key)
                case .array(let items) where items.last.map({ if case .table = $0.value { return true } else { return false } }) ?? false:
                    step = .lastElement(key)
                default:
                    throw TOMLSyntaxError(line: line, message: "'\(key)' is already defined as \(existing.value.typeName)")
                }
            } else {
                table[key] = TOMLNode(value: .table(TOMLTable(line: line)), line: line)
            }
        }
        return step
    }

    /// Applies `body` to the table at `path`, creating nothing: every step must exist.
    mutating func modify(_ path: [PathStep], _ body: (inout TOMLTable) throws -> Void) throws {
        func walk(_ table: inout TOMLTable, _ rest: ArraySlice<PathStep>) throws {
            guard let step = rest.first else { return try body(&table) }
            switch step {
            case .key(let key):
                guard var node = table[key], case .table(var child) = node.value else { fatalError("TOML path invariant") }
                try walk(&child, rest.dropFirst())
                node.value = .table(child)
                table[key] = node
            case .lastElement(let key):
                guard var node = table[key], case .array(var items) = node.value,
                      var last = items.last, case .table(var child) = last.value else { fatalError("TOML path invariant") }
                try walk(&child, rest.dropFirst())
                last.value = .table(child)
                items[items.count - 1] = last
                node.value = .array(items)
                table[key] = node
            }
        }
        try walk(&root, path[...])
    }

    // MARK: key = value

    mutating func keyValueLine() throws {
        let (keys, node) = try keyValue()
        try expectLineEnd()
        try assign(keys, node, below: currentPath)
    }

    mutating func keyValue() throws -> ([String], TOMLNode) {
        let keyLine = line
        let keys = try dottedKey()
        skipSpaces()
        guard peek == "=" else { throw error("expected '=' after the key '\(keys.joined(separator: "."))'") }
        advance()
        skipSpaces()
        let value = try value()
        return (keys, TOMLNode(value: value, line: keyLine))
    }

    mutating func assign(_ keys: [String], _ node: TOMLNode, below base: [PathStep]) throws {
        var path = base
        for key in keys.dropLast() {
            path.append(try stepInto(key, at: path, line: node.line))
            sealedTables.insert(path.map(describe).joined(separator: "."))
        }
        let last = keys.last!
        try modify(path) { table in
            if table[last] != nil {
                throw TOMLSyntaxError(line: node.line, message: "key '\(keys.joined(separator: "."))' is defined twice")
            }
            table[last] = node
        }
    }

    mutating func dottedKey() throws -> [String] {
        var keys = [try simpleKey()]
        while true {
            skipSpaces()
            guard peek == "." else { break }
            advance()
            skipSpaces()
            keys.append(try simpleKey())
        }
        return keys
    }

    mutating func simpleKey() throws -> String {
        switch peek {
        case "\"": return try basicString()
        case "'": return try literalString()
        default:
            var key = ""
            while let c = peek, c.properties.isASCIIHexDigit || ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" || c == "-" {
                key.unicodeScalars.append(c)
                advance()
            }
            guard !key.isEmpty else { throw error("expected a key, found '\(peek.map(String.init) ?? "end of file")'") }
            return key
        }
    }

    // MARK: values

    mutating func value() throws -> TOMLValue {
        guard let c = peek else { throw error("expected a value, found the end of the file") }
        switch c {
        case "\"":
            if peek(1) == "\"" && peek(2) == "\"" { return .string(try multilineBasicString()) }
            return .string(try basicString())
        case "'":
            if peek(1) == "'" && peek(2) == "'" { return .string(try multilineLiteralString()) }
            return .string(try literalString())
        case "[": return try array()
        case "{": return try inlineTable()
        case "t", "f": return try boolean()
        default: return try number()
        }
    }

    mutating func boolean() throws -> TOMLValue {
        for (word, value) in [("true", true), ("false", false)] where matches(word) {
            index += word.unicodeScalars.count
            return .boolean(value)
        }
        throw error("expected a value (a string needs quotes)")
    }

    func matches(_ word: String) -> Bool {
        for (offset, scalar) in word.unicodeScalars.enumerated() where peek(offset) != scalar { return false }
        return true
    }

    mutating func number() throws -> TOMLValue {
        var token = ""
        while let c = peek, !(c == " " || c == "\t" || c == "\n" || c == "\r" || c == "," || c == "]" || c == "}" || c == "#") {
            token.unicodeScalars.append(c)
            advance()
        }
        guard !token.isEmpty else { throw error("expected a value") }
        if token.count >= 10, token.dropFirst(4).first == "-", token.first?.isNumber == true {
            throw error("dates and times are not supported here; write durations as strings such as \"24h\"")
        }
        var body = token
        var sign: Double = 1
        if body.hasPrefix("+") || body.hasPrefix("-") {
            if body.hasPrefix("-") { sign = -1 }
            body.removeFirst()
        }
        if body == "inf" { return .float(sign * .infinity) }
        if body == "nan" { return .float(.nan) }
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where body.hasPrefix(prefix) && sign == 1 && token.first != "+" {
            let digits = body.dropFirst(2)
            guard !digits.hasPrefix("_"), !digits.hasSuffix("_"), !digits.contains("__"),
                  let v = Int64(digits.replacingOccurrences(of: "_", with: ""), radix: radix) else {
                throw error("'\(token)' is not a valid number")
            }
            return .integer(v)
        }
        guard !body.hasPrefix("_"), !body.hasSuffix("_"), !body.contains("__"), body.first?.isNumber == true else {
            // An unquoted connection string (`url = postgresql://user:secret@host/db`) is not echoed.
            let shown = token.contains(where: { $0 == ":" || $0 == "@" || $0 == "=" }) ? "an unquoted value" : "'\(token)'"
            throw error("\(shown) is not a valid value (a string needs quotes)")
        }
        let cleaned = token.replacingOccurrences(of: "_", with: "")
        let digitsOnly = cleaned.drop { $0 == "+" || $0 == "-" }
        if digitsOnly.count > 1 && digitsOnly.hasPrefix("0") && digitsOnly.dropFirst().first?.isNumber == true {
            throw error("'\(token)' is not a valid number: leading zeros are not allowed")
        }
        if cleaned.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            guard !cleaned.hasSuffix("."), !cleaned.contains(".e"), !cleaned.contains(".E"), let v = Double(cleaned) else {
                throw error("'\(token)' is not a valid number")
            }
            return .float(v)
        }
        guard let v = Int64(cleaned) else { throw error("'\(token)' is not a valid number") }
        return .integer(v)
    }

    mutating func array() throws -> TOMLValue {
        advance()
        var items: [TOMLNode] = []
        while true {
            skipWhitespaceAndComments()
            if peek == "]" { advance(); break }
            let itemLine = line
            items.append(TOMLNode(value: try value(), line: itemLine))
            skipWhitespaceAndComments()
            if peek == "," { advance(); continue }
            guard peek == "]" else { throw error("expected ',' or ']' in the array") }
            advance()
            break
        }
        return .array(items)
    }

    mutating func inlineTable() throws -> TOMLValue {
        let startLine = line
        advance()
        var sub = Parser(chars)
        sub.index = index
        sub.line = line
        sub.root = TOMLTable(line: startLine)
        sub.skipSpaces()
        if sub.peek == "}" {
            sub.advance()
        } else {
            while true {
                sub.skipSpaces()
                let (keys, node) = try sub.keyValue()
                try sub.assign(keys, node, below: [])
                sub.skipSpaces()
                if sub.peek == "," { sub.advance(); continue }
                guard sub.peek == "}" else { throw sub.error("expected ',' or '}' in the inline table") }
                sub.advance()
                break
            }
        }
        index = sub.index
        line = sub.line
        return .table(sub.root)
    }

    // MARK: strings

    mutating func basicString() throws -> String {
        advance()
        var result = ""
        while true {
            guard let c = peek, c != "\n" else { throw error("unterminated string") }
            advance()
            if c == "\"" { return result }
            if c == "\\" { result.unicodeScalars.append(try escape()) } else { result.unicodeScalars.append(c) }
        }
    }

    mutating func multilineBasicString() throws -> String {
        index += 3
        if peek == "\n" { advance() } else if peek == "\r" && peek(1) == "\n" { advance(); advance() }
        var result = ""
        while true {
            guard let c = peek else { throw error("unterminated multi-line string") }
            if c == "\"" && peek(1) == "\"" && peek(2) == "\"" {
                index += 3
                // Up to two quotes may directly precede the closing delimiter.
                while peek == "\"" { result.append("\""); advance() }
                return result
            }
            advance()
            if c == "\\" {
                if let n = peek, n == " " || n == "\t" || n == "\n" || n == "\r" {
                    // A line-ending backslash trims the newline and the whitespace after it.
                    skipWhitespaceOnly()
                } else {
                    result.unicodeScalars.append(try escape())
                }
            } else {
                result.unicodeScalars.append(c)
            }
        }
    }

    mutating func skipWhitespaceOnly() {
        while let c = peek, c == " " || c == "\t" || c == "\n" || c == "\r" { advance() }
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
        case "e": return "\u{1B}"
        case "\"": return "\""
        case "\\": return "\\"
        case "u", "U":
            let width = c == "u" ? 4 : 8
            var hex = ""
            for _ in 0..<width {
                guard let h = peek, h.properties.isASCIIHexDigit else { throw error("invalid \\\(c) escape") }
                hex.unicodeScalars.append(h)
                advance()
            }
            guard let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else { throw error("invalid unicode escape \\\(c)\(hex)") }
            return scalar
        default:
            throw error("invalid escape sequence '\\\(c)'")
        }
    }

    mutating func literalString() throws -> String {
        advance()
        var result = ""
        while true {
            guard let c = peek, c != "\n" else { throw error("unterminated string") }
            advance()
            if c == "'" { return result }
            result.unicodeScalars.append(c)
        }
    }

    mutating func multilineLiteralString() throws -> String {
        index += 3
        if peek == "\n" { advance() } else if peek == "\r" && peek(1) == "\n" { advance(); advance() }
        var result = ""
        while true {
            guard let c = peek else { throw error("unterminated multi-line string") }
            if c == "'" && peek(1) == "'" && peek(2) == "'" {
                index += 3
                while peek == "'" { result.append("'"); advance() }
                return result
            }
            advance()
            result.unicodeScalars.append(c)
        }
    }
}
