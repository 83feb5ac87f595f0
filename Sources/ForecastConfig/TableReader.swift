import Foundation
import TOML
/// Reads typed settings out of one TOML table and remembers which keys it consumed, so that
/// whatever is left over can be reported as an unknown key with its line.
struct TableReader {
    let table: TOMLTable
    /// Dotted path of this table in the file, e.g. `jobs[0].model`, used to name keys in errors.
    let path: String
    private(set) var consumed: Set<String> = []

    init(_ table: TOMLTable, path: String) {
        self.table = table
        self.path = path
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ message: String, line: Int? = nil) -> ConfigurationError {
        ConfigurationError(line: line ?? table[key]?.line ?? table.line, key: keyPath(key), message: message)
    }

    private mutating func node(_ key: String) -> TOMLNode? {
        consumed.insert(key)
        return table[key]
    }

    private func typeError(_ key: String, _ node: TOMLNode, expected: String) -> ConfigurationError {
        error(key, "expected \(expected), found \(node.value.typeName)")
    }

    mutating func string(_ key: String) throws -> String? {
        guard let node = node(key) else { return nil }
        guard case .string(let s) = node.value else { throw typeError(key, node, expected: "a string") }
        return s
    }

    mutating func requiredString(_ key: String) throws -> String {
        guard let s = try string(key) else { throw error(key, "is required") }
        guard !s.isEmpty else { throw error(key, "must not be empty") }
        return s
    }

    mutating func integer(_ key: String, range: ClosedRange<Int>) throws -> Int? {
        guard let node = node(key) else { return nil }
        guard case .integer(let v) = node.value else { throw typeError(key, node, expected: "an integer") }
        guard let i = Int(exactly: v), range.contains(i) else {
            throw error(key, "must be between \(range.lowerBound) and \(range.upperBound), found \(v)")
        }
        return i
    }

    /// An integer in `range`, or `"auto"`: nil, as when the key is absent (`ensemble`).
    mutating func integerOrAuto(_ key: String, range: ClosedRange<Int>) throws -> Int? {
        guard let node = node(key) else { return nil }
        switch node.value {
        case .string("auto"): return nil
        case .integer: return try integer(key, range: range)
        case .string(let s): throw error(key, "must be an integer between \(range.lowerBound) and \(range.upperBound) or \"auto\", found \"\(s)\"")
        default: throw typeError(key, node, expected: "an integer or \"auto\"")
        }
    }

    mutating func requiredInteger(_ key: String, range: ClosedRange<Int>) throws -> Int {
        guard let i = try integer(key, range: range) else { throw error(key, "is required") }
        return i
    }

    /// A float; integers are accepted too, since `learning_rate = 1` means 1.0 to anyone.
    mutating func double(_ key: String, range: ClosedRange<Double>) throws -> Double? {
        guard let node = node(key) else { return nil }
        let v: Double
        switch node.value {
        case .float(let f): v = f
        case .integer(let i): v = Double(i)
        default: throw typeError(key, node, expected: "a number")
        }
        guard v.isFinite, range.contains(v) else {
            throw error(key, "must be between \(range.lowerBound) and \(range.upperBound), found \(v)")
        }
        return v
    }

    mutating func doubles(_ key: String, range: ClosedRange<Double>) throws -> [Double]? {
        guard let node = node(key) else { return nil }
        guard case .array(let items) = node.value else { throw typeError(key, node, expected: "an array of numbers") }
        return try items.map { item in
            let v: Double
            switch item.value {
            case .float(let f): v = f
            case .integer(let i): v = Double(i)
            default: throw error(key, "expected numbers in the array, found \(item.value.typeName)", line: item.line)
            }
            guard v.isFinite, range.contains(v) else {
                throw error(key, "every value must be between \(range.lowerBound) and \(range.upperBound), found \(v)", line: item.line)
            }
            return v
        }
    }

    /// An array of strings, e.g. `past_covariates = ["temperature", "humidity"]`.
    mutating func strings(_ key: String) throws -> [String]? {
        guard let node = node(key) else { return nil }
        guard case .array(let items) = node.value else { throw typeError(key, node, expected: "an array of strings") }
        return try items.map { item in
            guard case .string(let s) = item.value else {
                throw error(key, "expected strings in the array, found \(item.value.typeName)", line: item.line)
            }
            return s
        }
    }

    mutating func boolean(_ key: String) throws -> Bool? {
        guard let node = node(key) else { return nil }
        guard case .boolean(let b) = node.value else { throw typeError(key, node, expected: "true or false") }
        return b
    }

    /// `true`, `false` or `"auto"` (`statistical_challengers`).
    mutating func challengers(_ key: String) throws -> StatisticalChallengers? {
        guard let node = node(key) else { return nil }
        switch node.value {
        case .boolean(let b): return b ? .always : .never
        case .string("auto"): return .auto
        case .string(let s): throw error(key, "must be true, false or \"auto\", found \"\(s)\"")
        default: throw typeError(key, node, expected: "true, false or \"auto\"")
        }
    }

    /// One of a fixed set of words, e.g. `cell = "lstm"`.
    mutating func choice<T: RawRepresentable>(_ key: String, _ type: T.Type) throws -> T? where T.RawValue == String, T: CaseIterable {
        guard let s = try string(key) else { return nil }
        guard let v = T(rawValue: s) else {
            let options = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw error(key, "must be one of \(options), found \"\(s)\"")
        }
        return v
    }

    mutating func duration(_ key: String) throws -> Seconds? {
        guard let s = try string(key) else { return nil }
        do {
            return try DurationText.parse(s)
        } catch let message as DurationText.ParseError {
            throw error(key, message.description)
        }
    }

    /// A retention: a duration of at least a day, or "" for none (keep everything).
    mutating func retention(_ key: String) throws -> Seconds?? {
        guard let s = try string(key) else { return nil }
        if s.isEmpty { return .some(nil) }
        guard let seconds = try duration(key) else { return nil }
        guard seconds >= 86_400 else {
            throw error(key, "must be at least a day (history is dropped by the day), or \"\" to keep everything; found \"\(s)\"")
        }
        return .some(seconds)
    }

    mutating func schedule(_ key: String, timeZone: TimeZone) throws -> Schedule? {
        guard let s = try string(key) else { return nil }
        do {
            return try Schedule.parse(s, timeZone: timeZone)
        } catch let message as DurationText.ParseError {
            throw error(key, message.description)
        } catch let message as CronExpression.ParseError {
            throw error(key, message.description)
        }
    }

    mutating func subtable(_ key: String) throws -> TableReader? {
        guard let node = node(key) else { return nil }
        guard case .table(let t) = node.value else { throw typeError(key, node, expected: "a table ([\(keyPath(key))])") }
        return TableReader(t, path: keyPath(key))
    }

    mutating func tableArray(_ key: String) throws -> [TableReader] {
        guard let node = node(key) else { return [] }
        guard case .array(let items) = node.value else { throw typeError(key, node, expected: "an array of tables ([[\(keyPath(key))]])") }
        return try items.enumerated().map { i, item in
            guard case .table(let t) = item.value else {
                throw error(key, "expected tables ([[\(keyPath(key))]]), found \(item.value.typeName)", line: item.line)
            }
            return TableReader(t, path: "\(keyPath(key))[\(i)]")
        }
    }

    /// Fails on the first key that no setting asked for.
    func rejectUnknownKeys() throws {
        for key in table.keys where !consumed.contains(key) {
            throw error(key, "unknown key")
        }
    }
}
