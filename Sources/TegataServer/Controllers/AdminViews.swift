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

    static func users(_ page: UserPage) -> AdminUsersResponse {
        AdminUsersResponse(
            users: page.users.map { AdminUserSummary(id: $0.id, anon: $0.anon, createdAt: $0.createdAt) },
            nextCursor: page.next?.rawValue)
    }
}
