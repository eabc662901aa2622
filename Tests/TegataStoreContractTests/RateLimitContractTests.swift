import Foundation
import TegataCore
import Testing

/// The registration limit, which a store counts in the registration's own transaction so that every
/// process of one database shares it.
@Suite struct RateLimitContractTests {
    static let policy = RateLimitPolicy(name: "registrations", limit: 3, period: 60)

    static func command(_ deviceID: String, bucket: String = "registrations:192.0.2.1", at time: Date = Fixture.now) throws -> DeviceSignInCommand {
        var command = try Fixture.deviceSignIn(deviceID, at: time)
        command.registrationLimit = SharedRateLimit(policy: policy, bucket: bucket)
        return command
    }

    @Test(arguments: StoreUnderTest.all)
    func registrationsStopAtTheLimitCreateNothingWhenRefusedAndRecover(store: StoreUnderTest) async throws {
        try await store.with { store in
            for index in 0..<3 {
                guard case .registered = try await store.deviceSignIn(try Self.command("device-000\(index)")) else {
                    Issue.record("registration \(index) is within the limit"); return
                }
            }
            // The fourth new device of the address: refused, told to come back after one interval (20 s).
            #expect(try await store.deviceSignIn(try Self.command("device-0003"))
                == .registrationLimited(RateLimitRejection(policy: Self.policy, retryAfterSeconds: 20)))
            #expect(try await store.deviceOwner(deviceID: "device-0003") == nil, "nothing is created when refused")
            // A known device is not a registration: it signs in whatever the count.
            guard case .signedIn = try await store.deviceSignIn(try Self.command("device-0000")) else {
                Issue.record("a known device signs in past the registration limit"); return
            }
            // Another address has its own count.
            guard case .registered = try await store.deviceSignIn(try Self.command("device-0004", bucket: "registrations:192.0.2.2")) else {
                Issue.record("another address registers"); return
            }
            // One interval later, one more registration.
            let later = Fixture.now.addingTimeInterval(20)
            guard case .registered = try await store.deviceSignIn(try Self.command("device-0003", at: later)) else {
                Issue.record("the limit recovers"); return
            }
            guard case .registrationLimited = try await store.deviceSignIn(try Self.command("device-0005", at: later)) else {
                Issue.record("and is spent again"); return
            }
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func concurrentRegistrationsFromOneAddressNeverPassTheLimit(store: StoreUnderTest) async throws {
        try await store.with { store in
            let outcomes = try await withThrowingTaskGroup(of: DeviceSignInOutcome.self) { group in
                for index in 0..<12 {
                    group.addTask { try await store.deviceSignIn(try Self.command("device-race-\(index)")) }
                }
                return try await group.reduce(into: [DeviceSignInOutcome]()) { $0.append($1) }
            }
            let registered = outcomes.filter { if case .registered = $0 { true } else { false } }.count
            let limited = outcomes.filter { if case .registrationLimited = $0 { true } else { false } }.count
            #expect(registered == 3 && limited == 9, "\(registered) registered, \(limited) refused")
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func pruningForgetsCountersWhoseAllowanceIsWholeAgain(store: StoreUnderTest) async throws {
        try await store.with { store in
            _ = try await store.deviceSignIn(try Self.command("device-0000"))
            _ = try await store.deviceSignIn(try Self.command("device-0001", bucket: "registrations:192.0.2.2"))
            let early = try await store.prune(now: Fixture.now.addingTimeInterval(10), idleLifetime: 1e9, webhookEventsBefore: .distantPast, limit: 100)
            #expect(early.rateLimitBuckets == 0, "both counters are still partly spent")
            let later = try await store.prune(now: Fixture.now.addingTimeInterval(21), idleLifetime: 1e9, webhookEventsBefore: .distantPast, limit: 100)
            #expect(later.rateLimitBuckets == 2)
        }
    }
}
