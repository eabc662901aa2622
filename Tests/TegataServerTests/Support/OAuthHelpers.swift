import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataWire
import Testing

func form(_ fields: [String: String]) -> ByteBuffer {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let body = fields.map { "\($0.key.addingPercentEncoding(withAllowedCharacters: allowed)!)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
        .sorted().joined(separator: "&")
    return ByteBuffer(string: body)
}

extension TestClientProtocol {
    /// `POST /oauth/token` with the refresh grant as a form.
    func refresh(_ refreshToken: String) async throws -> TestResponse {
        try await execute(
            uri: "/oauth/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
            body: form(["grant_type": "refresh_token", "refresh_token": refreshToken]))
    }

    /// A successful refresh's token response.
    func refreshed(_ refreshToken: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> TokenResponse {
        let response = try await refresh(refreshToken)
        #expect(response.status == .ok, "\(response.text)", sourceLocation: sourceLocation)
        return try response.decode(TokenResponse.self)
    }

    func authorized(_ uri: String, _ method: HTTPRequest.Method, token: String, body: ByteBuffer? = nil) async throws -> TestResponse {
        try await execute(uri: uri, method: method, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"], body: body)
    }

    func logout(_ token: String, scope: String?) async throws -> TestResponse {
        try await authorized("/v1/logout", .post, token: token, body: scope.map { json(["scope": $0]) })
    }
}

/// The `sid` of an access token, read without verification (tests only).
func sid(of accessToken: String) -> String { claim("sid", of: accessToken) as! String }

/// A claim of an access token, read without verification (tests only).
func claim(_ name: String, of accessToken: String) -> Any? {
    let payload = accessToken.split(separator: ".")[1]
    var base64 = payload.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    let object = try! JSONSerialization.jsonObject(with: Data(base64Encoded: base64)!) as! [String: Any]
    return object[name]
}
