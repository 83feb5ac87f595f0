import Forecasting
import Foundation

/// How old a job's data is against the clock of a run: when the newest observation is more
/// than one horizon before it, runs say so (the CLI, the run's note, the log), with the dates
/// the forecasts are for, which may then lie in the past.
public struct DataAge: Sendable {
    public let grid: TimeGrid
    public let horizon: Int
    /// How notes name the run's clock: "now", or the time a replay acts at ("--as-of 2016-01-01 00:00").
    public let clockName: String

    public init(plan: JobPlan, clockName: String = "now") {
        grid = plan.grid
        horizon = plan.job.horizon
        self.clockName = clockName
    }

    /// The clock's name for a run that acts as if it were `asOf` (`--as-of`).
    public static func clockName(asOf: Date) -> String { "--as-of \(format(asOf)) UTC" }

    /// Whether data whose newest observation is at `newest` is older than one horizon at `now`.
    public func isStale(newest: Date, now: Date) -> Bool {
        guard let last = grid.index(of: newest), let current = grid.index(of: now) else { return false }
        return current - last > horizon
    }

    /// "data ends 2023-12-31 23:00 UTC, 2 years 11 months before now; forecasts are for
    /// 2024-01-01 00:00 … 2024-01-01 23:00"; nil when the data is recent.
    public func note(newest: Date, now: Date, targets: ClosedRange<Date>?) -> String? {
        guard isStale(newest: newest, now: now) else { return nil }
        var text = "data ends \(Self.format(newest)) UTC, \(Self.span(from: newest, to: now)) before \(clockName)"
        if let targets { text += "; forecasts are for \(Self.format(targets.lowerBound)) … \(Self.format(targets.upperBound))" }
        return text
    }

    /// For a job whose other series are recent: "series \"s2\": data ends 2023-12-31 23:00 UTC,
    /// 2 years before now; it is forecast from its end", naming up to three series and the
    /// oldest end; nil when no series in `ends` (each series' newest observation) is stale.
    public func note(seriesEnds ends: [String: Date], now: Date) -> String? {
        let stale = ends.filter { isStale(newest: $0.value, now: now) }.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
        guard let oldest = stale.first?.value else { return nil }
        let names = stale.prefix(3).map { "\"\($0.key)\"" }.joined(separator: ", ") + (stale.count > 3 ? " and \(stale.count - 3) more" : "")
        let when = "\(Self.format(oldest)) UTC, \(Self.span(from: oldest, to: now)) before \(clockName)"
        return stale.count == 1
            ? "series \(names): data ends \(when); it is forecast from its end"
            : "\(stale.count) series stopped more than a horizon ago (\(names)), the oldest ends \(when); each is forecast from its own end"
    }

    static func format(_ date: Date) -> String { DateFormatter.utc("yyyy-MM-dd HH:mm").string(from: date) }

    /// "2 years 11 months", "3 days 4 hours", "5 hours": the two largest units.
    static func span(from start: Date, to end: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: start, to: end)
        let units: [(Int?, String)] = [(parts.year, "year"), (parts.month, "month"), (parts.day, "day"), (parts.hour, "hour"), (parts.minute, "minute")]
        let named = units.compactMap { value, unit -> String? in
            guard let value, value > 0 else { return nil }
            return "\(value) \(unit)\(value == 1 ? "" : "s")"
        }
        return named.prefix(2).joined(separator: " ").nonEmpty ?? "0 minutes"
    }
}

private extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
