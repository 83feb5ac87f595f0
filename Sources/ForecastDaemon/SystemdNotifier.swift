/// The sd_notify protocol, spoken directly: one datagram of `KEY=value` lines to the socket in
/// `$NOTIFY_SOCKET`. Owned here rather than linked from libsystemd so the binary needs nothing
/// beyond libpq and OpenBLAS, and so a test can play systemd's side with a plain socket.
///
/// The daemon loop decides *when* to send (READY=1 once the schema is current, WATCHDOG=1 only
/// while the scheduler is alive, ...); this type only knows *how*, and never fails its caller.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging

public struct SystemdNotifier: Sendable {
    /// The socket as systemd gave it: an absolute path, or `@name` for an abstract socket.
    public let socketPath: String
    /// How often to send WATCHDOG=1 (half of `$WATCHDOG_USEC`, as sd_watchdog_enabled(3)
    /// advises), or nil when systemd runs no watchdog for this process.
    public let watchdogInterval: Duration?

    private let logger: Logger
    private let failures = FailureLatch()

    /// nil when not started by systemd with `Type=notify` (no `$NOTIFY_SOCKET`), so callers
    /// write `notifier?.ready()` and stay silent everywhere else. Also nil, with a warning, for
    /// addresses this build cannot reach (e.g. systemd ≥ 254's `vsock:`).
    public init?(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "forecastd.systemd")
    ) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty else { return nil }
        guard path.hasPrefix("/") || path.hasPrefix("@") else {
            logger.warning("NOTIFY_SOCKET is not a Unix socket path; systemd notifications are off",
                           metadata: ["notify_socket": "\(path)"])
            return nil
        }
        guard path.utf8.count <= Self.maxPathBytes else {
            logger.warning("NOTIFY_SOCKET path is too long for a Unix socket; systemd notifications are off",
                           metadata: ["notify_socket": "\(path)"])
            return nil
        }
        self.socketPath = path
        self.logger = logger
        self.watchdogInterval = Self.watchdogInterval(environment: environment)
    }

    /// Half of `$WATCHDOG_USEC` when the watchdog is meant for this process: `$WATCHDOG_PID`
    /// unset (older systemd) or equal to our pid. A child that inherited the variables must not
    /// feed its parent's watchdog.
    public static func watchdogInterval(
        environment: [String: String], pid: Int32 = getpid()
    ) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"], !owner.isEmpty {
            guard let ownerPid = Int32(owner), ownerPid == pid else { return nil }
        }
        return .microseconds(Int64(clamping: usec / 2))
    }

    /// Start-up is complete. Also sent after a reload, which ends the RELOADING=1 state.
    public func ready(status: String? = nil) {
        send(["READY=1"] + statusLine(status))
    }

    /// Free text shown by `systemctl status`, e.g. "waiting for the database".
    public func status(_ text: String) {
        send(statusLine(text))
    }

    /// Keep-alive ping; send every `watchdogInterval` while the scheduler makes progress.
    public func watchdog() {
        send(["WATCHDOG=1"])
    }

    /// A configuration reload begins; follow with `ready()` when it is done (or has been
    /// refused). MONOTONIC_USEC is what systemd ≥ 253 requires with Type=notify-reload, and
    /// older versions ignore it.
    public func reloading(status: String? = nil) {
        send(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())"] + statusLine(status))
    }

    /// Shutdown has begun; systemd now waits up to TimeoutStopSec for the exit.
    public func stopping(status: String? = nil) {
        send(["STOPPING=1"] + statusLine(status))
    }

    /// Asks for more time in the current start-up or shutdown phase, counted from now. The
    /// watchdog only runs once READY=1 has been sent, so a start-up that waits for the database
    /// keeps itself alive with this instead, and still gets killed if it hangs.
    public func extendTimeout(_ duration: Duration) {
        send(["EXTEND_TIMEOUT_USEC=\(Self.microseconds(duration))"])
    }

    /// Sends one datagram of `KEY=value` lines. Returns whether the datagram left; failures are
    /// logged (once per streak, so a missing systemd does not flood the log) and swallowed,
    /// because a daemon must not stop working over a status message.
    @discardableResult
    public func send(_ assignments: [String]) -> Bool {
        guard !assignments.isEmpty else { return true }
        let payload = assignments.joined(separator: "\n")
        let error = Self.sendDatagram(payload, to: socketPath)
        if let error {
            if failures.fail() {
                logger.warning("cannot notify systemd", metadata: [
                    "notify_socket": "\(socketPath)", "error": "\(error)",
                ])
            }
            return false
        }
        if failures.succeed() {
            logger.info("systemd notifications work again", metadata: ["notify_socket": "\(socketPath)"])
        }
        return true
    }

    private func statusLine(_ text: String?) -> [String] {
        // A newline would start a new assignment, so STATUS= is kept to one line.
        guard let text else { return [] }
        return ["STATUS=" + text.replacingOccurrences(of: "\n", with: " ")]
    }

    static func microseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }

    /// CLOCK_MONOTONIC in µs, the clock systemd compares MONOTONIC_USEC against.
    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }

    static var maxPathBytes: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1 }

    /// nil on success, else the reason. A fresh socket per message, as libsystemd does: nothing
    /// to share between threads, nothing to repair after systemd restarts.
    private static func sendDatagram(_ payload: String, to path: String) -> String? {
        #if os(Linux)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return "socket: \(String(cString: strerror(errno)))" }
        defer { close(fd) }

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(path.utf8)
        let abstract = pathBytes.first == UInt8(ascii: "@")
        if abstract { pathBytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        // An abstract name is exactly its bytes (a trailing NUL would be part of the name); a
        // path is NUL-terminated, which the zeroed sun_path already provides.
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + pathBytes.count + (abstract ? 0 : 1)

        // A full receive queue (10 datagrams by default) is waited out, but only briefly: a stuck
        // systemd must not hold the caller's thread (often a task on the cooperative pool), so
        // after the timeout the message is dropped, and the next one will follow.
        var timeout = timeval(tv_sec: 0, tv_usec: 500_000)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sent: Int
        repeat {
            sent = payload.utf8CString.withUnsafeBufferPointer { bytes in
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, bytes.baseAddress, bytes.count - 1, Int32(MSG_NOSIGNAL), $0, socklen_t(length))
                    }
                }
            }
        } while sent < 0 && errno == EINTR
        guard sent >= 0 else { return "sendto: \(String(cString: strerror(errno)))" }
        return nil
        #else
        return "sd_notify is only spoken on Linux"
        #endif
    }
}

/// Whether the last send failed, so that only the first failure of a streak is logged.
private final class FailureLatch: @unchecked Sendable {
    private let lock = NSLock()
    private var failing = false

    /// True when this failure starts a streak.
    func fail() -> Bool { lock.withLock { defer { failing = true }; return !failing } }
    /// True when this success ends a streak.
    func succeed() -> Bool { lock.withLock { defer { failing = false }; return failing } }
}
