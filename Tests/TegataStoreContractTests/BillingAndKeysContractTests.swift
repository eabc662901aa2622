import Foundation
import TegataCore
import Testing

/// Payment events and signing keys, as every store must keep them.
@Suite struct BillingAndKeysContractTests {
    static func grant(_ id: String, at occurredAt: Int64, user: String, ends: Date) -> BillingEvent {
        BillingEvent(
            source: .stripe, id: id, type: "customer.subscription.updated", occurredAt: occurredAt,
            links: [CustomerLink(customer: "cus_1", userID: user)],
            change: .grant(subscription: "sub_1", customer: "cus_1", entitlements: [Entitlement(name: "pro", expiresAt: ends)]))
    }

    @Test(arguments: StoreUnderTest.all)
    func eventsApplyOnceAndNeverUndoNewerState(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (user, _) = try await Fixture.signedInDevice(store, "device-0001")
            let ends = Fixture.now.addingTimeInterval(86_400)
            #expect(try await store.applyBillingEvent(Self.grant("evt_1", at: 2_000, user: user.user.id, ends: ends), now: Fixture.now) == .applied)
            #expect(try await store.applyBillingEvent(Self.grant("evt_1", at: 2_000, user: user.user.id, ends: ends), now: Fixture.now) == .duplicate)
            #expect(try await store.userRecord(userID: user.user.id)?.entitlements == [Entitlement(name: "pro", expiresAt: ends)])
            // An older event arriving late is stale and changes nothing.
            let end = BillingEvent(source: .stripe, id: "evt_0", type: "customer.subscription.deleted", occurredAt: 1_000,
                                   change: .end(subscription: "sub_1", customer: "cus_1", final: true))
            #expect(try await store.applyBillingEvent(end, now: Fixture.now) == .stale)
            #expect(try await store.userRecord(userID: user.user.id)?.entitlements.map(\.name) == ["pro"])
            // A newer end ends it.
            let newer = BillingEvent(source: .stripe, id: "evt_2", type: "customer.subscription.deleted", occurredAt: 3_000,
                                     change: .end(subscription: "sub_1", customer: "cus_1", final: true))
            #expect(try await store.applyBillingEvent(newer, now: Fixture.now) == .applied)
            #expect(try await store.userRecord(userID: user.user.id)?.entitlements.isEmpty == true)
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func aCustomerLinkedLaterGetsWhatItAlreadyPaidFor(store: StoreUnderTest) async throws {
        try await store.with { store in
            let ends = Fixture.now.addingTimeInterval(86_400)
            let purchase = BillingEvent(
                source: .revenuecat, id: "rc_1", type: "INITIAL_PURCHASE", occurredAt: 1_000, aliases: ["$RCAnonymousID:abc"],
                change: .grant(subscription: "tx_1", customer: "$RCAnonymousID:abc", entitlements: [Entitlement(name: "vip", expiresAt: ends)]))
            #expect(try await store.applyBillingEvent(purchase, now: Fixture.now) == .applied)
            let (user, _) = try await Fixture.signedInDevice(store, "device-0001")
            #expect(try await store.userRecord(userID: user.user.id)?.entitlements.isEmpty == true)
            let alias = BillingEvent(source: .revenuecat, id: "rc_2", type: "SUBSCRIBER_ALIAS", occurredAt: 2_000,
                                     aliases: [user.user.id, "$RCAnonymousID:abc"])
            #expect(try await store.applyBillingEvent(alias, now: Fixture.now) == .applied)
            #expect(try await store.userRecord(userID: user.user.id)?.entitlements == [Entitlement(name: "vip", expiresAt: ends)])
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func withinOneSecondAGrantWinsOverANonFinalEndInEitherOrder(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (user, _) = try await Fixture.signedInDevice(store, "device-0001")
            let ends = Fixture.now.addingTimeInterval(86_400)
            let incomplete = BillingEvent(source: .stripe, id: "evt_incomplete", type: "customer.subscription.created", occurredAt: 5_000,
                                          links: [CustomerLink(customer: "cus_1", userID: user.user.id)],
                                          change: .end(subscription: "sub_1", customer: "cus_1", final: false))
            // The activation first, then the earlier-created (same second) incomplete state: stale.
            #expect(try await store.applyBillingEvent(Self.grant("evt_active", at: 5_000, user: user.user.id, ends: ends), now: Fixture.now) == .applied)
            #expect(try await store.applyBillingEvent(incomplete, now: Fixture.now) == .stale)
            #expect(try await store.userRecord(userID: user.user.id)?.entitlements == [Entitlement(name: "pro", expiresAt: ends)])
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func aTransferMovesPurchasesAndALateOlderEventFollowsThem(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (a, _) = try await Fixture.signedInDevice(store, "device-0001")
            let (b, _) = try await Fixture.signedInDevice(store, "device-0002")
            let ends = Fixture.now.addingTimeInterval(86_400)
            func purchase(_ id: String, at time: Int64, subscription: String, name: String) -> BillingEvent {
                BillingEvent(source: .revenuecat, id: id, type: "RENEWAL", occurredAt: time, aliases: [a.user.id],
                             change: .grant(subscription: subscription, customer: a.user.id, entitlements: [Entitlement(name: name, expiresAt: ends)]))
            }
            #expect(try await store.applyBillingEvent(purchase("rc_1", at: 1_000, subscription: "tx_1", name: "pro"), now: Fixture.now) == .applied)
            #expect(try await store.applyBillingEvent(BillingEvent(source: .revenuecat, id: "rc_b", type: "ALIAS", occurredAt: 1_000, aliases: [b.user.id]),
                                                      now: Fixture.now) == .applied)
            let transfer = BillingEvent(source: .revenuecat, id: "rc_t", type: "TRANSFER", occurredAt: 2_000,
                                        change: .transfer(from: [a.user.id], to: b.user.id))
            #expect(try await store.applyBillingEvent(transfer, now: Fixture.now) == .applied)
            #expect(try await store.userRecord(userID: a.user.id)?.entitlements.isEmpty == true)
            #expect(try await store.userRecord(userID: b.user.id)?.entitlements.map(\.name) == ["pro"])
            // An event from before the transfer that arrives after it lands on the destination.
            #expect(try await store.applyBillingEvent(purchase("rc_0", at: 1_500, subscription: "tx_2", name: "vip"), now: Fixture.now) == .applied)
            #expect(try await store.userRecord(userID: a.user.id)?.entitlements.isEmpty == true)
            #expect(try await store.userRecord(userID: b.user.id)?.entitlements.map(\.name) == ["pro", "vip"])
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func entitlementsMergeAcrossSubscriptionsAndSources(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (user, _) = try await Fixture.signedInDevice(store, "device-0001")
            let soon = Fixture.now.addingTimeInterval(3_600), later = Fixture.now.addingTimeInterval(86_400)
            let stripe = BillingEvent(source: .stripe, id: "evt_1", type: "customer.subscription.updated", occurredAt: 1_000,
                                      links: [CustomerLink(customer: "cus_1", userID: user.user.id)],
                                      change: .grant(subscription: "sub_1", customer: "cus_1", entitlements: [
                                          Entitlement(name: "pro", expiresAt: soon), Entitlement(name: "ad_free", expiresAt: soon)]))
            let revenuecat = BillingEvent(source: .revenuecat, id: "rc_1", type: "INITIAL_PURCHASE", occurredAt: 1_000, aliases: [user.user.id],
                                          change: .grant(subscription: "tx_1", customer: user.user.id, entitlements: [
                                              Entitlement(name: "pro", expiresAt: later), Entitlement(name: "ad_free", expiresAt: nil)]))
            _ = try await store.applyBillingEvent(stripe, now: Fixture.now)
            _ = try await store.applyBillingEvent(revenuecat, now: Fixture.now)
            #expect(try await store.userRecord(userID: user.user.id)?.entitlements
                    == [Entitlement(name: "ad_free", expiresAt: nil), Entitlement(name: "pro", expiresAt: later)])
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func signingKeysComeBackNewestFirstAndGoWhenRemoved(store: StoreUnderTest) async throws {
        try await store.with { store in
            func key(_ id: String, _ seconds: TimeInterval) -> StoredSigningKey {
                StoredSigningKey(keyID: id, algorithm: "ES256", sealedPrivateKey: Data(id.utf8), createdAt: Fixture.now.addingTimeInterval(seconds),
                                 activatesAt: Fixture.now.addingTimeInterval(seconds + 300))
            }
            try await store.insertSigningKey(key("k1", 0), removing: [])
            try await store.insertSigningKey(key("k2", 0), removing: [])  // the same second: insertion order decides
            try await store.insertSigningKey(key("k3", 10), removing: ["k1"])
            let keys = try await store.signingKeys()
            #expect(keys.map(\.keyID) == ["k3", "k2"])
            #expect(keys.first == key("k3", 10))
        }
    }

    @Test(arguments: StoreUnderTest.all)
    func deletingAUserRemovesEverythingItOwnsAndKillsItsTokens(store: StoreUnderTest) async throws {
        try await store.with { store in
            let (user, session) = try await Fixture.signedInDevice(store, "device-0001")
            _ = try await store.linkIdentity(ExternalIdentity(provider: "apple", subject: "a-1", email: nil), toUser: user.user.id, now: Fixture.now)
            _ = try await store.applyBillingEvent(
                Self.grant("evt_1", at: 1_000, user: user.user.id, ends: Fixture.now.addingTimeInterval(86_400)), now: Fixture.now)
            let start = try await store.revocationEvents(after: nil, now: Fixture.now, limit: 100).cursor
            #expect(try await store.deleteUser(id: user.user.id, now: Fixture.now, eventUntil: Fixture.now.addingTimeInterval(900)))
            #expect(try await store.userRecord(userID: user.user.id) == nil)
            #expect(try await store.deviceOwner(deviceID: "device-0001") == nil)
            #expect(try await store.authState(sessionID: session.id, jti: nil, withUser: true) == nil)
            #expect(try await store.liveSessions(userID: user.user.id, now: Fixture.now, idleLifetime: 1_000).isEmpty)
            let events = try await store.revocationEvents(after: start, now: Fixture.now, limit: 100).events
            #expect(events.contains { if case .user(let sub, _) = $0.kind { sub == user.user.id } else { false } })
            // The identity is free: signing in with it makes a new user.
            let again = try await store.identitySignIn(Fixture.identitySignIn("apple", "a-1"))
            #expect(again.created && again.record.user.id != user.user.id)
            try await store.ping()
        }
    }
}
