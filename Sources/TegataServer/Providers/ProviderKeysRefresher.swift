import AsyncHTTPClient
import Foundation
import Logging
import ServiceLifecycle
import TegataCore
import TegataTokens

/// Keeps every provider's keys fresh: fetches them at start (a provider that is down then is only
/// logged) and again shortly before their cache lifetime ends, so that sign-ins rarely wait for a fetch.
/// Owns the HTTP client and shuts it down with the server.
struct ProviderKeysRefresher: Service {
    let providers: IdentityProviders
    let client: HTTPClient
    let logger: Logger
    /// How often the caches are looked at.
    static let interval: Duration = .seconds(15)

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    await refreshAll()
                    try await Task.sleep(for: Self.interval)
                }
            }
        } catch is CancellationError {
            // Shutdown.
        }
        try await client.shutdown()
    }

    /// One pass over every provider, concurrently.
    func refreshAll() async {
        await withTaskGroup(of: Void.self) { group in
            for provider in providers.all {
                group.addTask { await provider.keys.refreshIfDue() }
            }
        }
    }
}
