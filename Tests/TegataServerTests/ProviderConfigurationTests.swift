import Foundation
import TegataServer
import TegataTokens
import Testing

@Suite struct ProviderConfigurationTests {
    func providers(_ json: String) throws -> [ProviderConfiguration] {
        try TegataConfiguration.load(file: nil, environment: ["TEGATA_PROVIDERS": json]).providers
    }

    func expectError(_ json: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try providers(json)
            Issue.record("accepted \(json)", sourceLocation: sourceLocation)
        } catch let error as ConfigurationError {
            #expect(error.key == "TEGATA_PROVIDERS", sourceLocation: sourceLocation)
            #expect(error.message.contains(text), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func presetsNeedOnlyTheAudience() throws {
        let all = try providers(#"{"apple": {"audiences": ["com.example.app"]}, "google": {"audience": "1.apps.googleusercontent.com"}, "line": {"audiences": "1234567890"}}"#)
        #expect(all.map(\.name) == ["apple", "google", "line"])
        let apple = all[0], google = all[1], line = all[2]
        #expect(apple.issuers == ["https://appleid.apple.com"] && apple.keys == .jwks("https://appleid.apple.com/auth/keys"))
        #expect(apple.algorithms == [.rs256] && apple.nonceRequired && apple.amr == "apple" && !apple.storeEmail)
        #expect(google.issuers == ["https://accounts.google.com", "accounts.google.com"])
        #expect(google.keys == .jwks("https://www.googleapis.com/oauth2/v3/certs") && google.nonceRequired, "Google's SDKs all take a nonce")
        #expect(!line.nonceRequired, "LIFF gives the app no way to set a nonce")
        #expect(line.issuers == ["https://access.line.me"] && line.keys == .jwks("https://api.line.me/oauth2/v2.1/certs"))
        #expect(line.algorithms == [.es256] && line.audiences == ["1234567890"])
    }

    @Test func genericProvidersAndOverrides() throws {
        let all = try providers("""
            games: {type: oidc, issuer: "https://id.games.example", audiences: [results-api], algorithms: [ES256, RS256],
                    subject_claim: player_id, amr: games, store_email: true}
            corp: {issuer: "https://login.corp.example", audiences: [app], discovery_url: "https://login.corp.example/custom/.well-known/openid-configuration"}
            apple: {audiences: [com.example.app], jwks_url: "http://127.0.0.1:9999/keys", nonce_required: false}
            """)
        let byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
        let games = try #require(byName["games"])
        #expect(games.kind == .oidc && games.issuers == ["https://id.games.example"])
        #expect(games.keys == .discovery("https://id.games.example/.well-known/openid-configuration", issuer: "https://id.games.example"))
        #expect(games.algorithms == [.es256, .rs256] && games.subjectClaim == "player_id" && games.amr == "games" && games.storeEmail)
        let corp = try #require(byName["corp"])
        #expect(corp.amr == "oidc" && corp.algorithms == [.rs256])
        #expect(corp.keys == .discovery("https://login.corp.example/custom/.well-known/openid-configuration", issuer: "https://login.corp.example"))
        let apple = try #require(byName["apple"])
        #expect(apple.keys == .jwks("http://127.0.0.1:9999/keys") && !apple.nonceRequired)
    }

    @Test func badProvidersNameTheProblem() {
        expectError(#"{"apple": {}}"#, containing: "audiences is required")
        expectError(#"{"games": {"audiences": ["a"]}}"#, containing: "issuer is required")
        expectError(#"{"games": {"issuer": "https://id.example", "audiences": ["a"], "algorithms": ["HS256"]}}"#, containing: "never accepted")
        expectError(#"{"games": {"issuer": "https://id.example", "audiences": ["a"], "algorithms": ["none"]}}"#, containing: "never accepted")
        expectError(#"{"games": {"issuer": "https://id.example", "audiences": ["a"], "algorithms": ["EdDSA"]}}"#, containing: "not supported")
        expectError(#"{"games": {"issuer": "http://id.example", "audiences": ["a"]}}"#, containing: "https")
        expectError(#"{"apple": {"audiences": ["a"], "jwks_url": "http://keys.example/keys"}}"#, containing: "https")
        expectError(#"{"apple": {"audiences": ["a"], "jwks_url": "https://a/k", "discovery_url": "https://a/d"}}"#, containing: "not both")
        expectError(#"{"apple": {"audiences": ["a"], "audiance": "b"}}"#, containing: "unknown setting \"audiance\"")
        expectError(#"{"Apple": {"audiences": ["a"]}}"#, containing: "provider name")
        expectError(#"{"apple": {"audiences": []}}"#, containing: "non-empty list")
        expectError(#"{"apple": {"audiences": ["a"], "type": "facebook"}}"#, containing: "type must be one of")
        expectError(#"{"apple": {"audiences": ["a"], "nonce_required": "maybe"}}"#, containing: "true or false")
        expectError(#"["apple"]"#, containing: "mapping")
        expectError(#"{"apple": {"audiences": ["a"]"#, containing: "mapping")
    }

    @Test func aConfigurationFileTakesProvidersAsAMapping() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tegata-providers-\(UUID().uuidString).yaml").path
        try """
            providers:
              apple:
                audiences: [com.example.app]
              line:
                audiences: ["1234567890"]
            provider_keys_refetch_interval: 5m
            """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try TegataConfiguration.load(file: path, environment: [:])
        #expect(config.providers.map(\.name) == ["apple", "line"])
        #expect(config.providerKeysRefetchInterval == 300)
        #expect(try TegataConfiguration.load(file: nil, environment: [:]).providers.isEmpty)
    }

    /// LINE's channel secret turns HS256 on for that provider only (its own configured key).
    @Test func lineTakesItsChannelSecretAndNoOtherProviderDoes() throws {
        let secret = "0123456789abcdef0123456789abcdef"
        let line = try #require(try providers(#"{"line": {"audiences": ["1234567890"], "channel_secret": "\#(secret)"}}"#).first)
        #expect(line.channelSecret == ProviderSecret(secret))
        #expect(!"\(line)".contains(secret), "never printed")
        #expect(try providers(#"{"line": {"audiences": ["1234567890"]}}"#).first?.channelSecret == nil)
        expectError(#"{"games": {"type": "oidc", "issuer": "https://id.example", "audiences": ["a"], "channel_secret": "\#(secret)"}}"#, containing: "LINE's")
        expectError(#"{"line": {"audiences": ["1"], "channel_secret": "short"}}"#, containing: "at least 32")
        expectError(#"{"line": {"audiences": ["1"], "algorithms": ["HS256"]}}"#, containing: "never accepted")
    }
}
