// A TegataClient in a process of its own, sharing a credentials file with other processes (as an app
// and its widget do). Usage: tegata-client-probe <base URL> <credentials file> <rounds>
// Each round renews the session and calls GET /v1/me with the token. Device re-auth is off, so a
// refresh token spent twice (the server ends the session) makes the probe fail instead of hiding it.
// Prints "ok <rounds>" and exits 0, or prints the error and exits 1.
import Foundation
import TegataClient
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

let arguments = CommandLine.arguments
guard arguments.count == 4, let baseURL = URL(string: arguments[1]), let rounds = Int(arguments[3]) else {
    print("usage: tegata-client-probe <base URL> <credentials file> <rounds>")
    exit(2)
}
var configuration = TegataClientConfiguration(baseURL: baseURL)
configuration.reauthenticateWithDevice = false
configuration.maxRetries = 0
let client = TegataClient(configuration: configuration, storage: FileCredentialStorage(url: URL(fileURLWithPath: arguments[2])))
do {
    for _ in 0..<rounds {
        try await client.refreshSession()
        let (_, response) = try await client.send(URLRequest(url: baseURL.appendingPathComponent("v1/me")))
        guard response.statusCode == 200 else {
            print("GET /v1/me answered \(response.statusCode)")
            exit(1)
        }
    }
    print("ok \(rounds)")
    exit(0)
} catch {
    print("failed: \(error)")
    exit(1)
}
