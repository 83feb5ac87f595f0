/// The step of a job's grid: a unit and a positive multiplier, written like `"1h"`, `"30m"`,
/// `"1mo"` or just `"h"`.
///
/// Units: `s` second, `m` minute, `h` hour (fixed-length steps), `d` day, `w` ISO week,
/// `mo` calendar month, `b` business day (calendar steps, cut in the job's time zone).
/// Unit letters are case-insensitive except a lone capital `M`, which is rejected because
/// other tools read it as "month" and this one as "minute".
public struct Frequency: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Unit: String, Sendable, Hashable, Codable, CaseIterable {
        case second = "s"
        case minute = "m"
        case hour = "h"
        case day = "d"
        case week = "w"
        case month = "mo"
        case businessDay = "b"
    }

    public let unit: Unit
    public let multiplier: Int

    /// The largest multiplier accepted; far beyond any useful grid, small enough that
    /// step arithmetic in seconds can never overflow.
    public static let maximumMultiplier = 1_000_000

    /// A frequency from code; the multiplier must be in 1...maximumMultiplier (use
    /// `init(parsing:)` for text that comes from a user).
    public init(_ unit: Unit, multiplier: Int = 1) {
        precondition(multiplier >= 1 && multiplier <= Frequency.maximumMultiplier,
                     "frequency multiplier \(multiplier) out of range")
        self.unit = unit
        self.multiplier = multiplier
    }

    /// Parses `"15m"`, `" 1h "`, `"mo"`, `"2w"`; throws an error that names the input.
    public init(parsing text: String) throws(FrequencyError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix(while: { $0.isASCII && $0.isNumber })
        let unitText = trimmed.dropFirst(digits.count)
        guard !unitText.isEmpty else {
            throw FrequencyError(input: text, reason: "expected a unit: s, m, h, d, w, mo or b (e.g. \"1h\")")
        }
        if unitText == "M" {
            throw FrequencyError(input: text, reason: "\"M\" is ambiguous: write \"m\" for minutes or \"mo\" for months")
        }
        guard let unit = Unit(rawValue: unitText.lowercased()) else {
            throw FrequencyError(input: text, reason: "unknown unit \"\(unitText)\": use s, m, h, d, w, mo or b")
        }
        let multiplier: Int
        if digits.isEmpty {
            multiplier = 1
        } else if let value = Int(digits), value >= 1, value <= Frequency.maximumMultiplier {
            multiplier = value
        } else {
            throw FrequencyError(input: text, reason: "the multiplier must be between 1 and \(Frequency.maximumMultiplier)")
        }
        self.unit = unit
        self.multiplier = multiplier
    }

    public var description: String { "\(multiplier)\(unit.rawValue)" }

    /// Length of one step in seconds for `s`, `m` and `h`; `nil` for calendar units, whose
    /// steps vary (DST days, months, weekends).
    public var fixedStepSeconds: Int? {
        switch unit {
        case .second: return multiplier
        case .minute: return multiplier * 60
        case .hour: return multiplier * 3600
        case .day, .week, .month, .businessDay: return nil
        }
    }

    /// True for units cut at local midnight in the job's time zone.
    public var isCalendar: Bool { fixedStepSeconds == nil }

    /// True when a step is shorter than a day, so the time of day varies along the grid.
    public var isSubDaily: Bool {
        guard let seconds = fixedStepSeconds else { return false }
        return seconds < 86_400
    }

    /// The season length (in steps) used by the seasonal-naive baseline and MASE when the job
    /// does not set `season`.
    ///
    /// The rule: take the natural cycles of the unit, longest first, and use the first one that
    /// a whole number of steps brings back to the same phase, with 2...288 steps per season:
    /// - `s`, `m`, `h`: the day, then the hour, then the minute. The lag is the smallest number
    ///   of steps spanning a whole number of cycles (cycle / gcd(cycle, step)), so `1h` → 24,
    ///   `30m` → 48, `15m` → 96, `5m` → 288, `1m` → 60 (a day would be 1,440 steps),
    ///   `1s` → 60, `5h` → 24 (five days, same hour of day). Whole days (`24h`, `48h`) follow
    ///   the rule of `d`.
    /// - `d`: the week (`1d` → 7, `2d` → 7); multiples of 7 days behave as weeks.
    /// - `w`: 52 weeks to a year (`1w` → 52, `2w` → 26, `4w` → 13).
    /// - `mo`: 12 months (`1mo` → 12, `3mo` → 4).
    /// - `b`: the 5-day trading week (`1b` → 5).
    /// When no cycle fits (e.g. `12mo`, `5b`), the season is 1: the baseline is plain naive.
    public var defaultSeasonLength: Int {
        let maximumSeason = 288
        func lag(cycle: Int, step: Int) -> Int? {
            let steps = cycle / gcd(cycle, step)
            return (2...maximumSeason).contains(steps) ? steps : nil
        }
        switch unit {
        case .second, .minute, .hour:
            let step = fixedStepSeconds!
            if step % 86_400 == 0 {
                return Frequency(.day, multiplier: step / 86_400).defaultSeasonLength
            }
            for cycle in [86_400, 3_600, 60] {
                if let steps = lag(cycle: cycle, step: step) { return steps }
            }
            return 1
        case .day:
            if let steps = lag(cycle: 7, step: multiplier) { return steps }
            return lag(cycle: 52, step: multiplier / 7) ?? 1
        case .week:
            return lag(cycle: 52, step: multiplier) ?? 1
        case .month:
            return lag(cycle: 12, step: multiplier) ?? 1
        case .businessDay:
            return lag(cycle: 5, step: multiplier) ?? 1
        }
    }
}

extension Frequency {
    /// Encoded as its text, e.g. `"15m"`, and validated when decoded.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(parsing: text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

public struct FrequencyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let input: String
    public let reason: String
    public var description: String { "invalid frequency \"\(input)\": \(reason)" }
}

@inline(__always)
func gcd(_ a: Int, _ b: Int) -> Int {
    var (x, y) = (abs(a), abs(b))
    while y != 0 { (x, y) = (y, x % y) }
    return x
}

/// Floor division: rounds towards minus infinity, so negative instants (before 1970) land in
/// the right bucket.
@inline(__always)
func floorDiv(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

@inline(__always)
func floorMod(_ a: Int, _ b: Int) -> Int {
    a - floorDiv(a, b) * b
}
