import Foundation
import HTTPTypes
import Hummingbird
import Logging
import TegataCore
import TegataWire

/// `POST /v1/webhooks/stripe` and `POST /v1/webhooks/revenuecat`: payment events that set
/// entitlements. Each endpoint answers 404 unless its secret is configured.
struct WebhooksController {
    let billing: any BillingStore
    let clock: any TegataClock
    let stripeSecret: String?
    let stripeEntitlements: [String: [String]]
    let revenueCatAuthorization: String?
    /// Requests per client address.
    let rateLimit: RateLimiter?
    /// Counts events by source and result.
    let metrics: TegataMetrics
    /// Audits applied events.
    let audit: AuditTrail
    /// The largest webhook body read: far above what Stripe and RevenueCat send (an event's lists
    /// hold only their first items), and refused before any signature is computed.
    static let bodyLimit = 256 * 1024
    static let stripeSignature = HTTPField.Name("Stripe-Signature")!

    func register(on routes: TegataRoutes) {
        let router = routes.open.group("/v1/webhooks").add(middleware: RateLimitMiddleware(limiter: rateLimit, clock: clock))
        let store = billing
        let clock = clock
        let limit = Self.bodyLimit
        let metrics = metrics
        let audit = audit

        let stripe = stripeSecret.map { StripeSignature(secret: $0) }
        let stripeEvents = StripeEvents(entitlements: stripeEntitlements)
        router.post("stripe") { request, context in
            guard let stripe else { throw TegataError.notFound("the Stripe webhook is not configured") }
            let body = try await request.collectBody(limit: limit)
            return try await Self.counted(source: "stripe", metrics: metrics) {
                try stripe.verify(header: request.headers[Self.stripeSignature], payload: body, now: clock.now())
                let event = try stripeEvents.parse(body)
                return try await Self.apply(event, store: store, now: clock.now(), context: context, audit: audit)
            }
        }

        let revenueCat = revenueCatAuthorization.map { ConfiguredSecret(expected: $0) }
        let revenueCatEvents = RevenueCatEvents()
        router.post("revenuecat") { request, context in
            guard let revenueCat else { throw TegataError.notFound("the RevenueCat webhook is not configured") }
            return try await Self.counted(source: "revenuecat", metrics: metrics) {
                guard revenueCat.matches(request.headers[.authorization]) else {
                    throw TegataError.invalidClient("the Authorization header does not match the configured value")
                }
                let body = try await request.collectBody(limit: limit)
                let event = try revenueCatEvents.parse(body)
                return try await Self.apply(event, store: store, now: clock.now(), context: context, audit: audit)
            }
        }
    }

    /// Counts the event as `tegata_webhook_events_total{source, result}`: the receipt's result, or
    /// `rejected` (a bad signature or Authorization, a body that is no event), or `failed`.
    private static func counted(
        source: String, metrics: TegataMetrics, _ body: () async throws -> (Response, result: String)
    ) async throws -> Response {
        do {
            let (response, result) = try await body()
            metrics.increment("tegata_webhook_events_total", [("source", source), ("result", result)])
            return response
        } catch {
            let result = (error as? TegataError).map { $0.code == .serverError ? "failed" : "rejected" } ?? "failed"
            metrics.increment("tegata_webhook_events_total", [("source", source), ("result", result)])
            throw error
        }
    }

    private static func apply(
        _ event: BillingEvent?, store: any BillingStore, now: Date, context: TegataRequestContext, audit: AuditTrail
    ) async throws -> (Response, result: String) {
        let logger = context.logger
        guard let event, !event.isInert else {
            if let event {
                logger.debug("payment event ignored", metadata: ["source": "\(event.source)", "event_id": "\(event.id)", "type": "\(event.type)"])
            }
            return (try JSONResponse.make(WebhookReceipt(result: BillingOutcome.ignored.rawValue)), BillingOutcome.ignored.rawValue)
        }
        let outcome = try await store.applyBillingEvent(event, now: now)
        if outcome != .duplicate {
            audit.record(AuditEvent(
                .webhookApplied, at: now, origin: context.origin,
                details: ["source": event.source.rawValue, "event_type": String(event.type.prefix(128)), "event_id": String(event.id.prefix(128)),
                          "result": outcome.rawValue]))
        }
        var metadata: Logger.Metadata = [
            "source": "\(event.source)", "event_id": "\(event.id)", "type": "\(event.type)", "result": "\(outcome.rawValue)",
        ]
        if !event.droppedNames.isEmpty {
            metadata["dropped_entitlements"] = "\(event.droppedNames.map { String($0.prefix(64)) })"
            logger.warning("payment event names entitlements that are not valid names; they were dropped", metadata: metadata)
        } else {
            logger.info("payment event", metadata: metadata)
        }
        return (try JSONResponse.make(WebhookReceipt(result: outcome.rawValue)), outcome.rawValue)
    }
}
