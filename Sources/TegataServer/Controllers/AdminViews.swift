import Foundation
import TegataCore
import TegataWire

/// How the admin API and the operator CLI show users and sessions: one mapping, so both answer
/// the same JSON.
enum AdminViews {
    static func user(_ details: Administration.UserDetails, now: Date) -> AdminUserResponse {
        let user = details.record.user
        return AdminUserResponse(
            id: user.id, anon: user.anon, createdAt: user.createdAt, tokenVersion: user.tokenVersion,
            identities: details.identities.map {
                AdminIdentity(provider: $0.provider, subject: $0.subject, email: $0.email, linkedAt: $0.linkedAt)
            },
            devices: details.devices.map {
                AdminDevice(id: $0.id, platform: $0.platform, createdAt: $0.createdAt, lastSignInAt: $0.lastSignInAt, revokedAt: $0.revokedAt)
            },
            ent: Entitlement.claim(from: details.record.entitlements, at: now),
            disabled: user.disabled(at: now).map { AdminDisablement(since: $0.since, until: $0.until) },
            claims: details.record.appClaims)
    }

    static func sessions(_ sessions: [Session]) -> AdminSessionsResponse {
        AdminSessionsResponse(sessions: sessions.map {
            AdminSession(
                id: $0.id, platform: $0.platform, deviceID: $0.deviceID, amr: $0.amr, createdAt: $0.createdAt,
                lastRefreshedAt: $0.lastRefreshedAt, absoluteExpiresAt: $0.absoluteExpiresAt, revokedAt: $0.revokedAt)
        })
    }

    /// The answer to an import of `users`: each element's outcome, with its id when it had a well-formed one.
    static func imported(_ users: [JSONValue], _ outcomes: [UserImportOutcome]) -> AdminImportResponse {
        AdminImportResponse(results: zip(users, outcomes).enumerated().map { index, pair in
            var id: String?
            if case .object(let members) = pair.0, case .string(let text)? = members["id"], WireIdentifier.isUserID(text) { id = text }
            return AdminImportResult(index: index, id: id, result: pair.1.name, reason: pair.1.reason)
        })
    }

    /// One `user_imported` audit event per user an import created or updated (`result`), at `now`.
    static func importAuditEvents(_ response: AdminImportResponse, now: Date, origin: RequestOrigin, via: String? = nil) -> [AuditEvent] {
        response.results.compactMap { result in
            guard result.result == "created" || result.result == "updated", let id = result.id else { return nil }
            var details = ["result": result.result]
            if let via { details["via"] = via }
            return AuditEvent(.userImported, at: now, origin: origin, userID: id, details: details)
        }
    }

    static func export(_ export: Administration.UserExport, now: Date) -> AdminUserExport {
        AdminUserExport(
            exportedAt: now, user: user(export.details, now: now), sessions: sessions(export.sessions).sessions,
            entitlements: export.details.record.entitlements.map { AdminEntitlement(name: $0.name, expiresAt: $0.expiresAt) },
            auditEvents: export.auditEvents, auditEventsTruncated: export.auditEventsTruncated)
    }

    static func users(_ page: UserPage) -> AdminUsersResponse {
        AdminUsersResponse(
            users: page.users.map { AdminUserSummary(id: $0.id, anon: $0.anon, createdAt: $0.createdAt) },
            nextCursor: page.next?.rawValue)
    }
}

/// The body of `GET /admin/v1/users/{id}/export` (and `tegata users export`): everything Tegata
/// holds of a user, for an account-data request. Never a token, secret or device secret.
public struct AdminUserExport: Codable, Sendable, Equatable {
    /// When the export was made.
    public var exportedAt: Date
    /// The user, as `GET /admin/v1/users/{id}` shows it.
    public var user: AdminUserResponse
    /// Every stored session's metadata, ended ones too, oldest first.
    public var sessions: [AdminSession]
    /// Every entitlement as stored, expired ones too.
    public var entitlements: [AdminEntitlement]
    /// The user's audit events, newest first (at most 1000); null when the audit table is off.
    public var auditEvents: [AuditEvent]?
    /// True when `audit_events` holds the most an export carries: older ones may exist.
    public var auditEventsTruncated: Bool

    enum CodingKeys: String, CodingKey {
        case user, sessions, entitlements
        case exportedAt = "exported_at", auditEvents = "audit_events", auditEventsTruncated = "audit_events_truncated"
    }

    /// Every field, `audit_events` as null when there is no table.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(exportedAt, forKey: .exportedAt)
        try container.encode(user, forKey: .user)
        try container.encode(sessions, forKey: .sessions)
        try container.encode(entitlements, forKey: .entitlements)
        try container.encode(auditEvents, forKey: .auditEvents)
        try container.encode(auditEventsTruncated, forKey: .auditEventsTruncated)
    }
}
