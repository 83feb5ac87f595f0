import HTTPServing
import TestSupport
import XCTest

/// The server's answers over real sockets, with a handler that knows two paths.
final class HTTPServerTests: XCTestCase {
    var server: HTTPServer!

    override func setUp() async throws {
        server = try HTTPServer(host: "127.0.0.1", port: 0) { request in
            HTTPResponse(status: request.path == "/hello" ? 200 : 404, body: "you asked for \(request.path)\n")
        }
        server.requestTimeout = 1
        server.start()
    }

    override func tearDown() async throws { server.stop() }

    func testGetHeadAndErrors() throws {
        var answer = try HTTPTestClient.request(port: server.port, "GET /hello?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.body, "you asked for /hello\n")
        XCTAssertEqual(answer.headers["content-length"], "21")
        XCTAssertEqual(answer.headers["connection"], "close")

        answer = try HTTPTestClient.request(port: server.port, "HEAD /hello HTTP/1.1\r\n\r\n")
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.body, "")
        XCTAssertEqual(answer.headers["content-length"], "21", "a HEAD answer tells the GET body's length")

        XCTAssertEqual(try HTTPTestClient.request(port: server.port, "GET /other HTTP/1.1\r\n\r\n").status, 404)
        answer = try HTTPTestClient.request(port: server.port, "POST /hello HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(answer.status, 405)
        XCTAssertEqual(answer.headers["allow"], "GET, HEAD")
        XCTAssertEqual(try HTTPTestClient.request(port: server.port, "nonsense\r\n\r\n").status, 400)
        let huge = "GET /hello HTTP/1.1\r\nX-Padding: " + String(repeating: "a", count: 20_000) + "\r\n\r\n"
        XCTAssertEqual(try HTTPTestClient.request(port: server.port, huge).status, 431)
    }

    func testAClientThatNeverFinishesItsRequestIsCutOff() throws {
        let answer = try HTTPTestClient.request(port: server.port, "GET /hello HTTP/1.1\r\n")
        XCTAssertEqual(answer.status, 408)
        // The server still serves others afterwards.
        XCTAssertEqual(try HTTPTestClient.request(port: server.port, "GET /hello HTTP/1.1\r\n\r\n").status, 200)
    }

    func testAnAddressInUseIsAnErrorThatNamesIt() {
        XCTAssertThrowsError(try HTTPServer(host: "127.0.0.1", port: server.port) { _ in HTTPResponse(status: 200, body: "") }) { error in
            XCTAssertTrue("\(error)".contains("127.0.0.1:\(server.port)"), "\(error)")
            XCTAssertTrue("\(error)".lowercased().contains("in use"), "\(error)")
        }
    }
}
