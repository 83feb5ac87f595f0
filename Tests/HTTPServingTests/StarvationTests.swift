#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import HTTPServing
import TestSupport
import XCTest

/// Issue 15, defect 11: slow or many clients must not starve the endpoints. Each test holds the
/// server under the attack the issue measured and checks that every probe is still answered.
/// The budgets (100 ms a probe) are ten times what the server needs on an idle machine, so the
/// tests hold on a loaded 2-core CI machine too; the numbers seen are printed for the record.
final class StarvationTests: XCTestCase {
    var server: HTTPServer!

    override func setUp() async throws {
        server = try HTTPServer(host: "127.0.0.1", port: 0) { request in
            HTTPResponse(status: request.path == "/-/healthy" ? 200 : 404, body: "ok\n")
        }
        server.start()
    }

    override func tearDown() async throws { server.stop() }

    /// 200 slowloris clients (a request head that never ends, a byte a second, reconnecting
    /// when cut) and 16 byte-drippers (a whole request, then a byte every 0.9 s after the
    /// answer) at once: `/-/healthy` still answers within 100 ms, every time.
    func testHealthAnswersWithin100MillisecondsUnderSlowlorisAndDrippers() throws {
        let attack = Attack(port: server.port, slowloris: 200, drippers: 16)
        attack.start()
        defer { attack.stop() }
        XCTAssertTrue(attack.waitUntilConnected(seconds: 30), "the attackers could not all connect: \(attack.summary)")

        // 50 probes over 7.5 s: longer than the server's 5 s request deadline, so the slowloris
        // clients are cut and reconnect while the probes go on.
        var latencies: [Double] = []
        var failures: [String] = []
        for _ in 0..<50 {
            let started = ContinuousClock.now
            do {
                let answer = try HTTPTestClient.get(port: server.port, "/-/healthy")
                latencies.append(Self.milliseconds(ContinuousClock.now - started))
                if answer.status != 200 { failures.append("status \(answer.status)") }
            } catch {
                failures.append("\(error)")
            }
            usleep(150_000)
        }
        let sorted = latencies.sorted()
        let report = "probes answered: \(latencies.count)/50, latency ms median \(Self.format(sorted.middle)), "
            + "max \(Self.format(sorted.last)); attack: \(attack.summary)"
        print("StarvationTests slowloris+drippers: \(report)")
        XCTAssertEqual(failures, [], report)
        XCTAssertEqual(latencies.count, 50, report)
        XCTAssertLessThan(sorted.last ?? .infinity, 100, report)
        XCTAssertGreaterThan(attack.cuts, 0, "the server cuts clients that never finish: \(report)")
    }

    /// 50 clients at once, each sending 100 requests one after the other: every one is answered.
    func testFiftyConcurrentClientsTimesOneHundredRequestsAreAllAnswered() {
        let clients = 50, requests = 100
        let tally = Tally()
        let group = DispatchGroup()
        let started = ContinuousClock.now
        for _ in 0..<clients {
            group.enter()
            let thread = Thread { [port = server.port] in
                for _ in 0..<requests {
                    let outcome: String?
                    do {
                        let answer = try HTTPTestClient.get(port: port, "/-/healthy")
                        outcome = answer.status == 200 && answer.body == "ok\n" ? nil : "status \(answer.status)"
                    } catch {
                        outcome = "\(error)"
                    }
                    tally.add(outcome)
                }
                group.leave()
            }
            thread.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success, "the clients did not finish in 120 s")
        let elapsed = ContinuousClock.now - started
        let (answered, failures) = tally.counts
        let report = "answered \(answered)/\(clients * requests) in \(Self.format(Self.milliseconds(elapsed))) ms; failures: \(failures)"
        print("StarvationTests 50x100: \(report)")
        XCTAssertEqual(answered, clients * requests, report)
    }

    /// Past `maxConnections` the slowest connection makes room: a probe is answered although
    /// more slowloris clients than the limit hold connections.
    func testPastTheConnectionLimitTheSlowestConnectionMakesRoom() throws {
        server.stop()
        server = try HTTPServer(host: "127.0.0.1", port: 0) { _ in HTTPResponse(status: 200, body: "ok\n") }
        server.maxConnections = 20
        server.start()
        let attack = Attack(port: server.port, slowloris: 40, drippers: 0)
        attack.start()
        defer { attack.stop() }
        XCTAssertTrue(attack.waitUntilConnected(seconds: 30), attack.summary)
        for _ in 0..<10 {
            let started = ContinuousClock.now
            XCTAssertEqual(try HTTPTestClient.get(port: server.port, "/").status, 200, attack.summary)
            XCTAssertLessThan(Self.milliseconds(ContinuousClock.now - started), 100, attack.summary)
            usleep(100_000)
        }
    }

    /// A client that keeps sending after its answer is closed within the short drain, not
    /// kept until it stops.
    func testAClientThatKeepsSendingAfterItsAnswerIsClosedSoon() throws {
        let fd = try HTTPTestClient.openSocket(port: server.port)
        defer { close(fd) }
        let request = Array("GET /-/healthy HTTP/1.1\r\n\r\n".utf8)
        XCTAssertEqual(request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Attack.sendFlags) }, request.count)
        let started = ContinuousClock.now
        var received: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 4096)
        // The answer ends with the server's half-close; the connection is gone once a byte sent
        // is refused (the server closed its end and reset what arrived after).
        var closed = false
        while ContinuousClock.now - started < .seconds(8) {
            guard [UInt8(ascii: "x")].withUnsafeBytes({ send(fd, $0.baseAddress, 1, Attack.sendFlags) }) == 1 else { closed = true; break }
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 100) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { received += buffer[..<count] } else if count < 0 { closed = true; break } else { usleep(100_000) }
        }
        XCTAssertTrue(String(decoding: received, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
        XCTAssertTrue(closed, "the server still holds a client that keeps sending after its answer")
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(3))
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func format(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "-" }
}

/// Answers and failures (by kind) counted across client threads.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var answered = 0
    private var failures: [String: Int] = [:]

    /// nil: answered as expected; otherwise what went wrong.
    func add(_ failure: String?) {
        lock.withLock { if let failure { failures[failure, default: 0] += 1 } else { answered += 1 } }
    }

    var counts: (answered: Int, failures: [String: Int]) { lock.withLock { (answered, failures) } }
}

extension Array where Element == Double {
    var middle: Double? { isEmpty ? nil : self[count / 2] }
}

/// Clients that hold connections as long as the server lets them, all on one thread of their
/// own: slowloris clients send a request head that never ends, a byte a second; drippers send a
/// whole request and then a byte every 0.9 s. Neither stops sending when answered; a client
/// the server cuts (a send or read fails) reconnects at once.
final class Attack: @unchecked Sendable {
    #if os(Linux)
    static let sendFlags = Int32(MSG_NOSIGNAL)
    #else
    static let sendFlags: Int32 = 0
    #endif

    private struct Client {
        var drips: Bool
        var fd: Int32 = -1
        var nextByte = ContinuousClock.now
        /// The server ended its side (an answer, a 408): the client goes on sending regardless.
        var answered = false
    }

    let port: Int
    private var clients: [Client]
    private let lock = NSLock()
    private var running = false
    private var finished = DispatchSemaphore(value: 0)
    private var connectedOnce = 0
    private(set) var connects = 0
    private(set) var connectFailures = 0
    private var cutCount = 0
    var cuts: Int { lock.withLock { cutCount } }

    init(port: Int, slowloris: Int, drippers: Int) {
        self.port = port
        clients = Array(repeating: Client(drips: false), count: slowloris) + Array(repeating: Client(drips: true), count: drippers)
    }

    var summary: String {
        lock.withLock { "\(clients.count) clients, \(connects) connects, \(connectFailures) failed, \(cutCount) cut by the server" }
    }

    func start() {
        lock.withLock { running = true }
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.start()
    }

    func stop() {
        guard lock.withLock({ () -> Bool in defer { running = false }; return running }) else { return }
        finished.wait()
        for client in clients where client.fd >= 0 { close(client.fd) }
    }

    /// True once every client has had a connection.
    func waitUntilConnected(seconds: Double) -> Bool {
        let deadline = Date() + seconds
        while Date() < deadline {
            if lock.withLock({ connectedOnce == clients.count }) { return true }
            usleep(50_000)
        }
        return false
    }

    private func run() {
        var seen = Set<Int>()
        while lock.withLock({ running }) {
            let now = ContinuousClock.now
            for index in clients.indices where clients[index].fd < 0 {
                guard let fd = try? HTTPTestClient.openSocket(port: port) else {
                    lock.withLock { connectFailures += 1 }
                    continue
                }
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                let opening = clients[index].drips ? "GET /-/healthy HTTP/1.1\r\n\r\n" : "GET /-/healthy HTTP/1.1\r\nX-a: "
                _ = Array(opening.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Self.sendFlags) }
                clients[index].fd = fd
                clients[index].answered = false
                clients[index].nextByte = now + .milliseconds(Int.random(in: 0..<900))
                seen.insert(index)
                lock.withLock { connects += 1; connectedOnce = seen.count }
            }
            for index in clients.indices where clients[index].fd >= 0 && clients[index].nextByte <= now {
                let sent = [UInt8(ascii: "x")].withUnsafeBytes { send(clients[index].fd, $0.baseAddress, 1, Self.sendFlags) }
                if sent < 0, errno != EAGAIN, errno != EWOULDBLOCK { cut(index); continue }
                clients[index].nextByte = now + (clients[index].drips ? .milliseconds(900) : .seconds(1))
            }
            var polled = clients.map { pollfd(fd: $0.answered ? -1 : $0.fd, events: Int16(POLLIN), revents: 0) }
            guard poll(&polled, nfds_t(polled.count), 50) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            for (index, entry) in polled.enumerated() where entry.fd >= 0 && entry.revents != 0 {
                // An answer (drippers, and 408s) is read and dropped; after its end the client keeps
                // sending until a send fails. An error is a cut.
                let count = buffer.withUnsafeMutableBytes { recv(entry.fd, $0.baseAddress, $0.count, 0) }
                if count == 0 { clients[index].answered = true }
                if count < 0 && errno != EAGAIN && errno != EWOULDBLOCK { cut(index) }
            }
        }
    }

    private func cut(_ index: Int) {
        close(clients[index].fd)
        clients[index].fd = -1
        lock.withLock { cutCount += 1 }
    }
}
