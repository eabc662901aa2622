import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address, as 4 or 16 bytes. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is
/// its IPv4 address, so that a dual-stack socket and a proxy's header name one client one way.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 (IPv6), network order.
    public let bytes: [UInt8]

    /// Parses `192.0.2.1` or `2001:db8::1` (no brackets, no port, no zone); nil for anything else.
    public init?(_ text: some StringProtocol) {
        // Only the characters of an address: inet_pton reads a C string, which would end at a NUL
        // and take `192.0.2.1\0anything` for `192.0.2.1`.
        guard !text.isEmpty, text.utf8.count <= 45, text.utf8.allSatisfy({ $0 < 0x80 && Self.isAddressCharacter($0) }) else { return nil }
        var v4 = in_addr()
        var v6 = in6_addr()
        let string = String(text)
        if inet_pton(AF_INET, string, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, string, &v6) == 1 {
            let all = withUnsafeBytes(of: &v6) { Array($0) }
            bytes = all[0..<10].allSatisfy { $0 == 0 } && all[10] == 0xFF && all[11] == 0xFF ? Array(all[12...]) : all
        } else {
            return nil
        }
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The address of a socket's peer, from its bytes (no text on the way); nil for a Unix socket.
    public init?(_ socket: SocketAddress) {
        // sockaddr_in: family, port, then the 4 address bytes; sockaddr_in6: family, port, flow
        // information, then the 16 address bytes.
        let range: Range<Int>
        switch socket {
        case .v4: range = 4..<8
        case .v6: range = 8..<24
        case .unixDomainSocket: return nil
        }
        let all = socket.withSockAddr { pointer, size in
            size >= range.upperBound ? Array(UnsafeRawBufferPointer(start: pointer, count: size)[range]) : []
        }
        guard !all.isEmpty else { return nil }
        bytes = all.count == 16 && all[0..<10].allSatisfy { $0 == 0 } && all[10] == 0xFF && all[11] == 0xFF ? Array(all[12...]) : all
    }

    /// The key of per-address rate limits: an IPv4 address, or an IPv6 address's /64 network (one
    /// subscriber usually holds a whole /64, so counting single IPv6 addresses would count nothing).
    public var rateLimitKey: String {
        guard bytes.count == 16 else { return description }
        return IPAddress(bytes: Array(bytes[0..<8]) + Array(repeating: 0, count: 8)).description + "/64"
    }

    private static func isAddressCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"),
             UInt8(ascii: "."), UInt8(ascii: ":"):
            true
        default: false
        }
    }

    /// The address in its usual text form.
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var copy = bytes
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        guard inet_ntop(family, &copy, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An IP network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`; an address alone is one host).
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The network's first address.
    public let address: IPAddress
    /// The prefix length in bits.
    public let prefixLength: Int

    /// Parses `address/prefix` or a lone address; nil for anything else.
    public init?(cidr text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        let bits = address.bytes.count * 8
        var length = bits
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...bits).contains(value), parts[1].allSatisfy(\.isASCII) else { return nil }
            length = value
        }
        self.address = address
        self.prefixLength = length
    }

    /// Whether `candidate` is in this network (an IPv4 address is never in an IPv6 network).
    public func contains(_ candidate: IPAddress) -> Bool {
        guard candidate.bytes.count == address.bytes.count else { return false }
        var remaining = prefixLength
        for (mine, theirs) in zip(address.bytes, candidate.bytes) {
            guard remaining > 0 else { return true }
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            guard mine & mask == theirs & mask else { return false }
            remaining -= 8
        }
        return true
    }

    /// `address/prefix`.
    public var description: String { "\(address)/\(prefixLength)" }
}

/// Which address a request came from. The socket's peer, unless that peer is a proxy the operator
/// trusts (`TEGATA_TRUSTED_PROXIES`): then the hops it reports in the one forwarding field the
/// operator names (`TEGATA_FORWARDED_HEADER`: `X-Forwarded-For`, or RFC 7239 `Forwarded`) are
/// walked from the right (the hop the trusted proxy itself saw) past every trusted proxy, and the
/// first untrusted one is the client. A client can prepend anything it likes to these fields, so
/// nothing left of the first untrusted hop is ever believed; the other field, which a proxy that
/// writes one usually passes through from the client untouched, is never read; without a trusted
/// proxy neither is.
public struct ClientAddressResolver: Sendable {
    /// The forwarding field a trusted proxy writes.
    public enum ForwardingField: String, Sendable, CaseIterable {
        /// `X-Forwarded-For: client, proxy1, …` (nginx, HAProxy, AWS, Google Cloud, Cloudflare).
        case xForwardedFor = "x-forwarded-for"
        /// RFC 7239 `Forwarded: for=client, for=proxy1`.
        case forwarded = "forwarded"
    }

    /// The proxies whose forwarding field is believed.
    public let trustedProxies: [IPNetwork]
    /// The field they write.
    public let field: ForwardingField

    /// A resolver trusting `trustedProxies` to write `field`.
    public init(trustedProxies: [IPNetwork], field: ForwardingField = .xForwardedFor) {
        self.trustedProxies = trustedProxies
        self.field = field
    }

    private func isTrusted(_ address: IPAddress) -> Bool { trustedProxies.contains { $0.contains(address) } }

    /// The client's address, from the socket's `peer` and the values of the request's forwarding
    /// field (``field``). A hop that cannot be read (`unknown`, an obfuscated name, garbage) stops
    /// the walk: the trusted proxy that reported it is taken as the client, so a client can never
    /// hide behind it.
    public func resolve(peer: IPAddress?, fieldValues: [String]) -> IPAddress? {
        guard let peer, !trustedProxies.isEmpty, isTrusted(peer) else { return peer }
        let hops = switch field {
        case .xForwardedFor: Self.xForwardedForHops(fieldValues)
        case .forwarded: Self.forwardedHops(fieldValues)
        }
        var client = peer
        for hop in hops.reversed() {
            guard let address = hop.flatMap(IPAddress.init) else { return client }
            client = address
            guard isTrusted(address) else { return address }
        }
        return client
    }

    /// The `for=` node of every element of `Forwarded`, in order, without quotes, brackets or
    /// port; nil for an element without one or with a node that is not an address.
    static func forwardedHops(_ values: [String]) -> [String?] {
        values.flatMap { value in
            splitOutsideQuotes(value, on: ",").map { element -> String? in
                for pair in splitOutsideQuotes(element, on: ";") {
                    let trimmed = pair.trimmingSpaces()
                    guard let equals = trimmed.firstIndex(of: "="), trimmed[..<equals].lowercased() == "for" else { continue }
                    var node = Substring(trimmed[trimmed.index(after: equals)...])
                    if node.hasPrefix("\""), node.hasSuffix("\""), node.count >= 2 { node = node.dropFirst().dropLast() }
                    return hostOfNode(node)
                }
                return nil
            }
        }
    }

    /// The comma-separated hops of `X-Forwarded-For`, in order (a port, if a proxy wrote one, dropped).
    static func xForwardedForHops(_ values: [String]) -> [String?] {
        values.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map { hostOfNode(Substring($0.trimmingSpaces())) } }
    }

    /// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711` or a bare IPv6 address: its host.
    private static func hostOfNode(_ node: Substring) -> String? {
        if node.hasPrefix("[") {
            guard let close = node.firstIndex(of: "]") else { return nil }
            return String(node[node.index(after: node.startIndex)..<close])
        }
        let colons = node.filter { $0 == ":" }.count
        if colons == 1, let colon = node.firstIndex(of: ":") { return String(node[..<colon]) }
        return node.isEmpty ? nil : String(node)
    }

    private static func splitOutsideQuotes(_ text: some StringProtocol, on separator: Character) -> [Substring] {
        var parts: [Substring] = []
        var start = text.startIndex
        var quoted = false
        var index = text.startIndex
        let whole = Substring(text)
        while index < whole.endIndex {
            let character = whole[index]
            if character == "\"" { quoted.toggle() }
            if character == separator, !quoted {
                parts.append(whole[start..<index])
                start = whole.index(after: index)
            }
            index = whole.index(after: index)
        }
        parts.append(whole[start...])
        return parts
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> Substring {
        let whole = Substring(self)
        guard let first = whole.firstIndex(where: { $0 != " " && $0 != "\t" }),
              let last = whole.lastIndex(where: { $0 != " " && $0 != "\t" })
        else { return "" }
        return whole[first...last]
    }
}
