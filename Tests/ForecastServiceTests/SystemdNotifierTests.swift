/// SystemdNotifier against a datagram socket that plays systemd's side: the exact payloads of
/// each message, path and abstract addresses, the watchdog interval, and silence without systemd.
import Foundation
import Glibc
import XCTest
@testable import ForecastConfig
@testable import ForecastStore
@testable import ForecastJobs
@testable import ForecastReport
@testable import ForecastDaemon

final class SystemdNotifierTests: XCTestCase {
    private var directory: URL!
    private var listener: DatagramListener!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("forecastd-notify-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        listener = try DatagramListener(address: directory.appendingPathComponent("notify").path)
    }

    override func tearDownWithError() throws {
        listener?.close()
        try? FileManager.default.removeItem(at: directory)
    }

    private func notifier(_ extra: [String: String] = [:]) throws -> SystemdNotifier {
        try XCTUnwrap(SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.address].merging(extra) { $1 }))
    }

    func testEachMessageArrivesWithItsExactPayload() throws {
        let notifier = try notifier()
        notifier.ready()
        XCTAssertEqual(try listener.receive(), "READY=1")
        notifier.ready(status: "running 3 jobs")
        XCTAssertEqual(try listener.receive(), "READY=1\nSTATUS=running 3 jobs")
        notifier.status("waiting for the database")
        XCTAssertEqual(try listener.receive(), "STATUS=waiting for the database")
        notifier.watchdog()
        XCTAssertEqual(try listener.receive(), "WATCHDOG=1")
        notifier.stopping()
        XCTAssertEqual(try listener.receive(), "STOPPING=1")
        notifier.extendTimeout(.seconds(90))
        XCTAssertEqual(try listener.receive(), "EXTEND_TIMEOUT_USEC=90000000")
    }

    func testReloadingCarriesTheMonotonicClock() throws {
        let before = SystemdNotifier.monotonicMicroseconds()
        try notifier().reloading()
        let after = SystemdNotifier.monotonicMicroseconds()
        let lines = try listener.receive().split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[0], "RELOADING=1")
        XCTAssertTrue(lines[1].hasPrefix("MONOTONIC_USEC="), lines[1])
        let usec = try XCTUnwrap(UInt64(lines[1].dropFirst("MONOTONIC_USEC=".count)))
        XCTAssertTrue((before...after).contains(usec), "\(usec) not in \(before)...\(after)")
    }

    func testStatusStaysOnOneLine() throws {
        try notifier().status("line one\nline two")
        XCTAssertEqual(try listener.receive(), "STATUS=line one line two")
    }

    func testAbstractSocket() throws {
        let name = "@forecastd-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        let abstract = try DatagramListener(address: name)
        defer { abstract.close() }
        let notifier = try XCTUnwrap(SystemdNotifier(environment: ["NOTIFY_SOCKET": name]))
        XCTAssertTrue(notifier.send(["READY=1"]))
        XCTAssertEqual(try abstract.receive(), "READY=1")
    }

    func testNoSocketMeansNoNotifier() {
        XCTAssertNil(SystemdNotifier(environment: [:]))
        XCTAssertNil(SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]))
        XCTAssertNil(SystemdNotifier(environment: ["NOTIFY_SOCKET": "vsock:2:1234"]))
        XCTAssertNil(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/" + String(repeating: "x", count: 200)]))
    }

    func testSendFailureIsReportedNotThrown() throws {
        let gone = try XCTUnwrap(SystemdNotifier(environment: ["NOTIFY_SOCKET": directory.appendingPathComponent("nobody").path]))
        XCTAssertFalse(gone.send(["READY=1"]))
        gone.watchdog()  // must neither crash nor throw
        XCTAssertTrue(try notifier().send(["READY=1"]))
    }

    func testWatchdogIntervalIsHalfOfWatchdogUsec() throws {
        let pid = getpid()
        XCTAssertEqual(try notifier(["WATCHDOG_USEC": "60000000"]).watchdogInterval, .seconds(30))
        XCTAssertEqual(try notifier(["WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "\(pid)"]).watchdogInterval, .seconds(30))
        XCTAssertNil(try notifier(["WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "\(pid + 1)"]).watchdogInterval)
        XCTAssertNil(try notifier(["WATCHDOG_USEC": "0"]).watchdogInterval)
        XCTAssertNil(try notifier(["WATCHDOG_USEC": "soon"]).watchdogInterval)
        XCTAssertNil(try notifier().watchdogInterval)
        XCTAssertEqual(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "3"], pid: 1), .microseconds(1))
    }

    func testConcurrentSendersEachDeliverWholeDatagrams() async throws {
        // More senders than the kernel queues datagrams for (net.unix.max_dgram_qlen, often 10):
        // the rest wait for systemd to read rather than being dropped.
        let notifier = try notifier()
        let listener = self.listener!
        // systemd reads on its own thread, not on the cooperative pool the senders may block.
        let received = ReceivedBox()
        let reader = Thread { for _ in 0..<20 { received.append(try? listener.receive()) } }
        reader.start()
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<20 { group.addTask { notifier.status("worker \(i)") } }
        }
        let seen = Set(received.wait(count: 20).compactMap { $0 })
        XCTAssertEqual(seen, Set((0..<20).map { "STATUS=worker \($0)" }))
    }
}

private final class ReceivedBox: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [String?] = []

    func append(_ item: String?) {
        condition.withLock { items.append(item); condition.broadcast() }
    }

    func wait(count: Int) -> [String?] {
        condition.withLock {
            while items.count < count { condition.wait() }
            return items
        }
    }
}

/// systemd's end of the protocol (also used by DaemonProcessTests): a bound AF_UNIX datagram socket with a receive timeout.
final class DatagramListener: @unchecked Sendable {
    let address: String
    private var fd: Int32

    init(address: String) throws {
        self.address = address
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(address.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &sa.sun_path) { $0.copyBytes(from: bytes) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1)
        let bound = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard bound == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func receive() throws -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        guard n >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }
}
