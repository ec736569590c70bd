import Packets

/// Where an address is meant to be reachable, from the IANA IPv4 and IPv6 Special-Purpose Address Registries
/// (RFC 6890 and its updates). Only `public` addresses are ever looked up in a geolocation database: the others
/// say nothing about a place, and a database that maps them anyway (some do) would only mislead a report.
public enum AddressScope: String, Sendable, CaseIterable, Codable {
    /// Globally reachable unicast: everything the registries do not set aside.
    case `public`
    /// RFC 1918 (10/8, 172.16/12, 192.168/16) and IPv6 unique-local fc00::/7 (RFC 4193).
    case `private`
    /// 127/8 (RFC 1122 §3.2.1.3) and ::1 (RFC 4291 §2.5.3).
    case loopback
    /// 169.254/16 (RFC 3927) and fe80::/10 (RFC 4291 §2.5.6).
    case linkLocal = "link-local"
    /// 224/4 (RFC 5771) and ff00::/8 (RFC 4291 §2.7).
    case multicast
    /// 100.64/10, carrier-grade NAT (RFC 6598).
    case shared
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24 (RFC 5737); 2001:db8::/32 (RFC 3849) and 3fff::/20 (RFC 9637).
    case documentation
    /// 198.18/15 (RFC 2544) and 2001:2::/48 (RFC 5180).
    case benchmarking
    /// 0.0.0.0 and :: (RFC 1122 §3.2.1.3, RFC 4291 §2.5.2).
    case unspecified
    /// 255.255.255.255, the limited broadcast (RFC 919 §7).
    case broadcast
    /// Everything else set aside: 0/8, 240/4, 192.0.0/24, the deprecated 6to4 relay anycast 192.88.99/24
    /// (RFC 7526), Teredo and the rest of 2001::/23, discard-only 100::/64, and IPv6 space outside 2000::/3
    /// that no other scope covers.
    case reserved

    /// The scope of `address`. IPv4 addresses carried in IPv6 (IPv4-mapped ::ffff:0:0/96, the NAT64 well-known
    /// prefix 64:ff9b::/96 and 6to4 2002::/16) take the scope of the IPv4 address they carry.
    public static func scope(of address: IPAddress) -> AddressScope {
        switch address {
        case .v4(let value):
            return scope(ofV4: value)
        case .v6(let high, let low):
            if let embedded = embeddedV4(high: high, low: low) { return scope(ofV4: embedded) }
            return scope(ofV6: UInt128(high) << 64 | UInt128(low))
        }
    }

    /// The IPv4 address an IPv6 address stands for, if it carries one in a way that names the far host:
    /// IPv4-mapped (RFC 4291 §2.5.5.2), NAT64 well-known prefix (RFC 6052 §2.1) and 6to4 (RFC 3056 §2).
    static func embeddedV4(high: UInt64, low: UInt64) -> UInt32? {
        if high == 0 && low >> 32 == 0xFFFF { return UInt32(truncatingIfNeeded: low) }
        if high == 0x0064_FF9B_0000_0000 && low >> 32 == 0 { return UInt32(truncatingIfNeeded: low) }
        if high >> 48 == 0x2002 { return UInt32(truncatingIfNeeded: high >> 16) }
        return nil
    }

    /// The address to look up in a database for `address`: the IPv4 address it carries, if any (databases key
    /// IPv4 data by the IPv4 address), else itself.
    static func lookupAddress(for address: IPAddress) -> IPAddress {
        if case .v6(let high, let low) = address, let embedded = embeddedV4(high: high, low: low) {
            return .v4(embedded)
        }
        return address
    }

    private static func scope(ofV4 value: UInt32) -> AddressScope {
        for block in v4Blocks where value & block.mask == block.prefix { return block.scope }
        return .public
    }

    private static func scope(ofV6 value: UInt128) -> AddressScope {
        for block in v6Blocks where value & block.mask == block.prefix { return block.scope }
        // RFC 4291 §2.4: only 2000::/3 is allocated as global unicast; the rest of the space is IETF-reserved.
        return value >> 125 == 1 ? .public : .reserved
    }
}

/// One registry entry: addresses `a` with `a & mask == prefix` have `scope`.
private struct Block<Word: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable {
    let prefix: Word
    let mask: Word
    let scope: AddressScope

    init(_ prefix: Word, _ length: Int, _ scope: AddressScope) {
        let mask: Word = length == 0 ? 0 : ~Word(0) << (Word.bitWidth - length)
        self.prefix = prefix & mask
        self.mask = mask
        self.scope = scope
    }
}

private func v4(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32) -> UInt32 { a << 24 | b << 16 | c << 8 | d }

private func v6(_ groups: UInt16...) -> UInt128 {
    var value: UInt128 = 0
    for index in 0..<8 { value = value << 16 | UInt128(index < groups.count ? groups[index] : 0) }
    return value
}

// First match wins, so the more specific entries (exceptions that are globally reachable) come first.
// IANA IPv4 Special-Purpose Address Registry.
private let v4Blocks: [Block<UInt32>] = [
    Block(v4(0, 0, 0, 0), 32, .unspecified),
    Block(v4(255, 255, 255, 255), 32, .broadcast),
    Block(v4(192, 0, 0, 9), 32, .public),  // Port Control Protocol anycast (RFC 7723): globally reachable
    Block(v4(192, 0, 0, 10), 32, .public),  // TURN anycast (RFC 8155): globally reachable
    Block(v4(0, 0, 0, 0), 8, .reserved),  // "this network" (RFC 791)
    Block(v4(10, 0, 0, 0), 8, .private),  // RFC 1918
    Block(v4(100, 64, 0, 0), 10, .shared),  // RFC 6598
    Block(v4(127, 0, 0, 0), 8, .loopback),  // RFC 1122
    Block(v4(169, 254, 0, 0), 16, .linkLocal),  // RFC 3927
    Block(v4(172, 16, 0, 0), 12, .private),  // RFC 1918
    Block(v4(192, 0, 0, 0), 24, .reserved),  // IETF protocol assignments (RFC 6890 §2.1): DS-Lite, NAT64 discovery
    Block(v4(192, 0, 2, 0), 24, .documentation),  // TEST-NET-1 (RFC 5737)
    Block(v4(192, 88, 99, 0), 24, .reserved),  // 6to4 relay anycast, deprecated (RFC 7526)
    Block(v4(192, 168, 0, 0), 16, .private),  // RFC 1918
    Block(v4(198, 18, 0, 0), 15, .benchmarking),  // RFC 2544
    Block(v4(198, 51, 100, 0), 24, .documentation),  // TEST-NET-2 (RFC 5737)
    Block(v4(203, 0, 113, 0), 24, .documentation),  // TEST-NET-3 (RFC 5737)
    Block(v4(224, 0, 0, 0), 4, .multicast),  // RFC 5771
    Block(v4(240, 0, 0, 0), 4, .reserved),  // RFC 1112 §4
]

// IANA IPv6 Special-Purpose Address Registry, plus the IPv6 Addressing Architecture (RFC 4291).
// ::ffff:0:0/96, 64:ff9b::/96 and 2002::/16 never get here: they carry an IPv4 address.
private let v6Blocks: [Block<UInt128>] = [
    Block(0, 128, .unspecified),
    Block(1, 128, .loopback),
    Block(v6(0x64, 0xFF9B, 1), 48, .reserved),  // local-use IPv4/IPv6 translation (RFC 8215)
    Block(v6(0x100), 64, .reserved),  // discard-only (RFC 6666)
    Block(v6(0x2001, 1, 0, 0, 0, 0, 0, 1), 128, .public),  // PCP anycast (RFC 7723)
    Block(v6(0x2001, 1, 0, 0, 0, 0, 0, 2), 128, .public),  // TURN anycast (RFC 8155)
    Block(v6(0x2001, 1, 0, 0, 0, 0, 0, 3), 128, .public),  // DNS-SD SRP anycast (RFC 9665)
    Block(v6(0x2001, 2), 48, .benchmarking),  // RFC 5180
    Block(v6(0x2001, 3), 32, .public),  // AMT (RFC 7450)
    Block(v6(0x2001, 4, 0x112), 48, .public),  // AS112-v6 (RFC 7535)
    Block(v6(0x2001, 0x20), 28, .public),  // ORCHIDv2 (RFC 7343)
    Block(v6(0x2001, 0x30), 28, .public),  // Drone Remote ID (RFC 9374)
    Block(v6(0x2001), 23, .reserved),  // IETF protocol assignments (RFC 2928), Teredo 2001::/32 included
    Block(v6(0x2001, 0xDB8), 32, .documentation),  // RFC 3849
    Block(v6(0x3FFF), 20, .documentation),  // RFC 9637
    Block(v6(0xFC00), 7, .private),  // unique local (RFC 4193)
    Block(v6(0xFE80), 10, .linkLocal),  // RFC 4291 §2.5.6
    Block(v6(0xFF00), 8, .multicast),  // RFC 4291 §2.7
]
