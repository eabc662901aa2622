import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TegataWire

/// When an access token expires on this device's clock, and when to renew it. Pure.
enum TokenTiming {
    /// The access token's expiry on the local clock: the earlier of `receivedAt + expires_in` and the
    /// token's `exp` moved by the measured skew (`serverDate − receivedAt`, from the response's `Date`
    /// header). The first is late by the response's time in flight; the second is exact to the
    /// `Date` header's second. Taking the earlier one never keeps a token past its end.
    static func localExpiry(accessToken: String, expiresIn: Int, receivedAt: Date, serverDate: Date?) -> Date {
        let byLifetime = receivedAt.addingTimeInterval(TimeInterval(max(expiresIn, 0)))
        guard let serverDate, let exp = expiryClaim(of: accessToken) else { return byLifetime }
        let skew = serverDate.timeIntervalSince(receivedAt)
        return min(byLifetime, exp.addingTimeInterval(-skew))
    }

    /// True when the token should be renewed before use: less than the margin is left. The margin is
    /// `margin`, but at most half the token's lifetime, so a short-lived token is not renewed on
    /// every call.
    static func needsRenewal(_ session: SessionCredentials, now: Date, margin: TimeInterval) -> Bool {
        let lifetime = session.accessTokenExpiresAt.timeIntervalSince(session.accessTokenReceivedAt)
        let effective = min(margin, max(lifetime, 0) / 2)
        return now >= session.accessTokenExpiresAt.addingTimeInterval(-effective)
    }

    /// The `exp` claim of a JWT, read without checking its signature (the client is not the token's
    /// audience; it only schedules its renewal).
    static func expiryClaim(of token: String) -> Date? {
        guard let data = payload(of: token),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let exp = object["exp"] as? NSNumber
        else { return nil }
        return Date(timeIntervalSince1970: exp.doubleValue)
    }

    /// Every claim of a JWT, read without checking its signature; nil when it is not a JWS whose
    /// payload is a JSON object.
    static func claims(of token: String) -> [String: JSONValue]? {
        payload(of: token).flatMap { try? JSONDecoder().decode([String: JSONValue].self, from: $0) }
    }

    /// The decoded payload of a compact JWS (at most 8 KiB of it).
    private static func payload(of token: String) -> Data? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].utf8.count <= 8192 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        return Data(base64Encoded: base64)
    }

    /// The `Date` header (RFC 9110 §5.6.7 IMF-fixdate), if present and valid.
    static func serverDate(_ response: HTTPURLResponse) -> Date? {
        guard let value = response.value(forHTTPHeaderField: "Date") else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.date(from: value)
    }
}
