import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import TegataCore
import TegataWire

/// `GET /v1/revocations`: the revocation feed for resource servers (HTTP Basic), long-polled.
struct RevocationsController {
    let feed: any RevocationFeedStore
    let clients: ResourceServerClients
    let clock: any TegataClock
    /// Events per answer at most.
    static let pageSize = 1_000
    /// The longest wait a client may ask for.
    static let maximumWait = 30
    /// How often a waiting request looks for new events (events may come from another replica).
    static let pollInterval: Duration = .milliseconds(100)

    func register(on routes: TegataRoutes) {
        let clients = clients
        let store = feed
        let clock = clock

        routes.open.get("/v1/revocations") { request, _ in
            _ = try request.authenticateResourceServer(clients)
            let query = request.uri.queryParameters
            var cursor: RevocationFeedCursor?
            if let after = query["after"] {
                guard let value = RevocationFeedCursor(rawValue: String(after)) else {
                    throw TegataError.invalidRequest("after must be a cursor from this feed")
                }
                cursor = value
            }
            var wait = 0
            if let requested = query["wait"] {
                guard let seconds = Int(requested), seconds >= 0 else { throw TegataError.invalidRequest("wait must be a number of seconds") }
                wait = min(seconds, Self.maximumWait)
            }
            let deadline = ContinuousClock.now + .seconds(wait)
            while true {
                let page: RevocationFeedPage
                do {
                    page = try await store.revocationEvents(after: cursor, now: clock.now(), limit: Self.pageSize)
                } catch is RevocationFeedCursor.Unrecognized {
                    throw TegataError.invalidRequest("after must be a cursor from this feed")
                }
                // Without a cursor the answer is immediate: every retained event and the current cursor.
                // So is it for a cursor this feed never handed out (beyond the newest event): the
                // client is moved back to the feed's cursor at once rather than after a wasted wait.
                if !page.events.isEmpty || cursor == nil || page.movedBack || ContinuousClock.now >= deadline
                    || Task.isShuttingDownGracefully {
                    let feed = RevocationFeed(cursor: page.cursor.rawValue, events: page.events.map(Self.wire))
                    return try JSONResponse.make(feed)
                }
                try await Task.sleep(for: Self.pollInterval)
            }
        }
    }

    static func wire(_ event: RevocationEvent) -> FeedEvent {
        switch event.kind {
        case .session(let sid): FeedEvent(type: "session", sid: sid, until: event.until)
        case .user(let sub, let version): FeedEvent(type: "user", sub: sub, tv: version, until: event.until)
        case .token(let jti): FeedEvent(type: "token", jti: jti, until: event.until)
        }
    }
}
