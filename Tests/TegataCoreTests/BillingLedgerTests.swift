import Foundation
import TegataCore
import Testing

/// The payment rules, decided by the core without I/O: order safety, the same-time tie-break,
/// transfers and their redirection, links and aliases, and how grants merge into entitlements.
@Suite struct BillingLedgerTests {
    /// Every stored row of one source, answering the ledger's reads as a store would, and applying
    /// its writes (so a sequence of events can be followed).
    struct Ledger {
        var customers: [String: BillingCustomer] = [:]
        var subscriptions: [String: BillingSubscription] = [:]
        var transfers: [String: BillingTransfer] = [:]
        var users: Set<String> = []
        /// How many read rounds the last event needed.
        var rounds = 0

        /// Decides `event` (reading what the ledger asks for) and applies the writes.
        mutating func apply(_ event: BillingEvent) throws -> BillingWrites {
            var snapshot = BillingSnapshot()
            rounds = 0
            while true {
                switch BillingLedger.decide(event, on: snapshot) {
                case .read(let keys):
                    rounds += 1
                    guard rounds < 10, !keys.isEmpty else { throw Failure("the ledger asked for \(keys) again") }
                    for id in keys.customers { snapshot.customers[id] = .some(customers[id]) }
                    for id in keys.subscriptions { snapshot.subscriptions[id] = .some(subscriptions[id]) }
                    for id in keys.transfers { snapshot.transfers[id] = .some(transfers[id]) }
                    for id in keys.users { snapshot.users[id] = users.contains(id) }
                    for user in keys.customersOfUser {
                        snapshot.customersOfUser[user] = customers.filter { $0.value.userID == user }.map(\.key).sorted()
                    }
                    for customer in keys.subscriptionsOfCustomer {
                        snapshot.subscriptionsOfCustomer[customer] = subscriptions.filter { $0.value.customer == customer }.map(\.key).sorted()
                    }
                case .write(let writes):
                    customers.merge(writes.customers) { $1 }
                    subscriptions.merge(writes.subscriptions) { $1 }
                    transfers.merge(writes.transfers) { $1 }
                    return writes
                }
            }
        }

        /// A user's entitlements as a store recomputes them.
        func entitlements(of user: String) -> [Entitlement] {
            let owned = Set(customers.filter { $0.value.userID == user }.map(\.key))
            return Entitlement.merged(subscriptions.values.filter { owned.contains($0.customer) }.flatMap(\.grants))
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static let pro = [Entitlement(name: "pro", expiresAt: Date(timeIntervalSince1970: 1_900_000_000))]

    static func grant(_ id: String, at time: Int64, subscription: String = "sub_1", customer: String = "cus_1", link user: String? = nil,
                      entitlements: [Entitlement] = pro) -> BillingEvent {
        BillingEvent(
            source: .stripe, id: id, type: "grant", occurredAt: time,
            links: user.map { [CustomerLink(customer: customer, userID: $0)] } ?? [],
            change: .grant(subscription: subscription, customer: customer, entitlements: entitlements))
    }

    static func end(_ id: String, at time: Int64, final: Bool, subscription: String = "sub_1", customer: String = "cus_1") -> BillingEvent {
        BillingEvent(source: .stripe, id: id, type: "end", occurredAt: time, change: .end(subscription: subscription, customer: customer, final: final))
    }

    @Test func aNewerEventReplacesAnOlderOneIsStaleAndAFinalEndIsForever() throws {
        var ledger = Ledger()
        #expect(try ledger.apply(Self.grant("e1", at: 2_000, link: "u1")).outcome == .applied)
        #expect(ledger.entitlements(of: "u1") == Self.pro)
        // Older than what is stored: stale, and nothing written to the subscription.
        let stale = try ledger.apply(Self.end("e0", at: 1_999, final: true))
        #expect(stale.outcome == .stale && stale.subscriptions.isEmpty)
        #expect(ledger.entitlements(of: "u1") == Self.pro)
        // Newer: applied, and the user is touched so its entitlements are recomputed.
        let ended = try ledger.apply(Self.end("e2", at: 3_000, final: true))
        #expect(ended.outcome == .applied && ended.touchedUsers == ["u1"])
        #expect(ledger.entitlements(of: "u1").isEmpty)
        // After a final end, even a newer grant is stale.
        #expect(try ledger.apply(Self.grant("e3", at: 9_000)).outcome == .stale)
        #expect(ledger.entitlements(of: "u1").isEmpty)
    }

    @Test(arguments: [false, true])
    func atTheSameTimeAGrantWinsOverANonFinalEndInEitherOrder(grantFirst: Bool) throws {
        var ledger = Ledger()
        _ = try ledger.apply(BillingEvent(source: .stripe, id: "link", type: "link", occurredAt: 1, links: [CustomerLink(customer: "cus_1", userID: "u1")]))
        let events = [Self.grant("active", at: 5_000), Self.end("incomplete", at: 5_000, final: false)]
        let outcomes = try (grantFirst ? events : events.reversed()).map { try ledger.apply($0).outcome }
        #expect(outcomes == (grantFirst ? [.applied, .stale] : [.applied, .applied]))
        #expect(ledger.entitlements(of: "u1") == Self.pro)
        // One millisecond later, an end does end it.
        #expect(try ledger.apply(Self.end("later", at: 5_001, final: false)).outcome == .applied)
        #expect(ledger.entitlements(of: "u1").isEmpty)
    }

    @Test func atTheSameTimeAFinalEndWinsInEitherOrder() throws {
        var first = Ledger()
        _ = try first.apply(Self.grant("g", at: 5_000, link: "u1"))
        #expect(try first.apply(Self.end("deleted", at: 5_000, final: true)).outcome == .applied)
        #expect(first.entitlements(of: "u1").isEmpty)
        var second = Ledger()
        _ = try second.apply(BillingEvent(source: .stripe, id: "link", type: "link", occurredAt: 1, links: [CustomerLink(customer: "cus_1", userID: "u1")]))
        _ = try second.apply(Self.end("deleted", at: 5_000, final: true))
        #expect(try second.apply(Self.grant("g", at: 5_000)).outcome == .stale)
        #expect(second.entitlements(of: "u1").isEmpty)
    }

    @Test func aNewerLinkIsKeptAnOlderOneIsIgnoredAndAMoveTouchesBothUsers() throws {
        var ledger = Ledger()
        _ = try ledger.apply(Self.grant("e1", at: 2_000, link: "u1"))
        // An older link to another user changes nothing.
        let older = try ledger.apply(BillingEvent(source: .stripe, id: "e0", type: "link", occurredAt: 1_000, links: [CustomerLink(customer: "cus_1", userID: "u2")]))
        #expect(older.customers.isEmpty && older.touchedUsers.isEmpty)
        #expect(ledger.customers["cus_1"]?.userID == "u1")
        // A newer one moves the customer: both users' entitlements are recomputed.
        let newer = try ledger.apply(BillingEvent(source: .stripe, id: "e2", type: "link", occurredAt: 3_000, links: [CustomerLink(customer: "cus_1", userID: "u2")]))
        #expect(newer.touchedUsers == ["u1", "u2"])
        #expect(ledger.entitlements(of: "u1").isEmpty && ledger.entitlements(of: "u2") == Self.pro)
        // The same link again writes nothing.
        #expect(try ledger.apply(BillingEvent(source: .stripe, id: "e3", type: "link", occurredAt: 4_000, links: [CustomerLink(customer: "cus_1", userID: "u2")])).customers.isEmpty)
    }

    @Test func anUnlinkedCustomerTakesAnyLinkHoweverOld() throws {
        var ledger = Ledger()
        ledger.customers["anon"] = BillingCustomer(userID: nil, linkedAt: 9_000)
        let linked = try ledger.apply(BillingEvent(source: .revenuecat, id: "e", type: "link", occurredAt: 1, links: [CustomerLink(customer: "anon", userID: "u1")]))
        #expect(linked.customers["anon"] == BillingCustomer(userID: "u1", linkedAt: 1))
    }

    @Test func theFirstAliasThatIsAUserLinksThemAllInOneRead() throws {
        var ledger = Ledger()
        ledger.users = ["u1"]
        let aliases = (0..<40).map { "$RCAnonymousID:\($0)" } + ["u1"]
        let writes = try ledger.apply(BillingEvent(source: .revenuecat, id: "e", type: "alias", occurredAt: 1_000, aliases: aliases))
        #expect(Set(writes.customers.keys) == Set(aliases))
        #expect(writes.customers.values.allSatisfy { $0.userID == "u1" })
        #expect(ledger.rounds == 1, "every alias is looked up in one round")
    }

    @Test func aliasesOfNoUserAreRecordedUnlinkedWithoutOverwritingALink() throws {
        var ledger = Ledger()
        ledger.customers["known"] = BillingCustomer(userID: "u9", linkedAt: 5)
        let writes = try ledger.apply(BillingEvent(source: .revenuecat, id: "e", type: "alias", occurredAt: 1_000, aliases: ["known", "new"]))
        #expect(writes.customers == ["new": BillingCustomer(userID: nil, linkedAt: 1_000)])
        #expect(writes.touchedUsers.isEmpty)
    }

    @Test func aTransferMovesTheSubscriptionsOfTheNamedCustomersAndOfTheirUsersOtherCustomers() throws {
        var ledger = Ledger()
        ledger.customers = [
            "a1": BillingCustomer(userID: "ua", linkedAt: 1), "a2": BillingCustomer(userID: "ua", linkedAt: 1),
            "b": BillingCustomer(userID: "ub", linkedAt: 1),
        ]
        ledger.subscriptions = [
            "s1": BillingSubscription(customer: "a1", lastEventAt: 100, final: false, grants: Self.pro),
            "s2": BillingSubscription(customer: "a2", lastEventAt: 100, final: false, grants: [Entitlement(name: "vip", expiresAt: nil)]),
            "ended": BillingSubscription(customer: "a2", lastEventAt: 100, final: true, grants: []),
            "newer": BillingSubscription(customer: "a1", lastEventAt: 900, final: false, grants: [Entitlement(name: "late", expiresAt: nil)]),
        ]
        let writes = try ledger.apply(BillingEvent(source: .revenuecat, id: "t", type: "TRANSFER", occurredAt: 500, change: .transfer(from: ["a1"], to: "b")))
        #expect(writes.outcome == .applied)
        #expect(writes.touchedUsers == ["ua", "ub"])
        #expect(Set(writes.subscriptions.keys) == ["s1", "s2"], "a final and a newer subscription stay where they are")
        #expect(writes.transfers == ["a1": BillingTransfer(to: "b", at: 500), "a2": BillingTransfer(to: "b", at: 500)])
        #expect(ledger.entitlements(of: "ub").map(\.name) == ["pro", "vip"])
        #expect(ledger.entitlements(of: "ua").map(\.name) == ["late"])
    }

    @Test func anOlderEventOfATransferredCustomerLandsOnTheDestination() throws {
        var ledger = Ledger()
        ledger.customers = ["a": BillingCustomer(userID: "ua", linkedAt: 1), "b": BillingCustomer(userID: "ub", linkedAt: 1)]
        ledger.transfers = ["a": BillingTransfer(to: "b", at: 500)]
        // Happened before the transfer, arrived after it: the destination's.
        let early = try ledger.apply(Self.grant("early", at: 400, customer: "a"))
        #expect(early.subscriptions["sub_1"]?.customer == "b" && early.touchedUsers == ["ub"])
        // Happened after the transfer: the customer's own.
        let late = try ledger.apply(Self.grant("late", at: 600, subscription: "sub_2", customer: "a"))
        #expect(late.subscriptions["sub_2"]?.customer == "a" && late.touchedUsers == ["ua"])
    }

    @Test func aNewerTransferIsNotOverwrittenByAnOlderOne() throws {
        var ledger = Ledger()
        ledger.customers = ["a": BillingCustomer(userID: nil, linkedAt: 1)]
        ledger.transfers = ["a": BillingTransfer(to: "c", at: 800)]
        let writes = try ledger.apply(BillingEvent(source: .revenuecat, id: "t", type: "TRANSFER", occurredAt: 500, change: .transfer(from: ["a"], to: "b")))
        #expect(writes.transfers.isEmpty)
        #expect(ledger.transfers["a"] == BillingTransfer(to: "c", at: 800))
    }

    @Test func grantsMergeIntoOneEntitlementPerName() {
        let d1 = Date(timeIntervalSince1970: 1_000), d2 = Date(timeIntervalSince1970: 2_000)
        #expect(Entitlement.merged([]) == [])
        #expect(Entitlement.merged([Entitlement(name: "pro", expiresAt: d1), Entitlement(name: "pro", expiresAt: d2)])
                == [Entitlement(name: "pro", expiresAt: d2)])
        // No end wins over any end, in either order.
        for grants in [[Entitlement(name: "pro", expiresAt: d2), Entitlement(name: "pro", expiresAt: nil)],
                       [Entitlement(name: "pro", expiresAt: nil), Entitlement(name: "pro", expiresAt: d2)]] {
            #expect(Entitlement.merged(grants) == [Entitlement(name: "pro", expiresAt: nil)])
        }
        #expect(Entitlement.merged([Entitlement(name: "vip", expiresAt: d1), Entitlement(name: "ad_free", expiresAt: nil)]).map(\.name) == ["ad_free", "vip"])
    }
}
