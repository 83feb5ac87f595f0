import Foundation

/// A job's grid: the frequency and the time zone in which calendar buckets are cut.
///
/// Buckets are numbered by integers, so "n steps later" is plain addition:
/// - `s`, `m`, `h`: fixed-length steps anchored at the Unix epoch in UTC. Hours are absolute
///   instants, so a DST switch neither creates nor removes an hourly bucket; with a zone whose
///   offset is not a whole number of steps (e.g. `+05:30` and `1h`), buckets start at the
///   half hour local time.
/// - `d`, `w`, `mo`, `b`: buckets start at local midnight in the grid's time zone, so a day
///   around a DST switch lasts 23 or 25 hours. Weeks start on Monday (ISO 8601). Multiples
///   (`2d`, `3mo`) are counted from 1970-01-01 (days), the ISO week of 1970-01-01 (weeks) and
///   January 1970 (months), so `3mo` buckets are calendar quarters.
/// - `b`: Monday to Friday only; Friday → Monday is one step. An instant on a Saturday or
///   Sunday belongs to no bucket (`index(of:)` is `nil`) and the series builder drops such
///   rows and counts them, because a business-day series (trading data) has no weekend
///   observations and folding them into Monday would distort Monday.
public struct TimeGrid: Sendable, Hashable {
    public let frequency: Frequency
    public let timeZone: TimeZone

    public init(frequency: Frequency, timeZone: TimeZone = .utcZone) {
        self.frequency = frequency
        self.timeZone = timeZone
    }

    /// A grid from a job's settings text, e.g. `("1h", "America/New_York")`.
    public init(frequency: String, timeZone identifier: String = "UTC") throws(GridError) {
        let parsed: Frequency
        do { parsed = try Frequency(parsing: frequency) } catch { throw .invalidFrequency(error) }
        guard let zone = TimeZone(identifier: identifier) else { throw .unknownTimeZone(identifier) }
        self.init(frequency: parsed, timeZone: zone)
    }

    /// The bucket that contains `date`, or `nil` when it falls outside the grid (a weekend for
    /// business days, or an instant beyond ±100,000 years).
    public func index(of date: Date) -> Int? {
        var clock = LocalClock(timeZone: timeZone)
        return index(ofUnixSeconds: date.timeIntervalSince1970, clock: &clock)
    }

    /// The first instant of bucket `index`.
    public func start(ofBucket index: Int) -> Date {
        var clock = LocalClock(timeZone: timeZone)
        return Date(timeIntervalSince1970: startUnixSeconds(ofBucket: index, clock: &clock))
    }

    /// The first instant of the bucket that contains `date`, or `nil` outside the grid.
    public func bucketStart(containing date: Date) -> Date? {
        index(of: date).map(start(ofBucket:))
    }

    /// The start of the bucket `steps` after (or before, when negative) the one containing `date`.
    public func date(_ steps: Int, stepsAfter date: Date) -> Date? {
        index(of: date).map { start(ofBucket: $0 + steps) }
    }

    /// The buckets that lie entirely within [start, end): what a read of that time range
    /// fills completely. A bucket cut by either end is left out, so that a partly read step
    /// (the current hour, say) never looks like a drop in a `sum`. `nil` when none fits.
    public func completeBuckets(from start: Date, until end: Date) -> ClosedRange<Int>? {
        guard start < end else { return nil }
        var clock = LocalClock(timeZone: timeZone)
        let from = start.timeIntervalSince1970, until = end.timeIntervalSince1970
        guard var first = bucket(near: from, forward: true, clock: &clock),
              var last = bucket(near: until, forward: false, clock: &clock) else { return nil }
        if startUnixSeconds(ofBucket: first, clock: &clock) < from { first += 1 }
        while last >= first, endUnixSeconds(ofBucket: last, clock: &clock) > until { last -= 1 }
        return first <= last ? first...last : nil
    }

    /// The bucket holding `t`, or for an instant off a business-day grid, the first bucket
    /// after it (`forward`) or the last one before it.
    private func bucket(near t: Double, forward: Bool, clock: inout LocalClock) -> Int? {
        if let bucket = index(ofUnixSeconds: t, clock: &clock) { return bucket }
        guard frequency.unit == .businessDay, t.isFinite, abs(t) < TimeGrid.instantLimit else { return nil }
        var day = clock.localDay(ofUnixSeconds: t)
        while CivilDate.businessDay(ofDay: day) == nil { day += forward ? 1 : -1 }
        return floorDiv(CivilDate.businessDay(ofDay: day)!, frequency.multiplier)
    }

    /// Where bucket `index` ends: the next bucket's start, except that a business-day bucket
    /// ends at midnight after its last weekday, not on Monday.
    func endUnixSeconds(ofBucket index: Int, clock: inout LocalClock) -> Double {
        guard frequency.unit == .businessDay else { return startUnixSeconds(ofBucket: index + 1, clock: &clock) }
        let lastDay = CivilDate.day(ofBusinessDay: (index + 1) * frequency.multiplier - 1)
        return clock.unixSecondsOfLocalMidnight(day: lastDay + 1)
    }

    // MARK: - Internals shared with the series builder and the calendar features

    /// Instants beyond this many seconds from 1970 are rejected (about ±100,000 years) so
    /// that integer bucket arithmetic can never overflow.
    static let instantLimit: Double = 3.2e12

    @inline(__always)
    func index(ofUnixSeconds t: Double, clock: inout LocalClock) -> Int? {
        guard t.isFinite, abs(t) < TimeGrid.instantLimit else { return nil }
        let k = frequency.multiplier
        if let step = frequency.fixedStepSeconds {
            return Int((t / Double(step)).rounded(.down))
        }
        let day = clock.localDay(ofUnixSeconds: t)
        switch frequency.unit {
        case .day:
            return floorDiv(day, k)
        case .week:
            return floorDiv(CivilDate.isoWeek(ofDay: day), k)
        case .month:
            return floorDiv(CivilDate(day: day).monthsSince1970, k)
        case .businessDay:
            guard let businessDay = CivilDate.businessDay(ofDay: day) else { return nil }
            return floorDiv(businessDay, k)
        case .second, .minute, .hour:
            fatalError("unreachable: fixed-length units are handled above")
        }
    }

    /// The local day number (days since 1970-01-01 in the grid's zone) on which a calendar
    /// bucket begins.
    func firstLocalDay(ofBucket index: Int) -> Int {
        let k = frequency.multiplier
        switch frequency.unit {
        case .day:
            return index * k
        case .week:
            return CivilDate.firstDay(ofISOWeek: index * k)
        case .month:
            return CivilDate(monthsSince1970: index * k).day
        case .businessDay:
            return CivilDate.day(ofBusinessDay: index * k)
        case .second, .minute, .hour:
            preconditionFailure("fixed-length buckets have no calendar day")
        }
    }

    func startUnixSeconds(ofBucket index: Int, clock: inout LocalClock) -> Double {
        if let step = frequency.fixedStepSeconds {
            return Double(index) * Double(step)
        }
        return clock.unixSecondsOfLocalMidnight(day: firstLocalDay(ofBucket: index))
    }
}

public enum GridError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidFrequency(FrequencyError)
    case unknownTimeZone(String)

    public var description: String {
        switch self {
        case .invalidFrequency(let error): return error.description
        case .unknownTimeZone(let name): return "unknown time zone \"\(name)\" (expected an IANA name such as \"UTC\" or \"America/New_York\")"
        }
    }
}

extension TimeZone {
    /// UTC, the default zone of a job.
    public static let utcZone = TimeZone(identifier: "UTC")!

    /// The zone's IANA name as users write it: "UTC" for UTC, which Foundation calls "GMT".
    public var name: String { self == .utcZone ? "UTC" : identifier }
}

/// UTC offsets of one time zone, memoised per UTC hour: asking Foundation for every row of
/// a large read costs microseconds each, while offsets change only a few times a year.
/// An hour whose offset differs between its start and its end holds a transition and is
/// answered exactly, row by row.
struct LocalClock {
    let timeZone: TimeZone
    private var lastHour = Int.min
    private var lastOffset = 0
    private var lastHourIsUniform = false
    private var offsetsByHour: [Int: Int] = [:]
    private static let transitionHour = Int.min

    init(timeZone: TimeZone) {
        self.timeZone = timeZone
    }

    @inline(__always)
    mutating func offset(atUnixSeconds t: Double) -> Int {
        let hour = Int((t / 3600).rounded(.down))
        if hour != lastHour {
            lastHour = hour
            if let known = offsetsByHour[hour] {
                lastHourIsUniform = known != LocalClock.transitionHour
                lastOffset = known
            } else {
                let start = Double(hour) * 3600
                let atStart = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: start))
                let atEnd = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: start + 3600))
                lastHourIsUniform = atStart == atEnd
                lastOffset = atStart
                offsetsByHour[hour] = lastHourIsUniform ? atStart : LocalClock.transitionHour
            }
        }
        if lastHourIsUniform { return lastOffset }
        return timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: t))
    }

    /// Days since 1970-01-01 of the local calendar date at `t`.
    @inline(__always)
    mutating func localDay(ofUnixSeconds t: Double) -> Int {
        Int(((t + Double(offset(atUnixSeconds: t))) / 86_400).rounded(.down))
    }

    /// Seconds since local midnight at `t` (fractional seconds kept).
    mutating func localSecondOfDay(ofUnixSeconds t: Double) -> Double {
        let local = t + Double(offset(atUnixSeconds: t))
        return local - (local / 86_400).rounded(.down) * 86_400
    }

    /// The first instant of local day `day`: local midnight, or the end of the DST gap on the
    /// rare days where midnight itself is skipped.
    mutating func unixSecondsOfLocalMidnight(day: Int) -> Double {
        let local = Double(day) * 86_400
        let guess = local - Double(offset(atUnixSeconds: local - Double(offset(atUnixSeconds: local))))
        if localDay(ofUnixSeconds: guess) == day, localDay(ofUnixSeconds: guess - 1) < day {
            return guess
        }
        // Midnight is skipped or repeated here: find the first second whose local date is `day`.
        var low = local - 2 * 86_400   // certainly on an earlier local day (offsets are < 26 h)
        var high = local + 2 * 86_400  // certainly on this day or a later one
        while high - low > 1 {
            let middle = ((low + high) / 2).rounded(.down)
            if localDay(ofUnixSeconds: middle) >= day { high = middle } else { low = middle }
        }
        return high
    }
}

/// Proleptic Gregorian dates as day numbers since 1970-01-01 (H. Hinnant's algorithms), so
/// bucketing millions of rows needs no Calendar calls.
struct CivilDate: Equatable {
    var year: Int
    var month: Int  // 1...12
    var dayOfMonth: Int  // 1...31

    init(year: Int, month: Int, dayOfMonth: Int) {
        self.year = year
        self.month = month
        self.dayOfMonth = dayOfMonth
    }

    init(day: Int) {
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        dayOfMonth = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    init(monthsSince1970 months: Int) {
        self.init(year: 1970 + floorDiv(months, 12), month: floorMod(months, 12) + 1, dayOfMonth: 1)
    }

    var day: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + dayOfMonth - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    var monthsSince1970: Int { (year - 1970) * 12 + month - 1 }

    static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    /// 0 = Monday ... 6 = Sunday (1970-01-01 was a Thursday).
    @inline(__always)
    static func weekday(ofDay day: Int) -> Int { floorMod(day + 3, 7) }

    /// Weeks since the ISO week that contains 1970-01-01 (it began Monday 1969-12-29).
    @inline(__always)
    static func isoWeek(ofDay day: Int) -> Int { floorDiv(day + 3, 7) }

    static func firstDay(ofISOWeek week: Int) -> Int { week * 7 - 3 }

    /// Monday-to-Friday days counted from the week of 1970-01-01; `nil` on weekends.
    @inline(__always)
    static func businessDay(ofDay day: Int) -> Int? {
        let weekday = weekday(ofDay: day)
        guard weekday < 5 else { return nil }
        return isoWeek(ofDay: day) * 5 + weekday
    }

    static func day(ofBusinessDay businessDay: Int) -> Int {
        firstDay(ofISOWeek: floorDiv(businessDay, 5)) + floorMod(businessDay, 5)
    }
}
