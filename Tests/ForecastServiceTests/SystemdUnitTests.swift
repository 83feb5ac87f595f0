import Foundation
import XCTest

/// The shipped unit as issue 5 asks: `systemd-analyze verify` clean, `systemd-analyze security`
/// at 3.0 or lower, and the sysusers and tmpfiles snippets valid. The checks live in
/// scripts/check-systemd-unit.sh (also run by hand); this runs it on the binary under test.
final class SystemdUnitTests: XCTestCase {
    func testTheUnitVerifiesCleanAndScoresAtMostThree() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else {
            return XCTFail("systemd-analyze is missing (scripts/install-deps.sh installs the systemd package)")
        }
        let script = URL(fileURLWithPath: #filePath).appendingPathComponent("../../../scripts/check-systemd-unit.sh").standardized.path
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("check-systemd-unit-\(getpid()).log")
        defer { try? FileManager.default.removeItem(at: output) }
        var environment = ProcessInfo.processInfo.environment
        environment["FORECASTD_BIN"] = DaemonProcess.binary
        environment["MAX_EXPOSURE"] = nil
        let status = try DaemonProcess.run(script, environment: environment, output: output.path)
        let log = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        XCTAssertEqual(status, 0, log)
        let exposure = log.split(separator: "\n").first { $0.hasPrefix("exposure: ") }
        XCTAssertNotNil(exposure, log)
    }
}
