import CLibPQ
import Foundation

/// A message sent with NOTIFY (or pg_notify) on a channel this connection listens to.
public struct PostgresNotification: Sendable, Equatable {
    public var channel: String
    public var payload: String
    /// The server process that sent it.
    public var senderPID: Int32
}

extension PostgresConnection {
    /// Subscribes to a channel. The subscription is restored by `reconnect()`.
    public func listen(_ channel: String) throws {
        try execute("LISTEN " + escapeIdentifier(channel))
        listeningChannels.insert(channel)
    }

    public func unlisten(_ channel: String) throws {
        try execute("UNLISTEN " + escapeIdentifier(channel))
        listeningChannels.remove(channel)
    }

    /// Sends a notification; listeners receive it when the current transaction commits.
    public func notify(_ channel: String, payload: String = "") throws {
        try execute("SELECT pg_notify($1, $2)", channel, payload)
    }

    /// Waits up to `timeout` for a notification on a channel this connection listens to and
    /// returns it, or nil when the time runs out. Notifications that arrived earlier (during
    /// other statements) are returned at once.
    ///
    /// The wait holds the connection's thread, and other calls on this connection queue behind
    /// it: give listening its own connection.
    public func waitForNotification(timeout: Duration) throws -> PostgresNotification? {
        let pointer = try connectedHandle()
        let deadline = ContinuousClock.now + timeout
        while true {
            if let notification = nextNotification(pointer) { return notification }
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { return nil }

            let socket = PQsocket(pointer)
            guard socket >= 0 else { throw PostgresError(.connectionLost, PostgresError.connectionMessage(pointer)) }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            // Rounded up, so the wait never ends before the deadline.
            let milliseconds = (remaining / .milliseconds(1)).rounded(.up)
            let ready = poll(&descriptor, 1, Int32(min(milliseconds, Double(Int32.max))))
            if ready < 0 {
                if errno == EINTR { continue }
                throw PostgresError(.connectionLost, "poll on the connection's socket failed: \(String(cString: strerror(errno)))")
            }
            if ready > 0 && PQconsumeInput(pointer) != 1 {
                throw PostgresError(.connectionLost, PostgresError.connectionMessage(pointer))
            }
        }
    }

    private func nextNotification(_ pointer: OpaquePointer) -> PostgresNotification? {
        guard let notify = PQnotifies(pointer) else { return nil }
        defer { PQfreemem(notify) }
        return PostgresNotification(channel: String(cString: notify.pointee.relname),
                                    payload: String(cString: notify.pointee.extra),
                                    senderPID: notify.pointee.be_pid)
    }
}
