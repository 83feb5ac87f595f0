import ForecastStore
import Foundation

/// What `forecastd report` shows of a job: plain values filled from the database by
/// `ReportLoader` and turned into a page by `ReportPage`, so the page can be tested without one.
public struct JobReport: Sendable {
    public var job: String
    public var frequency: String
    public var horizon: Int
    /// The job's time zone: axis labels and times in the text are local to it.
    public var timeZone: TimeZone
    public var generatedAt: Date
    /// The series on the page, in key order.
    public var series: [SeriesReport]
    /// How many series the job has in all; more than `series.count` when the page is capped.
    public var seriesTotal: Int
    /// Steps of history each chart reaches back from the forecast origin.
    public var historySteps: Int
    /// What the values are: the source's value column, for the charts' y axis.
    public var valueLabel: String

    public init(job: String, frequency: String, horizon: Int, timeZone: TimeZone, generatedAt: Date,
                series: [SeriesReport], seriesTotal: Int? = nil, historySteps: Int, valueLabel: String = "value") {
        self.job = job
        self.frequency = frequency
        self.horizon = horizon
        self.timeZone = timeZone
        self.generatedAt = generatedAt
        self.series = series
        self.seriesTotal = seriesTotal ?? series.count
        self.historySteps = historySteps
        self.valueLabel = valueLabel
    }
}

/// One step of recent history on the job's grid; `value` is nil where nothing was observed.
public struct HistoryPoint: Sendable, Equatable {
    public var time: Date
    public var value: Double?

    public init(time: Date, value: Double?) {
        self.time = time
        self.value = value
    }
}

/// One step of the latest forecast (a row of `latest_forecasts`).
public struct ForecastPoint: Sendable, Equatable {
    public var target: Date
    public var median: Double
    public var lower: Double?
    public var upper: Double?

    public init(target: Date, median: Double, lower: Double? = nil, upper: Double? = nil) {
        self.target = target
        self.median = median
        self.lower = lower
        self.upper = upper
    }
}

/// A training curve and whose it is: the active model's, or the rejected network a fallback replaced.
public struct TrainingCurve: Sendable {
    public var caption: String
    public var epochs: [TrainingHistoryRow]

    public init(caption: String, epochs: [TrainingHistoryRow]) {
        self.caption = caption
        self.epochs = epochs
    }
}

/// Everything the page shows of one series.
public struct SeriesReport: Sendable {
    public var key: String
    public var history: [HistoryPoint]
    public var forecast: [ForecastPoint]
    /// The forecast origin (the last observed step when the forecast was made).
    public var issuedAt: Date?
    /// E.g. 0.8 for the 0.1–0.9 interval.
    public var confidenceLevel: Double?
    /// The published model (the series' own or the job's global one); nil before any training.
    public var model: StoredModel?
    /// `model_metrics` of the model by split (`backtest`, `validation`), metric name → value.
    public var metrics: [MetricSplit: [String: Double]]
    public var training: TrainingCurve?

    public init(key: String, history: [HistoryPoint] = [], forecast: [ForecastPoint] = [], issuedAt: Date? = nil,
                confidenceLevel: Double? = nil, model: StoredModel? = nil, metrics: [MetricSplit: [String: Double]] = [:],
                training: TrainingCurve? = nil) {
        self.key = key
        self.history = history
        self.forecast = forecast
        self.issuedAt = issuedAt
        self.confidenceLevel = confidenceLevel
        self.model = model
        self.metrics = metrics
        self.training = training
    }
}
