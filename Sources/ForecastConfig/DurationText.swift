import Foundation

/// A whole number of seconds.
public typealias Seconds = Int

/// Durations written as text in the configuration: `"90s"`, `"15m"`, `"24h"`, `"365d"`, `"2w"`,
/// and sums such as `"1h30m"`.
public enum DurationText {
    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    static let unitSeconds: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]

    public static func parse(_ text: String) throws -> Seconds {
        let bad = ParseError(description: "\"\(text)\" is not a duration; write e.g. \"30s\", \"15m\", \"24h\", \"365d\", \"2w\" or \"1h30m\"")
        var total = 0
        var digits = ""
        var sawUnit = false
        for ch in text {
            if ch.isASCII && ch.isNumber {
                digits.append(ch)
            } else if let unit = unitSeconds[ch], let n = Int(digits) {
                let (product, overflow1) = n.multipliedReportingOverflow(by: unit)
                let (sum, overflow2) = total.addingReportingOverflow(product)
                guard !overflow1, !overflow2 else { throw bad }
                total = sum
                digits = ""
                sawUnit = true
            } else {
                throw bad
            }
        }
        guard digits.isEmpty, sawUnit, total > 0 else { throw bad }
        return total
    }

    /// The shortest text that parses back to `seconds`.
    public static func format(_ seconds: Seconds) -> String {
        var rest = seconds
        var text = ""
        for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text.isEmpty ? "0s" : text
    }
}

extension DateFormatter {
    /// A formatter of instants as UTC text in `format` (POSIX locale, so the text never
    /// depends on the machine's settings): what notes, reports and partition names print.
    public static func utc(_ format: String) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = format
        return formatter
    }
}
