import Foundation
import TegataWire

/// One user brought from another system (`POST /admin/v1/users/import`, `tegata users import`),
/// validated: its id kept as given, its identities, its devices (registered without a secret:
/// *unclaimed*), its entitlements and app claims, and the payment customers that name it.
///
/// Importing is an upsert that never takes anything from anyone: a record whose user exists adds
/// what the user lacks (an identity, a device, a customer link) and replaces its imported
/// entitlements and its claims when the record gives them; a record that would take an identity, a
/// device or a customer from another user, or give a user a second identity of one provider, is a
/// conflict and changes nothing. Importing never opens a session or issues a token.
public struct UserImport: Sendable, Equatable {
    /// The user id, exactly as given (1 to 128 of `A-Z a-z 0-9 . _ : -`).
    public var id: String
    /// When the user was created in the other system; nil: at the import.
    public var createdAt: Date?
    /// External identities (at most one per provider, each of a configured provider).
    public var identities: [StoredIdentity]
    /// Devices, registered unclaimed: a device id is no proof, so none signs in until a legacy
    /// device claim (``DeviceClaimWindow``) gives it a secret.
    public var devices: [ImportedDevice]
    /// The imported entitlements (they stand beside what payment webhooks grant, until they
    /// expire); nil leaves an existing user's as they are.
    public var entitlements: [Entitlement]?
    /// App claims (``AppClaimRules``); nil leaves an existing user's as they are.
    public var claims: [String: JSONValue]?
    /// Payment customers (a Stripe customer id, a RevenueCat app user id) that are this user:
    /// webhooks naming them reach it.
    public var customers: [ImportedCustomer]

    /// Creates a record (already valid: ``parse(_:providers:now:)`` checks a wire record).
    public init(
        id: String, createdAt: Date? = nil, identities: [StoredIdentity] = [], devices: [ImportedDevice] = [],
        entitlements: [Entitlement]? = nil, claims: [String: JSONValue]? = nil, customers: [ImportedCustomer] = []
    ) {
        self.id = id
        self.createdAt = createdAt
        self.identities = identities
        self.devices = devices
        self.entitlements = entitlements
        self.claims = claims
        self.customers = customers
    }

    /// The billing source under which imported entitlements are kept (one subscription per user,
    /// named by the user id): webhooks never touch it, and a user's entitlements are merged from
    /// every source, so imported ones count until they end.
    public static let billingSource = "import"

    /// The most records one import call takes.
    public static let maximumBatch = 1000
    /// The most identities, devices, entitlements and customers one record may list.
    public static let maximumIdentities = 20, maximumDevices = 100, maximumEntitlements = 100, maximumCustomers = 20
}

/// A device to register unclaimed.
public struct ImportedDevice: Sendable, Equatable {
    /// The device id (8 to 128 of `A-Z a-z 0-9 . _ : -`, as a device sign-in takes).
    public var id: String
    /// Its platform (`ios`, `android`, …).
    public var platform: String
    /// When it was registered in the other system; nil: the user's creation.
    public var createdAt: Date?

    /// Creates a device record.
    public init(id: String, platform: String, createdAt: Date? = nil) {
        self.id = id
        self.platform = platform
        self.createdAt = createdAt
    }
}

/// A payment provider's customer that is the imported user.
public struct ImportedCustomer: Sendable, Hashable {
    /// The provider.
    public var source: BillingSource
    /// Its customer id (Stripe `cus_…`; a RevenueCat app user id or alias).
    public var id: String

    /// Creates a customer record.
    public init(source: BillingSource, id: String) {
        self.source = source
        self.id = id
    }
}

/// What the store read for one record, inside the transaction that writes it.
public struct UserImportState: Sendable, Equatable {
    /// The user, if it exists.
    public var user: UserRecord?
    /// The owner of each of the record's identities that is linked (by provider, then subject).
    public var identityOwners: [IdentityKey: String]
    /// The owner of each of the record's devices that is registered.
    public var deviceOwners: [String: String]
    /// Each of the record's customers that is stored (and of a RevenueCat customer named by the
    /// user id): the user it is linked to, or nil while unlinked.
    public var customers: [ImportedCustomer: String?]
    /// The user's imported entitlements, as stored.
    public var importedEntitlements: [Entitlement]

    /// Creates a state.
    public init(
        user: UserRecord?, identityOwners: [IdentityKey: String] = [:], deviceOwners: [String: String] = [:],
        customers: [ImportedCustomer: String?] = [:], importedEntitlements: [Entitlement] = []
    ) {
        self.user = user
        self.identityOwners = identityOwners
        self.deviceOwners = deviceOwners
        self.customers = customers
        self.importedEntitlements = importedEntitlements
    }

    /// An identity's key.
    public struct IdentityKey: Sendable, Hashable {
        /// The provider.
        public var provider: String
        /// The subject.
        public var subject: String

        /// Creates a key.
        public init(provider: String, subject: String) {
            self.provider = provider
            self.subject = subject
        }
    }
}

/// What to write for one record.
public struct UserImportWrites: Sendable, Equatable {
    /// The user to create, when it does not exist.
    public var newUser: User?
    /// The existing anonymous user gets its first identity: it is permanent from now on.
    public var makePermanent = false
    /// Identities to link.
    public var identities: [StoredIdentity] = []
    /// Devices to register, unclaimed (their creation time resolved).
    public var devices: [DeviceSummary] = []
    /// Customers to link to the user (stored unlinked, or not stored yet).
    public var customers: [ImportedCustomer] = []
    /// The imported entitlements to keep instead of the stored ones; nil: unchanged.
    public var entitlements: [Entitlement]?
    /// The app claims to set; nil: unchanged.
    public var claims: [String: JSONValue]?

    /// Whether the user's entitlements must be merged again from its grants.
    public var recomputesEntitlements: Bool { !customers.isEmpty || entitlements != nil }
}

/// What importing one record does.
public enum UserImportPlan: Sendable, Equatable {
    /// The user already has all of it.
    case unchanged
    /// Nothing may be written: the reason says which part of the record, never its values.
    case conflict(String)
    /// Write this (``UserImportWrites/newUser`` set: the user is created).
    case write(UserImportWrites)
}

/// The import rules, pure: what a record does to what is stored.
public enum UserImportDecision {
    /// Decides for `record` on `state`, at `now`.
    public static func decide(_ record: UserImport, state: UserImportState, now: Date) -> UserImportPlan {
        var writes = UserImportWrites()
        let userID = record.id
        let createdAt: Date
        if let existing = state.user?.user {
            if let given = record.createdAt, abs(given.timeIntervalSince(existing.createdAt)) >= 1 {
                return .conflict("the user exists with another created_at")
            }
            createdAt = existing.createdAt
        } else {
            createdAt = record.createdAt ?? now
            writes.newUser = User(id: userID, anon: record.identities.isEmpty, createdAt: createdAt, tokenVersion: 0)
        }
        var providers = Set(state.user?.identities.map(\.provider) ?? [])
        for (index, identity) in record.identities.enumerated() {
            switch state.identityOwners[UserImportState.IdentityKey(provider: identity.provider, subject: identity.subject)] {
            case userID?:
                continue
            case .some:
                return .conflict("identities[\(index)] (\(identity.provider)) is linked to another user")
            case nil:
                guard !providers.contains(identity.provider) else {
                    return .conflict("identities[\(index)]: the user already has another \(identity.provider) identity")
                }
                providers.insert(identity.provider)
                writes.identities.append(identity)
            }
        }
        if let user = state.user, user.user.anon, !writes.identities.isEmpty { writes.makePermanent = true }
        for (index, device) in record.devices.enumerated() {
            switch state.deviceOwners[device.id] {
            case userID?: continue
            case .some: return .conflict("devices[\(index)] is registered to another user")
            case nil:
                let registered = device.createdAt ?? createdAt
                writes.devices.append(DeviceSummary(
                    id: device.id, platform: device.platform, createdAt: registered, lastSignInAt: registered, revokedAt: nil))
            }
        }
        for (index, customer) in record.customers.enumerated() {
            switch state.customers[customer] {
            case .some(userID?): continue
            case .some(.some): return .conflict("customers[\(index)] (\(customer.source.rawValue)) is linked to another user")
            case .some(nil), nil: writes.customers.append(customer)
            }
        }
        // RevenueCat names a subscriber by its app user id; if the user's id already has unlinked
        // purchases (webhooks that came before the import), they are the user's now.
        let named = ImportedCustomer(source: .revenuecat, id: userID)
        if case .some(nil) = state.customers[named], !writes.customers.contains(named) { writes.customers.append(named) }
        if let entitlements = record.entitlements, Self.comparable(entitlements) != Self.comparable(state.importedEntitlements) {
            writes.entitlements = entitlements.sorted { $0.name < $1.name }
        }
        if let claims = record.claims, claims != (state.user?.appClaims ?? [:]) {
            writes.claims = claims
        }
        if writes.newUser == nil, writes == UserImportWrites() { return .unchanged }
        return .write(writes)
    }

    /// Entitlements as names with their ends in whole milliseconds (what stores keep), in one order.
    static func comparable(_ entitlements: [Entitlement]) -> [String] {
        entitlements.map { entitlement in
            "\(entitlement.name) \(entitlement.expiresAt.map { String(Int64(($0.timeIntervalSince1970 * 1000).rounded())) } ?? "-")"
        }.sorted()
    }
}

/// What importing one record did.
public enum UserImportOutcome: Sendable, Equatable {
    /// The user was created.
    case created
    /// The user existed; what it lacked was added.
    case updated
    /// The user already had all of it: nothing changed.
    case unchanged
    /// Nothing was written (the reason names the part of the record).
    case conflict(String)
    /// The record is malformed (the message names the field); nothing was written.
    case invalid(String)

    /// The result's name on the wire.
    public var name: String {
        switch self {
        case .created: "created"
        case .updated: "updated"
        case .unchanged: "unchanged"
        case .conflict: "conflict"
        case .invalid: "invalid"
        }
    }

    /// The reason, for a conflict or an invalid record.
    public var reason: String? {
        switch self {
        case .conflict(let reason), .invalid(let reason): reason
        case .created, .updated, .unchanged: nil
        }
    }

    /// The outcome of a written plan.
    public init(_ plan: UserImportPlan) {
        switch plan {
        case .unchanged: self = .unchanged
        case .conflict(let reason): self = .conflict(reason)
        case .write(let writes): self = writes.newUser == nil ? .updated : .created
        }
    }
}

extension UserImport {
    /// The record of one element of an import's `users`, checked field by field: the message of an
    /// invalid record names the field (never its value). `providers` are the configured identity
    /// providers, each with whether it keeps e-mail addresses (one it does not keep is dropped).
    /// Times may not be more than five minutes ahead of `now`.
    ///
    /// ```json
    /// {"id": "…", "created_at": "2024-05-01T09:00:00Z", "anon": false,
    ///  "identities": [{"provider": "apple", "subject": "001234.abcd", "email": "…", "linked_at": "…"}],
    ///  "devices": [{"id": "…", "platform": "ios", "created_at": "…"}],
    ///  "entitlements": [{"name": "pro", "expires_at": "2027-01-01T00:00:00Z"}],
    ///  "claims": {"plan": "gold"},
    ///  "customers": [{"source": "stripe", "id": "cus_…"}]}
    /// ```
    public static func parse(_ value: JSONValue, providers: [String: Bool], now: Date) throws(TegataError) -> UserImport {
        let record = try Fields(value, path: "", allowed: ["id", "created_at", "anon", "identities", "devices", "entitlements", "claims", "customers"])
        let id = try record.string("id", required: true)!
        guard WireIdentifier.isUserID(id) else {
            throw .invalidRequest("id must be 1 to 128 characters of A-Z a-z 0-9 . _ : - (map other ids first: docs/migration.md)")
        }
        let createdAt = try record.time("created_at", now: now)
        var result = UserImport(id: id, createdAt: createdAt)
        for (index, element) in try record.array("identities", maximum: maximumIdentities).enumerated() {
            let fields = try Fields(element, path: "identities[\(index)].", allowed: ["provider", "subject", "email", "linked_at"])
            let provider = try fields.string("provider", required: true)!
            guard let keepsEmail = providers[provider] else {
                throw .invalidRequest("identities[\(index)].provider is not a configured provider")
            }
            guard !result.identities.contains(where: { $0.provider == provider }) else {
                throw .invalidRequest("identities[\(index)]: a user has at most one identity of a provider")
            }
            let subject = try fields.string("subject", required: true)!
            guard (1...255).contains(subject.utf8.count), subject.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                throw .invalidRequest("identities[\(index)].subject must be 1 to 255 bytes without control characters")
            }
            let email = try fields.string("email", required: false)
            if let email, !(3...320).contains(email.utf8.count) || !email.contains("@") {
                throw .invalidRequest("identities[\(index)].email must be an e-mail address")
            }
            let linkedAt = try fields.time("linked_at", now: now) ?? createdAt ?? now
            result.identities.append(StoredIdentity(provider: provider, subject: subject, email: keepsEmail ? email : nil, linkedAt: linkedAt))
        }
        if let anon = try record.bool("anon"), anon != result.identities.isEmpty {
            throw .invalidRequest(anon ? "anon is true but identities are given" : "anon is false but no identity is given: a user without one is anonymous")
        }
        for (index, element) in try record.array("devices", maximum: maximumDevices).enumerated() {
            let fields = try Fields(element, path: "devices[\(index)].", allowed: ["id", "platform", "created_at"])
            let deviceID = try fields.string("id", required: true)!
            guard WireIdentifier.isDeviceID(deviceID) else {
                throw .invalidRequest("devices[\(index)].id must be 8 to 128 characters of A-Z a-z 0-9 . _ : -")
            }
            guard !result.devices.contains(where: { $0.id == deviceID }) else {
                throw .invalidRequest("devices[\(index)] repeats an earlier device of the record")
            }
            let platform: String
            do {
                platform = try DeviceCredentials.validPlatform(try fields.string("platform", required: true)!)
            } catch {
                throw .invalidRequest("devices[\(index)].\(error.message)")
            }
            result.devices.append(ImportedDevice(id: deviceID, platform: platform, createdAt: try fields.time("created_at", now: now)))
        }
        if record.has("entitlements") {
            var entitlements: [Entitlement] = []
            for (index, element) in try record.array("entitlements", maximum: maximumEntitlements).enumerated() {
                let fields = try Fields(element, path: "entitlements[\(index)].", allowed: ["name", "expires_at"])
                let name = try fields.string("name", required: true)!
                guard Entitlement.isValidName(name) else {
                    throw .invalidRequest("entitlements[\(index)].name must be 1 to 64 characters of A-Z a-z 0-9 . _ : -")
                }
                guard !entitlements.contains(where: { $0.name == name }) else {
                    throw .invalidRequest("entitlements[\(index)] repeats the name of an earlier entitlement")
                }
                entitlements.append(Entitlement(name: name, expiresAt: try fields.time("expires_at", now: nil)))
            }
            result.entitlements = entitlements
        }
        if let claims = record.members["claims"] {
            guard case .object(let object) = claims else { throw .invalidRequest("claims must be a JSON object") }
            do {
                _ = try AppClaimRules.check(object)
            } catch {
                throw .invalidRequest("claims: \(error.message)")
            }
            result.claims = object
        }
        for (index, element) in try record.array("customers", maximum: maximumCustomers).enumerated() {
            let fields = try Fields(element, path: "customers[\(index)].", allowed: ["source", "id"])
            guard let source = BillingSource(rawValue: try fields.string("source", required: true)!) else {
                throw .invalidRequest("customers[\(index)].source must be stripe or revenuecat")
            }
            let customer = try fields.string("id", required: true)!
            guard (1...255).contains(customer.utf8.count), customer.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw .invalidRequest("customers[\(index)].id must be 1 to 255 printable ASCII characters without spaces")
            }
            let imported = ImportedCustomer(source: source, id: customer)
            guard !result.customers.contains(imported) else {
                throw .invalidRequest("customers[\(index)] repeats an earlier customer of the record")
            }
            result.customers.append(imported)
        }
        return result
    }

    /// The members of one JSON object of a record, read with their path for messages.
    private struct Fields {
        let members: [String: JSONValue]
        let path: String

        init(_ value: JSONValue, path: String, allowed: Set<String>) throws(TegataError) {
            guard case .object(let members) = value else {
                throw .invalidRequest(path.isEmpty ? "a user must be a JSON object" : "\(path.dropLast()) must be a JSON object")
            }
            if let unknown = members.keys.sorted().first(where: { !allowed.contains($0) }) {
                throw .invalidRequest("\(path)\(Self.printable(unknown)) is not a field of an imported user (\(allowed.sorted().joined(separator: ", ")))")
            }
            self.members = members
            self.path = path
        }

        /// A field name fit to quote: a short run of plain characters, or a placeholder.
        private static func printable(_ name: String) -> String {
            name.utf8.count <= 40 && name.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "\"") }) ? name : "a field"
        }

        func has(_ name: String) -> Bool { members[name] != nil }

        func string(_ name: String, required: Bool) throws(TegataError) -> String? {
            switch members[name] {
            case .string(let text)?: return text
            case nil, .null?:
                // An optional field may be null (an export writes `"expires_at": null`).
                if required { throw .invalidRequest("\(path)\(name) is required") }
                return nil
            default: throw .invalidRequest("\(path)\(name) must be a string")
            }
        }

        func bool(_ name: String) throws(TegataError) -> Bool? {
            switch members[name] {
            case .bool(let value)?: return value
            case nil: return nil
            default: throw .invalidRequest("\(path)\(name) must be true or false")
            }
        }

        func array(_ name: String, maximum: Int) throws(TegataError) -> [JSONValue] {
            switch members[name] {
            case .array(let values)?:
                guard values.count <= maximum else { throw .invalidRequest("\(path)\(name) may list at most \(maximum)") }
                return values
            case nil: return []
            default: throw .invalidRequest("\(path)\(name) must be an array")
            }
        }

        /// An RFC 3339 time, in whole milliseconds; with `now`, at most five minutes after it.
        func time(_ name: String, now: Date?) throws(TegataError) -> Date? {
            guard let text = try string(name, required: false) else { return nil }
            guard let parsed = WireTime.rfc3339(text)
            else { throw .invalidRequest("\(path)\(name) must be an RFC 3339 time such as 2024-05-01T09:00:00Z") }
            let date = Date(timeIntervalSince1970: (parsed.timeIntervalSince1970 * 1000).rounded() / 1000)
            guard date.timeIntervalSince1970 >= 0 else { throw .invalidRequest("\(path)\(name) is before 1970") }
            if let now, date > now.addingTimeInterval(300) { throw .invalidRequest("\(path)\(name) is in the future") }
            return date
        }
    }
}
