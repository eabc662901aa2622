import Foundation
import HTTPTypes
import HummingbirdTesting
import TegataServer
import TegataWire
import Testing

/// A strict RFC 8414 client that nobody here wrote (Authlib's metadata validator) accepts the
/// discovery document on both paths, for a loopback development issuer and an https one, with and
/// without token exchange configured.
@Suite struct AuthlibMetadataTests {
    static let script = """
        import json, sys
        from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
        document = json.loads(sys.argv[1])
        metadata = AuthorizationServerMetadata(document)
        metadata.validate()
        assert metadata.issuer == sys.argv[2], metadata.issuer
        print("ok")
        """

    @Test(.enabled(if: Python.shouldRun(needing: "authlib"), "python3 with Authlib is not installed"),
          arguments: ["http://127.0.0.1:8080", "https://auth.example.com"])
    func authlibValidatesTheDiscoveryDocument(issuer: String) async throws {
        let documents = try await Harness { $0.issuer = issuer; $0.audience = issuer }.withApp { client, _ in
            var documents: [String] = []
            for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
                documents.append(try await client.execute(uri: path, method: .get) { $0.text })
            }
            return documents
        }
        #expect(documents[0] == documents[1])
        let result = try await Python.run(Self.script, arguments: [documents[0], issuer])
        #expect(result.status == 0, "\(result.output)")
        // The validator is not a rubber stamp: the document Tegata used to serve fails it.
        var old = try #require(try JSONSerialization.jsonObject(with: Data(documents[0].utf8)) as? [String: Any])
        old["response_types_supported"] = [String]()
        let refused = try await Python.run(Self.script, arguments: [String(decoding: try JSONSerialization.data(withJSONObject: old), as: UTF8.self), issuer])
        #expect(refused.status != 0)
    }
}
