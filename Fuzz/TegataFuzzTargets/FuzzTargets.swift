import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TegataCore
import TegataServer
import TegataTokens
import TegataWire

/// An oracle of a fuzz target disagreed: a regression, to be kept in `Fuzz/Corpus/<target>/`.
public struct FuzzFailure: Error, CustomStringConvertible {
    /// What disagreed.
    public let description: String
}

/// What parses untrusted bytes, each as a fuzz target with an oracle stronger than "does not
/// crash". libFuzzer drives them (`Fuzz/run.sh`); `FuzzCorpusTests` replays the committed corpus
/// through them in every `swift test`.
public enum FuzzTargets {
    /// Every target by name (also the name of its corpus directory).
    public static let all: [String: @Sendable ([UInt8]) throws -> Void] = [
        "jws": jws, "claims": claims, "base64url": base64url, "form": form, "json": json,
        "stripe-signature": stripeSignature, "mac-tokens": macTokens, "auth-headers": authHeaders,
        "forwarded": forwarded,
    ]

    static func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw FuzzFailure(description: message()) }
    }

    // MARK: compact JWS and the claims reader

    /// A fixed key (the fuzzer must be able to reach past the signature check).
    static let key = try! P256.Signing.PrivateKey(rawRepresentation: Data(repeating: 7, count: 32))
    static let keys = VerificationKeys(["k1": key.publicKey])
    static let tegataHeader = Array(KeyRing.accessTokenHeaderSegment(kid: "k1").utf8)

    /// The claims JSON Tegata's fast reader reads, checked the slow way: strict JSON, then JSONDecoder.
    static func slowClaims(_ bytes: [UInt8]) -> AccessTokenClaims? {
        guard StrictJSON.isValid(bytes) else { return nil }
        return try? JSONDecoder().decode(AccessTokenClaims.self, from: Data(bytes))
    }

    /// First byte chooses: 0 — the input is a whole token; 1 — the input is a payload, signed under
    /// Tegata's header; 2 — the input is `header NUL payload`, signed. Whatever verifies must have
    /// claims that the slow path reads alike.
    static func jws(_ input: [UInt8]) throws {
        guard let mode = input.first else { return }
        let rest = Array(input.dropFirst())
        let token: String
        var payload: [UInt8]?
        switch mode % 3 {
        case 0:
            token = String(decoding: rest, as: UTF8.self)
        case 1:
            payload = rest
            token = signed(header: tegataHeader, payload: rest)
        default:
            let split = rest.firstIndex(of: 0) ?? rest.endIndex
            payload = Array(rest[split...].dropFirst())
            token = signed(header: Array(Base64URL.encode(rest[..<split]).utf8), payload: payload!)
        }
        guard let claims = try? keys.verifySignature(token) else { return }
        try check(token.utf8.count <= 8 * 1024, "a token over the size limit verified")
        if let payload {
            try check(slowClaims(payload) == claims, "the verified claims differ from the slow reading: \(claims)")
        }
    }

    static func signed(header: [UInt8], payload: [UInt8]) -> String {
        let input = String(decoding: header, as: UTF8.self) + "." + Base64URL.encode(payload)
        return input + "." + Base64URL.encode(try! key.signature(for: Data(input.utf8)).rawRepresentation)
    }

    /// The fast claims reader against strict JSON + JSONDecoder: it only answers where the slow path
    /// answers the same.
    static func claims(_ input: [UInt8]) throws {
        guard let fast = ClaimsReader.read(input) else { return }
        let slow = slowClaims(input)
        try check(slow != nil, "the fast reader accepted what strict JSON + JSONDecoder refuse")
        try check(slow == fast, "the fast reader and JSONDecoder disagree: \(fast) vs \(String(describing: slow))")
    }

    // MARK: base64url

    /// Decoding then encoding gives back what was decoded, and encoding any bytes decodes back to them.
    static func base64url(_ input: [UInt8]) throws {
        if let decoded = Base64URL.decode(utf8: input) {
            try check(Base64URL.decode(Base64URL.encode(decoded)) == decoded, "decode(encode(decode(x))) != decode(x)")
            try check(input.allSatisfy(Base64URL.isAlphabetByte), "decoded bytes outside the base64url alphabet")
        }
        try check(Base64URL.decode(Base64URL.encode(input)) == Data(input), "decode(encode(x)) != x")
    }

    // MARK: request bodies

    /// The form decoder: anything it accepts is UTF-8, and a parameter is read without a crash.
    static func form(_ input: [UInt8]) throws {
        guard let parameters = try? OAuthParameters.parseForm(Data(input)) else { return }
        for name in ["grant_type", "refresh_token", "token", "client_id", ""] {
            do { _ = try parameters.optional(name) } catch is TegataError {}
        }
        _ = FormURLEncoding.decode(input)
    }

    /// JSON bodies: strict JSON never accepts what Foundation cannot parse (numbers past a double's
    /// range aside), and a body that decodes into a request type passed the strict check; every
    /// failure is a `TegataError`, never anything else.
    static func json(_ input: [UInt8]) throws {
        let data = Data(input)
        if StrictJSON.isValid(input), (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) == nil {
            let hasHugeNumber = input.contains(UInt8(ascii: "e")) || input.contains(UInt8(ascii: "E"))
                || input.split(whereSeparator: { !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }).contains { $0.count > 300 }
            try check(hasHugeNumber, "strict JSON accepted what JSONSerialization refuses")
        }
        func decode<T: Decodable>(_ type: T.Type) throws {
            do {
                _ = try Request.decodeJSONBody(T.self, from: data)
                try check(StrictJSON.isValid(input), "a body decoded without passing the strict check")
            } catch is TegataError {
            } catch let failure as FuzzFailure {
                throw failure
            } catch {
                throw FuzzFailure(description: "decoding failed with something other than a TegataError: \(error)")
            }
        }
        try decode(DeviceSignInRequest.self)
        try decode(LogoutRequest.self)
        try decode(SubscriptionTokenRequest.self)
        try decode(DeviceCheckRequest.self)
        _ = try? OAuthParameters.parseJSON(data)
    }

    // MARK: signatures and sealed tokens

    static let stripe = StripeSignature(secret: "whsec_fuzz")
    static let stripePayload = Array(#"{"id":"evt_1","type":"invoice.paid"}"#.utf8)

    /// The `Stripe-Signature` header: only `TegataError`s, and never accepted unless it carries the
    /// real HMAC of the payload.
    static func stripeSignature(_ input: [UInt8]) throws {
        let header = String(decoding: input, as: UTF8.self)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        do {
            try stripe.verify(header: header, payload: stripePayload, now: now)
        } catch {
            return
        }
        // Accepted: some v1 value must be the real signature for some timestamp in the header.
        let expected = header.split(separator: ",").compactMap { part -> String? in
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == "t" else { return nil }
            let mac = HMAC<SHA256>.authenticationCode(
                for: Data("\(pair[1].trimmingCharacters(in: .whitespaces)).".utf8) + stripePayload, using: SymmetricKey(data: Data("whsec_fuzz".utf8)))
            return mac.map { String(format: "%02x", $0) }.joined()
        }
        // Hex digits in either case name the same bytes (the first finding of this target).
        try check(expected.contains(where: header.lowercased().contains), "a Stripe-Signature without the real HMAC was accepted")
    }

    static let macKey = SymmetricKey(data: Data(repeating: 9, count: 32))

    /// Refresh tokens and session cookies: a value that opens re-seals to exactly itself (anything
    /// else would be a MAC forgery).
    static func macTokens(_ input: [UInt8]) throws {
        let text = String(decoding: input, as: UTF8.self)
        if let token = RefreshToken.decode(text, with: macKey) {
            try check(token.encode(with: macKey) == text, "a refresh token opened that this key did not seal")
        }
        if let cookie = SessionCookieToken.decode(text, with: macKey) {
            try check(cookie.encode(with: macKey) == text, "a session cookie opened that this key did not seal")
        }
    }

    // MARK: Authorization headers

    /// `Bearer` and `Basic` parsing: only `TegataError`s; a bearer token has no surrounding
    /// whitespace and stays under the size limit.
    static func authHeaders(_ input: [UInt8]) throws {
        var fields = HTTPFields()
        fields.append(HTTPField(name: .authorization, lenientValue: input))
        let head = HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: "/", headerFields: fields)
        let request = Request(head: head, body: .init(buffer: ByteBuffer()))
        do {
            let token = try request.bearerToken()
            try check(!token.isEmpty && token.utf8.count <= 8 * 1024, "an empty or oversized bearer token was accepted")
            try check(token.first != " " && token.last != " " && token.first != "\t" && token.last != "\t", "whitespace around a bearer token")
        } catch is TegataError {
        } catch let failure as FuzzFailure {
            throw failure
        }
        do {
            _ = try request.basicCredentials()
        } catch is TegataError {}
    }

    // MARK: Forwarding fields

    /// `Forwarded` / `X-Forwarded-For` values (NUL separates fields; the first byte chooses which
    /// field is read) from a trusted peer: the client found is the peer or an address written in
    /// the input, never one invented, and every address prints as text that parses back to itself.
    static func forwarded(_ input: [UInt8]) throws {
        guard let mode = input.first else { return }
        let values = input.dropFirst().split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        let resolver = ClientAddressResolver(
            trustedProxies: [IPNetwork(cidr: "10.0.0.0/8")!, IPNetwork(cidr: "fd00::/8")!],
            field: mode % 2 == 0 ? .xForwardedFor : .forwarded)
        let peer = IPAddress("10.0.0.1")!
        guard let client = resolver.resolve(peer: peer, fieldValues: values) else {
            throw FuzzFailure(description: "a trusted peer gave no client address")
        }
        try check(IPAddress(client.description) == client, "\(client) does not parse back to itself")
        if client != peer {
            // Every address-looking token of the input, found without the parser's grammar.
            let separators = Set(",;=\"[] \t")
            var written = Set<IPAddress>()
            for value in values {
                for token in value.split(whereSeparator: { separators.contains($0) }) {
                    if let address = IPAddress(token) { written.insert(address) }
                    if token.filter({ $0 == ":" }).count == 1, let host = token.split(separator: ":").first, let address = IPAddress(host) {
                        written.insert(address)
                    }
                }
            }
            try check(written.contains(client), "\(client) is not written in the input")
        }
        for value in values {
            if let address = IPAddress(value) {
                try check(IPAddress(address.description) == address, "\(value) does not round-trip")
            }
        }
    }
}
