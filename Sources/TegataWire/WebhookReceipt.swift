/// The answer to an accepted payment webhook: `{"result": "applied" | "duplicate" | "stale" | "ignored"}`.
/// Every accepted event answers 200, so the provider stops retrying; `result` says what it did.
public struct WebhookReceipt: Codable, Sendable, Equatable {
    /// What the event did.
    public var result: String

    /// Creates a receipt.
    public init(result: String) {
        self.result = result
    }
}
