import NIOCore
import TegataServer
import Testing

/// The client address behind trusted proxies (RFC 7239 `Forwarded`, `X-Forwarded-For`): never a
/// hop an untrusted client chose.
@Suite struct ClientAddressTests {
    func ip(_ text: String) -> IPAddress { IPAddress(text)! }

    @Test func aSocketsPeerIsReadFromItsBytes() throws {
        for text in ["192.0.2.1", "2001:db8::1", "::1", "fe80::1:2:3:4"] {
            #expect(IPAddress(try SocketAddress(ipAddress: text, port: 443)) == ip(text), "\(text)")
        }
        #expect(IPAddress(try SocketAddress(ipAddress: "::ffff:192.0.2.1", port: 1)) == ip("192.0.2.1"), "a dual-stack socket's IPv4 peer")
        #expect(IPAddress(try SocketAddress(unixDomainSocketPath: "/tmp/tegata.sock")) == nil)
    }

    @Test func addressesAndNetworksParse() throws {
        #expect(ip("192.0.2.1").bytes == [192, 0, 2, 1])
        #expect(ip("::ffff:192.0.2.1") == ip("192.0.2.1"), "an IPv4-mapped address is its IPv4 address")
        #expect(ip("2001:DB8::1").description == "2001:db8::1")
        for bad in ["", "192.0.2", "192.0.2.256", "[::1]", "::1%eth0", "example.com", "unknown", "1.2.3.4:80", String(repeating: "1", count: 60), "192.0.2.1\u{0}", "192.0.2.1\u{0}.5", " 192.0.2.1"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
        let ten = try #require(IPNetwork(cidr: "10.0.0.0/8"))
        #expect(ten.contains(ip("10.255.1.2")) && !ten.contains(ip("11.0.0.1")))
        #expect(!ten.contains(ip("::ffff:11.0.0.1")) && ten.contains(ip("::ffff:10.0.0.1")))
        let v6 = try #require(IPNetwork(cidr: "2001:db8::/33"))
        #expect(v6.contains(ip("2001:db8:7fff::1")) && !v6.contains(ip("2001:db8:8000::1")))
        #expect(!v6.contains(ip("10.0.0.1")), "families never mix")
        #expect(IPNetwork(cidr: "192.0.2.7")?.prefixLength == 32)
        #expect(IPNetwork(cidr: "0.0.0.0/0")?.contains(ip("203.0.113.9")) == true)
        for bad in ["10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/8/8", "::/129", "nope/8", "10.0.0.0/８"] {
            #expect(IPNetwork(cidr: bad) == nil, "\(bad)")
        }
    }

    static let proxies = [IPNetwork(cidr: "10.0.0.0/8")!, IPNetwork(cidr: "2001:db8:ffff::/48")!]
    let xff = ClientAddressResolver(trustedProxies: proxies, field: .xForwardedFor)
    let rfc7239 = ClientAddressResolver(trustedProxies: proxies, field: .forwarded)
    var proxy: IPAddress { ip("10.0.0.2") }

    @Test func withoutATrustedProxyTheForwardingFieldIsIgnored() {
        let none = ClientAddressResolver(trustedProxies: [])
        #expect(none.resolve(peer: ip("203.0.113.5"), fieldValues: ["198.51.100.2"]) == ip("203.0.113.5"))
        #expect(xff.resolve(peer: ip("203.0.113.5"), fieldValues: ["198.51.100.2"]) == ip("203.0.113.5"),
                "a peer that is not a trusted proxy is the client, whatever it claims")
        #expect(xff.resolve(peer: nil, fieldValues: ["198.51.100.2"]) == nil)
    }

    @Test func theRightMostUntrustedHopIsTheClient() {
        // The client spoofed 1.1.1.1 in front; the trusted proxies appended what they saw.
        #expect(xff.resolve(peer: proxy, fieldValues: ["1.1.1.1, 198.51.100.7, 10.0.0.9"]) == ip("198.51.100.7"))
        #expect(xff.resolve(peer: proxy, fieldValues: ["1.1.1.1", "198.51.100.7:5555"]) == ip("198.51.100.7"), "several fields are one list")
        #expect(xff.resolve(peer: proxy, fieldValues: ["[2001:db8:cafe::17]:4711, 2001:db8:ffff::9"]) == ip("2001:db8:cafe::17"))
        #expect(rfc7239.resolve(
            peer: proxy, fieldValues: [#"for=1.1.1.1, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.9;by=10.0.0.2"#])
            == ip("2001:db8:cafe::17"))
        #expect(rfc7239.resolve(peer: proxy, fieldValues: ["For=\"198.51.100.8:80\""]) == ip("198.51.100.8"))
        #expect(xff.resolve(peer: proxy, fieldValues: ["10.0.0.7, 10.0.0.8"]) == ip("10.0.0.7"), "every hop trusted: the left-most")
        #expect(xff.resolve(peer: proxy, fieldValues: []) == proxy, "a trusted proxy that forwards nothing is the client")
    }

    @Test func anUnreadableHopStopsTheWalkAtTheProxyThatReportedIt() {
        #expect(rfc7239.resolve(peer: proxy, fieldValues: ["for=198.51.100.1, for=unknown"]) == proxy)
        #expect(rfc7239.resolve(peer: proxy, fieldValues: ["for=198.51.100.1, for=_hidden, for=10.0.0.3"]) == ip("10.0.0.3"))
        #expect(rfc7239.resolve(peer: proxy, fieldValues: ["proto=https"]) == proxy, "an element without for=")
        #expect(xff.resolve(peer: proxy, fieldValues: ["198.51.100.1, garbage"]) == proxy)
        #expect(xff.resolve(peer: proxy, fieldValues: ["198.51.100.1,,"]) == proxy)
        #expect(xff.resolve(peer: proxy, fieldValues: ["for=198.51.100.1"]) == proxy, "the other field's syntax is not guessed at")
    }
}
