import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TegataCore
import TegataServer
import TegataTestSupport
import TegataWire
import Testing

/// App claims: an operator sets a user's claims; every access token issued afterwards carries them
/// beside Tegata's (verified independently from the JWKS), and so does introspection; reserved
/// names and oversized claims are refused with 400 and change nothing.
@Suite struct AdminClaimsTests {
    static let claims = #"{"roles":["admin","editor"],"npln_user_id":"0123456789abcdef","nsa_id":"n-42","stripe_customer":"cus_1","level":7,"beta":{"on":true}}"#

    @Test func claimsSetByAnOperatorAreInEveryTokenIssuedAfterAndInIntrospection() async throws {
        let harness = try AdminUsersTests.harness()
        try await harness.withApp { client, _ in
            let user = try await client.signIn("device-claims-1")
            let uri = "/admin/v1/users/\(user.user.id)/claims"
            let set = try await client.admin(.put, uri, json: Self.claims)
            #expect(set.status == .noContent, "\(set.text)")

            // The token in hand is as it was; the next one (refresh or sign-in) carries the claims.
            #expect(claim("roles", of: user.accessToken) == nil)
            let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get) { Data($0.text.utf8) }
            let refreshed = try await client.refreshed(user.refreshToken)
            let signedIn = try await client.signIn("device-claims-1")
            for token in [refreshed.accessToken, signedIn.accessToken] {
                let verified = try independentlyVerify(token, jwksJSON: jwks)
                #expect(verified["roles"] as? [String] == ["admin", "editor"])
                #expect(verified["npln_user_id"] as? String == "0123456789abcdef" && verified["nsa_id"] as? String == "n-42")
                #expect(verified["level"] as? Int == 7 && (verified["beta"] as? [String: Bool]) == ["on": true])
                #expect(verified["sub"] as? String == user.user.id, "Tegata's own claims are untouched")
            }
            let introspected = try await client.introspect(refreshed.accessToken).decode(IntrospectionResponse.self)
            #expect(introspected.active && introspected.sub == user.user.id)
            #expect(introspected.app == [
                "roles": .array([.string("admin"), .string("editor")]), "npln_user_id": .string("0123456789abcdef"),
                "nsa_id": .string("n-42"), "stripe_customer": .string("cus_1"), "level": .integer(7), "beta": .object(["on": .bool(true)]),
            ])
            #expect(try await client.me(refreshed.accessToken).status == .ok, "a token with claims works at Tegata's endpoints")
            let shown = try await client.admin(.get, "/admin/v1/users/\(user.user.id)").decode(AdminUserResponse.self)
            #expect(shown.claims == introspected.app)

            // `{}` removes them from the next token on.
            #expect(try await client.admin(.put, uri, json: "{}").status == .noContent)
            let cleared = try await client.refreshed(refreshed.refreshToken)
            #expect(claim("roles", of: cleared.accessToken) == nil)
            #expect(try await client.admin(.get, "/admin/v1/users/\(user.user.id)").text.contains(#""claims":{}"#))
        }
    }

    @Test func reservedNamesOversizedClaimsAndBadBodiesAreRefusedAndChangeNothing() async throws {
        let harness = try AdminUsersTests.harness()
        try await harness.withApp { client, _ in
            let user = try await client.signIn("device-claims-2")
            let uri = "/admin/v1/users/\(user.user.id)/claims"
            #expect(try await client.admin(.put, uri, json: #"{"roles":["kept"]}"#).status == .noContent)
            for name in ["sub", "iss", "exp", "ent", "tv", "sid", "amr", "anon", "client_id", "cnf", "scope", "acr", "auth_time", "jti"] {
                let response = try await client.admin(.put, uri, json: #"{"roles":["x"],"\#(name)":"mine"}"#)
                #expect(response.status == .badRequest && response.errorBody?.error == .invalidRequest, "\(name)")
                #expect(response.errorBody?.errorDescription?.contains("the claim \(name) is reserved") == true, "\(response.text)")
            }
            let big = try await client.admin(.put, uri, json: #"{"k":"\#(String(repeating: "x", count: 993))"}"#)
            #expect(big.status == .badRequest && big.errorBody?.errorDescription == "the claims take 1001 bytes serialised; at most 1000 are allowed")
            #expect(try await client.admin(.put, uri, json: #"{"k":"\#(String(repeating: "x", count: 992))"}"#).status == .noContent)
            #expect(try await client.admin(.put, uri, json: #"{"roles":["kept"]}"#).status == .noContent)
            for body in ["[]", #""roles""#, "null", "7", #"{"a":1,"a":2}"#, "{", #"{"":1}"#] {
                let response = try await client.admin(.put, uri, json: body)
                #expect(response.status == .badRequest && response.errorBody?.error == .invalidRequest, "\(body): \(response.text)")
            }
            #expect(try await client.admin(.put, uri).status == .badRequest, "a body is required")
            #expect(try await client.admin(.put, "/admin/v1/users/no-such-user/claims", json: "{}").status == .notFound)
            #expect(try await client.admin(.put, "/admin/v1/users/a%20b/claims", json: "{}").status == .badRequest)
            let shown = try await client.admin(.get, "/admin/v1/users/\(user.user.id)").decode(AdminUserResponse.self)
            #expect(shown.claims == ["roles": .array([.string("kept")])], "nothing refused was stored")
        }
    }
}
