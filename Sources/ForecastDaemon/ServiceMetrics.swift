/// forecastd's own counters and histograms, kept in the process and fed where runs and units
/// finish: what `/metrics` reports besides the gauges the daemon reads at scrape time
/// (database up, seconds since the last success). Thread-safe: workers, the scheduler and the
/// HTTP thread touch it at once. Labels are job, kind and status only, never a series.
import ForecastStore
import Foundation

public final class ServiceMetrics: RunObserver, @unchecked Sendable {
    /// The daemon's registry by default: the runs and units of its workers count here.
    public static let shared = ServiceMetrics()

    /// Upper bounds (seconds) for run and unit durations: a predict unit takes well under a
    /// second, a training run of many series can take an hour.
    public static let durationBuckets: [Double] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]

    struct Work: Hashable, Comparable {
        var job: String
        var kind: RunKind
        static func < (a: Work, b: Work) -> Bool { (a.job, a.kind.rawValue) < (b.job, b.kind.rawValue) }
        var labels: [(String, String)] { [("job", job), ("kind", kind.rawValue)] }
    }

    struct RunOutcome: Hashable, Comparable {
        var work: Work
        var status: RunStatus
        static func < (a: RunOutcome, b: RunOutcome) -> Bool {
            a.work != b.work ? a.work < b.work : a.status.rawValue < b.status.rawValue
        }
    }

    private let lock = NSLock()
    private var runs: [RunOutcome: Double] = [:]
    private var runDurations: [Work: Histogram] = [:]
    private var units: [Work: Double] = [:]
    private var unitFailures: [Work: Double] = [:]
    private var unitDurations: [Work: Histogram] = [:]
    private var rowsWritten: [Work: Double] = [:]
    private var unitsInProgress = 0

    public init() {}

    /// The kinds of work the daemon runs (backtests are a command, not scheduled work).
    static let scheduledKinds: [RunKind] = [.train, .predict]

    /// Puts every configured job's series at zero, so `rate()` and alerts see a job from the
    /// start rather than from its first event.
    public func prepare(jobs: [String]) {
        lock.withLock {
            for job in jobs {
                for kind in Self.scheduledKinds {
                    let work = Work(job: job, kind: kind)
                    for status in RunStatus.allCases where status != .running {
                        runs[RunOutcome(work: work, status: status), default: 0] += 0
                    }
                    units[work, default: 0] += 0
                    unitFailures[work, default: 0] += 0
                    rowsWritten[work, default: 0] += 0
                    if runDurations[work] == nil { runDurations[work] = Histogram(upperBounds: Self.durationBuckets) }
                    if unitDurations[work] == nil { unitDurations[work] = Histogram(upperBounds: Self.durationBuckets) }
                }
            }
        }
    }

    /// A run closed by this process, `seconds` after it started.
    public func runFinished(job: String, kind: RunKind, status: RunStatus, seconds: Double) {
        let work = Work(job: job, kind: kind)
        lock.withLock {
            runs[RunOutcome(work: work, status: status), default: 0] += 1
            runDurations[work, default: Histogram(upperBounds: Self.durationBuckets)].observe(seconds)
        }
    }

    public func unitStarted() { lock.withLock { unitsInProgress += 1 } }

    /// A unit of work this process finished and committed, with the forecast rows it wrote.
    public func unitSucceeded(job: String, kind: RunKind, seconds: Double, rowsWritten rows: Int64) {
        let work = Work(job: job, kind: kind)
        lock.withLock {
            unitsInProgress -= 1
            units[work, default: 0] += 1
            rowsWritten[work, default: 0] += Double(rows)
            unitDurations[work, default: Histogram(upperBounds: Self.durationBuckets)].observe(seconds)
        }
    }

    /// A unit attempt that failed (it may be retried) or was abandoned at shutdown (`failed: false`).
    public func unitEnded(job: String, kind: RunKind, seconds: Double, failed: Bool) {
        let work = Work(job: job, kind: kind)
        lock.withLock {
            unitsInProgress -= 1
            guard failed else { return }
            unitFailures[work, default: 0] += 1
            unitDurations[work, default: Histogram(upperBounds: Self.durationBuckets)].observe(seconds)
        }
    }

    public func families() -> [MetricFamily] {
        lock.withLock {
            func counter(_ name: String, _ help: String, _ values: [Work: Double]) -> MetricFamily {
                MetricFamily(name: name, help: help, type: .counter,
                             samples: values.sorted { $0.key < $1.key }.map { MetricSample(name, $0.key.labels, $0.value) })
            }
            func histogram(_ name: String, _ help: String, _ values: [Work: Histogram]) -> MetricFamily {
                MetricFamily(name: name, help: help, type: .histogram,
                             samples: values.sorted { $0.key < $1.key }.flatMap { $0.value.samples(name: name, labels: $0.key.labels) })
            }
            return [
                MetricFamily(name: "forecastd_build_info", help: "forecastd's version and build; the value is always 1.", type: .gauge,
                             samples: [MetricSample("forecastd_build_info", [("version", ForecastdVersion.version), ("build", ForecastdVersion.build)], 1)]),
                MetricFamily(name: "forecastd_runs_total", help: "Runs this process closed, by job, kind and final status.", type: .counter,
                             samples: runs.sorted { $0.key < $1.key }.map {
                                 MetricSample("forecastd_runs_total", $0.key.work.labels + [("status", $0.key.status.rawValue)], $0.value)
                             }),
                histogram("forecastd_run_duration_seconds", "Wall time of the runs this process closed, from start to finish.", runDurations),
                counter("forecastd_units_total", "Units of work (a series, a global model, a job's predictions) this process completed: trained (kind=\"train\") or predicted (kind=\"predict\").", units),
                counter("forecastd_unit_failures_total", "Unit attempts that failed in this process (a failed unit may be retried).", unitFailures),
                histogram("forecastd_unit_duration_seconds", "Wall time of the unit attempts this process completed or failed.", unitDurations),
                counter("forecastd_rows_written_total", "Forecast rows this process wrote to the predictions table.", rowsWritten),
                MetricFamily(name: "forecastd_units_in_progress", help: "Units of work this process is working on now.", type: .gauge,
                             samples: [MetricSample("forecastd_units_in_progress", [], Double(unitsInProgress))]),
            ]
        }
    }
}
