import ArgumentParser
import ForecastConfig
import ForecastJobs
import ForecastStore
import Foundation

/// `forecastd maintain`: one pass of the history upkeep the daemon runs every hour
/// (`HistoryMaintenance`): partitions ahead, partitions and rows past the retention dropped,
/// weights of old versions dropped. For deployments without the daemon, and for replays.
struct Maintain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the forecast history's partitions ahead and drop what is past the retention, now.",
        discussion: "The daemon does this every hour. With --as-of, retention counts back from that time (a replay of history).")
    @OptionGroup var options: ConfigOptions
    @OptionGroup var asOf: AsOfOption

    func run() async throws {
        let context = try await JobContext.open(options)
        let maintenance = HistoryMaintenance(configuration: context.configuration)
        let report = try await maintenance.run(now: try asOf.date ?? Date(), on: context.connection)
        print("partitions created: \(report.created.count), dropped: \(report.dropped.count)"
              + (report.dropped.isEmpty ? "" : " (\(report.dropped.joined(separator: ", ")))"))
        print("rows pruned: \(report.pruned.runs) runs, \(report.pruned.workQueue) work units, \(report.pruned.trainingHistory) training history, \(report.pruned.latestOrigins) latest origins; weights dropped: \(report.weightsDropped) models")
        if maintenance.partitionRetention == nil {
            print("forecast history is kept in full: a job (or [daemon]) has no retention")
        }
    }
}
