import PostgresClient
import XCTest
@testable import ForecastConfig
@testable import ForecastStore

/// Issue 15, defect 6: what the daemon prints (and repeats on every retry) when it cannot
/// connect never holds the password, also for a connection string libpq cannot parse.
final class DatabaseTests: XCTestCase {
    func testAMalformedURLNeverPrintsThePassword() async throws {
        let secret = "secret123"
        for url in [
            "postgresql://postgres:\(secret)@[bad",
            "postgresql://postgres:secret%31%32%33@[bad",
            "postgresql://localhost/db?password=\(secret)&oops",
            "host=localhost password=\(secret) 'unterminated",
            "host=localhost \(secret)",
        ] {
            do {
                _ = try await Database.connect(DatabaseSettings(url: url))
                XCTFail("connected with \(url)")
            } catch {
                XCTAssertTrue(error is DatabaseUnavailable, "\(error)")
                XCTAssertFalse("\(error)".contains(secret), "\(url) printed: \(error)")
            }
        }
        do {
            _ = try await Database.connect(DatabaseSettings(url: "postgresql://postgres:\(secret)@[bad"))
        } catch {
            // Where libpq stopped is still shown, with the password masked.
            XCTAssertTrue("\(error)".contains(#""postgresql://postgres:********@[bad""#), "\(error)")
        }
    }

    func testAnUnquotedURLInTheConfigurationIsNotEchoed() {
        XCTAssertThrowsError(try Configuration.parse("[database]\nurl = postgresql://postgres:secret123@db/metrics\n")) { error in
            XCTAssertFalse("\(error)".contains("secret123"), "\(error)")
            XCTAssertTrue("\(error)".contains("a string needs quotes"), "\(error)")
        }
    }
}
