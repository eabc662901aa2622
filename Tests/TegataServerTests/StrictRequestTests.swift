import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataTokens
import TegataWire
import Testing

/// Media types, strict JSON, explicit nulls, presented client credentials and unserved methods:
/// each refused with a clear 4xx in the contract's format, and nothing changed by the refusal.
@Suite struct StrictRequestTests {
    static let adminKey = String(repeating: "k", count: 40)

    func expectError(_ response: TestResponse, _ status: HTTPResponse.Status, _ code: OAuthErrorCode = .invalidRequest,
                     contains fragment: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
        #expect(response.errorBody?.error == code, "\(response.text)", sourceLocation: sourceLocation)
        if let fragment {
            #expect(response.errorBody?.errorDescription?.contains(fragment) == true, "\(response.text)", sourceLocation: sourceLocation)
        }
        #expect(response.errorBody?.errorDescription?.contains("field  ") != true, sourceLocation: sourceLocation)
    }

    func post(_ client: any TestClientProtocol, _ uri: String, contentType: String?, body: String, token: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let contentType { headers[.contentType] = contentType }
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    static let device = #"{"device_id": "device-0001", "device_secret": "\#(validSecret)", "platform": "ios"}"#

    @Test func jsonEndpointsRefuseBodiesNotDeclaredJSON() async throws {
        try await Harness().withApp { client, _ in
            // text/plain is what a cross-site "simple request" may send without a preflight.
            for contentType in ["text/plain", "text/plain; charset=utf-8", "application/octet-stream", "application/x-www-form-urlencoded",
                                "application/json; charset=iso-8859-1", "application/jsonx", "application/+json", "json", ""] {
                expectError(try await post(client, "/v1/auth/device", contentType: contentType, body: Self.device), .unsupportedMediaType,
                            contains: "application/json")
            }
            expectError(try await post(client, "/v1/auth/device", contentType: nil, body: Self.device), .unsupportedMediaType)
            // None of those registered the device: the first accepted call does.
            let first = try await post(client, "/v1/auth/device", contentType: "application/json; charset=utf-8", body: Self.device)
            #expect(first.status == .created, "\(first.text)")
            for contentType in ["application/json", "Application/JSON", #"application/json;charset="UTF-8""#, "application/vnd.example+json",
                                "application/json; boundary=x"] {
                #expect(try await post(client, "/v1/auth/device", contentType: contentType, body: Self.device).status == .ok, "\(contentType)")
            }
            // A bearer endpoint with a JSON body: logout as text/plain is refused and the session lives on.
            let tokens = try await client.signIn()
            expectError(try await post(client, "/v1/logout", contentType: "text/plain", body: #"{"scope": "global"}"#, token: tokens.accessToken),
                        .unsupportedMediaType)
            #expect(try await client.me(tokens.accessToken).status == .ok)
            // A body-less logout needs no media type.
            #expect(try await client.execute(uri: "/v1/logout", method: .post, headers: [.authorization: "Bearer \(tokens.accessToken)"]).status
                == .noContent)
        }
    }

    @Test func oauthEndpointsTakeFormsAndJSONOnly() async throws {
        try await Harness().withApp { client, _ in
            let tokens = try await client.signIn()
            let formBody = "grant_type=refresh_token&refresh_token=\(tokens.refreshToken)"
            for contentType in ["text/plain", "multipart/form-data; boundary=x", "application/xml"] {
                expectError(try await post(client, "/oauth/token", contentType: contentType, body: formBody), .unsupportedMediaType)
            }
            expectError(try await post(client, "/oauth/token", contentType: nil, body: formBody), .unsupportedMediaType)
            // The refused requests spent nothing: the refresh token still rotates, as a form and as JSON.
            let rotated = try await post(client, "/oauth/token", contentType: "application/x-www-form-urlencoded; charset=utf-8", body: formBody)
            #expect(rotated.status == .ok, "\(rotated.text)")
            let next = try rotated.decode(TokenResponse.self)
            let json = #"{"grant_type": "refresh_token", "refresh_token": "\#(next.refreshToken)"}"#
            #expect(try await post(client, "/oauth/token", contentType: "application/json", body: json).status == .ok)
            expectError(try await post(client, "/oauth/revoke", contentType: "text/plain", body: "token=x"), .unsupportedMediaType)
        }
    }

    @Test func bodiesThatAreNotStrictJSONChangeNothing() async throws {
        try await Harness().withApp { client, _ in
            let first = try await client.signIn()
            let second = try await client.signIn()
            // A trailing comma once logged the user out everywhere.
            for body in [#"{"scope": "global",}"#, #"{"scope": "local", "scope": "global"}"#, #"{"scope": "global"} x"#,
                         #"{"scope": 'global'}"#, #"{"scope": "global" /* */}"#, #"{"scope": "gl\u00"}"#] {
                expectError(try await post(client, "/v1/logout", contentType: "application/json", body: body, token: first.accessToken),
                            .badRequest, contains: "not valid JSON")
            }
            #expect(try await client.me(first.accessToken).status == .ok)
            #expect(try await client.me(second.accessToken).status == .ok)
            // A repeated name in a sign-in, the same name escaped, and in an OAuth JSON body.
            let twice = #"{"device_id": "device-0009", "device_id": "device-0010", "device_secret": "\#(validSecret)", "platform": "ios"}"#
            expectError(try await post(client, "/v1/auth/device", contentType: "application/json", body: twice), .badRequest, contains: "repeats")
            let escaped = #"{"device_id": "device-0009", "device_secret": "\#(validSecret)", "platform": "ios", "platfor\u006d": "web"}"#
            expectError(try await post(client, "/v1/auth/device", contentType: "application/json", body: escaped), .badRequest, contains: "repeats")
            let oauth = #"{"grant_type": "refresh_token", "refresh_token": "\#(first.refreshToken)", "refresh_token": "x"}"#
            expectError(try await post(client, "/oauth/token", contentType: "application/json", body: oauth), .badRequest, contains: "repeats")
            // Nothing was registered or spent.
            let registered = try await client.execute(uri: "/v1/auth/device", method: .post, headers: [.contentType: "application/json"],
                                                      body: deviceBody("device-0009"))
            #expect(registered.status == .created)
            #expect(try await client.refresh(first.refreshToken).status == .ok)
        }
    }

    @Test func nullIsNotAbsentAndWrongTypesAreNamed() async throws {
        try await Harness { $0.adminAPIKey = Self.adminKey }.withApp { client, services in
            let tokens = try await client.signIn()
            // `{"scope": null}` once meant a local logout.
            expectError(try await post(client, "/v1/logout", contentType: "application/json", body: #"{"scope": null}"#, token: tokens.accessToken),
                        .badRequest, contains: "field scope must not be null")
            expectError(try await post(client, "/v1/logout", contentType: "application/json", body: #"{"scope": 5}"#, token: tokens.accessToken),
                        .badRequest, contains: "field scope has the wrong type")
            expectError(try await post(client, "/v1/logout", contentType: "application/json", body: #"{"scope": "everywhere"}"#, token: tokens.accessToken),
                        .badRequest, contains: "scope must be local, global or others")
            #expect(try await client.me(tokens.accessToken).status == .ok)
            // `{"immediate": null}` once rotated on the JWKS schedule.
            let published = services.keyRing.jwks.keys.count
            for (body, fragment) in [(#"{"immediate": null}"#, "field immediate must not be null"), (#"{"immediate": 1}"#, "field immediate has the wrong type"),
                                     (#"{"immediate": "true"}"#, "field immediate has the wrong type")] {
                expectError(try await post(client, "/admin/v1/keys/rotate", contentType: "application/json", body: body, token: Self.adminKey),
                            .badRequest, contains: fragment)
            }
            #expect(services.keyRing.jwks.keys.count == published)
            // Required fields: null, a wrong type, a missing one, each named.
            let cases = [
                (#"{"device_id": null, "device_secret": "\#(validSecret)", "platform": "ios"}"#, "field device_id must not be null"),
                (#"{"device_id": "device-0001", "device_secret": "\#(validSecret)", "platform": 5}"#, "field platform has the wrong type"),
                (#"{"device_id": "device-0001", "device_secret": ["\#(validSecret)"], "platform": "ios"}"#, "field device_secret has the wrong type"),
                (#"{"device_id": "device-0001", "platform": "ios"}"#, "missing field device_secret"),
                (#"{"": 1}"#, "missing field device_id"),
            ]
            for (body, fragment) in cases {
                expectError(try await post(client, "/v1/auth/device", contentType: "application/json", body: body), .badRequest, contains: fragment)
            }
        }
    }

    @Test func presentedClientCredentialsAreChecked() async throws {
        try await Harness().withApp { client, _ in
            let tokens = try await client.signIn()
            let refresh = "grant_type=refresh_token&refresh_token=\(tokens.refreshToken)"
            func basic(_ id: String, _ secret: String) -> String { "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString() }
            let refused: [(headers: HTTPFields, extra: String)] = [
                ([.authorization: basic("tegata", "wrong")], ""),
                ([.authorization: basic("some-other-client", "")], ""),
                ([.authorization: "Basic !!!not-base64"], ""),
                ([:], "&client_id=some-other-client"),
                ([:], "&client_id=tegata&client_secret=anything"),
                ([.authorization: basic("tegata", "")], "&client_id=some-other-client"),
            ]
            for (headers, extra) in refused {
                var all = headers
                all[.contentType] = "application/x-www-form-urlencoded"
                let response = try await client.execute(uri: "/oauth/token", method: .post, headers: all, body: ByteBuffer(string: refresh + extra))
                expectError(response, .unauthorized, .invalidClient)
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
                let revoke = try await client.execute(uri: "/oauth/revoke", method: .post, headers: all,
                                                      body: ByteBuffer(string: "token=\(tokens.refreshToken)" + extra))
                expectError(revoke, .unauthorized, .invalidClient)
            }
            // None of those spent or revoked the refresh token; the app client's own id is accepted
            // in the body and over HTTP Basic with an empty secret.
            let byID = try await post(client, "/oauth/token", contentType: "application/x-www-form-urlencoded", body: refresh + "&client_id=tegata")
            #expect(byID.status == .ok, "\(byID.text)")
            let next = try byID.decode(TokenResponse.self)
            let byBasic = try await client.execute(
                uri: "/oauth/token", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .authorization: basic("tegata", "")],
                body: ByteBuffer(string: "grant_type=refresh_token&refresh_token=\(next.refreshToken)"))
            #expect(byBasic.status == .ok, "\(byBasic.text)")
        }
    }

    @Test func aLiteralSegmentOutranksAParameterInAllow() async throws {
        // The router serves GET /admin/v1/users/import as nothing (a literal segment wins and is not
        // given back to /admin/v1/users/{id}), so Allow names POST only.
        try await AdminUsersTests.harness().withApp { client, _ in
            let cases: [(String, HTTPRequest.Method, String)] = [
                ("/admin/v1/users/import", .get, "POST"),
                ("/admin/v1/users/import", .delete, "POST"),
                ("/admin/v1/users/u-1", .post, "DELETE, GET"),
            ]
            for (uri, method, allow) in cases {
                let response = try await client.admin(method, uri)
                expectError(response, .methodNotAllowed, contains: "this path serves only")
                #expect(response.headers[.allow] == allow, "\(method) \(uri)")
            }
        }
    }

    @Test func unservedMethodsOfKnownPathsAre405WithAllow() async throws {
        try await Harness().withApp { client, _ in
            let cases: [(String, HTTPRequest.Method, String)] = [
                ("/v1/me", .init("TRACE")!, "DELETE, GET"),
                ("/v1/me", .put, "DELETE, GET"),
                ("/healthz", .put, "GET"),
                ("/healthz", .post, "GET"),
                ("/v1/auth/device", .get, "POST"),
                ("/v1/sessions/some-session-id", .get, "DELETE"),
                ("/v1/me/identities/apple", .post, "DELETE"),
                ("/v1/session", .put, "DELETE, GET, POST"),
                ("/oauth/token", .get, "POST"),
            ]
            for (uri, method, allow) in cases {
                let response = try await client.execute(uri: uri, method: method)
                expectError(response, .methodNotAllowed, contains: "this path serves only")
                #expect(response.headers[.allow] == allow, "\(method) \(uri)")
            }
            // Paths nothing serves stay 404.
            for uri in ["/v1/nothing", "/v1/sessions/a/b", "/v1/me/identities/apple/x"] {
                let response = try await client.execute(uri: uri, method: .put)
                expectError(response, .notFound, .notFound)
            }
        }
    }
}
