import Foundation
import TegataCore
import TegataWire
import Testing

/// `importUsers`: one transaction per batch, each record decided on what the ones before it wrote,
/// written whole or not at all; imported devices have no secret; imported entitlements stand
/// beside payment grants and leave with the user.
@Suite struct ImportContractTests {
    static let created = Date(timeIntervalSince1970: 1_714_554_000)

    static func record(
        _ id: String, subject: String? = nil, devices: [String] = [], entitlements: [Entitlement]? = nil,
        claims: [String: JSONValue]? = nil, customers: [ImportedCustomer] = []
    ) -> UserImport {
        UserImport(
            id: id, createdAt: created,
            identities: subject.map { [StoredIdentity(provider: "apple", subject: $0, email: nil, linkedAt: created)] } ?? [],
            devices: devices.map { ImportedDevice(id: $0, platform: "ios") }, entitlements: entitlements, claims: claims, customers: customers)
    }

    @Test(arguments: StoreUnderTest.all)
    func importingCreatesOnceAddsWhatIsMissingAndNeverTakesFromAnother(store: StoreUnderTest) async throws {
        try await store.with { store in
            let pro = Entitlement(name: "pro", expiresAt: Date(timeIntervalSince1970: 1_900_000_000.123))
            let first = Self.record("legacy-1", subject: "001.a", devices: ["legacy-device-1"], entitlements: [pro], claims: ["plan": .string("gold")])
            #expect(try await store.importUsers([first, Self.record("legacy-2", devices: ["legacy-device-2"])], now: Fixture.now) == [.created, .created])
            let record = try #require(try await store.userRecord(userID: "legacy-1"))
            #expect(record.user == User(id: "legacy-1", anon: false, createdAt: Self.created, tokenVersion: 0))
            #expect(record.identities == [IdentitySummary(provider: "apple", subject: "001.a")])
            #expect(record.entitlements.map(\.name) == ["pro"] && record.appClaims == ["plan": .string("gold")])
            #expect(try await store.userRecord(userID: "legacy-2")?.user.anon == true)
            #expect(try await store.devices(ofUser: "legacy-1").map(\.createdAt) == [Self.created])
            #expect(try await store.sessions(ofUser: "legacy-1").isEmpty)

            // Again: nothing changes, to the millisecond.
            #expect(try await store.importUsers([first, Self.record("legacy-2", devices: ["legacy-device-2"])], now: Fixture.now) == [.unchanged, .unchanged])

            // A device more and new claims: updated. An identity, device or customer of another user: a conflict, nothing written.
            var grown = first
            grown.devices.append(ImportedDevice(id: "legacy-device-3", platform: "android"))
            grown.claims = ["plan": .string("platinum")]
            var thief = Self.record("legacy-2", subject: "001.b", devices: ["legacy-device-1"])
            thief.customers = [ImportedCustomer(source: .stripe, id: "cus_9")]
            let secondApple = Self.record("legacy-1", subject: "001.c")
            #expect(try await store.importUsers([grown, thief, secondApple], now: Fixture.now) == [
                .updated, .conflict("devices[0] is registered to another user"),
                .conflict("identities[0]: the user already has another apple identity"),
            ])
            #expect(try await store.devices(ofUser: "legacy-1").map(\.id).sorted() == ["legacy-device-1", "legacy-device-3"])
            #expect(try await store.userRecord(userID: "legacy-1")?.appClaims == ["plan": .string("platinum")])
            #expect(try await store.userRecord(userID: "legacy-2")?.identities == [], "the conflicting record's identity was not linked")
            #expect(try await store.userRecord(userID: "legacy-2")?.user.anon == true)

            // An imported device has no secret: no secret signs it in, and it stays its user's.
            #expect(try await store.deviceSignIn(try Fixture.deviceSignIn("legacy-device-2")) == .wrongSecret)
            #expect(try await store.deviceOwner(deviceID: "legacy-device-2") == "legacy-2")

            // A sign-in's identity or device is another user's: importing it is a conflict.
            let (signedIn, _) = try await Fixture.signedInDevice(store, "device-native-1")
            #expect(try await store.importUsers([Self.record("legacy-3", devices: ["device-native-1"])], now: Fixture.now) == [
                .conflict("devices[0] is registered to another user"),
            ])
            #expect(try await store.userRecord(userID: "legacy-3") == nil && signedIn.user.id != "legacy-3")
        }
    }

    static func claim(_ deviceID: String, of userID: String, secret: String = String(repeating: "c", count: 32), at time: Date = Fixture.now) throws -> DeviceSignInCommand {
        var command = try Fixture.deviceSignIn(deviceID, secret: secret, at: time)
        command.claimedUserID = userID
        return command
    }

    static func kind(_ outcome: DeviceSignInOutcome) -> String {
        switch outcome {
        case .claimed: "claimed"
        case .signedIn: "signed_in"
        case .claimRefused(let reason, _): reason.rawValue
        default: "\(outcome)"
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func anImportedDeviceIsClaimedOnceByItsUserAndThenSignsInLikeAnyOther(store: StoreUnderTest) async throws {
        try await store.with { store in
            #expect(try await store.importUsers(
                [Self.record("legacy-c1", devices: ["legacy-claim-1", "legacy-claim-2"]), Self.record("legacy-c2", devices: ["legacy-claim-3"])],
                now: Fixture.now) == [.created, .created])
            let later = Fixture.now.addingTimeInterval(60)
            // Refused, with nothing written: no such device, another user's device, a device of a disabled user.
            #expect(try await store.deviceSignIn(try Self.claim("legacy-claim-9", of: "legacy-c1")) == .claimRefused(.unknownDevice, userID: nil))
            #expect(try await store.deviceSignIn(try Self.claim("legacy-claim-3", of: "legacy-c1")) == .claimRefused(.wrongUser, userID: "legacy-c2"))
            #expect(try await store.disableUser(id: "legacy-c2", until: nil, now: Fixture.now, eventUntil: later))
            guard case .userDisabled(let disabledUser, _) = try await store.deviceSignIn(try Self.claim("legacy-claim-3", of: "legacy-c2")) else {
                Issue.record("a disabled user's device was claimed")
                return
            }
            #expect(disabledUser == "legacy-c2")
            #expect(try await store.enableUser(id: "legacy-c2"))
            #expect(try await store.sessions(ofUser: "legacy-c1").isEmpty)
            #expect(try await store.sessions(ofUser: "legacy-c2").isEmpty)

            // Ten claims of one device at once, each with its own secret: exactly one wins.
            let secrets = (0..<10).map { String(repeating: "\($0)", count: 32) }
            let outcomes = try await withThrowingTaskGroup(of: (String, String).self) { group in
                for secret in secrets {
                    group.addTask { (secret, Self.kind(try await store.deviceSignIn(try Self.claim("legacy-claim-1", of: "legacy-c1", secret: secret, at: later)))) }
                }
                return try await group.reduce(into: [(String, String)]()) { $0.append($1) }
            }
            let winners = outcomes.filter { $0.1 == "claimed" }
            #expect(winners.count == 1 && outcomes.filter { $0.1 == "already_claimed" }.count == 9, "\(outcomes.map(\.1))")
            let winner = try #require(winners.first?.0)
            let claimed = try #require(try await store.devices(ofUser: "legacy-c1").first { $0.id == "legacy-claim-1" })
            #expect(claimed.createdAt == Self.created && claimed.lastSignInAt == later && claimed.revokedAt == nil)

            // The winner's secret signs in, as a claim again (a retry) or a sign-in; nobody else's does.
            #expect(Self.kind(try await store.deviceSignIn(try Self.claim("legacy-claim-1", of: "legacy-c1", secret: winner))) == "signed_in")
            #expect(Self.kind(try await store.deviceSignIn(try Fixture.deviceSignIn("legacy-claim-1", secret: winner))) == "signed_in")
            #expect(try await store.deviceSignIn(try Fixture.deviceSignIn("legacy-claim-1", secret: secrets.first { $0 != winner }!)) == .wrongSecret)
            #expect(try await store.sessions(ofUser: "legacy-c1").count == 3)
            // The other imported device of that user is still waiting for its claim.
            #expect(try await store.deviceSignIn(try Fixture.deviceSignIn("legacy-claim-2")) == .wrongSecret)

            // A device registered by an ordinary sign-in has its secret: it can never be claimed.
            let (native, _) = try await Fixture.signedInDevice(store, "device-native-claim")
            #expect(try await store.deviceSignIn(try Self.claim("device-native-claim", of: native.user.id))
                == .claimRefused(.alreadyClaimed, userID: native.user.id))

            // A claim never registers: the unknown device is still unknown.
            #expect(try await store.deviceOwner(deviceID: "legacy-claim-9") == nil)
        }
    }

    static func entitlementNames(_ store: any TegataStore, _ id: String) async throws -> [String]? {
        try await store.userRecord(userID: id)?.entitlements.map(\.name)
    }

    @Test(arguments: StoreUnderTest.all)
    func importedEntitlementsStandBesidePaymentsAndLeaveWithTheUser(store: StoreUnderTest) async throws {
        try await store.with { store in
            // RevenueCat purchases of the legacy id arrived before the import: they are the user's once it exists.
            let early = BillingEvent(
                source: .revenuecat, id: "evt-1", type: "INITIAL_PURCHASE", occurredAt: 1_000, aliases: ["legacy-9"],
                change: .grant(subscription: "rc-sub-1", customer: "legacy-9", entitlements: [Entitlement(name: "pro", expiresAt: nil)]))
            let got1 = try await store.applyBillingEvent(early, now: Fixture.now)
            #expect(got1 == .applied)
            let lifetime = Entitlement(name: "lifetime", expiresAt: nil)
            let record = Self.record("legacy-9", entitlements: [lifetime], customers: [ImportedCustomer(source: .stripe, id: "cus_legacy")])
            let got2 = try await store.importUsers([record], now: Fixture.now)
            #expect(got2 == [.created])
            let got3 = try await Self.entitlementNames(store, "legacy-9")
            #expect(got3 == ["lifetime", "pro"])

            // A Stripe event of the imported customer reaches the user; the imported entitlement stays.
            let stripe = BillingEvent(
                source: .stripe, id: "evt_2", type: "customer.subscription.created", occurredAt: 2_000,
                change: .grant(subscription: "sub_1", customer: "cus_legacy", entitlements: [Entitlement(name: "club", expiresAt: nil)]))
            let got4 = try await store.applyBillingEvent(stripe, now: Fixture.now)
            #expect(got4 == .applied)
            let got5 = try await Self.entitlementNames(store, "legacy-9")
            #expect(got5 == ["club", "lifetime", "pro"])
            let got6 = try await store.importUsers([record], now: Fixture.now)
            #expect(got6 == [.unchanged])

            // Entitlements given anew replace the imported ones only.
            var fewer = record
            fewer.entitlements = []
            let got7 = try await store.importUsers([fewer], now: Fixture.now)
            #expect(got7 == [.updated])
            let got8 = try await Self.entitlementNames(store, "legacy-9")
            #expect(got8 == ["club", "pro"])

            // Deleted, the user takes its imported entitlements along: imported again, they are written again.
            let got9 = try await store.importUsers([record], now: Fixture.now)
            #expect(got9 == [.updated])
            let deleted = try await store.deleteUser(id: "legacy-9", now: Fixture.now, eventUntil: Fixture.now.addingTimeInterval(60))
            #expect(deleted)
            let got10 = try await store.importUsers([Self.record("legacy-9", entitlements: [lifetime])], now: Fixture.now)
            #expect(got10 == [.created])
            let got11 = try await Self.entitlementNames(store, "legacy-9")
            #expect(got11 == ["lifetime"])
        }
    }
}
