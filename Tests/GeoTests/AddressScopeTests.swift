import Geo
import Packets
import Testing

/// One row of the classification table: the address as text and the scope it must get.
struct ScopeCase: CustomTestStringConvertible, Sendable {
    let text: String
    let scope: AddressScope
    init(_ text: String, _ scope: AddressScope) {
        self.text = text
        self.scope = scope
    }
    var testDescription: String { "\(text) -> \(scope.rawValue)" }
}

// Each block of the IANA special-purpose registries, with the addresses on both sides of each edge.
let v4ScopeCases: [ScopeCase] = [
    .init("0.0.0.0", .unspecified), .init("0.0.0.1", .reserved), .init("0.255.255.255", .reserved),
    .init("1.0.0.0", .public), .init("8.8.8.8", .public),
    .init("9.255.255.255", .public), .init("10.0.0.0", .private), .init("10.255.255.255", .private),
    .init("11.0.0.0", .public),
    .init("100.63.255.255", .public), .init("100.64.0.0", .shared), .init("100.127.255.255", .shared),
    .init("100.128.0.0", .public),
    .init("126.255.255.255", .public), .init("127.0.0.1", .loopback), .init("127.255.255.255", .loopback),
    .init("128.0.0.0", .public),
    .init("169.253.255.255", .public), .init("169.254.0.0", .linkLocal), .init("169.254.255.255", .linkLocal),
    .init("169.255.0.0", .public),
    .init("172.15.255.255", .public), .init("172.16.0.0", .private), .init("172.31.255.255", .private),
    .init("172.32.0.0", .public),
    .init("191.255.255.255", .public), .init("192.0.0.0", .reserved), .init("192.0.0.8", .reserved),
    .init("192.0.0.9", .public), .init("192.0.0.10", .public), .init("192.0.0.11", .reserved),
    .init("192.0.0.170", .reserved), .init("192.0.0.255", .reserved),
    .init("192.0.1.255", .public), .init("192.0.2.0", .documentation), .init("192.0.2.255", .documentation),
    .init("192.0.3.0", .public),
    .init("192.31.196.1", .public), .init("192.52.193.1", .public), .init("192.175.48.1", .public),
    .init("192.88.98.255", .public), .init("192.88.99.0", .reserved), .init("192.88.99.255", .reserved),
    .init("192.88.100.0", .public),
    .init("192.167.255.255", .public), .init("192.168.0.0", .private), .init("192.168.255.255", .private),
    .init("192.169.0.0", .public),
    .init("198.17.255.255", .public), .init("198.18.0.0", .benchmarking), .init("198.19.255.255", .benchmarking),
    .init("198.20.0.0", .public),
    .init("198.51.99.255", .public), .init("198.51.100.0", .documentation),
    .init("198.51.100.255", .documentation), .init("198.51.101.0", .public),
    .init("203.0.112.255", .public), .init("203.0.113.0", .documentation), .init("203.0.113.255", .documentation),
    .init("203.0.114.0", .public),
    .init("223.255.255.255", .public), .init("224.0.0.0", .multicast), .init("239.255.255.255", .multicast),
    .init("240.0.0.0", .reserved), .init("255.255.255.254", .reserved), .init("255.255.255.255", .broadcast),
]

let v6ScopeCases: [ScopeCase] = [
    .init("::", .unspecified), .init("::1", .loopback), .init("::2", .reserved),
    .init("::808:808", .reserved),  // deprecated IPv4-compatible ::8.8.8.8 (RFC 4291 §2.5.5.1)
    // IPv4-mapped: the IPv4 address decides.
    .init("::ffff:808:808", .public), .init("::ffff:a00:1", .private), .init("::ffff:7f00:1", .loopback),
    .init("::ffff:0:0", .unspecified), .init("::ffff:ffff:ffff", .broadcast), .init("::ffff:c000:209", .documentation),
    .init("::ffff:6440:1", .shared), .init("::fffe:808:808", .reserved),
    // NAT64 well-known prefix and 6to4 carry an IPv4 address too.
    .init("64:ff9b::808:808", .public), .init("64:ff9b::a00:1", .private), .init("64:ff9b:1::1", .reserved),
    .init("2002:808:808::1", .public), .init("2002:c0a8:101::1", .private), .init("2002:7f00:1::", .loopback),
    .init("100::1", .reserved), .init("100::ffff:ffff:ffff:ffff", .reserved),
    .init("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .reserved), .init("2000::", .public),
    // 2001::/23 with its globally reachable exceptions.
    .init("2001::", .reserved), .init("2001:0:4136:e378:8000:63bf:3fff:fdd2", .reserved),
    .init("2001:1::1", .public), .init("2001:1::2", .public), .init("2001:1::3", .public),
    .init("2001:1::4", .reserved),
    .init("2001:2::", .benchmarking), .init("2001:2:0:ffff:ffff:ffff:ffff:ffff", .benchmarking),
    .init("2001:2:1::", .reserved),
    .init("2001:3::1", .public), .init("2001:4:112::1", .public), .init("2001:4:113::", .reserved),
    .init("2001:10::1", .reserved), .init("2001:20::1", .public), .init("2001:2f:ffff::", .public),
    .init("2001:30::1", .public), .init("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", .reserved),
    .init("2001:200::", .public),
    .init("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", .public), .init("2001:db8::", .documentation),
    .init("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", .documentation), .init("2001:db9::", .public),
    .init("2001:4860:4860::8888", .public), .init("2a00:1450:4001::1", .public),
    .init("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .public), .init("3fff::", .documentation),
    .init("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", .documentation), .init("3fff:1000::", .public),
    .init("4000::", .reserved), .init("5f00::1", .reserved), .init("e000::1", .reserved),
    .init("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .reserved), .init("fc00::", .private),
    .init("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .private), .init("fe00::", .reserved),
    .init("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .reserved), .init("fe80::1", .linkLocal),
    .init("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .linkLocal), .init("fec0::1", .reserved),
    .init("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .reserved), .init("ff00::", .multicast),
    .init("ff02::1", .multicast), .init("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .multicast),
]

@Suite struct AddressScopeTests {
    @Test(arguments: v4ScopeCases + v6ScopeCases)
    func classifies(_ row: ScopeCase) throws {
        let address = try #require(IPAddress(row.text), "bad address in the table: \(row.text)")
        #expect(AddressScope.scope(of: address) == row.scope)
    }

    @Test func tableCoversEveryScopeForBothFamilies() {
        // IPv6 reaches broadcast and shared through IPv4-mapped addresses.
        for scope in AddressScope.allCases {
            #expect(v4ScopeCases.contains { $0.scope == scope }, "no IPv4 row for \(scope)")
            #expect(v6ScopeCases.contains { $0.scope == scope }, "no IPv6 row for \(scope)")
        }
    }

    @Test func rawValuesAreTheReportNames() {
        #expect(
            AddressScope.allCases.map(\.rawValue) == [
                "public", "private", "loopback", "link-local", "multicast", "shared", "documentation", "benchmarking",
                "unspecified", "broadcast", "reserved",
            ])
    }
}
