import Packets

/// The canonical bidirectional key of a flow: the 5-tuple with the smaller endpoint first, plus VLAN tags.
/// Both directions of a conversation map to the same key.
public struct FlowKey: Hashable, Sendable {
    public var lowAddress: IPAddress
    public var highAddress: IPAddress
    public var lowPort: UInt16
    public var highPort: UInt16
    public var proto: UInt8
    /// Outer VLAN id in the high half, inner in the low half; 0xFFFF for no tag.
    public var vlans: UInt32

    /// The key of a packet from (`source`, `sourcePort`) to (`destination`, `destinationPort`) and whether the source
    /// is the key's low endpoint.
    public static func make(
        source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16,
        proto: UInt8, vlan: UInt16?, innerVlan: UInt16?
    ) -> (FlowKey, sourceIsLow: Bool) {
        let vlans = UInt32(vlan ?? 0xFFFF) << 16 | UInt32(innerVlan ?? 0xFFFF)
        let sourceIsLow = source < destination || (source == destination && sourcePort <= destinationPort)
        if sourceIsLow {
            return (FlowKey(lowAddress: source, highAddress: destination, lowPort: sourcePort, highPort: destinationPort,
                            proto: proto, vlans: vlans), true)
        }
        return (FlowKey(lowAddress: destination, highAddress: source, lowPort: destinationPort, highPort: sourcePort,
                        proto: proto, vlans: vlans), false)
    }

    /// The flow lookup runs for every packet, so the key hashes itself with one multiply-xor mix per word
    /// (keyed by the dictionary's per-process seed) instead of running SipHash over seven fields.
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
        var word = seed ^ (UInt64(proto) << 56 ^ UInt64(lowPort) << 40 ^ UInt64(highPort) << 24 ^ UInt64(vlans))
        word = Self.mix(word ^ Self.fold(lowAddress))
        word = Self.mix(word ^ Self.fold(highAddress))
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

    @inline(__always)
    static func fold(_ address: IPAddress) -> UInt64 {
        switch address {
        case .v4(let a): return UInt64(a)
        case .v6(let h, let l): return h ^ (l &* 0x1656_67B1_9E37_79F9) ^ 0xFFFF_0000_0000_0000
        }
    }
}
