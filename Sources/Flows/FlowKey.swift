import Packets

/// The canonical bidirectional key of a flow: the 5-tuple with the smaller endpoint first, plus VLAN tags.
/// Both directions of a conversation map to the same key.
///
/// It is looked up for every packet, so it is stored as plain words: each address as two 64-bit halves (IPv4 in
/// the low half), ports, protocol, address family and VLAN tags packed into one word. Equality, ordering and
/// hashing are then integer operations.
public struct FlowKey: Hashable, Sendable {
    let lowHigh: UInt64
    let lowLow: UInt64
    let highHigh: UInt64
    let highLow: UInt64
    /// lowPort << 48 | highPort << 32 | outer VLAN << 16 | inner VLAN (0xFFFF: no tag)
    let portsAndVlans: UInt64
    /// proto << 8 | 1 for IPv6
    let protoAndFamily: UInt16

    public var proto: UInt8 { UInt8(truncatingIfNeeded: protoAndFamily >> 8) }
    public var lowPort: UInt16 { UInt16(truncatingIfNeeded: portsAndVlans >> 48) }
    public var highPort: UInt16 { UInt16(truncatingIfNeeded: portsAndVlans >> 32) }
    /// The outer and inner VLAN IDs (12 bits, so 0xFFFF can mean "no tag").
    public var vlan: UInt16? {
        let id = UInt16(truncatingIfNeeded: portsAndVlans >> 16)
        return id == 0xFFFF ? nil : id
    }
    public var innerVlan: UInt16? {
        let id = UInt16(truncatingIfNeeded: portsAndVlans)
        return id == 0xFFFF ? nil : id
    }
    public var lowAddress: IPAddress { Self.address(lowHigh, lowLow, v6: protoAndFamily & 1 == 1) }
    public var highAddress: IPAddress { Self.address(highHigh, highLow, v6: protoAndFamily & 1 == 1) }

    @inline(__always)
    static func words(_ address: IPAddress) -> (UInt64, UInt64) {
        switch address {
        case .v4(let a): return (0, UInt64(a))
        case .v6(let h, let l): return (h, l)
        }
    }

    static func address(_ high: UInt64, _ low: UInt64, v6: Bool) -> IPAddress {
        v6 ? .v6(high, low) : .v4(UInt32(truncatingIfNeeded: low))
    }

    /// The key of a packet from (`source`, `sourcePort`) to (`destination`, `destinationPort`) and whether the source
    /// is the key's low endpoint.
    @inline(__always)
    public static func make(
        source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16,
        proto: UInt8, vlan: UInt16?, innerVlan: UInt16?
    ) -> (FlowKey, sourceIsLow: Bool) {
        let (sh, sl) = words(source)
        let (dh, dl) = words(destination)
        let v6: UInt16 = source.isV4 ? 0 : 1
        let vlans = UInt64(vlan ?? 0xFFFF) << 16 | UInt64(innerVlan ?? 0xFFFF)
        let sourceIsLow = sh < dh || (sh == dh && (sl < dl || (sl == dl && sourcePort <= destinationPort)))
        if sourceIsLow {
            return (
                FlowKey(
                    lowHigh: sh, lowLow: sl, highHigh: dh, highLow: dl,
                    portsAndVlans: UInt64(sourcePort) << 48 | UInt64(destinationPort) << 32 | vlans,
                    protoAndFamily: UInt16(proto) << 8 | v6), true
            )
        }
        return (
            FlowKey(
                lowHigh: dh, lowLow: dl, highHigh: sh, highLow: sl,
                portsAndVlans: UInt64(destinationPort) << 48 | UInt64(sourcePort) << 32 | vlans,
                protoAndFamily: UInt16(proto) << 8 | v6), false
        )
    }

    /// One multiply-xor mix per word (keyed by the dictionary's per-process seed) instead of SipHash.
    @inline(__always)
    public func hash(into hasher: inout Hasher) {
        hasher.combine(mixed(seed: 0))
    }

    @inline(__always)
    public func _rawHashValue(seed: Int) -> Int {
        Int(truncatingIfNeeded: mixed(seed: UInt64(truncatingIfNeeded: seed)))
    }

    @inline(__always)
    func mixed(seed: UInt64) -> UInt64 {
        var word = Self.mix(seed ^ portsAndVlans ^ UInt64(protoAndFamily) << 8)
        word = Self.mix(word ^ lowLow ^ (highLow << 32 | highLow >> 32))
        if lowHigh | highHigh != 0 { word = Self.mix(word ^ lowHigh ^ highHigh &* 0x9E37_79B9_7F4A_7C15) }
        return word
    }

    /// The 64-bit finalizer of MurmurHash3 (fmix64): every input bit affects every output bit.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var k = value
        k ^= k >> 33
        k &*= 0xFF51_AFD7_ED55_8CCD
        k ^= k >> 33
        k &*= 0xC4CE_B9FE_1A85_EC53
        k ^= k >> 33
        return k
    }
}
