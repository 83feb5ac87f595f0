import ForecastConfig
import ForecastStore
import Forecasting
import Foundation
import PostgresClient

public enum ReportError: Error, Sendable, CustomStringConvertible {
    /// `--series KEY` names a series the job has no model, forecast or recent rows for.
    case unknownSeries(job: String, series: String)

    public var description: String {
        switch self {
        case .unknownSeries(let job, let series):
            return "job \"\(job)\" has no series \"\(series)\": no model, no forecast and no source rows in the report's time range"
        }
    }
}

/// Fills a `JobReport` from forecastd's tables (`ReportStore`, `ModelStore`) and the job's source: which series, their
/// published models with metrics and training curves, the latest forecasts, and the recent
/// history on the job's grid, read through the job's `SourceReader` like training reads it.
public struct ReportLoader: Sendable {
    public let plan: JobPlan
    let store: ReportStore
    let models: ModelStore
    /// At most this many series (the first by key) go on one page.
    public var maxSeries = 20
    /// Steps of history before the forecast origin; by default a few seasons and horizons.
    public var historySteps: Int
    public var now: @Sendable () -> Date = { Date() }

    public init(job: JobSettings, database: DatabaseSettings) {
        plan = JobPlan(job)
        store = ReportStore(database)
        models = ModelStore(database)
        historySteps = min(max(3 * plan.season, 4 * job.horizon, 24), 2000)
    }

    var job: JobSettings { plan.job }

    /// The report of every series (up to `maxSeries`), or of `onlySeries`.
    public func load(onlySeries: String? = nil, on db: isolated PostgresConnection) throws -> JobReport {
        let now = now()
        let active = try models.activeModels(job: job.name, includeWeights: false, on: db)
        var keys: [String]
        let total: Int
        if let onlySeries {
            keys = [onlySeries]
            total = 1
        } else {
            keys = try store.knownSeries(job: job.name, on: db)
            if keys.isEmpty {
                keys = try SourceReader(job: job).seriesKeys(from: plan.trainingStart(end: now), to: now, on: db)
            }
            total = keys.count
            keys = Array(keys.prefix(maxSeries))
        }
        let global = active.first { $0.series == nil }
        var reports: [SeriesReport] = []
        for key in keys {
            var report = SeriesReport(key: key)
            report.model = active.first { $0.series == key } ?? global
            if let model = report.model {
                report.metrics = try store.metrics(modelID: model.modelID, on: db)
                report.training = try trainingCurve(of: model, on: db)
            } else {
                report.training = try rejectedCurve(series: key, after: nil, on: db)
            }
            try loadForecast(into: &report, on: db)
            reports.append(report)
        }
        try loadHistory(into: &reports, now: now, on: db)
        if let onlySeries, let report = reports.first, report.model == nil, report.forecast.isEmpty,
           !report.history.contains(where: { $0.value != nil }) {
            throw ReportError.unknownSeries(job: job.name, series: onlySeries)
        }
        return JobReport(job: job.name, frequency: job.frequency.description, horizon: job.horizon, timeZone: plan.grid.timeZone,
                         generatedAt: now, series: reports, seriesTotal: total, historySteps: historySteps,
                         valueLabel: job.source.valueColumn)
    }

    /// The published network's curve; for a fallback or a statistical model, the curve of the
    /// network it replaced.
    func trainingCurve(of model: StoredModel, on db: isolated PostgresConnection) throws -> TrainingCurve? {
        if !model.cell.isNetwork {
            return try rejectedCurve(series: model.series, after: model, on: db)
        }
        let epochs = try store.history(modelID: model.modelID, on: db)
        return epochs.isEmpty ? nil : TrainingCurve(caption: "\(model.cell.rawValue) version \(model.version), the published model", epochs: epochs)
    }

    /// The newest rejected network of the series (nil: the global model) that is not older than
    /// `after`, so a fallback shows why the network lost. A fallback and the network it replaced
    /// are stored in one transaction, so they share `trained_at`.
    func rejectedCurve(series: String?, after: StoredModel?, on db: isolated PostgresConnection) throws -> TrainingCurve? {
        guard let rejected = try store.newestRejectedNetwork(job: job.name, series: series, notBefore: after?.trainedAt ?? Date.distantPast,
                                                             on: db) else { return nil }
        let epochs = try store.history(modelID: rejected.modelID, on: db)
        guard !epochs.isEmpty else { return nil }
        let reason = rejected.reason.map { ": \($0)" } ?? ""
        return TrainingCurve(caption: "\(rejected.cell) version \(rejected.version), rejected\(reason)", epochs: epochs)
    }

    func loadForecast(into report: inout SeriesReport, on db: isolated PostgresConnection) throws {
        let rows = try store.latestForecast(job: job.name, series: report.key, on: db)
        report.forecast = rows.map { ForecastPoint(target: $0.target, median: $0.value, lower: $0.lower, upper: $0.upper) }
        report.issuedAt = rows.first?.issuedAt
        report.confidenceLevel = rows.first?.confidenceLevel
    }

    /// The steps from `historySteps` before each series' forecast origin to its last target (or
    /// to now without a forecast), from one read of the source: actuals that arrived after the
    /// forecast (before `now`) show beside it.
    func loadHistory(into reports: inout [SeriesReport], now: Date, on db: isolated PostgresConnection) throws {
        let grid = plan.grid
        // On a weekend a business-day grid has no bucket for now: the Friday before is the latest.
        guard !reports.isEmpty, let nowBucket = (0...3).lazy.compactMap({ grid.index(of: now - Double($0) * 86_400) }).first else { return }
        var ranges: [String: ClosedRange<Int>] = [:]
        for report in reports {
            // Without a forecast: up to the last complete step before now (or the model's data).
            let origin = report.issuedAt.flatMap(grid.index(of:))
                ?? report.model?.dataEnd.flatMap(grid.index(of:))
                ?? nowBucket - 1
            let end = report.forecast.last.flatMap { grid.index(of: $0.target) } ?? origin
            ranges[report.key] = (origin - historySteps + 1)...max(origin, end)
        }
        let first = ranges.values.map(\.lowerBound).min()!, last = ranges.values.map(\.upperBound).max()!
        var settings = plan.seriesSettings
        settings.extent = .buckets(first...last)
        settings.minimumLength = 0
        // Only what was observed: interpolated steps would draw a line the data never had.
        settings.maxGap = 0
        var builder = SeriesBuilder(settings: settings)
        let wanted = Set(ranges.keys)
        let one = reports.count == 1 ? reports[0].key : nil
        // Nothing from after `now`: with `--as-of`, later rows have not arrived yet.
        let end = min(grid.start(ofBucket: last + 1), now)
        try SourceReader(job: job).read(from: grid.start(ofBucket: first), to: max(end, grid.start(ofBucket: first)), series: one, on: db) { point in
            if wanted.contains(point.series) { builder.add(key: point.series, time: point.time, value: point.value, covariates: point.covariates) }
        }
        var built: [String: RegularSeries] = [:]
        for outcome in builder.finish() { built[outcome.key] = outcome.series }
        for index in reports.indices {
            guard let series = built[reports[index].key], let range = ranges[reports[index].key] else { continue }
            reports[index].history = range.compactMap { bucket in
                let step = bucket - series.firstBucket
                guard step >= 0, step < series.count else { return nil }
                return HistoryPoint(time: grid.start(ofBucket: bucket), value: series.states[step] == .observed ? series.values[step] : nil)
            }
        }
    }
}
