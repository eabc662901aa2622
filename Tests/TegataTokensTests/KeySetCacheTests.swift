import Foundation
import Logging
import Synchronization
import TegataTokens
import Testing

/// An in-memory document source: counts fetches, can fail, and holds each fetch for a moment so
/// that concurrent callers overlap. (The server tests fetch over real HTTP; this one tests the cache's
/// own rules without sockets.)
final class CountingFetcher: DocumentFetching {
    private struct State {
        var documents: [String: FetchedDocument] = [:]
        var failing = false
        var fetches: [String] = []
    }
    private let state = Mutex(State())

    func serve(_ url: String, _ body: String, maxAge: TimeInterval? = nil) {
        state.withLock { $0.documents[url] = FetchedDocument(body: Data(body.utf8), maxAge: maxAge) }
    }
    func setFailing(_ failing: Bool) { state.withLock { $0.failing = failing } }
    var fetches: [String] { state.withLock { $0.fetches } }

    struct Down: Error {}

    func get(_ url: String) async throws -> FetchedDocument {
        let (document, failing) = state.withLock { state in
            state.fetches.append(url)
            return (state.documents[url], state.failing)
        }
        try await Task.sleep(for: .milliseconds(20))
        guard !failing, let document else { throw Down() }
        return document
    }
}

final class TestTime: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    func now() -> Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

@Suite struct KeySetCacheTests {
    let fetcher = CountingFetcher()
    let time = TestTime()

    func cache(_ location: KeySetLocation = .jwks("https://id.example/keys")) -> KeySetCache<String> {
        let time = self.time
        return KeySetCache(
            name: "test", location: location, fetcher: fetcher, now: { time.now() },
            logger: Logger(label: "test"), parse: { String(decoding: $0, as: UTF8.self) })
    }

    @Test func concurrentCallersShareOneFetch() async throws {
        fetcher.serve("https://id.example/keys", "v1")
        let cache = cache()
        let results = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<100 { group.addTask { try await cache.current() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 100 && Set(results) == ["v1"])
        #expect(fetcher.fetches.count == 1)
    }

    @Test func lifetimeFollowsCacheControlWithinBounds() async throws {
        fetcher.serve("https://id.example/keys", "v1", maxAge: 600)
        let cache = cache()
        _ = try await cache.current()
        time.advance(599)
        _ = try await cache.current()
        #expect(fetcher.fetches.count == 1)
        fetcher.serve("https://id.example/keys", "v2", maxAge: 0)
        time.advance(2)
        #expect(try await cache.current() == "v2")
        // max-age=0 is raised to the 60 s minimum: not fetched again at once.
        time.advance(59)
        _ = try await cache.current()
        #expect(fetcher.fetches.count == 2)
        // A huge max-age is capped at a day.
        fetcher.serve("https://id.example/keys", "v3", maxAge: 10 * 86_400)
        time.advance(2)
        _ = try await cache.current()
        time.advance(86_401)
        _ = try await cache.current()
        #expect(fetcher.fetches.count == 4)
    }

    @Test func staleKeysServeWhileTheSourceFailsAndRetriesAreSpaced() async throws {
        fetcher.serve("https://id.example/keys", "v1", maxAge: 60)
        let cache = cache()
        _ = try await cache.current()
        fetcher.setFailing(true)
        time.advance(120)
        #expect(try await cache.current() == "v1")
        #expect(fetcher.fetches.count == 2)
        // Within the failure retry interval nobody fetches again.
        for _ in 0..<10 { #expect(try await cache.current() == "v1") }
        #expect(fetcher.fetches.count == 2)
        time.advance(11)
        fetcher.setFailing(false)
        fetcher.serve("https://id.example/keys", "v2", maxAge: 60)
        #expect(try await cache.current() == "v2")
    }

    @Test func withNoKeysAtAllAFailingSourceIsUnavailable() async throws {
        fetcher.setFailing(true)
        let cache = cache()
        await #expect(throws: KeySetUnavailable.self) { try await cache.current() }
        await #expect(throws: KeySetUnavailable.self) { try await cache.current() }
        #expect(fetcher.fetches.count == 1, "the second call is within the retry interval")
    }

    @Test func unknownKeyRefetchIsLimitedPerInterval() async throws {
        fetcher.serve("https://id.example/keys", "v1")
        let cache = cache()
        _ = try await cache.current()
        for _ in 0..<50 { #expect(await cache.refetchForUnknownKey() == nil) }
        #expect(fetcher.fetches.count == 1)
        time.advance(60)
        fetcher.serve("https://id.example/keys", "v2")
        #expect(await cache.refetchForUnknownKey() == "v2")
        #expect(await cache.refetchForUnknownKey() == nil)
        #expect(fetcher.fetches.count == 2)
    }

    @Test func discoveryChecksTheIssuerAndReusesTheResolvedURL() async throws {
        fetcher.serve("https://id.example/.well-known/openid-configuration",
                      #"{"issuer":"https://id.example","jwks_uri":"https://id.example/jwks"}"#)
        fetcher.serve("https://id.example/jwks", "v1", maxAge: 60)
        let cache = cache(.discovery("https://id.example/.well-known/openid-configuration", issuer: "https://id.example"))
        #expect(try await cache.current() == "v1")
        time.advance(61)
        #expect(try await cache.current() == "v1")
        #expect(fetcher.fetches == ["https://id.example/.well-known/openid-configuration", "https://id.example/jwks", "https://id.example/jwks"])

        let wrong = self.cache(.discovery("https://id.example/.well-known/openid-configuration", issuer: "https://other.example"))
        await #expect(throws: KeySetUnavailable.self) { try await wrong.current() }
    }

    @Test func refreshIfDueFetchesOnlyNearExpiry() async throws {
        fetcher.serve("https://id.example/keys", "v1", maxAge: 600)
        let cache = cache()
        await cache.refreshIfDue()
        #expect(cache.cached == "v1")
        time.advance(500)
        await cache.refreshIfDue()
        #expect(fetcher.fetches.count == 1)
        time.advance(45)
        await cache.refreshIfDue()
        #expect(fetcher.fetches.count == 2)
    }

    @Test func cacheControlParsing() {
        #expect(FetchedDocument.lifetime(cacheControl: "public, max-age=21600, must-revalidate", age: nil) == 21_600)
        #expect(FetchedDocument.lifetime(cacheControl: "public, max-age=21600", age: "600") == 21_000)
        #expect(FetchedDocument.lifetime(cacheControl: "max-age=60", age: "600") == 0)
        #expect(FetchedDocument.lifetime(cacheControl: "no-cache, max-age=600", age: nil) == 0)
        #expect(FetchedDocument.lifetime(cacheControl: "no-store", age: nil) == 0)
        #expect(FetchedDocument.lifetime(cacheControl: "public", age: nil) == nil)
        #expect(FetchedDocument.lifetime(cacheControl: "max-age=abc", age: nil) == nil)
        #expect(FetchedDocument.lifetime(cacheControl: nil, age: "5") == nil)
    }
}
