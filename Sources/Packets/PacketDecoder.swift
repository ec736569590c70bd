/// Limits of the packet decoder, each from the RFC that bounds it.
public enum DecodeLimits {
    /// The most VLAN tags walked in one frame; more is almost certainly garbage (802.1ad stacks two).
    public static let maxVLANTags = 4
    /// The most IPv6 extension headers walked (RFC 8200 §4.1 recommends each appear at most once or twice).
    public static let maxIPv6ExtensionHeaders = 16
    /// The most MPLS label stack entries walked (RFC 3032); real stacks hold a handful.
    public static let maxMPLSLabels = 8
    /// IPv4 minimum header length in bytes (RFC 791 §3.1, IHL ≥ 5).
    public static let ipv4MinimumHeader = 20
    /// IPv6 fixed header length in bytes (RFC 8200 §3).
    public static let ipv6Header = 40
    /// TCP minimum header length in bytes (RFC 9293 §3.1, data offset ≥ 5).
    public static let tcpMinimumHeader = 20
    /// UDP header length in bytes (RFC 768).
    public static let udpHeader = 8
}

/// Decodes link, network and transport headers straight from the bytes libpcap hands over.
/// Nothing is allocated or copied; every read is bounds-checked.
public enum PacketDecoder {
    /// Walks the link-layer header and any VLAN tags to the start of the IP packet.
    public static func decodeLink(_ bytes: UnsafeRawBufferPointer, linkType: LinkType) throws(DecodeError)
        -> LinkPayload
    {
        var cursor = Cursor(bytes, layer: .link)
        switch linkType {
        case .ethernet:
            cursor = Cursor(bytes, layer: .ethernet)
            try cursor.skip(12)  // destination and source MAC
            let type = try cursor.readU16()
            return try etherPayload(type: type, cursor: &cursor)
        case .linuxSLL:
            // Linux cooked v1: packet type, ARPHRD type, address length, 8 address bytes, protocol.
            cursor = Cursor(bytes, layer: .sll)
            try cursor.skip(14)
            let type = try cursor.readU16()
            return try etherPayload(type: type, cursor: &cursor)
        case .linuxSLL2:
            // Linux cooked v2: protocol, reserved, interface index, ARPHRD, packet type, address length, 8 address bytes.
            cursor = Cursor(bytes, layer: .sll2)
            let type = try cursor.readU16()
            try cursor.skip(18)
            return try etherPayload(type: type, cursor: &cursor)
        case .null, .loop:
            cursor = Cursor(bytes, layer: .null)
            let raw = try cursor.read(UInt32.self)  // read big-endian; the family may be in either byte order
            let family = linkType == .loop ? raw : (raw & 0xFFFF == 0 ? raw.byteSwapped : raw)
            // AF_INET is 2 everywhere; AF_INET6 is 10 on Linux, 24/28/30 on the BSDs and macOS.
            switch family {
            case 2, 10, 24, 28, 30: return .ip(offset: cursor.offset, vlan: nil, innerVlan: nil)
            default: return .nonIP(UInt16(truncatingIfNeeded: family))
            }
        case .raw, .rawDLT12, .rawDLT14, .ipv4, .ipv6:
            return .ip(offset: 0, vlan: nil, innerVlan: nil)
        }
    }

    private static func etherPayload(type: UInt16, cursor: inout Cursor) throws(DecodeError) -> LinkPayload {
        var type = type
        var vlans: (UInt16?, UInt16?) = (nil, nil)
        var tags = 0
        while type == EtherType.vlan || type == EtherType.qinq || type == EtherType.qinqOld {
            tags += 1
            guard tags <= DecodeLimits.maxVLANTags else { throw .malformed(.vlan, "too_many_tags") }
            var tag = Cursor(cursor.bytes, layer: .vlan, offset: cursor.offset)
            let tci = try tag.readU16()
            type = try tag.readU16()
            cursor.offset = tag.offset
            let id = tci & 0x0FFF
            if vlans.0 == nil { vlans.0 = id } else if vlans.1 == nil { vlans.1 = id }
        }
        if type <= 1500 {
            // IEEE 802.3 length field; IP only inside LLC/SNAP (AA AA 03, OUI 00 00 00).
            let llc = try cursor.readBytes(min(8, cursor.remaining))
            guard llc.count == 8, llc[0] == 0xAA, llc[1] == 0xAA, llc[2] == 0x03 else { return .nonIP(type) }
            type = UInt16(llc[6]) << 8 | UInt16(llc[7])
        }
        switch type {
        case EtherType.ipv4, EtherType.ipv6:
            return .ip(offset: cursor.offset, vlan: vlans.0, innerVlan: vlans.1)
        case EtherType.mpls, EtherType.mplsMulticast:
            // RFC 3032 §2.1: 4-byte label stack entries until the bottom-of-stack bit; the payload's first nibble says
            // whether IPv4 or IPv6 follows (pseudowires carrying Ethernet are not decoded).
            var labels = Cursor(cursor.bytes, layer: .link, offset: cursor.offset)
            var depth = 0
            while true {
                depth += 1
                guard depth <= DecodeLimits.maxMPLSLabels else { throw .malformed(.link, "mpls_too_many_labels") }
                let entry = try labels.readU32()
                if entry & 0x100 != 0 { break }
            }
            let version = try labels.peekU8() >> 4
            guard version == 4 || version == 6 else { return .nonIP(type) }
            return .ip(offset: labels.offset, vlan: vlans.0, innerVlan: vlans.1)
        default:
            return .nonIP(type)
        }
    }

    /// Decodes a whole captured frame; `nil` when it carries no IP packet.
    public static func decode(_ bytes: UnsafeRawBufferPointer, linkType: LinkType) throws(DecodeError) -> DecodedPacket?
    {
        switch try decodeLink(bytes, linkType: linkType) {
        case .nonIP:
            return nil
        case .ip(let offset, let vlan, let inner):
            // The tags go in as arguments: setting them on the returned packet copied all 200 bytes of it.
            return try decodeIP(bytes, at: offset, vlan: vlan, innerVlan: inner)
        }
    }

    /// Decodes an IP packet that starts at `offset` in `bytes`, and its transport header.
    public static func decodeIP(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(DecodeError) -> DecodedPacket {
        try decodeIP(bytes, at: offset, vlan: nil, innerVlan: nil)
    }

    /// `decodeIP(_:at:)` for a packet that carried the VLAN tags `vlan` and `innerVlan`.
    public static func decodeIP(
        _ bytes: UnsafeRawBufferPointer, at offset: Int, vlan: UInt16?, innerVlan: UInt16?
    ) throws(DecodeError) -> DecodedPacket {
        let first = try Cursor(bytes, layer: .ipv4, offset: offset).peekU8()
        let ip: IPHeader
        switch first >> 4 {
        case 4: ip = try parseIPv4(bytes, at: offset)
        case 6: ip = try parseIPv6(bytes, at: offset)
        default: throw .malformed(.ipv4, "bad_version")
        }
        // The datagram ends at its declared length (Ethernet pads short frames) or at the capture's end (snaplen).
        let declaredEnd = offset + ip.totalLength
        let capturedEnd = min(bytes.count, declaredEnd)
        let transportStart = offset + ip.headerLength
        guard transportStart <= capturedEnd else {
            throw .truncated(ip.version == 4 ? .ipv4 : .ipv6, needed: ip.headerLength, available: capturedEnd - offset)
        }
        let datagram = UnsafeRawBufferPointer(rebasing: bytes[0..<capturedEnd])
        var packet = DecodedPacket(
            vlan: vlan, innerVlan: innerVlan, ip: ip, ipOffset: offset, transport: .other,
            payloadOffset: transportStart, payloadLength: capturedEnd - transportStart,
            declaredPayloadLength: declaredEnd - transportStart
        )
        // A fragment's transport header is decoded from the reassembled datagram: a non-first fragment has none,
        // and a first fragment may be cut before its end.
        guard !ip.isFragment else { return packet }
        var cursor = Cursor(datagram, layer: .tcp, offset: transportStart)
        switch ip.proto {
        case IPProtocol.tcp:
            let tcp = try parseTCP(&cursor)
            packet.transport = .tcp(tcp)
            packet.payloadOffset = transportStart + tcp.headerLength
        case IPProtocol.udp:
            cursor = Cursor(datagram, layer: .udp, offset: transportStart)
            let udp = UDPHeader(
                sourcePort: try cursor.readU16(), destinationPort: try cursor.readU16(), length: try cursor.readU16())
            try cursor.skip(2)  // checksum
            packet.transport = .udp(udp)
            packet.payloadOffset = transportStart + DecodeLimits.udpHeader
            // A UDP length shorter than the IP payload bounds the datagram (RFC 768); longer is malformed, keep IP's.
            let udpLength = Int(udp.length)
            if udpLength >= DecodeLimits.udpHeader && udpLength < declaredEnd - transportStart && !ip.isFragment {
                packet.declaredPayloadLength = udpLength - DecodeLimits.udpHeader
                packet.payloadLength = min(capturedEnd - packet.payloadOffset, packet.declaredPayloadLength)
                return packet
            }
        case IPProtocol.icmp:
            cursor = Cursor(datagram, layer: .icmp, offset: transportStart)
            packet.transport = .icmp(try parseICMP(&cursor, v6: false))
            packet.payloadOffset = transportStart + 8
        case IPProtocol.icmpv6:
            cursor = Cursor(datagram, layer: .icmpv6, offset: transportStart)
            packet.transport = .icmpv6(try parseICMP(&cursor, v6: true))
            packet.payloadOffset = transportStart + 8
        default:
            return packet
        }
        packet.payloadOffset = min(packet.payloadOffset, capturedEnd)
        packet.payloadLength = capturedEnd - packet.payloadOffset
        packet.declaredPayloadLength = max(0, declaredEnd - packet.payloadOffset)
        return packet
    }

    /// RFC 791 §3.1.
    @inline(__always)
    static func parseIPv4(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(DecodeError) -> IPHeader {
        var cursor = Cursor(bytes, layer: .ipv4, offset: offset)
        let versionAndIHL = try cursor.readU8()
        let headerLength = Int(versionAndIHL & 0x0F) * 4
        guard headerLength >= DecodeLimits.ipv4MinimumHeader else { throw .malformed(.ipv4, "bad_header_length") }
        try cursor.skip(1)  // DSCP/ECN
        var totalLength = Int(try cursor.readU16())
        let identification = try cursor.readU16()
        let flagsAndOffset = try cursor.readU16()
        let ttl = try cursor.readU8()
        let proto = try cursor.readU8()
        try cursor.skip(2)  // checksum
        let source = try IPAddress.readV4(&cursor)
        let destination = try IPAddress.readV4(&cursor)
        guard bytes.count - offset >= headerLength else {
            throw .truncated(.ipv4, needed: headerLength, available: bytes.count - offset)
        }
        if totalLength == 0 {
            // TCP segmentation offload on the capturing host leaves 0 here; the captured length is the truth.
            totalLength = bytes.count - offset
        }
        guard totalLength >= headerLength else { throw .malformed(.ipv4, "bad_total_length") }
        return IPHeader(
            version: 4, source: source, destination: destination, proto: proto, ttl: ttl,
            totalLength: totalLength, headerLength: headerLength, identification: UInt32(identification),
            fragmentOffset: Int(flagsAndOffset & 0x1FFF) * 8, moreFragments: flagsAndOffset & 0x2000 != 0,
            dontFragment: flagsAndOffset & 0x4000 != 0, hasOptions: headerLength > DecodeLimits.ipv4MinimumHeader
        )
    }

    /// RFC 8200 §3–4: the fixed header, then the extension-header chain up to the upper-layer protocol.
    static func parseIPv6(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(DecodeError) -> IPHeader {
        var cursor = Cursor(bytes, layer: .ipv6, offset: offset)
        try cursor.skip(4)  // version, traffic class, flow label
        var payloadLength = Int(try cursor.readU16())
        var next = try cursor.readU8()
        let hopLimit = try cursor.readU8()
        let source = try IPAddress.readV6(&cursor)
        let destination = try IPAddress.readV6(&cursor)
        if payloadLength == 0 {
            // Jumbogram (RFC 2675) or offload: trust the captured length.
            payloadLength = bytes.count - cursor.offset
        }
        var header = IPHeader(
            version: 6, source: source, destination: destination, proto: next, ttl: hopLimit,
            totalLength: DecodeLimits.ipv6Header + payloadLength, headerLength: DecodeLimits.ipv6Header,
            identification: 0, fragmentOffset: 0, moreFragments: false, dontFragment: false, hasOptions: false
        )
        var walked = 0
        chain: while true {
            switch next {
            case 0, 43, 60, 135, 139, 140:  // hop-by-hop, routing, destination options, mobility, HIP, shim6
                walked += 1
                guard walked <= DecodeLimits.maxIPv6ExtensionHeaders else {
                    throw .malformed(.ipv6, "too_many_extension_headers")
                }
                let nextHeader = try cursor.readU8()
                let length = (Int(try cursor.readU8()) + 1) * 8
                try cursor.skip(length - 2)
                next = nextHeader
                header.hasOptions = true
            case 51:  // authentication header: length in 4-octet units minus 2 (RFC 4302 §2.2)
                walked += 1
                guard walked <= DecodeLimits.maxIPv6ExtensionHeaders else {
                    throw .malformed(.ipv6, "too_many_extension_headers")
                }
                let nextHeader = try cursor.readU8()
                let length = (Int(try cursor.readU8()) + 2) * 4
                try cursor.skip(length - 2)
                next = nextHeader
            case 44:  // fragment header (RFC 8200 §4.5)
                walked += 1
                guard walked <= DecodeLimits.maxIPv6ExtensionHeaders else {
                    throw .malformed(.ipv6, "too_many_extension_headers")
                }
                let nextHeader = try cursor.readU8()
                try cursor.skip(1)
                let offsetAndFlags = try cursor.readU16()
                header.identification = try cursor.readU32()
                header.fragmentOffset = Int(offsetAndFlags >> 3) * 8
                header.moreFragments = offsetAndFlags & 1 != 0
                next = nextHeader
                // What follows is the fragmentable part (RFC 8200 §4.5): headers after this one are data of the
                // first fragment only, so the walk stops; reassembly decodes them from the whole datagram.
                break chain
            default:
                break chain
            }
        }
        header.proto = next
        header.headerLength = cursor.offset - offset
        guard header.headerLength <= header.totalLength else { throw .malformed(.ipv6, "bad_payload_length") }
        return header
    }

    /// RFC 9293 §3.1, with the options of §3.2 that the flow table uses.
    @inline(__always)
    static func parseTCP(_ cursor: inout Cursor) throws(DecodeError) -> TCPHeader {
        let start = cursor.offset
        let sourcePort = try cursor.readU16()
        let destinationPort = try cursor.readU16()
        let sequence = try cursor.readU32()
        let acknowledgment = try cursor.readU32()
        let offsetAndFlags = try cursor.readU16()
        let window = try cursor.readU16()
        try cursor.skip(4)  // checksum, urgent pointer
        let headerLength = Int(offsetAndFlags >> 12) * 4
        guard headerLength >= DecodeLimits.tcpMinimumHeader else { throw .malformed(.tcp, "bad_data_offset") }
        var header = TCPHeader(
            sourcePort: sourcePort, destinationPort: destinationPort, sequence: sequence,
            acknowledgment: acknowledgment, flags: TCPFlags(rawValue: offsetAndFlags & 0x01FF), window: window,
            headerLength: headerLength, mss: nil, windowScale: nil, sackPermitted: false, badOptions: false
        )
        let optionsLength = headerLength - DecodeLimits.tcpMinimumHeader
        guard optionsLength > 0 else { return header }
        guard cursor.remaining >= optionsLength else {
            throw .truncated(.tcp, needed: headerLength, available: cursor.offset - start + cursor.remaining)
        }
        var options = try cursor.subCursor(length: optionsLength)
        do {
            options: while !options.isAtEnd {
                let kind = try options.readU8()
                switch kind {
                case 0: break options  // end of option list
                case 1: continue  // no-operation
                default:
                    let length = Int(try options.readU8())
                    guard length >= 2 else {
                        header.badOptions = true
                        break options
                    }
                    var value = try options.subCursor(length: length - 2)
                    switch (kind, length) {
                    case (2, 4): header.mss = try value.readU16()
                    case (3, 3): header.windowScale = try value.readU8()
                    case (4, 2): header.sackPermitted = true
                    default: break
                    }
                }
            }
        } catch {
            header.badOptions = true
        }
        return header
    }

    /// RFC 792 and RFC 4443: type, code, and either the echo identifiers or the quoted offending packet.
    static func parseICMP(_ cursor: inout Cursor, v6: Bool) throws(DecodeError) -> ICMPHeader {
        let type = try cursor.readU8()
        let code = try cursor.readU8()
        try cursor.skip(2)  // checksum
        var header = ICMPHeader(type: type, code: code, identifier: nil, sequence: nil, embedded: nil, isError: false)
        let isEcho = v6 ? (type == 128 || type == 129) : (type == 0 || type == 8 || type == 13 || type == 14)
        let isError = v6 ? type < 128 : [3, 4, 5, 11, 12].contains(type)
        if isEcho {
            header.identifier = try cursor.readU16()
            header.sequence = try cursor.readU16()
        } else {
            try cursor.skip(min(4, cursor.remaining))
        }
        if isError {
            header.isError = true
            // The quoted packet may be cut anywhere; take what is there.
            header.embedded = try? parseEmbedded(cursor.readRest())
        }
        return header
    }

    /// The identifiers of the datagram an ICMP error quotes: its IP header and the first 8 bytes after it.
    static func parseEmbedded(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> EmbeddedPacket {
        var cursor = Cursor(bytes, layer: .icmp)
        let version = try cursor.peekU8() >> 4
        var embedded: EmbeddedPacket
        var transportStart: Int
        switch version {
        case 4:
            let versionAndIHL = try cursor.readU8()
            let headerLength = Int(versionAndIHL & 0x0F) * 4
            guard headerLength >= DecodeLimits.ipv4MinimumHeader else { throw .malformed(.icmp, "bad_embedded_header") }
            try cursor.skip(8)
            let proto = try cursor.readU8()
            try cursor.skip(2)
            embedded = EmbeddedPacket(
                source: try IPAddress.readV4(&cursor), destination: try IPAddress.readV4(&cursor),
                proto: proto, sourcePort: nil, destinationPort: nil)
            transportStart = headerLength
        case 6:
            try cursor.skip(6)
            let next = try cursor.readU8()
            try cursor.skip(1)
            embedded = EmbeddedPacket(
                source: try IPAddress.readV6(&cursor), destination: try IPAddress.readV6(&cursor),
                proto: next, sourcePort: nil, destinationPort: nil)
            transportStart = DecodeLimits.ipv6Header
        default:
            throw .malformed(.icmp, "bad_embedded_version")
        }
        var transport = Cursor(bytes, layer: .icmp, offset: transportStart)
        if embedded.proto == IPProtocol.tcp || embedded.proto == IPProtocol.udp || embedded.proto == IPProtocol.sctp,
            transport.remaining >= 4
        {
            embedded.sourcePort = try transport.readU16()
            embedded.destinationPort = try transport.readU16()
        }
        return embedded
    }
}
