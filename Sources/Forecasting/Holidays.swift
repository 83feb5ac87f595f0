/// A job's holidays (`holidays = "SELECT day, name FROM public.holidays"`): the local dates its
/// query returns, turned into three future-known covariates of every step, known for the past
/// and the horizon alike: the step holds a holiday, the day before one, the day after one (1 or
/// 0; a step longer than a day holds any of its days). A table of dates, not a bundled
/// calendar: users know their own holidays. Knows nothing of databases; `SourceReader` reads the
/// dates and `SeriesBuilder` lays the features on each series' steps (`SeriesSettings.holidays`).
public struct HolidayCalendar: Sendable, Hashable {
    /// Local calendar dates, as days since 1970-01-01.
    public var days: Set<Int>

    public init(days: Set<Int>) { self.days = days }

    /// The covariate names the features go by, after the job's future-known columns; in
    /// parentheses, so they never meet a column of the source.
    public static let featureNames = ["(holiday)", "(day before a holiday)", "(day after a holiday)"]

    /// Days since 1970-01-01 of an ISO date, `2026-12-25`; nil when it is not one.
    public static func day(parsing text: String) -> Int? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        return CivilDate(year: year, month: month, dayOfMonth: day).day
    }

    /// The three features of a step whose local days are `days`.
    func features(ofDays days: ClosedRange<Int>) -> (holiday: Double, before: Double, after: Double) {
        let holiday = days.contains { self.days.contains($0) }
        let before = days.contains { self.days.contains($0 + 1) }
        let after = days.contains { self.days.contains($0 - 1) }
        return (holiday ? 1 : 0, before ? 1 : 0, after ? 1 : 0)
    }

    /// The features of `length` steps of `grid` from bucket `first`, one column per feature.
    func columns(grid: TimeGrid, first: Int, length: Int) -> [[Double]] {
        var clock = LocalClock(timeZone: grid.timeZone)
        var columns = [[Double]](repeating: [], count: 3)
        for k in 0..<3 { columns[k].reserveCapacity(length) }
        for bucket in first..<(first + length) {
            let start = grid.startUnixSeconds(ofBucket: bucket, clock: &clock)
            let end = grid.endUnixSeconds(ofBucket: bucket, clock: &clock) - 0.001
            let first = clock.localDay(ofUnixSeconds: start)
            let f = features(ofDays: first...Swift.max(first, clock.localDay(ofUnixSeconds: end)))
            columns[0].append(f.holiday)
            columns[1].append(f.before)
            columns[2].append(f.after)
        }
        return columns
    }
}
