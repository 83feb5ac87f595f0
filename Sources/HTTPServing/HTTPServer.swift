/// HTTPServing: a deliberately small HTTP/1.1 server over POSIX sockets for a service's own
/// endpoints (metrics, health and readiness probes): GET and HEAD only, one request per
/// connection, bounded request size and time, a bounded number of connections at once.
///
/// It owns sockets, request parsing and writing answers. It must not know the program that
/// uses it: what paths exist and what they answer is the handler's business, and the handler
/// must answer from memory (it runs on the server's threads, never on Swift's cooperative pool).
/// Nothing here depends on anything but the C library and Foundation.
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
    /// A client gets this long to send its request, in all (a slow-drip client is cut off).
    public var requestTimeout: Double = 5
    /// Connections served at once; more are closed unanswered until one ends.
    public var maxConnections = 16

    /// The port the socket is bound to (the one the system picked when asked for port 0).
    public let port: Int
    let listener: Int32
    let handler: @Sendable (HTTPRequest) -> HTTPResponse
    private let lock = NSLock()
    private var connections = 0
    private enum State { case bound, accepting, stopping, closed }
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
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var on: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            if bind(fd, info.ai_addr, info.ai_addrlen) == 0, listen(fd, 64) == 0 {
                bound = fd
            } else {
                lastError = String(cString: strerror(errno))
                close(fd)
            }
        }
        guard bound >= 0 else { throw HTTPServerError(address: display, reason: lastError) }
        listener = bound
        self.port = Self.boundPort(bound) ?? port
        self.handler = handler
    }

    #if os(Linux)
    static let streamType = Int32(SOCK_STREAM.rawValue)
    static let sendFlags = Int32(MSG_NOSIGNAL)
    #else
    static let streamType = SOCK_STREAM
    static let sendFlags: Int32 = 0
    #endif

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

    /// Starts accepting on a thread of its own.
    public func start() {
        let starting = lock.withLock { () -> Bool in
            guard state == .bound else { return false }
            state = .accepting
            return true
        }
        guard starting else { return }
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "http-server"
        thread.start()
    }

    /// Stops accepting and closes the socket (within a quarter of a second); requests being
    /// served finish on their own threads.
    public func stop() {
        let closeNow = lock.withLock { () -> Bool in
            switch state {
            case .bound: state = .closed; return true
            case .accepting: state = .stopping; return false
            case .stopping, .closed: return false
            }
        }
        if closeNow { close(listener) }
        while lock.withLock({ state != .closed }) { usleep(10_000) }
    }

    func acceptLoop() {
        defer {
            close(listener)
            lock.withLock { state = .closed }
        }
        while lock.withLock({ state == .accepting }) {
            // poll with a timeout rather than a bare accept, so `stop` is seen promptly.
            var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 250) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                // Out of descriptors (EMFILE) would otherwise spin: wait a little.
                if errno == EMFILE || errno == ENFILE { usleep(100_000) }
                continue
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            let admitted = lock.withLock { () -> Bool in
                guard connections < maxConnections else { return false }
                connections += 1
                return true
            }
            guard admitted else { close(client); continue }
            let thread = Thread { [self] in
                serve(client)
                close(client)
                lock.withLock { connections -= 1 }
            }
            thread.name = "http-server-conn"
            thread.start()
        }
    }

    func serve(_ client: Int32) {
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        timeout.tv_sec = Int(requestTimeout.rounded(.up))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let (request, response) = readRequest(client)
        guard var response else { return }
        // A HEAD answer carries the length of the body it leaves out.
        let length = response.body.utf8.count
        if request?.method == "HEAD" { response.body = "" }
        write(response, contentLength: length, to: client)
    }

    /// Reads the request head; answers errors itself. nil response: the client went away.
    func readRequest(_ client: Int32) -> (HTTPRequest?, HTTPResponse?) {
        var head: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        let deadline = Date() + requestTimeout
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            if let range = head.firstRange(of: end) {
                head.removeSubrange(range.lowerBound...)
                break
            }
            if head.count > maxRequestBytes {
                return (nil, HTTPResponse(status: 431, body: "request head larger than \(maxRequestBytes) bytes\n"))
            }
            guard Date() < deadline else { return (nil, HTTPResponse(status: 408, body: "request not received in time\n")) }
            let count = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                head += buffer[..<count]
            } else if count < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                continue
            } else {
                return (nil, nil)
            }
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

    func write(_ response: HTTPResponse, contentLength: Int, to client: Int32) {
        var text = "HTTP/1.1 \(response.status) \(HTTPResponse.reason(response.status))\r\n"
        text += "Content-Type: \(response.contentType)\r\n"
        text += "Content-Length: \(contentLength)\r\n"
        for (name, value) in response.headers { text += "\(name): \(value)\r\n" }
        text += "Connection: close\r\n\r\n" + response.body
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let sent = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Self.sendFlags) }
            if sent < 0, errno == EINTR { continue }
            guard sent > 0 else { return }
            bytes = bytes.dropFirst(sent)
        }
        shutdown(client, Int32(SHUT_WR))
        // Read what the client still sends (a too-large head, a body) until it closes: closing
        // with unread bytes would reset the connection and could lose the answer on its way.
        var drained = 0, scratch = [UInt8](repeating: 0, count: 4096)
        while drained < 1 << 16 {
            let count = scratch.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            drained += count
        }
    }
}
