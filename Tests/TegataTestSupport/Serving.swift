import Hummingbird

/// Runs the application `build` makes on a loopback socket for the duration of `body`, which gets
/// the bound port once the server is listening. `build` gets the `onServerRunning` callback to
/// pass to its `Application`.
public func withRunningApplication<T: Sendable, App: ApplicationProtocol>(
    _ build: (_ onServerRunning: @escaping @Sendable (Int) async -> Void) throws -> App,
    _ body: (Int) async throws -> T
) async throws -> T {
    let (ready, readyContinuation) = AsyncStream.makeStream(of: Int.self)
    let app = try build { port in
        readyContinuation.yield(port)
        readyContinuation.finish()
    }
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            // An application that stops before it serves (its port taken, say) ends the wait for
            // its port, so the test fails with that error instead of waiting for ever.
            defer { readyContinuation.finish() }
            try await app.runService(gracefulShutdownSignals: [])
        }
        defer { group.cancelAll() }
        var iterator = ready.makeAsyncIterator()
        guard let port = await iterator.next() else {
            try await group.next()
            throw CancellationError()
        }
        return try await body(port)
    }
}
