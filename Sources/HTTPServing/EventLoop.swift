/// The server's one thread: poll(2) over the listening socket, a wake-up pipe and every
/// connection, all non-blocking. Owns each connection from accept to close; knows nothing of
/// what the handler answers.
///
/// A connection goes reading → writing → draining → closed, with one deadline per phase:
///
///     reading    until the head's blank line; `requestTimeout` from accept, then 408;
///                more than `maxRequestBytes` 431, a bad request line 400, not GET/HEAD 405
///     writing    the whole answer, as fast as the client takes it; `requestTimeout`, then closed
///     draining   read and drop what the client still sends, after shutdown(SHUT_WR), until it
///                closes, 64 KiB or `drainTimeout`: closing on unread bytes would reset the
///                connection and could destroy the answer before the client reads it
///
/// No read, write or handler call waits on a client, so an answer never waits for a slow one.
/// Past `maxConnections` a new client evicts a draining connection, else the one that has
/// waited longest for its request; with neither (all are being answered), it gets a 503 itself.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

struct EventLoop {
    struct Limits {
        var maxRequestBytes: Int
        var requestTimeout: Duration
        var drainTimeout: Duration
        var maxConnections: Int
    }

    struct Connection {
        enum Phase { case reading, writing, draining, closed }
        let fd: Int32
        let accepted: ContinuousClock.Instant
        var phase = Phase.reading
        var deadline: ContinuousClock.Instant
        /// The request head as received so far.
        var received: [UInt8] = []
        /// The answer, and how much of it is sent.
        var output: [UInt8] = []
        var sent = 0
        var drained = 0
    }

    static let drainLimit = 1 << 16
    static let headEnd: [UInt8] = Array("\r\n\r\n".utf8)

    let listener: Int32
    let wake: Int32
    let limits: Limits
    let handler: @Sendable (HTTPRequest) -> HTTPResponse
    var connections: [Connection] = []
    var open = 0
    /// Out of descriptors: the listener is left alone until then.
    var acceptPausedUntil: ContinuousClock.Instant?
    var buffer = [UInt8](repeating: 0, count: 16_384)

    init(listener: Int32, wake: Int32, limits: Limits, handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        self.listener = listener
        self.wake = wake
        self.limits = limits
        self.handler = handler
        connections.reserveCapacity(limits.maxConnections)
    }

    /// One wait in poll(2) and the work it found: at most a second, less when a deadline is nearer.
    mutating func turn() {
        var now = ContinuousClock.now
        for index in connections.indices where connections[index].deadline <= now { expire(index, now: now) }
        connections.removeAll { $0.phase == .closed }
        if let paused = acceptPausedUntil, paused <= now { acceptPausedUntil = nil }

        var polled = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
                      pollfd(fd: acceptPausedUntil == nil ? listener : -1, events: Int16(POLLIN), revents: 0)]
        var nearest = now + .seconds(1)
        for connection in connections {
            polled.append(pollfd(fd: connection.fd, events: Int16(connection.phase == .writing ? POLLOUT : POLLIN), revents: 0))
            nearest = min(nearest, connection.deadline)
        }
        if let paused = acceptPausedUntil { nearest = min(nearest, paused) }
        let wait = nearest - now
        let milliseconds = max(0, Int(wait.components.seconds) * 1000 + Int(wait.components.attoseconds / 1_000_000_000_000_000) + 1)
        guard poll(&polled, nfds_t(polled.count), Int32(milliseconds)) > 0 else { return }

        now = ContinuousClock.now
        if polled[0].revents != 0 {
            var scratch = [UInt8](repeating: 0, count: 64)
            _ = read(wake, &scratch, scratch.count)
        }
        // Connections first, then new ones: those accepted now are served in the same turn.
        for (index, entry) in polled.dropFirst(2).enumerated() where entry.revents != 0 {
            serve(index, now: now)
        }
        if polled[1].revents != 0 { acceptAll(now: now) }
    }

    /// Closes every connection, answered or not (the server is stopping).
    mutating func closeAll() {
        for index in connections.indices { closeConnection(index) }
        connections.removeAll()
    }

    // MARK: - accepting

    mutating func acceptAll(now: ContinuousClock.Instant) {
        // A bounded batch, so a flood of connects cannot keep the others waiting.
        for _ in 0..<64 {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else {
                switch errno {
                case EINTR, ECONNABORTED: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors: free one if a connection can go, else leave the
                    // listener alone for a moment rather than spin on it.
                    if !evictOne(now: now) { acceptPausedUntil = now + .milliseconds(100) }
                    return
                default: return // EAGAIN: no more waiting
                }
            }
            HTTPServer.makeNonBlocking(fd)
            if open >= limits.maxConnections, !evictOne(now: now) {
                refuse(fd)
                continue
            }
            connections.append(Connection(fd: fd, accepted: now, deadline: now + limits.requestTimeout))
            open += 1
            // Its request has often arrived with it.
            serve(connections.count - 1, now: now)
        }
    }

    /// Makes room: closes a draining connection (already answered), else the one that has waited
    /// longest for its request, telling it 503. False when every connection is being answered.
    mutating func evictOne(now: ContinuousClock.Instant) -> Bool {
        if let index = connections.firstIndex(where: { $0.phase == .draining }) {
            closeConnection(index)
            return true
        }
        var oldest: Int?
        for index in connections.indices where connections[index].phase == .reading {
            if oldest.map({ connections[index].accepted < connections[$0].accepted }) ?? true { oldest = index }
        }
        guard let oldest else { return false }
        let answer = Self.serialize(Self.busy, contentLength: Self.busy.body.utf8.count)
        _ = answer.withUnsafeBytes { send(connections[oldest].fd, $0.baseAddress, $0.count, HTTPServer.sendFlags) }
        closeConnection(oldest)
        return true
    }

    /// A client there is no room for: a 503 if its socket takes it at once, and closed.
    func refuse(_ fd: Int32) {
        var scratch = [UInt8](repeating: 0, count: 4096)
        _ = recv(fd, &scratch, scratch.count, 0)
        let answer = Self.serialize(Self.busy, contentLength: Self.busy.body.utf8.count)
        _ = answer.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, HTTPServer.sendFlags) }
        shutdown(fd, Int32(SHUT_WR))
        close(fd)
    }

    static let busy = HTTPResponse(status: 503, body: "too many connections; try again\n")

    // MARK: - serving

    /// Does what the connection's socket is ready for, without waiting.
    mutating func serve(_ index: Int, now: ContinuousClock.Instant) {
        switch connections[index].phase {
        case .reading: receive(index, now: now)
        case .writing: transmit(index, now: now)
        case .draining: drain(index)
        case .closed: break
        }
    }

    mutating func receive(_ index: Int, now: ContinuousClock.Instant) {
        while connections[index].phase == .reading {
            let count = buffer.withUnsafeMutableBytes { recv(connections[index].fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            if count < 0, errno == EAGAIN || errno == EWOULDBLOCK { return }
            // The client went away (or reset) before its request was whole: no one to answer.
            guard count > 0 else { closeConnection(index); return }
            let searchFrom = max(0, connections[index].received.count - 3)
            connections[index].received += buffer[..<count]
            let received = connections[index].received
            if let end = received[searchFrom...].firstRange(of: Self.headEnd) {
                let (request, response) = answer(head: received[..<end.lowerBound])
                respond(index, request: request, response: response, now: now)
            } else if received.count > limits.maxRequestBytes {
                respond(index, request: nil, response: HTTPResponse(status: 431, body: "request head larger than \(limits.maxRequestBytes) bytes\n"), now: now)
            }
        }
    }

    /// The answer to a whole request head: errors here, the rest from the handler.
    func answer(head: ArraySlice<UInt8>) -> (HTTPRequest?, HTTPResponse) {
        if head.count > limits.maxRequestBytes {
            return (nil, HTTPResponse(status: 431, body: "request head larger than \(limits.maxRequestBytes) bytes\n"))
        }
        let requestLine = String(decoding: head.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1."), parts[1].hasPrefix("/") else {
            return (nil, HTTPResponse(status: 400, body: "expected a request line such as GET /metrics HTTP/1.1\n"))
        }
        let request = HTTPRequest(method: String(parts[0]), path: String(parts[1].prefix { $0 != "?" }))
        guard request.method == "GET" || request.method == "HEAD" else {
            return (request, HTTPResponse(status: 405, body: "only GET and HEAD are served\n", headers: [("Allow", "GET, HEAD")]))
        }
        return (request, handler(request))
    }

    /// Starts writing the answer, and writes what the socket takes at once (usually all of it).
    mutating func respond(_ index: Int, request: HTTPRequest?, response: HTTPResponse, now: ContinuousClock.Instant) {
        var response = response
        // A HEAD answer carries the length of the body it leaves out.
        let length = response.body.utf8.count
        if request?.method == "HEAD" { response.body = "" }
        connections[index].received = []
        connections[index].output = Self.serialize(response, contentLength: length)
        connections[index].phase = .writing
        connections[index].deadline = now + limits.requestTimeout
        transmit(index, now: now)
    }

    mutating func transmit(_ index: Int, now: ContinuousClock.Instant) {
        while connections[index].sent < connections[index].output.count {
            let sent = connections[index].output.withUnsafeBytes { bytes in
                send(connections[index].fd, bytes.baseAddress! + connections[index].sent, bytes.count - connections[index].sent, HTTPServer.sendFlags)
            }
            if sent < 0, errno == EINTR { continue }
            if sent < 0, errno == EAGAIN || errno == EWOULDBLOCK { return }
            guard sent > 0 else { closeConnection(index); return }
            connections[index].sent += sent
        }
        connections[index].output = []
        shutdown(connections[index].fd, Int32(SHUT_WR))
        connections[index].phase = .draining
        connections[index].deadline = now + limits.drainTimeout
        drain(index)
    }

    mutating func drain(_ index: Int) {
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(connections[index].fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            if count < 0, errno == EAGAIN || errno == EWOULDBLOCK { return }
            guard count > 0 else { closeConnection(index); return }
            connections[index].drained += count
            if connections[index].drained > Self.drainLimit { closeConnection(index); return }
        }
    }

    /// A deadline passed: a request not received in time is answered 408; an answer not taken
    /// in time, or a drain, ends.
    mutating func expire(_ index: Int, now: ContinuousClock.Instant) {
        switch connections[index].phase {
        case .reading:
            respond(index, request: nil, response: HTTPResponse(status: 408, body: "request not received in time\n"), now: now)
        case .writing, .draining:
            closeConnection(index)
        case .closed:
            break
        }
    }

    mutating func closeConnection(_ index: Int) {
        guard connections[index].phase != .closed else { return }
        close(connections[index].fd)
        connections[index].phase = .closed
        connections[index].received = []
        connections[index].output = []
        open -= 1
    }

    static func serialize(_ response: HTTPResponse, contentLength: Int) -> [UInt8] {
        var text = "HTTP/1.1 \(response.status) \(HTTPResponse.reason(response.status))\r\n"
        text += "Content-Type: \(response.contentType)\r\n"
        text += "Content-Length: \(contentLength)\r\n"
        for (name, value) in response.headers { text += "\(name): \(value)\r\n" }
        text += "Connection: close\r\n\r\n" + response.body
        return Array(text.utf8)
    }
}
