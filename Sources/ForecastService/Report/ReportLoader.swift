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

/// Fills a `JobReport` from forecastd's tables and the job's source: which series, their
/// published models with metrics and training curves, the latest forecasts, and the recent
/// history on the job's grid, read through the job's `SourceReader` like training reads it.
public struct ReportLoader: Sendable {
    public let plan: JobPlan
    let names: StoreNames
    let models: ModelStore
    /// At most this many series (the first by key) go on one page.
    public var maxSeries = 20
    /// Steps of history before the forecast origin; by default a few seasons and horizons.
    public var historySteps: Int
    public var now: @Sendable () -> Date = { Date() }

    public init(job: JobSettings, database: DatabaseSettings) throws {
        plan = try JobPlan(job)
        names = StoreNames(schema: database.schema)
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
            keys = try knownSeries(on: db)
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
                report.metrics = try metrics(modelID: model.modelID, on: db)
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
        return JobReport(job: job.name, frequency: job.frequency, horizon: job.horizon, timeZone: plan.grid.timeZone,
                         generatedAt: now, series: reports, seriesTotal: total, historySteps: historySteps,
                         valueLabel: job.source.valueColumn)
    }

    /// Every series the job has trained or forecast, by key.
    func knownSeries(on db: isolated PostgresConnection) throws -> [String] {
        try db.query("""
            SELECT series FROM \(names.models) WHERE job = $1 AND series IS NOT NULL
            UNION SELECT series FROM \(names.predictions) WHERE job = $1
            ORDER BY 1
            """, job.name).map { try $0.decode(0, as: String.self) }
    }

    func metrics(modelID: Int64, on db: isolated PostgresConnection) throws -> [MetricSplit: [String: Double]] {
        var metrics: [MetricSplit: [String: Double]] = [:]
        for row in try db.query("SELECT split, metric, value FROM \(names.modelMetrics) WHERE model_id = $1", modelID) {
            guard let split = MetricSplit(rawValue: try row.decode(0, as: String.self)),
                  let value = try row.decode(2, as: Double?.self) else { continue }
            metrics[split, default: [:]][try row.decode(1, as: String.self)] = value
        }
        return metrics
    }

    func history(modelID: Int64, on db: isolated PostgresConnection) throws -> [TrainingHistoryRow] {
        try db.query("""
            SELECT epoch, train_loss, validation_loss, grad_norm, learning_rate, seconds
            FROM \(names.trainingHistory) WHERE model_id = $1 ORDER BY epoch
            """, modelID).map {
            TrainingHistoryRow(modelID: modelID, epoch: try $0.decode(0), trainLoss: try $0.decode(1), validationLoss: try $0.decode(2),
                               gradNorm: try $0.decode(3), learningRate: try $0.decode(4), seconds: try $0.decode(5))
        }
    }

    /// The published network's curve; for a fallback, the curve of the network it replaced.
    func trainingCurve(of model: StoredModel, on db: isolated PostgresConnection) throws -> TrainingCurve? {
        if model.cell == .seasonalNaive {
            return try rejectedCurve(series: model.series, after: model, on: db)
        }
        let epochs = try history(modelID: model.modelID, on: db)
        return epochs.isEmpty ? nil : TrainingCurve(caption: "\(model.cell.rawValue) version \(model.version), the published model", epochs: epochs)
    }

    /// The newest rejected network of the series (nil: the global model) that is not older than
    /// `after`, so a fallback shows why the network lost. A fallback and the network it replaced
    /// are stored in one transaction, so they share `trained_at`.
    func rejectedCurve(series: String?, after: StoredModel?, on db: isolated PostgresConnection) throws -> TrainingCurve? {
        guard let rejected = try db.query("""
            SELECT model_id, version, cell, reason FROM \(names.models)
            WHERE job = $1 AND series IS NOT DISTINCT FROM $2 AND status = 'rejected' AND cell <> 'seasonal_naive'
              AND trained_at >= $3
            ORDER BY version DESC LIMIT 1
            """, job.name, series, after?.trainedAt ?? Date.distantPast).first else { return nil }
        let id = try rejected.decode(0, as: Int64.self)
        let epochs = try history(modelID: id, on: db)
        guard !epochs.isEmpty else { return nil }
        let reason = try rejected.decode(3, as: String?.self).map { ": \($0)" } ?? ""
        return TrainingCurve(caption: "\(try rejected.decode(2, as: String.self)) version \(try rejected.decode(1, as: Int.self)), rejected\(reason)",
                             epochs: epochs)
    }

    func loadForecast(into report: inout SeriesReport, on db: isolated PostgresConnection) throws {
        let rows = try db.query("""
            SELECT issued_at, target_ts, forecast_value, lower_bound, upper_bound, confidence_level
            FROM \(names.latestForecasts) WHERE job = $1 AND series = $2 ORDER BY target_ts
            """, job.name, report.key)
        report.forecast = try rows.map {
            ForecastPoint(target: try $0.decode(1), median: try $0.decode(2), lower: try $0.decode(3), upper: try $0.decode(4))
        }
        report.issuedAt = try rows.first?.decode(0, as: Date.self)
        report.confidenceLevel = try rows.first?.decode(5, as: Double?.self)
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
            if wanted.contains(point.series) { builder.add(key: point.series, time: point.time, value: point.value) }
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
