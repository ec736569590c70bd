/// TCP control bits (RFC 9293 §3.1, RFC 3168 for ECE/CWR, RFC 3540 for NS).
public struct TCPFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    // Inlinable constants rather than `static let`s: the flow table tests flags on every TCP packet, and a global
    // of another module is reached through a call to its lazy initializer each time.
    @inlinable public static var fin: TCPFlags { TCPFlags(rawValue: 0x001) }
    @inlinable public static var syn: TCPFlags { TCPFlags(rawValue: 0x002) }
    @inlinable public static var rst: TCPFlags { TCPFlags(rawValue: 0x004) }
    @inlinable public static var psh: TCPFlags { TCPFlags(rawValue: 0x008) }
    @inlinable public static var ack: TCPFlags { TCPFlags(rawValue: 0x010) }
    @inlinable public static var urg: TCPFlags { TCPFlags(rawValue: 0x020) }
    @inlinable public static var ece: TCPFlags { TCPFlags(rawValue: 0x040) }
    @inlinable public static var cwr: TCPFlags { TCPFlags(rawValue: 0x080) }
    @inlinable public static var ns: TCPFlags { TCPFlags(rawValue: 0x100) }

    /// nfdump-style fixed-width rendering, `CEUAPRSF` with `.` for a clear bit (".....S." style).
    public var letters: String {
        let order: [(TCPFlags, Character)] = [
            (.cwr, "C"), (.ece, "E"), (.urg, "U"), (.ack, "A"), (.psh, "P"), (.rst, "R"), (.syn, "S"), (.fin, "F"),
        ]
        return String(order.map { contains($0.0) ? $0.1 : "." })
    }
}

/// An IPv4 or IPv6 header with the extension-header chain already walked.
public struct IPHeader: Hashable, Sendable {
    public var version: UInt8
    public var source: IPAddress
    public var destination: IPAddress
    /// The upper-layer protocol after any IPv6 extension headers.
    public var proto: UInt8
    public var ttl: UInt8
    /// Bytes of the whole datagram as the header declares it (IPv4 total length; IPv6 40 + payload length).
    public var totalLength: Int
    /// Bytes from the start of the IP header to the upper-layer header (IPv4 IHL×4; IPv6 40 + extension headers).
    public var headerLength: Int
    public var identification: UInt32
    /// Fragment offset in bytes.
    public var fragmentOffset: Int
    public var moreFragments: Bool
    public var dontFragment: Bool
    public var hasOptions: Bool
    /// True for any fragment (first, middle or last) of a fragmented datagram.
    public var isFragment: Bool { moreFragments || fragmentOffset > 0 }
}

/// A TCP header (RFC 9293 §3.1) with the options the flow table uses.
public struct TCPHeader: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequence: UInt32
    public var acknowledgment: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    public var headerLength: Int
    public var mss: UInt16?
    public var windowScale: UInt8?
    public var sackPermitted: Bool
    /// Set when an option's length byte is impossible; options after it are ignored.
    public var badOptions: Bool
}

/// A UDP header (RFC 768).
public struct UDPHeader: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var length: UInt16
}

/// The IP and transport identifiers of the datagram quoted inside an ICMP error (RFC 792, RFC 4443 §2.4).
public struct EmbeddedPacket: Hashable, Sendable {
    public var source: IPAddress
    public var destination: IPAddress
    public var proto: UInt8
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?
}

/// An ICMP or ICMPv6 message header.
public struct ICMPHeader: Hashable, Sendable {
    public var type: UInt8
    public var code: UInt8
    /// Echo identifier and sequence number, for echo request and reply.
    public var identifier: UInt16?
    public var sequence: UInt16?
    /// The offending packet's identifiers, for error messages.
    public var embedded: EmbeddedPacket?
    public var isError: Bool
}

/// The transport layer of a decoded packet.
public enum Transport: Hashable, Sendable {
    case tcp(TCPHeader)
    case udp(UDPHeader)
    case icmp(ICMPHeader)
    case icmpv6(ICMPHeader)
    /// Another IP protocol, or a non-first fragment whose transport header is in another fragment.
    case other
}

/// One packet decoded down to its transport header. Offsets index the buffer that was decoded.
public struct DecodedPacket: Hashable, Sendable {
    /// Outer and inner 802.1Q/802.1ad VLAN identifiers, outermost first.
    public var vlan: UInt16?
    public var innerVlan: UInt16?
    public var ip: IPHeader
    /// Offset of the IP header in the buffer.
    public var ipOffset: Int
    public var transport: Transport
    /// Offset and captured length of the transport payload.
    public var payloadOffset: Int
    public var payloadLength: Int
    /// Payload length according to the IP and transport headers; larger than `payloadLength` when snaplen cut it.
    public var declaredPayloadLength: Int

    /// The capture holds fewer payload bytes than the headers declare (snaplen).
    public var isCut: Bool { payloadLength < declaredPayloadLength }

    /// The decoder's invariant, which the flow table relies on when it slices the buffer: the offsets lie inside a
    /// buffer of `count` bytes and the lengths agree. Checked by the fuzz target and the robustness tests.
    public func offsetsFit(bufferCount count: Int) -> Bool {
        ipOffset >= 0 && ipOffset <= payloadOffset && payloadLength >= 0 && payloadOffset <= count
            && payloadLength <= count - payloadOffset && payloadLength <= declaredPayloadLength
            && ip.headerLength <= ip.totalLength
    }
}

/// What the link layer carried.
public enum LinkPayload: Hashable, Sendable {
    /// An IP packet starting at `offset`.
    case ip(offset: Int, vlan: UInt16?, innerVlan: UInt16?)
    /// A frame that is not IP (ARP, LLDP, …), identified by its EtherType or address family.
    case nonIP(UInt16)
}
