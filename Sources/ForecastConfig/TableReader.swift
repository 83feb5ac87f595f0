import Foundation
import TOML
/// Reads typed settings out of one TOML table and remembers which keys it consumed, so that
/// whatever is left over can be reported as an unknown key with its line.
///
/// A setting that is present but wrong is reported to `problems`, which the readers of one file
/// share, and read as absent, so that the rest of the file is still checked and a user fixes
/// every mistake in one pass; `Configuration.parse` throws them all at the end. Only what a
/// table cannot be read without (a job's name, frequency, horizon, its source's columns) is
/// thrown at once, and ends the reading of that table.
struct TableReader {
    let table: TOMLTable
    /// Dotted path of this table in the file, e.g. `jobs[0].model`, used to name keys in errors.
    let path: String
    private(set) var consumed: Set<String> = []
    let problems: Problems

    /// The problems found in one file, in the order they were met.
    final class Problems {
        private(set) var found: [ConfigurationError] = []
        func add(_ problem: ConfigurationError) { found.append(problem) }

        /// All of them as one error, in the file's order, or nil.
        var combined: ConfigurationError? {
            let ordered = found.enumerated().sorted { ($0.element.line ?? 0, $0.offset) < ($1.element.line ?? 0, $1.offset) }.map(\.element)
            guard var first = ordered.first else { return nil }
            first.more = Array(ordered.dropFirst())
            return first
        }
    }

    init(_ table: TOMLTable, path: String, problems: Problems = Problems()) {
        self.table = table
        self.path = path
        self.problems = problems
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ message: String, line: Int? = nil) -> ConfigurationError {
        ConfigurationError(line: line ?? table[key]?.line ?? table.line, key: keyPath(key), message: message)
    }

    /// Reports a problem and reads on.
    func report(_ problem: ConfigurationError) { problems.add(problem) }

    /// Reports a problem and returns nil, the value of a setting that is absent.
    func reporting<T>(_ problem: ConfigurationError) -> T? {
        problems.add(problem)
        return nil
    }

    /// Reports a problem with `key` and reads on.
    func report(_ key: String, _ message: String, line: Int? = nil) {
        problems.add(error(key, message, line: line))
    }

    private mutating func node(_ key: String) -> TOMLNode? {
        consumed.insert(key)
        return table[key]
    }

    private func typeError(_ key: String, _ node: TOMLNode, expected: String) -> ConfigurationError {
        error(key, "expected \(expected), found \(node.value.typeName)")
    }

    mutating func string(_ key: String) -> String? {
        guard let node = node(key) else { return nil }
        guard case .string(let s) = node.value else { return reporting(typeError(key, node, expected: "a string")) }
        return s
    }

    mutating func requiredString(_ key: String) throws(ConfigurationError) -> String {
        guard let node = node(key) else { throw error(key, "is required") }
        guard case .string(let s) = node.value else { throw typeError(key, node, expected: "a string") }
        guard !s.isEmpty else { throw error(key, "must not be empty") }
        return s
    }

    mutating func integer(_ key: String, range: ClosedRange<Int>) -> Int? {
        guard table[key] != nil else { return nil }
        do { return try requiredInteger(key, range: range) } catch { return reporting(error) }
    }

    /// An integer in `range`, or `"auto"`: nil, as when the key is absent (`ensemble`).
    mutating func integerOrAuto(_ key: String, range: ClosedRange<Int>) -> Int? {
        guard let node = node(key) else { return nil }
        switch node.value {
        case .string("auto"): return nil
        case .integer: return integer(key, range: range)
        case .string(let s): return reporting(error(key, "must be an integer between \(range.lowerBound) and \(range.upperBound) or \"auto\", found \"\(s)\""))
        default: return reporting(typeError(key, node, expected: "an integer or \"auto\""))
        }
    }

    mutating func requiredInteger(_ key: String, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let node = node(key) else { throw error(key, "is required") }
        guard case .integer(let v) = node.value else { throw typeError(key, node, expected: "an integer") }
        guard let i = Int(exactly: v), range.contains(i) else {
            throw error(key, "must be between \(range.lowerBound) and \(range.upperBound), found \(v)")
        }
        return i
    }

    /// A float; integers are accepted too, since `learning_rate = 1` means 1.0 to anyone.
    mutating func double(_ key: String, range: ClosedRange<Double>) -> Double? {
        guard let node = node(key) else { return nil }
        let v: Double
        switch node.value {
        case .float(let f): v = f
        case .integer(let i): v = Double(i)
        default: return reporting(typeError(key, node, expected: "a number"))
        }
        guard v.isFinite, range.contains(v) else {
            return reporting(error(key, "must be between \(range.lowerBound) and \(range.upperBound), found \(v)"))
        }
        return v
    }

    mutating func doubles(_ key: String, range: ClosedRange<Double>) -> [Double]? {
        guard let node = node(key) else { return nil }
        guard case .array(let items) = node.value else { return reporting(typeError(key, node, expected: "an array of numbers")) }
        var values: [Double] = []
        for item in items {
            let v: Double
            switch item.value {
            case .float(let f): v = f
            case .integer(let i): v = Double(i)
            default: return reporting(error(key, "expected numbers in the array, found \(item.value.typeName)", line: item.line))
            }
            guard v.isFinite, range.contains(v) else {
                return reporting(error(key, "every value must be between \(range.lowerBound) and \(range.upperBound), found \(v)", line: item.line))
            }
            values.append(v)
        }
        return values
    }

    /// An array of strings, e.g. `past_covariates = ["temperature", "humidity"]`.
    mutating func strings(_ key: String) -> [String]? {
        guard let node = node(key) else { return nil }
        guard case .array(let items) = node.value else { return reporting(typeError(key, node, expected: "an array of strings")) }
        var values: [String] = []
        for item in items {
            guard case .string(let s) = item.value else {
                return reporting(error(key, "expected strings in the array, found \(item.value.typeName)", line: item.line))
            }
            values.append(s)
        }
        return values
    }

    mutating func boolean(_ key: String) -> Bool? {
        guard let node = node(key) else { return nil }
        guard case .boolean(let b) = node.value else { return reporting(typeError(key, node, expected: "true or false")) }
        return b
    }

    /// `true`, `false` or `"auto"` (`statistical_challengers`).
    mutating func challengers(_ key: String) -> StatisticalChallengers? {
        guard let node = node(key) else { return nil }
        switch node.value {
        case .boolean(let b): return b ? .always : .never
        case .string("auto"): return .auto
        case .string(let s): return reporting(error(key, "must be true, false or \"auto\", found \"\(s)\""))
        default: return reporting(typeError(key, node, expected: "true, false or \"auto\""))
        }
    }

    /// One of a fixed set of words, e.g. `cell = "lstm"`.
    mutating func choice<T: RawRepresentable>(_ key: String, _ type: T.Type) -> T? where T.RawValue == String, T: CaseIterable {
        guard let s = string(key) else { return nil }
        guard let v = T(rawValue: s) else {
            let options = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            return reporting(error(key, "must be one of \(options), found \"\(s)\""))
        }
        return v
    }

    mutating func duration(_ key: String) -> Seconds? {
        guard let s = string(key) else { return nil }
        do {
            return try DurationText.parse(s)
        } catch let message as DurationText.ParseError {
            return reporting(error(key, message.description))
        } catch {
            return reporting(self.error(key, "\(error)"))
        }
    }

    /// A retention: a duration of at least a day, or "" for none (keep everything).
    mutating func retention(_ key: String) -> Seconds?? {
        guard let s = string(key) else { return nil }
        if s.isEmpty { return .some(nil) }
        guard let seconds = duration(key) else { return nil }
        guard seconds >= 86_400 else {
            return reporting(error(key, "must be at least a day (history is dropped by the day), or \"\" to keep everything; found \"\(s)\""))
        }
        return .some(seconds)
    }

    mutating func schedule(_ key: String, timeZone: TimeZone) -> Schedule? {
        guard let s = string(key) else { return nil }
        do {
            return try Schedule.parse(s, timeZone: timeZone)
        } catch let message as DurationText.ParseError {
            return reporting(error(key, message.description))
        } catch let message as CronExpression.ParseError {
            return reporting(error(key, message.description))
        } catch {
            return reporting(self.error(key, "\(error)"))
        }
    }

    mutating func subtable(_ key: String) -> TableReader? {
        guard let node = node(key) else { return nil }
        guard case .table(let t) = node.value else { return reporting(typeError(key, node, expected: "a table ([\(keyPath(key))])")) }
        return TableReader(t, path: keyPath(key), problems: problems)
    }

    /// The tables of an array of tables; an item that is not a table is reported and left out.
    mutating func tableArray(_ key: String) -> [TableReader] {
        guard let node = node(key) else { return [] }
        guard case .array(let items) = node.value else { return reporting(typeError(key, node, expected: "an array of tables ([[\(keyPath(key))]])")) ?? [] }
        return items.enumerated().compactMap { i, item in
            guard case .table(let t) = item.value else {
                return reporting(error(key, "expected tables ([[\(keyPath(key))]]), found \(item.value.typeName)", line: item.line))
            }
            return TableReader(t, path: "\(keyPath(key))[\(i)]", problems: problems)
        }
    }

    /// Reports every key that no setting asked for.
    func reportUnknownKeys() {
        for key in table.keys where !consumed.contains(key) {
            report(key, "unknown key")
        }
    }
}
