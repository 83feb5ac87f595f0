import Foundation
import NeuralNet
import XCTest
@testable import Forecasting

/// The threading policy (`ComputeThreads`) holds while a global model trains, validates,
/// backtests and forecasts (`ModelGuard.train` at the unit's share of threads): OpenBLAS is
/// pinned to one thread, and the process's busy threads, counted as the CPU time of all its
/// threads (/proc/self/task/*/stat) over the wall time, never exceed that share. OpenBLAS's own
/// threads spinning in `sched_yield` (issue 17: 30% of the samples) would count here.
final class ThreadPolicyTests: XCTestCase {
    override func tearDown() { ComputeThreads.configure(concurrentUnits: 1) }

    func testTrainingNeverKeepsMoreThreadsBusyThanThePolicyAllows() throws {
        #if os(Linux)
        for units in [1, 2] {
            ComputeThreads.configure(concurrentUnits: units, cores: 2)
            XCTAssertEqual(BLAS.threads, 1, "OpenBLAS is pinned to one thread")
            let allowed = ComputeThreads.perUnit
            XCTAssertEqual(allowed, 2 / units)
            let series = (0..<12).map { syntheticHourlySeries(key: "s\($0)", days: 20, seed: UInt64($0 + 1)) }
            var settings = smallForecasterSettings()
            settings.hiddenSize = 48
            settings.batchSize = 24
            settings.epochs = 2
            let modelGuard = ModelGuard(settings: settings, season: 24, backtestWindows: 2, fallbackAllowed: true)
            let before = threadTicks(), started = Date()
            let done = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
            let worker = Thread {
                _ = modelGuard.train(series, threads: ComputeThreads.perUnit)
                done.signal()
                release.wait()  // alive until counted: an exited thread leaves /proc/self/task
            }
            worker.start()
            done.wait()
            let wall = Date().timeIntervalSince(started), after = threadTicks()
            release.signal()
            let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
            let spent = after.map { tid, ticks in (tid, Double(ticks - (before[tid] ?? 0)) / hz) }
            let cpu = spent.reduce(0) { $0 + $1.1 }
            let busy = spent.filter { $0.1 > 0.05 * wall }.map { "\($0.0): \(String(format: "%.2f", $0.1)) s" }
            // Busy threads on average; the tick counts are coarse (10 ms), hence the margin.
            XCTAssertLessThanOrEqual(cpu / wall, Double(allowed) + 0.15,
                                     "\(units) unit(s) at once: \(cpu) CPU-s in \(wall) s, at most \(allowed) thread(s) busy; busy: \(busy)")
            XCTAssertGreaterThan(cpu, 0)
        }
        #endif
    }

    /// utime + stime (clock ticks) of every thread of this process, by thread id.
    private func threadTicks() -> [String: Int] {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return [:] }
        var ticks: [String: Int] = [:]
        for tid in tasks {
            guard let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // "pid (comm) state ppid ...": fields 14 and 15 are utime and stime; the command name may hold spaces.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { continue }
            ticks[tid] = user + system
        }
        return ticks
    }
}
