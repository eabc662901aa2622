import Crypto
import Foundation
import Synchronization
import TegataTokens

/// A `DPoP` proof as a request presented it, with what it must match: the request's method and
/// its URI as the client sees it (the issuer's base URL and the path, so that a proxy in front
/// does not change it).
public struct DPoPRequest: Sendable, Equatable {
    /// The `DPoP` header field's value.
    public var proof: String
    /// The request's method.
    public var method: String
    /// The request's public URI, without query.
    public var url: String

    /// A presented proof.
    public init(proof: String, method: String, url: String) {
        self.proof = proof
        self.method = method
        self.url = url
    }
}

/// How DPoP proofs are held to account (`TEGATA_DPOP_*`).
public struct DPoPSettings: Sendable, Equatable {
    /// Whether `POST /v1/auth/device` (and a legacy claim) needs a proof (`TEGATA_DPOP_DEVICE_SIGN_IN=required`).
    public var requiredForDeviceSignIn: Bool
    /// Whether every proof must carry a current server nonce (`TEGATA_DPOP_NONCE=always`); otherwise a
    /// nonce is asked for only when a proof's `iat` is outside the window (a skewed clock).
    public var nonceAlways: Bool
    /// How old a proof without a nonce may be (by its `iat`), plus ``leeway`` either side.
    public var maximumAge: TimeInterval
    /// Clock leeway for `iat`.
    public var leeway: TimeInterval

    /// The settings; by default DPoP is optional and a nonce is asked for only when needed.
    public init(requiredForDeviceSignIn: Bool = false, nonceAlways: Bool = false, maximumAge: TimeInterval = 60, leeway: TimeInterval = 30) {
        self.requiredForDeviceSignIn = requiredForDeviceSignIn
        self.nonceAlways = nonceAlways
        self.maximumAge = maximumAge
        self.leeway = leeway
    }
}

/// Server nonces for DPoP proofs (RFC 9449 §8), stateless so that every replica accepts every
/// other's: a nonce is a time slot and a MAC of it under a key derived from the master key. The
/// nonce of the current slot and of the one before are accepted, so a nonce lives one to two
/// periods; a client learns the new one from the `DPoP-Nonce` field of any answer.
public struct DPoPNonces: Sendable {
    /// Keys the MAC.
    private let key: SymmetricKey
    /// The length of a slot.
    public let period: TimeInterval
    /// The nonce of the latest slot asked for (every answer to a proof carries the current nonce:
    /// one MAC per slot instead of one per answer).
    private let latest = LatestNonce()

    private final class LatestNonce: Sendable {
        let value = Mutex<(slot: Int64, nonce: String)?>(nil)
    }

    /// Nonces under `key`, changing every `period` seconds.
    public init(key: SymmetricKey, period: TimeInterval = 300) {
        self.key = key
        self.period = period
    }

    /// The nonce of the slot of `now`.
    public func nonce(at now: Date) -> String {
        let slot = slot(of: now)
        if let cached = latest.value.withLock({ $0 }), cached.slot == slot { return cached.nonce }
        let nonce = nonce(slot: slot)
        latest.value.withLock { $0 = (slot, nonce) }
        return nonce
    }

    /// Until when `nonce` is accepted, or nil when it is not accepted at `now` (stale or not one of ours).
    public func acceptedUntil(_ nonce: String, at now: Date) -> Date? {
        guard let bytes = Base64URL.decode(nonce), bytes.count == 24 else { return nil }
        let slot = bytes.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
        let current = self.slot(of: now)
        guard slot == current || slot == current - 1 else { return nil }
        // The MAC is truncated to 16 bytes; compared without an early exit.
        let expected = Data(HMAC<SHA256>.authenticationCode(for: message(slot), using: key)).prefix(16)
        guard zip(expected, bytes.suffix(16)).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0 else { return nil }
        return Date(timeIntervalSince1970: Double(slot + 2) * period)
    }

    private func slot(of date: Date) -> Int64 { Int64((date.timeIntervalSince1970 / period).rounded(.down)) }

    private func message(_ slot: Int64) -> Data {
        Data("tegata dpop nonce ".utf8) + withUnsafeBytes(of: slot.bigEndian) { Data($0) }
    }

    private func nonce(slot: Int64) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: message(slot), using: key)
        return Base64URL.encode(withUnsafeBytes(of: slot.bigEndian) { Data($0) } + Data(mac).prefix(16))
    }
}

/// Checks DPoP proofs at Tegata's endpoints: the proof itself (``DPoPProof``), the request it was
/// made for, its freshness (by `iat`, or by a server nonce), the access token it comes with, and
/// that it was never presented before — remembered in the store, so the rule holds across replicas.
public struct DPoPChecker: Sendable {
    /// The rules.
    public let settings: DPoPSettings
    /// The server nonces.
    public let nonces: DPoPNonces
    /// Remembers proofs until they could no longer be accepted.
    public let store: any AccountStore
    /// The clock.
    public let clock: any TegataClock

    /// Creates a checker.
    public init(settings: DPoPSettings, nonces: DPoPNonces, store: any AccountStore, clock: any TegataClock) {
        self.settings = settings
        self.nonces = nonces
        self.store = store
        self.clock = clock
    }

    /// The nonce to send as `DPoP-Nonce` now.
    public func currentNonce() -> String { nonces.nonce(at: clock.now()) }

    /// The thumbprint of the key of a token request's proof (``verify(_:accessToken:boundTo:)``),
    /// or nil when the request had none.
    public func key(of request: DPoPRequest?) async throws -> String? {
        guard let request else { return nil }
        return try await verify(request)
    }

    /// A proof checked as ``verify(_:accessToken:boundTo:)`` does, but not yet recorded as used:
    /// its key's thumbprint and the record the caller makes in its own transaction (a refresh:
    /// ``RefreshCommand/singleUse``). Nil when the request had none.
    public func unrecordedKey(of request: DPoPRequest?) throws -> (thumbprint: String, record: SingleUseRecord)? {
        guard let request else { return nil }
        return try check(request, accessToken: nil, boundTo: nil)
    }

    /// Verifies `request`'s proof and records it as used. With `accessToken`, the proof must carry
    /// its hash and be made by `boundTo`, the token's `cnf.jkt` (errors then say `atResource`, so the
    /// edge answers 401). Returns the thumbprint of the proof's key. Throws `invalid_dpop_proof`, or
    /// `use_dpop_nonce` (with the current nonce) when the proof needs a fresh nonce.
    public func verify(_ request: DPoPRequest, accessToken: String? = nil, boundTo: String? = nil) async throws -> String {
        let (thumbprint, record) = try check(request, accessToken: accessToken, boundTo: boundTo)
        guard try await store.rememberSingleUse(key: record.key, until: record.until, now: clock.now()) else {
            throw Self.replayed(atResource: accessToken != nil)
        }
        return thumbprint
    }

    /// A proof presented before.
    static func replayed(atResource: Bool) -> TegataError {
        .invalidDPoPProof(RefreshDecision.RejectReason.proofReplayed.message, atResource: atResource)
    }

    /// Every rule but the replay: the thumbprint, and the record that spends the proof.
    private func check(
        _ request: DPoPRequest, accessToken: String?, boundTo: String?
    ) throws -> (thumbprint: String, record: SingleUseRecord) {
        let atResource = accessToken != nil
        let now = clock.now()
        let proof: DPoPProof
        do {
            proof = try DPoPProof.verify(request.proof)
        } catch {
            throw TegataError.invalidDPoPProof(error.description, atResource: atResource)
        }
        guard proof.matches(method: request.method, url: request.url) else {
            throw TegataError.invalidDPoPProof(
                "the DPoP proof was made for another request (its htm and htu must be \(request.method) and \(request.url))",
                atResource: atResource)
        }
        if let accessToken {
            guard proof.proves(accessToken: accessToken) else {
                throw TegataError.invalidDPoPProof("the DPoP proof's ath is not the hash of this access token", atResource: true)
            }
            guard proof.thumbprint == boundTo else {
                throw TegataError.invalidDPoPProof("the DPoP proof is made with another key than the access token is bound to", atResource: true)
            }
        }
        // Fresh by a nonce of ours, whatever the client's clock says; or, without one, by `iat`.
        let acceptedUntil: Date
        if let nonce = proof.nonce {
            guard let until = nonces.acceptedUntil(nonce, at: now) else { throw TegataError.useDPoPNonce(currentNonce(), atResource: atResource) }
            acceptedUntil = until
        } else {
            guard !settings.nonceAlways, proof.isFresh(at: now, maximumAge: settings.maximumAge, leeway: settings.leeway) else {
                throw TegataError.useDPoPNonce(currentNonce(), atResource: atResource)
            }
            acceptedUntil = Date(timeIntervalSince1970: Double(proof.iat) + settings.maximumAge + settings.leeway)
        }
        let key = "dpop:" + SHA256.hash(data: Data("\(proof.thumbprint) \(proof.jti)".utf8)).lowercaseHex
        return (proof.thumbprint, SingleUseRecord(key: key, until: acceptedUntil))
    }
}
