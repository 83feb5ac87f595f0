import ForecastConfig
import ForecastJobs
import ForecastStore
import Foundation
import PostgresClient

extension Daemon {
    /// Every `HistoryMaintenance.interval`, from the start: partitions ahead, history past the
    /// retention dropped (see `HistoryMaintenance`). Every daemon runs it; a session advisory
    /// lock lets one at a time do the work, and the others skip that round.
    func maintenanceLoop() async {
        var connection: PostgresConnection?
        while !isStopping {
            connection = await reconnect(connection, who: "maintenance")
            guard let db = connection else { break }
            let config = currentConfiguration
            do {
                let key = "forecastd.maintenance.\(config.database.schema)"
                let maintenance = HistoryMaintenance(configuration: config)
                let report = try await db.withConnection { conn in
                    try conn.withAdvisoryLockIfFree(key: key) { locked in try maintenance.run(now: Date(), on: locked) }
                }
                if let report, !(report.created.isEmpty && report.dropped.isEmpty && report.pruned == HistoryStore.Pruned() && report.weightsDropped == 0) {
                    logger.info("history maintenance", metadata: [
                        "partitions_created": "\(report.created.count)", "partitions_dropped": "\(report.dropped.joined(separator: ","))",
                        "runs_pruned": "\(report.pruned.runs)", "work_units_pruned": "\(report.pruned.workQueue)",
                        "training_history_pruned": "\(report.pruned.trainingHistory)", "weights_dropped": "\(report.weightsDropped)",
                    ])
                }
            } catch {
                logger.error("history maintenance", metadata: ["error": "\(error)"])
            }
            await sleep(HistoryMaintenance.interval) { false }
        }
        await connection?.close()
    }
}
