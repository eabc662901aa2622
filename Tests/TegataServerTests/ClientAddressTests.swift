import TegataServer
import Testing

/// The client address behind trusted proxies (RFC 7239 `Forwarded`, `X-Forwarded-For`): never a
/// hop an untrusted client chose.
@Suite struct ClientAddressTests {
    func ip(_ text: String) -> IPAddress { IPAddress(text)! }

    @Test func addressesAndNetworksParse() throws {
        #expect(ip("192.0.2.1").bytes == [192, 0, 2, 1])
        #expect(ip("::ffff:192.0.2.1") == ip("192.0.2.1"), "an IPv4-mapped address is its IPv4 address")
        #expect(ip("2001:DB8::1").description == "2001:db8::1")
        for bad in ["", "192.0.2", "192.0.2.256", "[::1]", "::1%eth0", "example.com", "unknown", "1.2.3.4:80", String(repeating: "1", count: 60)] {
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

    @Test func withoutATrustedProxyTheForwardingFieldsAreIgnored() {
        let resolver = ClientAddressResolver(trustedProxies: [])
        #expect(resolver.resolve(peer: ip("203.0.113.5"), forwarded: ["for=198.51.100.1"], xForwardedFor: ["198.51.100.2"]) == ip("203.0.113.5"))
        let behind = ClientAddressResolver(trustedProxies: [IPNetwork(cidr: "10.0.0.0/8")!])
        #expect(behind.resolve(peer: ip("203.0.113.5"), forwarded: [], xForwardedFor: ["198.51.100.2"]) == ip("203.0.113.5"),
                "a peer that is not a trusted proxy is the client, whatever it claims")
        #expect(behind.resolve(peer: nil, forwarded: [], xForwardedFor: ["198.51.100.2"]) == nil)
    }

    @Test func theRightMostUntrustedHopIsTheClient() {
        let resolver = ClientAddressResolver(trustedProxies: [IPNetwork(cidr: "10.0.0.0/8")!, IPNetwork(cidr: "2001:db8:ffff::/48")!])
        let proxy = ip("10.0.0.2")
        // The client spoofed 1.1.1.1 in front; the trusted proxies appended what they saw.
        #expect(resolver.resolve(peer: proxy, forwarded: [], xForwardedFor: ["1.1.1.1, 198.51.100.7, 10.0.0.9"]) == ip("198.51.100.7"))
        #expect(resolver.resolve(peer: proxy, forwarded: [], xForwardedFor: ["1.1.1.1", "198.51.100.7:5555"]) == ip("198.51.100.7"),
                "several fields are one list")
        #expect(resolver.resolve(
            peer: proxy, forwarded: [#"for=1.1.1.1, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.9;by=10.0.0.2"#],
            xForwardedFor: ["5.5.5.5"]) == ip("2001:db8:cafe::17"), "Forwarded wins over X-Forwarded-For")
        #expect(resolver.resolve(peer: proxy, forwarded: ["For=\"198.51.100.8:80\""], xForwardedFor: []) == ip("198.51.100.8"))
        #expect(resolver.resolve(peer: proxy, forwarded: [], xForwardedFor: ["10.0.0.7, 10.0.0.8"]) == ip("10.0.0.7"),
                "every hop trusted: the left-most")
        #expect(resolver.resolve(peer: proxy, forwarded: [], xForwardedFor: []) == proxy, "a trusted proxy that forwards nothing is the client")
    }

    @Test func anUnreadableHopStopsTheWalkAtTheProxyThatReportedIt() {
        let resolver = ClientAddressResolver(trustedProxies: [IPNetwork(cidr: "10.0.0.0/8")!])
        let proxy = ip("10.0.0.2")
        #expect(resolver.resolve(peer: proxy, forwarded: ["for=198.51.100.1, for=unknown"], xForwardedFor: []) == proxy)
        #expect(resolver.resolve(peer: proxy, forwarded: ["for=198.51.100.1, for=_hidden, for=10.0.0.3"], xForwardedFor: []) == ip("10.0.0.3"))
        #expect(resolver.resolve(peer: proxy, forwarded: ["proto=https"], xForwardedFor: []) == proxy, "an element without for=")
        #expect(resolver.resolve(peer: proxy, forwarded: [], xForwardedFor: ["198.51.100.1, garbage"]) == proxy)
        #expect(resolver.resolve(peer: proxy, forwarded: [], xForwardedFor: ["198.51.100.1,,"]) == proxy)
    }
}
