import Foundation

/// A serial executor that runs every job on one dedicated OS thread.
///
/// libpq blocks the calling thread on network I/O. Giving each connection its own thread keeps
/// those waits off Swift's cooperative pool, where a few blocked connections could starve
/// every other task in the process.
final class ConnectionThreadExecutor: SerialExecutor, @unchecked Sendable {
    // `queue`, `stopping` and `threadID` are guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [UnownedJob] = []
    private var stopping = false
    private var threadID: pthread_t?

    init(name: String) {
        let thread = Thread { [self] in runLoop() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        precondition(!stopping, "job submitted to a PostgreSQL connection executor after shutdown")
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    func checkIsolated() {
        precondition(isCurrentThread, "not on the PostgreSQL connection's thread")
    }

    var isCurrentThread: Bool {
        condition.lock()
        defer { condition.unlock() }
        guard let threadID else { return false }
        return pthread_equal(threadID, pthread_self()) != 0
    }

    /// Ends the thread once the jobs already queued have run.
    func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func runLoop() {
        condition.lock()
        threadID = pthread_self()
        condition.unlock()
        let unowned = asUnownedSerialExecutor()
        while true {
            condition.lock()
            while queue.isEmpty && !stopping {
                condition.wait()
            }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            let finished = stopping
            condition.unlock()

            for job in batch { job.runSynchronously(on: unowned) }
            if finished { return }
        }
    }
}
