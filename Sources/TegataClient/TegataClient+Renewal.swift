import Foundation
import TegataWire

extension TegataClient {
    /// Joins the renewal under way, or starts one. `rejecting` is an access token the caller knows
    /// to be refused: a stored token equal to it is not adopted.
    func renew(rejecting: String?) async throws -> SessionCredentials {
        if let renewal { return try await renewal.task.value }
        lastRenewalID += 1
        let id = lastRenewalID
        let epoch = self.epoch
        let task = Task { try await self.performRenewal(id: id, epoch: epoch, rejecting: rejecting) }
        renewal = (id, task)
        return try await task.value
    }

    /// The fallback chain, under the store's lock: another client's newer token → refresh →
    /// device sign-in (device users only, same user only) → `signInRequired`.
    private func performRenewal(id: Int, epoch: Int, rejecting: String?) async throws -> SessionCredentials {
        defer { if renewal?.id == id { renewal = nil } }
        let lock = try await lockStore()
        defer { lock.unlock() }
        try check(epoch)
        try syncWithStore()
        guard let session = credentials.session else {
            throw state == .signInRequired ? TegataClientError.signInRequired : TegataClientError.signedOut
        }
        if session.refreshToken != nil, session.accessToken != rejecting,
           !TokenTiming.needsRenewal(session, now: now(), margin: configuration.refreshMargin)
        {
            return session  // another client sharing the store renewed it while we waited for the lock
        }

        if let refreshToken = session.refreshToken {
            switch try await attempt(epoch: epoch, { [api] in await api.refresh(refreshToken) }) {
            case .success(let reply):
                return try await adopt(reply, epoch: epoch, startsSession: false)
            case .rejected:
                // The session ended at the server (revoked, expired, replayed). Remember it, so a
                // transient failure below does not make the next call spend a dead token again.
                credentials.session?.refreshToken = nil
                credentials.session?.accessTokenExpiresAt = .distantPast
                persist()
            }
        }

        if configuration.reauthenticateWithDevice, let device = credentials.device, device.userID == session.user.id {
            ensureDPoPKey()
            switch try await attempt(epoch: epoch, { [api, configuration] in
                await api.deviceSignIn(device, platform: configuration.platform)
            }) {
            case .success(let reply):
                let response = try reply.decode(TokenResponse.self)
                if response.user.id == session.user.id {
                    return try await adopt(reply, epoch: epoch, startsSession: false)
                }
                // The device now belongs to a new, empty user: the account was deleted. Do not
                // switch the app to it silently.
                _ = await api.revoke(response.refreshToken)
                try check(epoch)
            case .rejected(let error):
                // The registration was revoked with the session (a logout elsewhere): the device
                // must not undo that, and its credentials are dead.
                if error.meansDeadDeviceCredentials { forgetDevice(device) }
            }
        }

        credentials.session = nil
        persist()
        setState(.signInRequired)
        throw TegataClientError.signInRequired
    }

    /// Stores a token response as the session — unless a sign-out or a newer sign-in happened since
    /// `epoch`: then the session it opened is revoked and `.signedOut` is thrown. A sign-in
    /// (`startsSession`) also ends the previous session's renewals.
    func adopt(_ reply: TegataAPI.Reply, epoch: Int, startsSession: Bool) async throws -> SessionCredentials {
        let response = try reply.decode(TokenResponse.self)
        guard epoch == self.epoch else {
            _ = await api.revoke(response.refreshToken)
            throw TegataClientError.signedOut
        }
        if startsSession {
            self.epoch += 1
            renewal = nil
        }
        let session = SessionCredentials(
            accessToken: response.accessToken, accessTokenReceivedAt: reply.receivedAt,
            accessTokenExpiresAt: TokenTiming.localExpiry(
                accessToken: response.accessToken, expiresIn: response.expiresIn, receivedAt: reply.receivedAt,
                serverDate: TokenTiming.serverDate(reply.response)),
            refreshToken: response.refreshToken, user: response.user)
        credentials.session = session
        persist()
        setState(.signedIn(response.user))
        return session
    }

    enum Attempt {
        case success(TegataAPI.Reply)
        case rejected(TegataClientError)
    }

    /// Runs `operation`, retrying transient failures at most `maxRetries` times with exponential
    /// backoff (or the server's `Retry-After`, when it is short enough). Throws `.unavailable` when
    /// the retries are spent and `.signedOut` when a sign-out happened meanwhile (a success is
    /// returned even then: `adopt` discards it and revokes the session it opened).
    func attempt(epoch: Int, _ operation: @Sendable () async -> TegataAPI.Outcome) async throws -> Attempt {
        var failures = 0
        while true {
            let outcome = await operation()
            switch outcome {
            case .success(let reply):
                return .success(reply)  // `adopt` checks the epoch, and revokes what it will not store
            case .rejected(let error):
                try check(epoch)
                return .rejected(error)
            case .transient(let error, let retryAfter):
                try check(epoch)
                guard failures < configuration.maxRetries else { throw error }
                if let retryAfter, retryAfter > configuration.maxRetryAfter { throw error }
                let backoff = configuration.retryDelay * (1 << failures)
                let jittered = backoff * Double.random(in: 0.5...1)
                let delay = retryAfter.map { max(Duration.seconds($0), jittered) } ?? jittered
                failures += 1
                try await Task.sleep(for: delay)
                try check(epoch)
            }
        }
    }
}
