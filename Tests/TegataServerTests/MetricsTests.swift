import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataTestSupport
import TegataWire
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One scraped sample: its family, labels and value.
struct Sample: Equatable {
    let name: String
    let labels: [String: String]
    let value: Double

    /// Parses Prometheus' text format (the lines this server writes: no escapes in label values).
    static func parse(_ text: String) -> [Sample] {
        text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else { return Sample(name: String(series), labels: [:], value: value) }
            var labels: [String: String] = [:]
            for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
            }
            return Sample(name: String(series[..<brace]), labels: labels, value: value)
        }
    }
}

extension [Sample] {
    /// The value of the series `name` whose labels include `labels` (0 when there is none).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }.reduce(0) { $0 + $1.value }
    }
}

@Suite struct MetricsTests {
    /// Every family moves when its action happens, and after all of it no label holds an id, an
    /// address, a token or a secret.
    @Test func everyFamilyMovesWithItsActionAndNoLabelCarriesAnIdentifier() async throws {
        try await FakeProvider.with(keys: TokenExchangeTests.allKeys) { provider in
            var configured = try TokenExchangeTests.harness(provider)
            configured.configuration.issuer = "https://auth.example.com"
            configured.configuration.audience = configured.configuration.issuer
            configured.configuration.allowedOrigins = ["https://app.example.com"]
            configured.configuration.revenueCatWebhookAuth = revenueCatAuth
            configured.configuration.rateLimits.overrides[.deviceSignIns] = RateLimitName.deviceSignIns.policy(3, per: 60)
            let harness = configured
            try await harness.withApp { client, services in
                func scrape() -> [Sample] { Sample.parse(services.metrics.exposition()) }
                var secrets: [String] = [validSecret, revenueCatAuth]
                var ids: [String] = []

                // Device sign-ins: registered, signed in, wrong secret, rate limited.
                let first = try await client.signIn("device-metrics-1")
                _ = try await client.signIn("device-metrics-1")
                let wrong = try await client.execute(
                    uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"],
                    body: deviceBody("device-metrics-1", secret: String(repeating: "w", count: 40)))
                #expect(wrong.status == .unauthorized)
                let limited = try await client.execute(
                    uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"], body: deviceBody("device-metrics-1"))
                #expect(limited.status == .tooManyRequests)
                ids += ["device-metrics-1", first.user.id, sid(of: first.accessToken)]
                secrets += [first.accessToken, first.refreshToken]
                var samples = scrape()
                for result in ["registered", "signed_in", "wrong_secret", "rate_limited"] {
                    #expect(samples.value("tegata_sign_ins_total", ["method": "device", "result": result]) == 1, "sign-in \(result)")
                }
                #expect(samples.value("tegata_rate_limit_rejections_total", ["policy": "device-sign-ins"]) == 1)
                #expect(samples.value("tegata_http_requests_total", ["route": "/v1/auth/device", "method": "POST", "status": "2xx"]) == 2)
                #expect(samples.value("tegata_http_requests_total", ["route": "/v1/auth/device", "method": "POST", "status": "4xx"]) == 2)
                #expect(samples.value("tegata_http_request_duration_seconds_count", ["route": "/v1/auth/device", "method": "POST"]) == 4)
                #expect(samples.value("tegata_store_transaction_duration_seconds_count", ["store": "sqlite", "kind": "write", "result": "ok"]) >= 3)
                #expect(samples.value("tegata_sqlite_commit_batch_size_count") >= 3)
                #expect(samples.contains { $0.name == "tegata_signing_key_age_seconds" && $0.value >= 0 })

                // Refreshes: rotated, grace reissue, replay (revokes), invalid, expired.
                let session = try await client.signIn("device-metrics-2")
                let rotated = try await client.refreshed(session.refreshToken)
                #expect(try await client.refresh(session.refreshToken).status == .ok, "the preceding token, within the grace interval")
                harness.clock.advance(by: 60)
                #expect(try await client.refresh(session.refreshToken).status == .badRequest, "a replay outside it")
                #expect(try await client.refresh(rotated.refreshToken).status == .badRequest, "the session is revoked")
                #expect(try await client.refresh(String(repeating: "A", count: 76)).status == .badRequest)
                let idle = try await client.signIn("device-metrics-3")
                harness.clock.advance(by: harness.configuration.refreshIdleTTL + 1)
                #expect(try await client.refresh(idle.refreshToken).status == .badRequest)
                ids += ["device-metrics-2", "device-metrics-3", session.user.id, sid(of: session.accessToken), idle.user.id, sid(of: idle.accessToken)]
                secrets += [session.refreshToken, rotated.refreshToken, idle.refreshToken]
                samples = scrape()
                for result in ["rotated", "grace_reissue", "replay_revoked", "revoked", "invalid", "expired"] {
                    #expect(samples.value("tegata_refreshes_total", ["result": result]) == 1, "refresh \(result)")
                }

                // Token exchange, and the provider's keys fetched for it.
                let idToken = TokenExchangeTests.appleKey.sign(ProviderClaims.fresh(ProviderClaims.apple(nonce: TokenExchangeTests.rawNonce, now: harness.clock.now())))
                let exchanged = try await client.exchange(idToken, provider: "apple", nonce: TokenExchangeTests.rawNonce)
                #expect(exchanged.status == .ok)
                #expect(try await client.exchange(idToken, provider: "apple", nonce: TokenExchangeTests.rawNonce).status == .badRequest)
                #expect(try await client.exchange(idToken, provider: "made-up-provider-\(UUID())", nonce: nil).status == .badRequest)
                let apple = try exchanged.decode(TokenResponse.self)
                ids += [apple.user.id, sid(of: apple.accessToken), "001234.0123456789abcdef0123456789abcdef.0123"]
                secrets += [idToken, apple.accessToken, apple.refreshToken]
                samples = scrape()
                #expect(samples.value("tegata_token_exchanges_total", ["provider": "apple", "result": "created"]) == 1)
                #expect(samples.value("tegata_token_exchanges_total", ["provider": "apple", "result": "replayed"]) == 1)
                #expect(samples.value("tegata_token_exchanges_total", ["provider": "unknown", "result": "invalid_token"]) == 1)
                #expect(samples.value("tegata_sign_ins_total", ["method": "apple", "result": "created"]) == 1)
                #expect(samples.value("tegata_provider_key_fetches_total", ["provider": "apple", "result": "ok"]) >= 1)

                // Cookie renewals and revocations of every kind.
                let web = try await client.signIn("device-metrics-4")
                let (cookie, _) = try await client.openWebSession(web.accessToken)
                #expect(try await client.webSession(cookie).status == .ok)
                #expect(try await client.webSession(nil).status == .unauthorized)
                #expect(try await client.endWebSession(cookie).status == .noContent)
                let other = try await client.signIn("device-metrics-5")
                #expect(try await client.logout(other.accessToken, scope: "local").status == .noContent)
                let two = try await client.signIn("device-metrics-6")
                let twoAgain = try await client.signIn("device-metrics-6")
                #expect(try await client.authorized("/v1/sessions/\(sid(of: two.accessToken))", .delete, token: twoAgain.accessToken).status == .noContent)
                #expect(try await client.execute(
                    uri: "/oauth/revoke", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: form(["token": twoAgain.refreshToken])).status == .ok)
                let doomed = try await client.signIn("device-metrics-7")
                #expect(try await client.authorized("/v1/me", .delete, token: doomed.accessToken).status == .noContent)
                ids += ["device-metrics-4", "device-metrics-5", "device-metrics-6", "device-metrics-7", web.user.id, other.user.id, two.user.id, doomed.user.id]
                secrets += [cookie.value, web.accessToken, other.accessToken, two.accessToken, twoAgain.refreshToken, doomed.accessToken]
                samples = scrape()
                #expect(samples.value("tegata_session_cookie_renewals_total", ["result": "renewed"]) == 1)
                #expect(samples.value("tegata_session_cookie_renewals_total", ["result": "refused"]) == 1)
                for kind in ["web_session", "logout_local", "session", "token", "account_deletion"] {
                    #expect(samples.value("tegata_revocations_total", ["kind": kind]) == 1, "revocation \(kind)")
                }

                // Webhooks: refused, and accepted.
                #expect(try await client.revenueCat(revenueCatBody("evt-1", "INITIAL_PURCHASE", at: 1_800_000_000_000), authorization: "Bearer wrong-wrong-wrong").status == .unauthorized)
                #expect(try await client.revenueCat(revenueCatBody("evt-2", "INITIAL_PURCHASE", at: 1_800_000_000_000, ["app_user_id": web.user.id])).status == .ok)
                samples = scrape()
                #expect(samples.value("tegata_webhook_events_total", ["source": "revenuecat", "result": "rejected"]) == 1)
                #expect(samples.value("tegata_webhook_events_total", ["source": "revenuecat"]) == 2)

                // No label value is, or contains, anything that identifies or authenticates.
                let labelNames = Set(samples.flatMap(\.labels.keys))
                #expect(labelNames.isSubset(of: [
                    "route", "method", "status", "result", "kind", "store", "policy", "provider", "source", "type", "outcome", "le",
                ]), "\(labelNames)")
                // Audit events are counted by type and outcome (whether or not a stream or table is written).
                #expect(samples.value("tegata_audit_events_total", ["type": "sign_in", "outcome": "success"]) >= 1)
                #expect(samples.value("tegata_audit_events_total", ["type": "webhook_applied", "outcome": "success"]) == 1)
                let values = Set(samples.flatMap(\.labels.values))
                for secret in ids + secrets + ["127.0.0.1"] {
                    #expect(!values.contains { $0.contains(secret) }, "a label carries \(secret.prefix(12))…")
                }
                #expect(!values.contains { $0.contains("made-up-provider") }, "a provider name the client made up is no label")
                let templates = Set(buildRouter(services: services).routes.map(\.path.description))
                let routes = Set(samples.compactMap { $0.labels["route"] })
                #expect(routes.isSubset(of: templates.union(["unmatched"])), "routes are templates, never paths: \(routes.subtracting(templates))")
                #expect(values.contains("/v1/sessions/{id}"))
            }
        }
    }

    @Test func metricsAreServedOnTheirOwnListenerOnlyAndNotOnThePublicOne() async throws {
        try await LiveTegata.with({ $0.metricsPort = 0 }) { server in
            // The public listener has no /metrics.
            let (status, _) = try await server.raw("GET", "/metrics")
            #expect(status == 404)
            _ = try await server.raw("GET", "/healthz")
            let services = try #require(server.services)
            var port: Int?
            for _ in 0..<100 {
                port = services.metricsListener?.boundPort
                if port != nil { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            let metricsPort = try #require(port)
            #expect(metricsPort != server.port)
            let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(metricsPort)/metrics")!)
            let http = try #require(response as? HTTPURLResponse)
            #expect(http.statusCode == 200)
            #expect(http.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let samples = Sample.parse(String(decoding: data, as: UTF8.self))
            #expect(samples.value("tegata_http_requests_total", ["route": "/healthz", "method": "GET", "status": "2xx"]) == 1)
            #expect(samples.value("tegata_http_requests_total", ["route": "unmatched", "method": "GET", "status": "4xx"]) == 1, "\(samples.filter { $0.name == "tegata_http_requests_total" })")
        }
    }

    @Test func theMetricsListenerDefaultsToLoopbackAndIsOffWithoutAPort() throws {
        let defaults = try TegataConfiguration.load(file: nil, environment: [:])
        #expect(defaults.metricsHost == "127.0.0.1" && defaults.metricsPort == nil)
        let set = try TegataConfiguration.load(file: nil, environment: ["TEGATA_METRICS_PORT": "9464", "TEGATA_METRICS_HOST": "0.0.0.0", "TEGATA_ISSUER": "https://a.example.com"])
        #expect(set.metricsHost == "0.0.0.0" && set.metricsPort == 9464)
        #expect(throws: ConfigurationError.self) { try TegataConfiguration.load(file: nil, environment: ["TEGATA_METRICS_PORT": "8080"]) }
        #expect(throws: ConfigurationError.self) { try TegataConfiguration.load(file: nil, environment: ["TEGATA_METRICS_PORT": "http"]) }
    }
}

@Suite struct ServingTests {
    @Test func aServerWhosePortIsTakenFailsInsteadOfWaitingForever() async throws {
        try await LiveTegata.with { running in
            await #expect(throws: (any Error).self) {
                try await LiveTegata.with(port: running.port) { _ in Issue.record("a second server cannot serve on a taken port") }
            }
        }
    }
}
