import Foundation
import PostgresClient
import XCTest

/// Issue 13: the daemon trains, publishes and predicts with each network design, through the
/// same work queue and units as the dense head; switching the design in the configuration
/// retrains at the next prediction (trigger `config`).
extension DaemonProcessTests {
    func testTheDaemonTrainsAndPredictsWithTheRecurrentDecoderAndWithOutputFeedback() async throws {
        try await loadReadings(sensors: ["a"])
        for (index, design) in ["decoder = \"recurrent\"", "feedback = \"output\""].enumerated() {
            // Without the statistical challengers: the test is about the network's designs, and
            // ETS, which follows this sine as closely, was published instead at some hours of the
            // day (the readings end at the current hour, so the calendar features move with it);
            // a statistical model does not depend on the network's design, so the second design
            // retrained nothing.
            let daemon = try start(try writeConfig("design-\(index).toml", jobExtra: "statistical_challengers = false", extra: design))
            if index > 0 {
                // The model of the first design no longer fits: the due prediction retrains it first.
                try await eventually("the daemon to listen", seconds: 10) { daemon.log.contains("ready") }
                try await db.notify("forecastd", payload: #"{"job": "sensors", "action": "predict"}"#)
            }
            try await eventually("training with \(design)") {
                let runs = try await self.runStatuses("train")
                return runs.count == index + 1 && runs.last != "running"
            }
            let trained = try await db.query("""
                SELECT hyperparameters::text FROM \(table("models")) WHERE series = 'a' AND cell = 'lstm' ORDER BY model_id DESC LIMIT 1
                """)
            // jsonb's text has a space after each colon; the design's key as `"decoder":"recurrent"`.
            let hyperparameters = try XCTUnwrap(trained.first).decode(0, as: String.self).replacingOccurrences(of: " ", with: "")
            let recorded = "\"" + design.replacingOccurrences(of: " = ", with: "\":")
            XCTAssertTrue(hyperparameters.contains(recorded), "\(design) recorded as \(recorded): \(hyperparameters)")
            if index > 0 {
                let trigger = try await db.query("SELECT trigger FROM \(table("runs")) WHERE kind = 'train' ORDER BY run_id DESC LIMIT 1")[0]
                    .decode(0, as: String?.self)
                XCTAssertEqual(trigger, "config", daemon.log)
            }
            let before = try await runStatuses("predict").count
            try await db.notify("forecastd", payload: #"{"job": "sensors", "action": "predict"}"#)
            try await eventually("a predict run with \(design)", seconds: 30) {
                let runs = try await self.runStatuses("predict")
                return runs.count > before && runs.last != "running"
            }
            let predicted = try await runStatuses("predict")
            XCTAssertEqual(predicted.last, "succeeded", daemon.log)
            daemon.terminate()
            _ = daemon.waitForExit(seconds: 30)
        }
    }
}
