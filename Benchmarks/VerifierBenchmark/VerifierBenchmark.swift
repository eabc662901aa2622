// Verifications per second through TegataVerifier, against a raw swift-crypto P-256 verify of the
// same signing inputs, in the same run (the target: the verifier at ≥ 95 % of raw, docs/performance.md).
//
// Run it on a release build: `Benchmarks/verifier-bench.sh` (or
// `swift build -c release --product tegata-verifier-benchmark` and run the binary).
//
// What is compared, per token (2,000 distinct tokens, cycled; no result is cached anywhere):
// - raw: `P256.Signing.PublicKey.isValidSignature(_:for:)` with the public key and the signature
//   already decoded, over the token's signing input (`header.payload` bytes) — the cryptography alone;
// - verifier: `TegataVerifier.verify(_:)` on the token string — splitting, base64url, the header
//   checks (`alg`, `typ`, `kid` lookup), the same P-256 verify, claim decoding, `iss`/`aud`/times,
//   and the revocation check against a list of 10,000 revoked sessions.
// Rounds alternate raw and verifier so that both see the same machine noise; the medians are printed.
import Crypto
import Foundation
import Hummingbird
import Logging
import Synchronization
import TegataTokens
import TegataVerifier
import TegataWire

@main
struct VerifierBenchmark {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let rounds = arguments.count > 1 ? Int(arguments[1]) ?? 9 : 9
        let perRound = arguments.count > 2 ? Int(arguments[2]) ?? 20_000 : 20_000
        var logger = Logger(label: "verifier-benchmark")
        logger.logLevel = .critical

        // An issuer on loopback that serves discovery and the JWKS of a key ring, as Tegata does.
        let ring = try KeyRing(signing: .generate())
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let router = Router()
        let issuerBox = IssuerBox()
        router.get("/.well-known/openid-configuration") { _, _ in
            let issuer = issuerBox.issuer
            let document = DiscoveryDocument(
                issuer: issuer, jwksURI: issuer + "/.well-known/jwks.json", tokenEndpoint: issuer + "/oauth/token",
                revocationEndpoint: issuer + "/oauth/revoke", introspectionEndpoint: issuer + "/oauth/introspect",
                grantTypesSupported: ["refresh_token"], signingAlgorithms: ["ES256"])
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: .init(bytes: try WireCoding.makeEncoder().encode(document))))
        }
        router.get("/.well-known/jwks.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "max-age=3600"],
                body: .init(byteBuffer: .init(bytes: try WireCoding.makeEncoder().encode(ring.jwks))))
        }
        // The revocation feed: 10,000 revoked sessions (none of the benchmark's tokens'), then nothing
        // new (a long poll that waits its full time), so their lookups are in the verifier's path.
        let revoked = (0..<10_000).map { _ in
            FeedEvent(type: "session", sid: UUID().uuidString.lowercased(), until: Date().addingTimeInterval(3_600))
        }
        router.get("/v1/revocations") { request, _ in
            if request.uri.queryParameters["after"] != nil {
                try await Task.sleep(for: .seconds(Int(request.uri.queryParameters["wait"] ?? "0") ?? 0))
                return try feedResponse(RevocationFeed(cursor: "1", events: []))
            }
            return try feedResponse(RevocationFeed(cursor: "1", events: revoked))
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            }, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            defer { group.cancelAll() }
            var ports = portStream.makeAsyncIterator()
            guard let port = await ports.next() else { return }
            let issuer = "http://127.0.0.1:\(port)"
            issuerBox.set(issuer)
            try await run(ring: ring, issuer: issuer, rounds: rounds, perRound: perRound, logger: logger)
        }
    }

    static func feedResponse(_ feed: RevocationFeed) throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: .init(bytes: try WireCoding.makeEncoder().encode(feed))))
    }

    static func run(ring: KeyRing, issuer: String, rounds: Int, perRound: Int, logger: Logger) async throws {
        let now = Int64(Date().timeIntervalSince1970)
        let tokens = try (0..<2_000).map { index in
            try ring.sign(AccessTokenClaims(
                iss: issuer, sub: UUID().uuidString.lowercased(), aud: issuer, exp: now + 900, nbf: now, iat: now,
                jti: UUID().uuidString.lowercased(), sid: UUID().uuidString.lowercased(), clientID: "tegata",
                amr: ["device"], anon: index % 2 == 0, tv: 0,
                ent: index % 3 == 0 ? ["pro": .until(now + 86_400), "membership": .unlimited] : nil))
        }
        // The raw side's inputs, decoded once: the public key, each signing input and signature.
        let jwk = ring.jwks.keys[0]
        let publicKey = try P256.Signing.PublicKey(
            x963Representation: Data([4]) + Base64URL.decode(jwk.x)! + Base64URL.decode(jwk.y)!)
        let raw: [(input: Data, signature: P256.Signing.ECDSASignature)] = try tokens.map { token in
            let dot = token.lastIndex(of: ".")!
            let signature = try P256.Signing.ECDSASignature(rawRepresentation: Base64URL.decode(String(token[token.index(after: dot)...]))!)
            return (Data(token[..<dot].utf8), signature)
        }

        var configuration = TegataVerifierConfiguration(issuer: issuer)
        configuration.revocations = .init(clientID: "benchmark", clientSecret: "benchmark-secret-0123456789")
        let verifier = TegataVerifier(configuration: configuration, logger: logger)
        let service = Task { try await verifier.run() }
        defer { service.cancel() }
        while !verifier.isRevocationListLoaded { try await Task.sleep(for: .milliseconds(10)) }
        // Warm up: the keys are fetched once, through discovery.
        for token in tokens.prefix(100) { _ = try await verifier.verify(token) }
        for entry in raw.prefix(100) { precondition(publicKey.isValidSignature(entry.signature, for: entry.input)) }

        let verificationKeys = ring.verificationKeys
        var rawRates: [Double] = []
        var verifierRates: [Double] = []
        var signatureOnlyRates: [Double] = []
        var sink = 0
        let batch = 250
        for round in 0..<rounds {
            // Batches of 250 of each kind, interleaved, so that the three see the same moments of
            // this noisy machine; the times of each kind are summed over the round.
            var rawElapsed = Duration.zero
            var verifierElapsed = Duration.zero
            var signatureElapsed = Duration.zero
            var done = 0
            while done < perRound {
                let range = done..<min(done + batch, perRound)
                let rawStart = ContinuousClock.now
                for index in range {
                    let entry = raw[index % raw.count]
                    if publicKey.isValidSignature(entry.signature, for: entry.input) { sink &+= 1 }
                }
                let verifierStart = ContinuousClock.now
                rawElapsed += verifierStart - rawStart
                for index in range {
                    let claims = try await verifier.verify(tokens[index % tokens.count])
                    sink &+= claims.sub.utf8.count
                }
                // The token-level check alone (header, signature, claims decoding), without the
                // verifier's key lookup, claim validation and revocation check: where the overhead is.
                let signatureStart = ContinuousClock.now
                verifierElapsed += signatureStart - verifierStart
                for index in range {
                    let claims = try verificationKeys.verifySignature(tokens[index % tokens.count])
                    sink &+= claims.sid.utf8.count
                }
                signatureElapsed += ContinuousClock.now - signatureStart
                done = range.upperBound
            }
            let rawRate = Double(perRound) / seconds(rawElapsed)
            let verifierRate = Double(perRound) / seconds(verifierElapsed)
            let signatureRate = Double(perRound) / seconds(signatureElapsed)
            rawRates.append(rawRate)
            verifierRates.append(verifierRate)
            signatureOnlyRates.append(signatureRate)
            print(String(format: "round %2d: raw P-256 %8.0f/s  verifier %8.0f/s (%5.1f %%)  token check only %8.0f/s (%5.1f %%)",
                         round + 1, rawRate, verifierRate, 100 * verifierRate / rawRate, signatureRate, 100 * signatureRate / rawRate))
        }
        let rawMedian = median(rawRates)
        let verifierMedian = median(verifierRates)
        let ratios = zip(verifierRates, rawRates).map { $0 / $1 }
        print(String(format: "median: raw P-256 %.0f verifications/s, verifier %.0f verifications/s", rawMedian, verifierMedian))
        print(String(format: "verifier / raw: median of per-round ratios %.1f %% (min %.1f %%, max %.1f %%)",
                     100 * median(ratios), 100 * ratios.min()!, 100 * ratios.max()!))
        print(String(format: "per verification: raw %.1f µs, verifier %.1f µs, overhead %.1f µs (token check only: %.1f µs)",
                     1e6 / rawMedian, 1e6 / verifierMedian, 1e6 / verifierMedian - 1e6 / rawMedian, 1e6 / median(signatureOnlyRates)))
        if sink == 42 { print("") }  // keeps the work observable
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }
}

/// The issuer URL, known once the server has its port.
final class IssuerBox: Sendable {
    private let value = Mutex("")
    var issuer: String { value.withLock { $0 } }
    func set(_ issuer: String) { value.withLock { $0 = issuer } }
}
