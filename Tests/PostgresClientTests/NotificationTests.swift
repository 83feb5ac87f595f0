import Foundation
import XCTest
@testable import PostgresClient

final class NotificationTests: XCTestCase {
    func testNotificationFromAnotherConnectionArrives() async throws {
        let listener = try await TestDatabase.connect()
        let sender = try await TestDatabase.connect()
        let channel = "forecastd Test-\(UUID().uuidString)"  // needs quoting: space, capitals, dashes
        try await listener.listen(channel)
        async let received = listener.waitForNotification(timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(100))
        try await sender.notify(channel, payload: "model 42 trained")
        let notification = try await received
        XCTAssertEqual(notification?.channel, channel)
        XCTAssertEqual(notification?.payload, "model 42 trained")
        XCTAssertNotEqual(notification?.senderPID, 0)

        // Already delivered while no one waited: returned at once.
        try await sender.notify(channel, payload: "second")
        try await Task.sleep(for: .milliseconds(100))
        _ = try await listener.query("SELECT 1")
        let second = try await listener.waitForNotification(timeout: .milliseconds(10))
        XCTAssertEqual(second?.payload, "second")

        try await listener.unlisten(channel)
        try await sender.notify(channel, payload: "unheard")
        let unheard = try await listener.waitForNotification(timeout: .milliseconds(200))
        XCTAssertNil(unheard)
    }

    func testTimeoutIsHonoured() async throws {
        let listener = try await TestDatabase.connect()
        try await listener.listen("forecastd_quiet_\(UUID().uuidString.prefix(8))")
        let start = ContinuousClock.now
        let notification = try await listener.waitForNotification(timeout: .milliseconds(300))
        let elapsed = ContinuousClock.now - start
        XCTAssertNil(notification)
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(300))
        // Only that the wait ends: a loaded machine may wake it late, so the bound is loose.
        XCTAssertLessThan(elapsed, .seconds(5))
    }
}
