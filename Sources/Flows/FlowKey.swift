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
}
