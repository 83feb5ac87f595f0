/// HTTPServing: a deliberately small HTTP/1.1 server over POSIX sockets for a service's own
/// endpoints (metrics, health and readiness probes): GET and HEAD only, one request per
/// connection, bounded request size and time, many connections at once.
///
/// It owns sockets, request parsing and writing answers. It must not know the program that
/// uses it: what paths exist and what they answer is the handler's business, and the handler
/// must answer from memory (it runs on the server's one thread, between other clients' bytes,
/// never on Swift's cooperative pool). Nothing here depends on anything but the C library and
/// Foundation.
///
/// One thread serves everything, event-driven (`EventLoop.swift`): poll(2) over the listening
/// socket and every connection, all non-blocking, so a slow client costs a descriptor and a few
/// bytes, never a thread or a turn. Each connection has one deadline at a time (the request, the
/// answer, the drain after it); past `maxConnections` the connection that has waited longest
/// for its request is dropped to make room, so slow or many clients cannot starve the others.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The target without its query string.
    public var path: String
}

public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: String
    public var headers: [(String, String)] = []

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String, headers: [(String, String)] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }

    public static func == (a: HTTPResponse, b: HTTPResponse) -> Bool {
        a.status == b.status && a.contentType == b.contentType && a.body == b.body
            && a.headers.elementsEqual(b.headers, by: { $0 == $1 })
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 431: return "Request Header Fields Too Large"
        case 503: return "Service Unavailable"
        default: return "Status \(status)"
        }
    }
}

public struct HTTPServerError: Error, CustomStringConvertible {
    public var address: String
    public var reason: String
    public var description: String { "cannot listen on \(address): \(reason)" }
}

public final class HTTPServer: @unchecked Sendable {
    /// The request line and headers may take this many bytes; a GET needs far fewer.
    public var maxRequestBytes = 8192
    /// A client gets this long from connecting to send its whole request head (a slow-drip
    /// client is answered 408 and cut off), and as long again to take its answer.
    public var requestTimeout: Double = 5
    /// After the answer, what the client still sends is read and dropped for at most this long
    /// (closing on unread bytes would reset the connection and could lose the answer on its way).
    public var drainTimeout: Double = 0.5
    /// Connections open at once, each a descriptor. Past it, the connection waiting longest for
    /// its request (the slowest) is answered 503 and closed to make room for the new one.
    public var maxConnections = 512

    /// The port the socket is bound to (the one the system picked when asked for port 0).
    public let port: Int
    let listener: Int32
    let handler: @Sendable (HTTPRequest) -> HTTPResponse
    /// `stop` writes a byte here to wake the loop out of poll(2).
    let wakeRead: Int32, wakeWrite: Int32
    private let lock = NSLock()
    private enum State { case bound, running, stopping, closed }
    private var state = State.bound

    /// Binds and listens on `host:port` (a name or a numeric IPv4/IPv6 address) at once, so an
    /// address in use is an error here rather than later on another thread.
    public init(host: String, port: Int, handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) throws {
        let display = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Self.streamType
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &found)
        guard resolved == 0, let first = found else {
            throw HTTPServerError(address: display, reason: String(cString: gai_strerror(resolved)))
        }
        defer { freeaddrinfo(first) }
        var lastError = "no address found"
        var bound: Int32 = -1
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate?.pointee, bound < 0 {
            candidate = info.ai_next
            let fd = socket(info.ai_family, info.ai_socktype, info.ai_protocol)
            guard fd >= 0 else { lastError = String(cString: strerror(errno)); continue }
            Self.makeNonBlocking(fd)
            var on: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            if bind(fd, info.ai_addr, info.ai_addrlen) == 0, listen(fd, 1024) == 0 {
                bound = fd
            } else {
                lastError = String(cString: strerror(errno))
                close(fd)
            }
        }
        guard bound >= 0 else { throw HTTPServerError(address: display, reason: lastError) }
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else {
            let reason = String(cString: strerror(errno))
            close(bound)
            throw HTTPServerError(address: display, reason: reason)
        }
        pipeEnds.forEach(Self.makeNonBlocking)
        (wakeRead, wakeWrite) = (pipeEnds[0], pipeEnds[1])
        listener = bound
        self.port = Self.boundPort(bound) ?? port
        self.handler = handler
    }

    deinit {
        // Never started: nothing else closes these (a started loop holds `self` until it ends).
        if state == .bound { closeDescriptors() }
    }

    #if os(Linux)
    static let streamType = Int32(SOCK_STREAM.rawValue)
    static let sendFlags = Int32(MSG_NOSIGNAL)
    #else
    static let streamType = SOCK_STREAM
    static let sendFlags: Int32 = 0
    #endif

    /// Non-blocking and closed on exec; on Darwin also no SIGPIPE (Linux says so per send).
    static func makeNonBlocking(_ fd: Int32) {
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        #if !os(Linux)
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<Int32>.size))
        #endif
    }

    static func boundPort(_ fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return nil }
        return withUnsafePointer(to: &storage) { pointer -> Int? in
            switch Int32(pointer.pointee.ss_family) {
            case AF_INET: return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            case AF_INET6: return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            default: return nil
            }
        }
    }

    /// Starts serving on a thread of its own, with the limits as they are set now.
    public func start() {
        let starting = lock.withLock { () -> Bool in
            guard state == .bound else { return false }
            state = .running
            return true
        }
        guard starting else { return }
        let limits = EventLoop.Limits(maxRequestBytes: maxRequestBytes, requestTimeout: .seconds(requestTimeout),
                                      drainTimeout: .seconds(drainTimeout), maxConnections: max(1, maxConnections))
        let thread = Thread { [self] in
            var loop = EventLoop(listener: listener, wake: wakeRead, limits: limits, handler: handler)
            while lock.withLock({ state == .running }) { loop.turn() }
            loop.closeAll()
            closeDescriptors()
            lock.withLock { state = .closed }
        }
        thread.name = "http-server"
        thread.start()
    }

    /// Stops: closes the listening socket and every connection, answered or not, and returns
    /// once they are closed.
    public func stop() {
        let closeNow = lock.withLock { () -> Bool in
            switch state {
            case .bound: state = .closed; return true
            case .running: state = .stopping; return false
            case .stopping, .closed: return false
            }
        }
        if closeNow { closeDescriptors(); return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        while lock.withLock({ state != .closed }) { usleep(1_000) }
    }

    private func closeDescriptors() {
        close(listener)
        close(wakeRead)
        close(wakeWrite)
    }
}
