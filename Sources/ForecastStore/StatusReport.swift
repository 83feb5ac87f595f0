/// What `forecastd status` shows, read from the tables and never written: per configured job,
/// the last run of each kind (status, age, duration, series failed), the next scheduled times,
/// and the active models with their backtest accuracy; and how that reads as a terminal table.
import ForecastConfig
import Foundation
import PostgresClient

public struct JobStatus: Sendable, Equatable {
    public struct LastRun: Sendable, Equatable {
        public var status: RunStatus
        public var startedAt: Date
        public var finishedAt: Date?
        public var seriesTotal: Int
        public var seriesFailed: Int
        public var error: String?
    }

    public var job: String
    public var lastRuns: [RunKind: LastRun] = [:]
    /// nil until a daemon has scheduled the job.
    public var nextTrainAt: Date?
    public var nextPredictAt: Date?
    /// Active models by cell (`lstm`, ..., `seasonal_naive` for fallbacks).
    public var activeCells: [String: Int] = [:]
    /// Medians over the active models' backtest metrics; nil when none was scored.
    public var medianMASE: Double?
    public var medianSkill: Double?
    /// Active models whose backtest skill is above 0 (better than seasonal naive), of those with a skill.
    public var beatingBaseline = 0
    public var withSkill = 0

    public var activeModels: Int { activeCells.values.reduce(0, +) }
}

public struct StatusReport: Sendable {
    public var schema: String
    public var jobs: [JobStatus]

    /// The status of `jobs` (the configured ones, in their order), including those never run.
    public static func load(jobs names: [String], schema: String, on connection: PostgresConnection) async throws -> StatusReport {
        let tables = StoreNames(schema: schema)
        let jobs = try await connection.withConnection { db -> [JobStatus] in
            var jobs = Dictionary(uniqueKeysWithValues: names.map { ($0, JobStatus(job: $0)) })
            // Job names cannot contain commas (configuration checks), so one text parameter carries the list.
            let list = names.joined(separator: ",")
            for row in try db.query("""
                SELECT DISTINCT ON (job, kind) job, kind, status, started_at, finished_at, series_total, series_failed, error
                FROM \(tables.runs) WHERE job = ANY (string_to_array($1, ','))
                ORDER BY job, kind, started_at DESC, run_id DESC
                """, list) {
                guard let kind = RunKind(rawValue: try row.decode(1)), let status = RunStatus(rawValue: try row.decode(2)) else { continue }
                jobs[try row.decode(0, as: String.self)]?.lastRuns[kind] = JobStatus.LastRun(
                    status: status, startedAt: try row.decode(3), finishedAt: try row.decode(4),
                    seriesTotal: try row.decode(5), seriesFailed: try row.decode(6), error: try row.decode(7))
            }
            for row in try db.query("SELECT job, next_train_at, next_predict_at FROM \(tables.jobSchedule) WHERE job = ANY (string_to_array($1, ','))", list) {
                let job = try row.decode(0, as: String.self)
                jobs[job]?.nextTrainAt = try row.decode(1)
                jobs[job]?.nextPredictAt = try row.decode(2)
            }
            for row in try db.query("""
                SELECT job, cell, count(*) FROM \(tables.models)
                WHERE status = 'active' AND job = ANY (string_to_array($1, ',')) GROUP BY job, cell
                """, list) {
                jobs[try row.decode(0, as: String.self)]?.activeCells[try row.decode(1)] = try row.decode(2)
            }
            // NaN and infinite scores (a degenerate series) would make a median meaningless.
            for row in try db.query("""
                SELECT m.job,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY x.value) FILTER (WHERE x.metric = 'mase'),
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY x.value) FILTER (WHERE x.metric = 'skill'),
                       count(*) FILTER (WHERE x.metric = 'skill' AND x.value > 0),
                       count(*) FILTER (WHERE x.metric = 'skill')
                FROM \(tables.models) m JOIN \(tables.modelMetrics) x ON x.model_id = m.model_id
                WHERE m.status = 'active' AND m.job = ANY (string_to_array($1, ',')) AND x.split = 'backtest'
                  AND x.metric IN ('mase', 'skill') AND x.value <> 'NaN'::float8 AND abs(x.value) <> 'Infinity'::float8
                GROUP BY m.job
                """, list) {
                let job = try row.decode(0, as: String.self)
                jobs[job]?.medianMASE = try row.decode(1)
                jobs[job]?.medianSkill = try row.decode(2)
                jobs[job]?.beatingBaseline = try row.decode(3)
                jobs[job]?.withSkill = try row.decode(4)
            }
            return names.compactMap { jobs[$0] }
        }
        return StatusReport(schema: schema, jobs: jobs)
    }

    // MARK: the table

    /// Two aligned tables (runs and schedule; active models) and the errors of the last runs
    /// that failed. `colour`: ANSI colours for statuses, for a terminal only.
    public func render(now: Date, colour: Bool = false) -> String {
        var runs = TextTable(headers: ["JOB", "RUN", "STATUS", "STARTED", "TOOK", "SERIES", "NEXT"], rightAligned: [4])
        var models = TextTable(headers: ["JOB", "ACTIVE", "CELLS", "MASE (median)", "SKILL (median)", "BEAT BASELINE"], rightAligned: [1, 3, 4])
        var errors: [String] = []
        for job in jobs {
            for (index, kind) in [RunKind.train, .predict].enumerated() {
                let next = kind == .train ? job.nextTrainAt : job.nextPredictAt
                let name = index == 0 ? job.job : ""
                guard let run = job.lastRuns[kind] else {
                    runs.add([name, kind.rawValue, "no runs yet", "-", "-", "-", Self.next(next, now: now)])
                    continue
                }
                let took = run.finishedAt.map { Self.span($0.timeIntervalSince(run.startedAt)) }
                    ?? Self.span(now.timeIntervalSince(run.startedAt)) + " so far"
                let series = run.seriesTotal == 0 ? "-"
                    : run.seriesFailed == 0 ? "\(run.seriesTotal) ok" : "\(run.seriesTotal - run.seriesFailed) ok, \(run.seriesFailed) failed"
                runs.add([name, kind.rawValue, run.status.rawValue, Self.span(now.timeIntervalSince(run.startedAt)) + " ago", took, series,
                          Self.next(next, now: now)],
                         colour: colour ? [2: Self.colour(for: run.status)] : [:])
                if let error = run.error, run.status == .failed || run.status == .partial {
                    let first = error.split(separator: "\n").first.map(String.init) ?? error
                    errors.append("  \(job.job) \(kind.rawValue): \(first.count > 110 ? first.prefix(107) + "..." : first)")
                }
            }
            let cells = job.activeCells.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
                .map { "\($0.value) \($0.key == "seasonal_naive" ? "naive" : $0.key)" }.joined(separator: ", ")
            models.add([job.job, "\(job.activeModels)", cells.isEmpty ? "-" : cells,
                        job.medianMASE.map { String(format: "%.3f", $0) } ?? "-",
                        job.medianSkill.map { String(format: "%+.3f", $0) } ?? "-",
                        job.withSkill == 0 ? "-" : "\(job.beatingBaseline) of \(job.withSkill)"])
        }
        var text = "forecastd status: \(jobs.count) job(s) in schema \"\(schema)\", as of \(Self.timestamp(now))\n\n"
        text += runs.render() + "\n" + models.render()
        if !errors.isEmpty { text += "\nLast errors:\n" + errors.joined(separator: "\n") + "\n" }
        return text
    }

    static func next(_ date: Date?, now: Date) -> String {
        guard let date else { return "not scheduled yet" }
        let ahead = date.timeIntervalSince(now)
        if ahead > 0 { return "in " + span(ahead) }
        return ahead > -60 ? "due" : "overdue " + span(-ahead)
    }

    /// 0.4s, 12s, 2m 05s, 3h 07m, 2d 04h: two units at most, wide enough to compare at a glance.
    static func span(_ seconds: Double) -> String {
        let s = max(0, seconds)
        if s < 10 { return String(format: "%.1fs", s) }
        let whole = Int(s.rounded(.down))
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return String(format: "%dm %02ds", whole / 60, whole % 60) }
        if whole < 86_400 { return String(format: "%dh %02dm", whole / 3600, whole % 3600 / 60) }
        return String(format: "%dd %02dh", whole / 86_400, whole % 86_400 / 3600)
    }

    static func timestamp(_ date: Date) -> String { DateFormatter.utc("yyyy-MM-dd HH:mm:ss 'UTC'").string(from: date) }

    static func colour(for status: RunStatus) -> String {
        switch status {
        case .succeeded: return "32"
        case .partial: return "33"
        case .failed: return "31"
        case .running: return "36"
        }
    }
}

/// Columns padded to their widest cell, two spaces apart; colours wrap a cell's text without
/// counting in its width.
struct TextTable {
    let headers: [String]
    let rightAligned: Set<Int>
    private var rows: [(cells: [String], colour: [Int: String])] = []

    init(headers: [String], rightAligned: Set<Int> = []) {
        self.headers = headers
        self.rightAligned = rightAligned
    }

    mutating func add(_ cells: [String], colour: [Int: String] = [:]) {
        rows.append((cells, colour))
    }

    func render() -> String {
        let all = [headers] + rows.map(\.cells)
        let widths = headers.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String], _ colour: [Int: String]) -> String {
            cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                let text = colour[column].map { "\u{1B}[\($0)m\(cell)\u{1B}[0m" } ?? cell
                return rightAligned.contains(column) ? padding + text : text + padding
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        }
        return line(headers, [:]) + rows.map { line($0.cells, $0.colour) }.joined()
    }
}
