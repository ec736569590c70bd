/// EtherType values the decoder dispatches on (IEEE 802 numbers).
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let vlan: UInt16 = 0x8100  // IEEE 802.1Q customer tag
    public static let ipv6: UInt16 = 0x86DD
    public static let qinq: UInt16 = 0x88A8  // IEEE 802.1ad service tag
    public static let qinqOld: UInt16 = 0x9100  // pre-standard QinQ tag still seen in the field
    public static let mpls: UInt16 = 0x8847  // MPLS unicast (RFC 3032)
    public static let mplsMulticast: UInt16 = 0x8848
}

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
public enum IPProtocol {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let icmpv6: UInt8 = 58
    public static let sctp: UInt8 = 132
}
