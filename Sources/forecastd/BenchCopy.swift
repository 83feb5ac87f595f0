import ArgumentParser
import Foundation
import PostgresClient

/// `forecastd bench copy`: bulk write and read throughput of PostgresClient on prediction-shaped
/// rows, for comparison with psql's \copy (benchmarks/copy_vs_psql.sh).
struct BenchCopy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Measure COPY FROM STDIN writes and streaming reads of prediction-shaped rows."
    )

    @Option(help: "libpq connection string or URI of a database the benchmark may create a table in.")
    var url: String
    @Option(help: "Rows to write and read back.") var rows: Int = 1_000_000
    @Option(help: "Table to (re)create; dropped afterwards unless --keep.") var table: String = "forecastd_bench_copy"
    @Option(help: "COPY format of the write: binary (copyIn(into:columns:)) or text (copyIn with a statement).")
    var format: String = "binary"
    @Flag(help: "VACUUM the table between write and read, so the read does not also set hint bits.")
    var vacuum = false
    @Flag(help: "Keep the table after the run.") var keep = false
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard rows >= 1 else { throw ValidationError("--rows must be at least 1") }
        guard format == "binary" || format == "text" else { throw ValidationError("--format must be binary or text") }
    }

    func run() async throws {
        let db = try await PostgresConnection.connect(url)
        let table = quoteIdentifier(self.table)
        try await db.executeScript("DROP TABLE IF EXISTS \(table); CREATE TABLE \(table) (\(BenchmarkPredictions.columns))")

        let rows = self.rows
        let writeStart = ContinuousClock.now
        let written = format == "binary"
            ? try await db.copyIn(into: self.table, columns: BenchmarkPredictions.columnNames) { writer in
                try BenchmarkPredictions.write(rows: rows, to: &writer)
            }
            : try await db.copyIn("COPY \(table) FROM STDIN") { writer in
                try BenchmarkPredictions.write(rows: rows, to: &writer)
            }
        let writeSeconds = (ContinuousClock.now - writeStart).seconds

        if vacuum { try await db.execute("VACUUM \(table)") }

        let readStart = ContinuousClock.now
        let (read, checksum) = try await db.withConnection { db in
            var checksum = 0.0
            let read = try db.stream("SELECT * FROM \(table)") { row in
                checksum += try BenchmarkPredictions.decode(row)
            }
            return (read, checksum)
        }
        let readSeconds = (ContinuousClock.now - readStart).seconds

        let copyOutStart = ContinuousClock.now
        let copiedOut = try await db.copyOut("COPY \(table) TO STDOUT") { _ in }
        let copyOutSeconds = (ContinuousClock.now - copyOutStart).seconds

        if !keep { try await db.execute("DROP TABLE \(table)") }
        await db.close()
        guard written == rows, read == rows, copiedOut == rows else {
            throw CommandFailure(message: "row counts differ: wrote \(written), streamed \(read), copied out \(copiedOut) of \(rows)")
        }

        let results: [(String, String)] = [
            ("rows", "\(rows)"),
            ("format", "\"\(format)\""),
            ("write_seconds", String(format: "%.3f", writeSeconds)),
            ("write_rows_per_s", "\(Int((Double(rows) / writeSeconds).rounded()))"),
            ("read_seconds", String(format: "%.3f", readSeconds)),
            ("read_rows_per_s", "\(Int((Double(rows) / readSeconds).rounded()))"),
            ("copy_out_seconds", String(format: "%.3f", copyOutSeconds)),
            ("copy_out_rows_per_s", "\(Int((Double(rows) / copyOutSeconds).rounded()))"),
            ("checksum", String(format: "%.6g", checksum)),
            ("libpq", "\(LibPQ.version)"),
        ]
        if json {
            print("{" + results.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        } else {
            print("write (copyIn, \(format) COPY):        \(results[3].1) rows/s (\(results[2].1) s)")
            print("read  (stream, decoded, single-row): \(results[5].1) rows/s (\(results[4].1) s)")
            print("read  (copyOut, raw text lines):     \(results[7].1) rows/s (\(results[6].1) s)")
        }
    }
}

/// The benchmark's rows: the columns of forecastd's predictions table, and values that
/// benchmarks/copy_vs_psql.sh generates identically for psql.
enum BenchmarkPredictions {
    static let columns = """
        job text, series text, model_id bigint, issued_at timestamptz, target_ts timestamptz, step int, \
        forecast_value float8, lower_bound float8, upper_bound float8, confidence_level float8
        """
    static let columnNames = ["job", "series", "model_id", "issued_at", "target_ts", "step",
                              "forecast_value", "lower_bound", "upper_bound", "confidence_level"]
    /// 2024-01-01 00:00:00 UTC.
    static let origin = Date(timeIntervalSince1970: 1_704_067_200)

    /// Row i: series i/24 % 1000, issued (i/24) hours after the origin, step i%24+1 hours ahead,
    /// value i × 0.001 with a band of ±1.5 at confidence 0.8.
    static func write(rows: Int, to writer: inout CopyWriter) throws {
        let series = (0..<1000).map { "series_\($0)" }
        for index in 0..<rows {
            let step = index % 24 + 1
            let issued = origin.addingTimeInterval(Double(index / 24) * 3600)
            let value = Double(index) * 0.001
            try writer.append("bench")
            try writer.append(series[index / 24 % 1000])
            try writer.append(index / 2400)
            try writer.append(issued)
            try writer.append(issued.addingTimeInterval(Double(step) * 3600))
            try writer.append(step)
            try writer.append(value)
            try writer.append(value - 1.5)
            try writer.append(value + 1.5)
            try writer.append(0.8)
            try writer.endRow()
        }
    }

    /// Decodes every column of a row, as a reader of the table would; returns something to sum so
    /// the work cannot be optimised away.
    static func decode(_ row: PostgresRow) throws -> Double {
        let job = try row.decode(0, as: String.self)
        let series = try row.decode(1, as: String.self)
        let modelID = try row.decode(2, as: Int64.self)
        let issued = try row.decode(3, as: Date.self)
        let target = try row.decode(4, as: Date.self)
        let step = try row.decode(5, as: Int.self)
        let value = try row.decode(6, as: Double.self)
        let lower = try row.decode(7, as: Double.self)
        let upper = try row.decode(8, as: Double.self)
        let confidence = try row.decode(9, as: Double.self)
        return Double(job.utf8.count + series.utf8.count + step) + Double(modelID) + (target.timeIntervalSince(issued))
            + value + (upper - lower) * confidence
    }
}

fileprivate extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
