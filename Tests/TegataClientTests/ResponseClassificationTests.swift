import Foundation
import Testing
@testable import TegataClient
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// How answers are sorted into success, refusal and transient failure; form encoding. Pure.
@Suite struct ResponseClassificationTests {
    static func outcome(_ status: Int, body: String = "", headers: [String: String] = [:]) -> TegataAPI.Outcome {
        let response = HTTPURLResponse(url: URL(string: "http://127.0.0.1/oauth/token")!, statusCode: status, httpVersion: nil, headerFields: headers)!
        return TegataAPI.classify(data: Data(body.utf8), response: response, receivedAt: Date())
    }

    @Test(arguments: [200, 201, 204])
    func twoHundredsSucceed(status: Int) {
        guard case .success = Self.outcome(status) else { Issue.record("\(status) is a success"); return }
    }

    @Test(arguments: [408, 429, 500, 502, 503, 504])
    func theseMayBeRetried(status: Int) {
        guard case .transient(let error, _) = Self.outcome(status) else { Issue.record("\(status) is transient"); return }
        #expect(error.code == .unavailable && error.status == status)
    }

    @Test(arguments: [400, 401, 403, 404, 409, 413])
    func theseAreDefiniteRefusals(status: Int) {
        let body = #"{"error": "invalid_grant", "error_description": "the refresh token is not valid"}"#
        guard case .rejected(let error) = Self.outcome(status, body: body) else { Issue.record("\(status) is a refusal"); return }
        #expect(error.code == .rejected && error.status == status && error.serverError?.error == .invalidGrant)
        #expect(error.reason == "the refresh token is not valid")
    }

    @Test func retryAfterIsReadInSeconds() {
        guard case .transient(_, let retryAfter) = Self.outcome(429, headers: ["Retry-After": "7"]) else { Issue.record(); return }
        #expect(retryAfter == 7)
        guard case .transient(_, let none) = Self.outcome(503, headers: ["Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"]) else { Issue.record(); return }
        #expect(none == nil)  // an HTTP date is not honoured: the client's own backoff applies
    }

    @Test func aBodyThatIsNotAnErrorBodyStillGivesAClearError() {
        guard case .rejected(let error) = Self.outcome(400, body: "<html>bad gateway</html>") else { Issue.record(); return }
        #expect(error.serverError == nil && error.status == 400)
        #expect(error.description.contains("HTTP 400"))
    }

    @Test func formEncodingEscapesEverythingOutsideTheUnreservedSet() {
        #expect(FormEncoding.encode(["refresh_token": "a+b/c=d&e f", "grant_type": "refresh_token"])
                == "grant_type=refresh_token&refresh_token=a%2Bb%2Fc%3Dd%26e%20f")
    }

    @Test func generatedDeviceCredentialsAreValidAndUnique() {
        let all = (0..<100).map { _ in DeviceCredentials.generate() }
        #expect(Set(all.map(\.secret)).count == 100 && Set(all.map(\.id)).count == 100)
        for device in all {
            #expect(device.secret.count == 43 && device.secret.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
            #expect(device.id.count == 36 && device.id == device.id.lowercased())
        }
    }
}
