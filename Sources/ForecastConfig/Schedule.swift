import Foundation

/// When a job's training or prediction comes due: a fixed interval after the last run
/// (`"24h"`), or the times a cron expression names in the job's time zone (`"0 3 * * *"`).
public enum Schedule: Sendable, Equatable, CustomStringConvertible {
    case every(Seconds)
    case cron(CronExpression, TimeZone)

    /// A cron expression when the text starts with `@` or has three fields or more (so that a
    /// cron expression with a field missing is told so), else a duration.
    public static func parse(_ text: String, timeZone: TimeZone) throws -> Schedule {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("@") || trimmed.split(whereSeparator: \.isWhitespace).count >= 3 {
            return .cron(try CronExpression(trimmed), timeZone)
        }
        do {
            return .every(try DurationText.parse(trimmed))
        } catch let error as DurationText.ParseError {
            throw DurationText.ParseError(description: error.description + ", or a cron expression such as \"0 3 * * *\"")
        }
    }

    /// The first time the work is due after `date`.
    public func next(after date: Date) -> Date {
        switch self {
        case .every(let seconds): date.addingTimeInterval(Double(seconds))
        case .cron(let expression, let zone): expression.next(after: date, in: zone)
        }
    }

    public var description: String {
        switch self {
        case .every(let seconds): "every \(DurationText.format(seconds))"
        case .cron(let expression, let zone): "cron \"\(expression.text)\" in \(zone.name)"
        }
    }

    /// The schedule and, for a cron expression, its next time after `date` in local time, so
    /// that `check-config` shows what an expression means.
    public func explained(after date: Date) -> String {
        guard case .cron(let expression, let zone) = self else { return description }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "EEE yyyy-MM-dd HH:mm xxx"
        return "\(description), next \(formatter.string(from: expression.next(after: date, in: zone)))"
    }
}

/// A standard five-field cron expression (minute, hour, day of month, month, day of week)
/// with `*`, lists, ranges, steps, month and weekday names and the `@hourly`-style shorthands.
/// As in Vixie cron, when both day fields are restricted a day matches either of them. A
/// local time that a DST change skips fires at the first instant after the gap; one that
/// occurs twice fires once.
public struct CronExpression: Sendable, Equatable {
    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    public let text: String
    let minutes: [Int], hours: [Int], days: Set<Int>, months: Set<Int>, weekdays: Set<Int>
    let daysRestricted: Bool, weekdaysRestricted: Bool

    static let shorthands = ["@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                             "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"]
    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let weekdayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public init(_ text: String) throws {
        self.text = text
        let expanded = Self.shorthands[text.lowercased()] ?? text
        if expanded.hasPrefix("@") {
            throw ParseError(description: "\"\(text)\" is not a cron shorthand; use @hourly, @daily, @weekly, @monthly or @yearly")
        }
        let fields = expanded.split(whereSeparator: \.isWhitespace).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(description: "\"\(text)\" has \(fields.count) fields; a cron expression has 5: minute hour day-of-month month day-of-week")
        }
        minutes = try Self.field(fields[0], name: "minute", range: 0...59).sorted()
        hours = try Self.field(fields[1], name: "hour", range: 0...23).sorted()
        days = Set(try Self.field(fields[2], name: "day of month", range: 1...31))
        months = Set(try Self.field(fields[3], name: "month", range: 1...12, names: Self.monthNames, firstName: 1))
        // 7 is Sunday too.
        weekdays = Set(try Self.field(fields[4], name: "day of week", range: 0...7, names: Self.weekdayNames, firstName: 0).map { $0 % 7 })
        daysRestricted = !fields[2].hasPrefix("*")
        weekdaysRestricted = !fields[4].hasPrefix("*")
        guard Self.someDayExists(days: days, months: months) || weekdaysRestricted else {
            throw ParseError(description: "\"\(text)\" names no day that exists (day \(days.sorted()) of month \(months.sorted()))")
        }
    }

    /// Values of one field: `*`, `5`, `1-5`, `*/15`, `10-40/10`, `mon-fri`, and lists of these.
    static func field(_ text: String, name: String, range: ClosedRange<Int>, names: [String] = [], firstName: Int = 0) throws -> [Int] {
        func value(_ s: Substring) throws -> Int {
            if let n = Int(s), range.contains(n) { return n }
            if let index = names.firstIndex(of: s.lowercased()) { return index + firstName }
            throw ParseError(description: "\"\(s)\" is not valid in the \(name) field (\(range.lowerBound)–\(range.upperBound)\(names.isEmpty ? "" : " or a name such as \(names[0])"))")
        }
        var values = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, let spanText = pieces.first, !spanText.isEmpty else {
                throw ParseError(description: "\"\(part)\" is not a list item of the \(name) field (e.g. *, 5, 1-5, */15)")
            }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s > 0 else { throw ParseError(description: "\"\(pieces[1])\" is not a step (a whole number above 0) in the \(name) field") }
                step = s
            }
            let span: ClosedRange<Int>
            if spanText == "*" {
                span = range
            } else if let dash = spanText.firstIndex(of: "-") {
                let low = try value(spanText[..<dash]), high = try value(spanText[spanText.index(after: dash)...])
                guard low <= high else { throw ParseError(description: "\"\(spanText)\" is an empty \(name) range") }
                span = low...high
            } else {
                let start = try value(spanText)
                // "5/15" means from 5 to the end of the range, every 15 (as in Vixie cron).
                span = pieces.count == 2 ? start...range.upperBound : start...start
            }
            values.formUnion(stride(from: span.lowerBound, through: span.upperBound, by: step))
        }
        return Array(values)
    }

    /// Whether some (day, month) pair is a real date in some year (Feb 29 counts).
    static func someDayExists(days: Set<Int>, months: Set<Int>) -> Bool {
        let lengths = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return months.contains { month in days.contains { $0 <= lengths[month - 1] } }
    }

    func matches(day: Int, month: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        switch (daysRestricted, weekdaysRestricted) {
        case (true, true): return days.contains(day) || weekdays.contains(weekday)
        case (true, false): return days.contains(day)
        case (false, true): return weekdays.contains(weekday)
        case (false, false): return true
        }
    }

    /// The first time after `date` whose local minute, hour, day, month and weekday in `zone` match.
    public func next(after date: Date, in zone: TimeZone) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        var day = calendar.startOfDay(for: date)
        // A valid expression fires within 8 years: its rarest day is 29 February (with a weekday
        // restricted too, either field matches), and leap days are at most 8 years apart.
        for _ in 0..<(366 * 8 + 2) {
            let fields = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            if matches(day: fields.day!, month: fields.month!, weekday: fields.weekday! - 1) {
                for hour in hours {
                    for minute in minutes {
                        let local = DateComponents(year: fields.year, month: fields.month, day: fields.day, hour: hour, minute: minute)
                        // A skipped local time resolves to the first instant after the DST gap.
                        guard let candidate = calendar.date(from: local) else { continue }
                        if candidate > date { return candidate }
                    }
                }
            }
            guard let following = calendar.date(byAdding: .day, value: 1, to: day) else { break }
            day = calendar.startOfDay(for: following)
        }
        return .distantFuture
    }
}
