import ArgumentParser
import ForecastReport
import Foundation

/// `forecastd report JOB --output FILE.html`: one self-contained HTML page per job with each
/// series' history, latest forecast and interval, model, accuracy beside the baseline, and
/// training curves (see `ForecastReport`).
struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an HTML report of a job: history, latest forecast, model, accuracy and training curves per series.")
    @OptionGroup var options: ConfigOptions
    @Argument(help: "The job's name.") var job: String
    @Option(name: [.short, .long], help: "The HTML file to write.") var output: String
    @Option(help: "Report only this series.") var series: String?
    @Option(name: .customLong("max-series"), help: "At most this many series, the first by key.") var maxSeries = 20
    @Option(name: .customLong("history"), help: "Steps of history before the forecast origin (default: a few seasons and horizons).")
    var historySteps: Int?
    @OptionGroup var asOf: AsOfOption

    func validate() throws {
        guard maxSeries >= 1 else { throw ValidationError("--max-series must be at least 1") }
        if let historySteps, !(1...100_000).contains(historySteps) { throw ValidationError("--history must be between 1 and 100000 steps") }
        guard !output.isEmpty else { throw ValidationError("--output needs a file name") }
    }

    func run() async throws {
        let context = try await JobContext.open(options, opensRuns: false)
        guard let settings = context.configuration.job(named: job) else {
            _ = try context.runner(for: job)  // throws the unknown-job error, naming the jobs there are
            return
        }
        var loader = ReportLoader(job: settings, database: context.configuration.database)
        loader.maxSeries = maxSeries
        if let historySteps { loader.historySteps = historySteps }
        if let now = try asOf.date { loader.now = { now } }
        let onlySeries = series, configured = loader
        let report: JobReport
        do {
            report = try await context.connection.withConnection { db in try configured.load(onlySeries: onlySeries, on: db) }
        } catch let error as ReportError {
            throw CommandFailure(message: error.description, status: ExitStatus.badUsageOrConfiguration)
        } catch {
            throw CommandFailure(message: "job \"\(job)\": the report could not be loaded: \(error)")
        }
        let html = ReportPage.html(report)
        do {
            try Data(html.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } catch {
            throw CommandFailure(message: "job \"\(job)\": cannot write the report to \(output): \(error.localizedDescription)")
        }
        let capped = report.seriesTotal > report.series.count ? " of \(report.seriesTotal)" : ""
        print("\(job): wrote \(output) (\(report.series.count)\(capped) series, \(html.utf8.count / 1024) KiB)")
    }
}
