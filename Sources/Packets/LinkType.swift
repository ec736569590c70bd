/// Link-layer header types the decoder understands, by their LINKTYPE_/DLT_ values (tcpdump.org/linktypes.html).
public enum LinkType: Int32, Sendable, Hashable, CaseIterable {
    /// BSD loopback: 4-byte address family in the capturing host's byte order (DLT_NULL).
    case null = 0
    /// Ethernet II / 802.3 (DLT_EN10MB).
    case ethernet = 1
    /// Raw IPv4 or IPv6, version from the first nibble (DLT_RAW as libpcap maps it on Linux).
    case rawDLT12 = 12
    /// Raw IP as OpenBSD numbers it (DLT_RAW = 14).
    case rawDLT14 = 14
    /// OpenBSD loopback: 4-byte address family in network byte order (DLT_LOOP).
    case loop = 108
    /// LINKTYPE_RAW.
    case raw = 101
    /// Linux cooked capture v1 (DLT_LINUX_SLL).
    case linuxSLL = 113
    /// Raw IPv4 (LINKTYPE_IPV4).
    case ipv4 = 228
    /// Raw IPv6 (LINKTYPE_IPV6).
    case ipv6 = 229
    /// Linux cooked capture v2 (DLT_LINUX_SLL2).
    case linuxSLL2 = 276

    public var name: String {
        switch self {
        case .null: return "NULL"
        case .ethernet: return "EN10MB"
        case .rawDLT12, .rawDLT14, .raw: return "RAW"
        case .loop: return "LOOP"
        case .linuxSLL: return "LINUX_SLL"
        case .ipv4: return "IPV4"
        case .ipv6: return "IPV6"
        case .linuxSLL2: return "LINUX_SLL2"
        }
    }
}
