import Foundation
import Hummingbird
import Logging
import TegataCore
import TegataTokens
import TegataWire

/// What the operator CLI (`tegata users …`, `tegata sessions …`, `tegata keys …`) does: the admin
/// API's operations on the configured database — SQLite or PostgreSQL, the same `--config` and
/// environment as `serve` — through the same domain services (``Administration``, ``ServerKeys``),
/// so the feed, the device revocations and the rules are the ones the API keeps. Each command
/// answers the admin API's JSON and a readable text, and writes an `admin_action` audit event
/// (`"via": "cli"`) to the configured audit stream and table.
public struct Operator: Sendable {
    /// The configuration it was opened with.
    public let configuration: TegataConfiguration
    let store: any TegataStore
    let administration: Administration
    let clock: any TegataClock
    let logger: Logger
    let auditStream: AuditLineStream?

    /// What a command answers: the admin API's JSON body, and the same for a person to read.
    public struct Output: Sendable {
        /// The JSON, compact with keys sorted (empty for a command that answers nothing).
        public var json: Data
        /// The readable form, lines ending in a newline.
        public var text: String
    }

    /// Opens the configured store (creating or migrating it, as `serve` does).
    public static func open(_ configuration: TegataConfiguration, clock: any TegataClock = SystemClock(), logger: Logger) async throws -> Operator {
        let stream = try AuditLineStream(configuration.auditLog)
        let store = try await StoreFactory.open(configuration, logger: logger)
        return Operator(
            configuration: configuration, store: store,
            administration: Administration(store: store, policy: TegataServices.policy(configuration), clock: clock),
            clock: clock, logger: logger, auditStream: stream)
    }

    /// Closes the store.
    public func close() async {
        await store.close()
    }

    /// Runs `body` as the command `action` (`"users disable"`), auditing it with its user or
    /// session: a success, or a failure with the error's code.
    public func audited<T: Sendable>(
        _ action: String, user: String? = nil, session: String? = nil, _ body: () async throws -> T
    ) async throws -> T {
        func record(_ outcome: AuditOutcome, _ status: String) async {
            let event = AuditEvent(
                time: clock.now(), type: .adminAction, outcome: outcome,
                userID: user.flatMap { UserID.isWellFormed($0) ? $0 : nil },
                sessionID: session.flatMap { UserID.isWellFormed($0) ? $0 : nil },
                details: ["action": action, "via": "cli", "status": status])
            auditStream?.write(event)
            guard configuration.auditTable else { return }
            do {
                try await store.appendAuditEvents([event])
            } catch {
                logger.error("the audit event could not be written to the audit table", metadata: ["error": "\(error)"])
            }
        }
        do {
            let result = try await body()
            await record(.success, "ok")
            return result
        } catch let error as TegataError {
            await record(.failure, error.code.rawValue)
            throw error
        } catch {
            await record(.failure, "error")
            throw error
        }
    }

    // MARK: Users

    /// `users get ID`.
    public func user(_ id: String) async throws -> Output {
        let view = AdminViews.user(try await audited("users get", user: id) { try await administration.user(id) }, now: clock.now())
        var text = "user \(view.id)\n"
        text += "  anon: \(view.anon)  created: \(Self.time(view.createdAt))  token version: \(view.tokenVersion)\n"
        if let disabled = view.disabled {
            text += "  disabled since \(Self.time(disabled.since))" + (disabled.until.map { " until \(Self.time($0))" } ?? " until enabled") + "\n"
        } else {
            text += "  enabled\n"
        }
        text += "  identities:" + (view.identities.isEmpty ? " none\n" : "\n")
        for identity in view.identities {
            text += "    \(identity.provider) \(identity.subject)" + (identity.email.map { " <\($0)>" } ?? "") + "  linked \(Self.time(identity.linkedAt))\n"
        }
        text += "  devices:" + (view.devices.isEmpty ? " none\n" : "\n")
        for device in view.devices {
            text += "    \(device.id) \(device.platform)  registered \(Self.time(device.createdAt))  last sign-in \(Self.time(device.lastSignInAt))"
                + (device.revokedAt.map { "  revoked \(Self.time($0))" } ?? "") + "\n"
        }
        let ent = view.ent.keys.sorted().map { name -> String in
            switch view.ent[name]! {
            case .unlimited: name
            case .until(let at): "\(name) (until \(Self.time(Date(timeIntervalSince1970: TimeInterval(at)))))"
            }
        }
        text += "  entitlements: " + (ent.isEmpty ? "none" : ent.joined(separator: ", ")) + "\n"
        text += "  claims: " + (view.claims.isEmpty ? "none" : JSONValue.object(view.claims).description) + "\n"
        return Output(json: try Self.json(view), text: text)
    }

    /// `users find …`: the filters by the admin API's parameter names (`provider`, `subject`,
    /// `device_id`, `created_after`, `created_before`, `cursor`, `limit`).
    public func findUsers(_ parameters: [String: String]) async throws -> Output {
        let page = try await audited("users find") {
            try await administration.findUsers(try AdminController.userQuery { parameters[$0] })
        }
        let view = AdminViews.users(page)
        var text = view.users.map { "\($0.id)  \($0.anon ? "anonymous" : "permanent")  created \(Self.time($0.createdAt))\n" }.joined()
        if view.users.isEmpty { text = "no user matches\n" }
        if let next = view.nextCursor { text += "more: --cursor \(next)\n" }
        return Output(json: try Self.json(view), text: text)
    }

    /// `users export ID`: everything Tegata holds of the user (the API's export).
    public func export(_ id: String) async throws -> Output {
        let export = try await audited("users export", user: id) {
            try await administration.export(id, audit: configuration.auditTable ? store : nil)
        }
        let view = AdminViews.export(export, now: clock.now())
        let json = try Self.json(view)
        return Output(json: json, text: String(decoding: json, as: UTF8.self) + "\n")
    }

    /// `users disable ID [--until TIME]`.
    public func disable(_ id: String, until: Date?) async throws -> Output {
        try await audited("users disable", user: id) { try await administration.disableUser(id, until: until) }
        return Output(json: Data(), text: "user \(id) disabled " + (until.map { "until \(Self.time($0))" } ?? "until enabled") + "; its sessions ended\n")
    }

    /// `users enable ID`.
    public func enable(_ id: String) async throws -> Output {
        try await audited("users enable", user: id) { try await administration.enableUser(id) }
        return Output(json: Data(), text: "user \(id) enabled\n")
    }

    /// `users revoke ID`.
    public func revoke(_ id: String) async throws -> Output {
        try await audited("users revoke", user: id) { try await administration.revokeUser(id) }
        return Output(json: Data(), text: "every session and access token of user \(id) revoked\n")
    }

    /// `users delete ID`.
    public func delete(_ id: String) async throws -> Output {
        try await audited("users delete", user: id) { try await administration.deleteUser(id) }
        return Output(json: Data(), text: "user \(id) deleted\n")
    }

    /// `users set-claims ID JSON`: `json` is the claims object, strict JSON (`{}` removes them).
    public func setClaims(_ id: String, json: Data) async throws -> Output {
        try await audited("users set-claims", user: id) {
            let claims = try Request.decodeJSONBody([String: JSONValue].self, from: json)
            try await administration.setClaims(id, claims)
        }
        return Output(json: Data(), text: "claims of user \(id) set; tokens issued from now on carry them\n")
    }

    /// One line of an import file (JSON lines: one user per line, as `POST /admin/v1/users/import`
    /// takes them), with its number (from 1).
    public struct ImportLine: Sendable {
        /// Its number in the file.
        public var number: Int
        /// Its bytes, without the newline.
        public var text: Data

        /// Creates a line.
        public init(number: Int, text: Data) {
            self.number = number
            self.text = text
        }
    }

    /// What importing one line did: the admin API's result, with the line's number in place of the index.
    public struct ImportLineResult: Codable, Sendable, Equatable {
        /// The line's number in the file.
        public var line: Int
        /// The record's id, when it had a well-formed one.
        public var id: String?
        /// `created`, `updated`, `unchanged`, `conflict` or `invalid`.
        public var result: String
        /// Why, for `conflict` and `invalid`.
        public var reason: String?

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(line, forKey: .line)
            try container.encode(id, forKey: .id)
            try container.encode(result, forKey: .result)
            try container.encode(reason, forKey: .reason)
        }

        enum CodingKeys: String, CodingKey { case line, id, result, reason }
    }

    /// `users import FILE`, one batch: the lines' users imported as the admin API imports a body of
    /// them (in one transaction; each line its own result; a line that is not JSON is `invalid`),
    /// audited as one `users import` action and a `user_imported` event per user created or updated.
    public func importUsers(_ lines: [ImportLine]) async throws -> [ImportLineResult] {
        let users = lines.map { line -> JSONValue? in try? Request.decodeJSONBody(JSONValue.self, from: line.text) }
        let parsed = users.compactMap { $0 }
        let outcomes = try await audited("users import") {
            try await administration.importUsers(parsed, providers: configuration.importProviders)
        }
        let response = AdminViews.imported(parsed, outcomes)
        let events = AdminViews.importAuditEvents(response, now: clock.now(), origin: .unknown, via: "cli")
        for event in events { auditStream?.write(event) }
        if configuration.auditTable, !events.isEmpty {
            do {
                try await store.appendAuditEvents(events)
            } catch {
                logger.error("the audit events could not be written to the audit table", metadata: ["error": "\(error)"])
            }
        }
        var results = response.results.makeIterator()
        return zip(lines, users).map { line, user in
            guard user != nil, let result = results.next() else {
                return ImportLineResult(line: line.number, id: nil, result: "invalid", reason: "the line is not a strict JSON value")
            }
            return ImportLineResult(line: line.number, id: result.id, result: result.result, reason: result.reason)
        }
    }

    // MARK: Sessions

    /// `sessions list USER-ID`.
    public func sessions(ofUser id: String) async throws -> Output {
        let view = AdminViews.sessions(try await audited("sessions list", user: id) { try await administration.sessions(ofUser: id) })
        var text = view.sessions.isEmpty ? "no session\n" : ""
        for session in view.sessions {
            text += "\(session.id)  \(session.amr.joined(separator: ","))  \(session.platform)"
                + (session.deviceID.map { "  device \($0)" } ?? "")
                + "  opened \(Self.time(session.createdAt))  last used \(Self.time(session.lastRefreshedAt))"
                + (session.revokedAt.map { "  ended \(Self.time($0))" } ?? "  live") + "\n"
        }
        return Output(json: try Self.json(view), text: text)
    }

    /// `sessions revoke SESSION-ID`.
    public func endSession(_ id: String) async throws -> Output {
        try await audited("sessions revoke", session: id) { try await administration.endSession(id) }
        return Output(json: Data(), text: "session \(id) ended\n")
    }

    // MARK: Keys

    /// One signing key as `keys list` shows it.
    public struct KeyView: Codable, Sendable, Equatable {
        /// Its id (`kid`).
        public var kid: String
        /// From when it signs (nil for the keys of `TEGATA_SIGNING_KEY_FILE`: the first signs, the
        /// others never do).
        public var signsFrom: Date?
        /// `signing`, `next` (published, signs from `signs_from`), `published` (signs no more, or, in
        /// a key file, not yet: published until `published_until` when that is known) or `retired`.
        public var state: String
        /// Until when a key that stopped signing stays published.
        public var publishedUntil: Date?

        enum CodingKeys: String, CodingKey {
            case kid, state
            case signsFrom = "signs_from", publishedUntil = "published_until"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kid, forKey: .kid)
            try container.encode(state, forKey: .state)
            try container.encode(signsFrom, forKey: .signsFrom)
            try container.encode(publishedUntil, forKey: .publishedUntil)
        }
    }

    /// The answer of `keys list`.
    public struct KeysView: Codable, Sendable, Equatable {
        /// Oldest first.
        public var keys: [KeyView]
    }

    /// The server keys (generating the first key if there is none, as `serve` does).
    private func serverKeys() async throws -> ServerKeys {
        let secrets = ServerSecrets(masterKey: try KeyBootstrap.masterKey(configuration.masterKey, logger: logger))
        return try await KeyBootstrap.serverKeys(
            configuration: configuration, secrets: secrets, store: store, clock: clock,
            retention: configuration.signingKeyRetention, logger: logger)
    }

    /// `keys list`.
    public func keys() async throws -> Output {
        let schedule = try await audited("keys list") { try await serverKeys().schedule }
        let now = clock.now()
        let signing = schedule.keys.lastIndex { $0.activatesAt <= now } ?? 0
        let view = KeysView(keys: schedule.keys.enumerated().map { index, key in
            // A key file's keys sign since ever (its first) or never (the others, published only).
            let signsFrom = key.activatesAt > .distantPast && key.activatesAt < .distantFuture ? key.activatesAt : nil
            if index == signing { return KeyView(kid: key.key.id.rawValue, signsFrom: signsFrom, state: "signing", publishedUntil: nil) }
            if index > signing {
                return KeyView(kid: key.key.id.rawValue, signsFrom: signsFrom, state: signsFrom == nil ? "published" : "next", publishedUntil: nil)
            }
            let until = schedule.keys[index + 1].activatesAt.addingTimeInterval(schedule.retention)
            return KeyView(kid: key.key.id.rawValue, signsFrom: signsFrom, state: until > now ? "published" : "retired", publishedUntil: until)
        })
        let text = view.keys.map { key in
            "\(key.kid)  \(key.state)" + (key.signsFrom.map { "  signs from \(Self.time($0))" } ?? "")
                + (key.publishedUntil.map { "  published until \(Self.time($0))" } ?? "") + "\n"
        }.joined()
        return Output(json: try Self.json(view), text: text)
    }

    /// `keys rotate [--immediate]`: as `POST /admin/v1/keys/rotate`. Running servers take the new
    /// key from the database at their next key reload (`TEGATA_KEY_RELOAD_INTERVAL`); a rotation
    /// that is not immediate signs only after the JWKS cache lifetime, so every server and verifier
    /// knows it first.
    public func rotateKey(immediate: Bool) async throws -> Output {
        let now = clock.now()
        let (key, published) = try await audited("keys rotate") {
            let keys = try await serverKeys()
            let key = try await keys.rotate(immediate: immediate, publishAhead: configuration.jwksMaxAge, now: now)
            return (key, keys.ring(at: now).jwks.keys.map(\.kid))
        }
        let view = KeyRotationResponse(kid: key.key.id.rawValue, signsFrom: key.activatesAt, publishedKids: published)
        return Output(json: try Self.json(view), text: "new signing key \(view.kid) signs from \(Self.time(view.signsFrom))\n")
    }

    /// The exit code of a refused command, which scripts can rely on (sysexits.h): 64 a malformed
    /// argument (the API's 400), 65 refused by the state of things (409), 67 no such user or
    /// session (404), 69 the database unavailable (503), 1 anything else. (0: done; 78: a bad
    /// configuration.)
    public static func exitCode(for error: TegataError) -> Int32 {
        switch error.code {
        case .invalidRequest: 64
        case .conflict: 65
        case .notFound: 67
        case .serverError: error.isUnavailable ? 69 : 1
        default: 1
        }
    }

    // MARK: Formats

    /// One value as a line of JSON (compact, keys sorted).
    public static func lineJSON(_ value: some Encodable) throws -> Data {
        try json(value)
    }

    static func json(_ value: some Encodable) throws -> Data {
        try WireCoding.makeEncoder().encode(value)
    }

    /// An RFC 3339 time as the admin API reads one (with or without fractional seconds); nil for
    /// anything else. The CLI's time options use it, so they take what the API takes.
    public static func parseTime(_ text: String) -> Date? {
        WireTime.rfc3339(text)
    }

    static func time(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }
}

extension Operator {
    /// Reads an import file's lines a batch at a time, never holding more than a batch: blank lines
    /// are skipped, a line of more than ``maximumLineBytes`` comes back empty (an invalid record),
    /// and lines before `fromLine` are skipped (resuming an import that stopped).
    public struct ImportReader {
        /// The most bytes one line (one user) may take.
        public static let maximumLineBytes = 1 << 20
        private let handle: FileHandle
        private let fromLine: Int
        private var buffer = Data()
        private var lineNumber = 0
        private var overlong = false
        private var atEnd = false

        /// Reads `handle` from its current position.
        public init(_ handle: FileHandle, fromLine: Int = 1) {
            self.handle = handle
            self.fromLine = fromLine
        }

        /// Up to `count` lines (fewer only at the end of the file; none once it is read).
        public mutating func next(_ count: Int) throws -> [ImportLine] {
            var lines: [ImportLine] = []
            while lines.count < count {
                if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    var text = buffer[buffer.startIndex..<newline]
                    buffer.removeSubrange(buffer.startIndex...newline)
                    if text.last == UInt8(ascii: "\r") { text = text.dropLast() }
                    emit(Data(text), into: &lines)
                    continue
                }
                if buffer.count > Self.maximumLineBytes {
                    // Keep nothing of an overlong line; it ends at its newline.
                    buffer.removeAll(keepingCapacity: true)
                    overlong = true
                }
                if atEnd {
                    if !buffer.isEmpty || overlong {
                        emit(buffer, into: &lines)
                        buffer = Data()
                    }
                    return lines
                }
                guard let chunk = try handle.read(upToCount: 1 << 16), !chunk.isEmpty else {
                    atEnd = true
                    continue
                }
                buffer.append(chunk)
            }
            return lines
        }

        private mutating func emit(_ text: Data, into lines: inout [ImportLine]) {
            lineNumber += 1
            let wasOverlong = overlong
            overlong = false
            guard lineNumber >= fromLine else { return }
            if wasOverlong || text.count > Self.maximumLineBytes { lines.append(ImportLine(number: lineNumber, text: Data())); return }
            guard text.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) else { return }
            lines.append(ImportLine(number: lineNumber, text: text))
        }
    }
}
