import TegataCore

/// The server's sink for the core's security events: counted in the metrics, by kind and result
/// only (the ids an event carries never become labels).
struct ServerSecurityEvents: SecurityEventSink {
    let metrics: TegataMetrics

    func record(_ event: SecurityEvent, origin: RequestOrigin) {
        switch event {
        case .deviceSignIn(let result, _, _):
            metrics.increment("tegata_sign_ins_total", [("method", "device"), ("result", result.rawValue)])
        case .refresh(let result, _, _):
            metrics.increment("tegata_refreshes_total", [("result", result.rawValue)])
        case .tokenExchange(let provider, let result, _, _):
            let provider = provider ?? "unknown"
            metrics.increment("tegata_token_exchanges_total", [("provider", provider), ("result", result.rawValue)])
            metrics.increment("tegata_sign_ins_total", [("method", provider), ("result", result.rawValue)])
        }
    }
}

/// Store latencies and SQLite's commit batches, as metrics.
struct StoreMetrics: StoreObserver {
    let metrics: TegataMetrics
    let store: String

    func transaction(_ kind: StoreTransactionKind, nanoseconds: Int64, failed: Bool) {
        metrics.record(
            "tegata_store_transaction_duration_seconds",
            [("store", store), ("kind", kind.rawValue), ("result", failed ? "failed" : "ok")], nanoseconds: nanoseconds)
    }

    func commitBatch(size: Int) {
        metrics.record("tegata_sqlite_commit_batch_size", value: size)
    }
}
