import Packets
import TestSupport
import Testing

@Suite("link, IP and transport decoding")
struct PacketDecoderTests {
    typealias F = FrameBuilder

    @Test("Ethernet/IPv4/TCP SYN with options: every header field")
    func tcpSyn() throws {
        // MSS 1460, NOP, window scale 7, SACK permitted, EOL padding (RFC 9293 §3.2).
        let options: [UInt8] = [2, 4, 0x05, 0xB4, 1, 3, 3, 7, 4, 2, 0, 0]
        let frame = F.ethernet(
            F.ipv4(
                source: "10.0.0.1", destination: "10.0.0.2", proto: IPProtocol.tcp,
                payload: F.tcp(
                    sourcePort: 40000, destinationPort: 443, sequence: 0xDEAD_BEEF, flags: .syn, options: options)))
        let packet = try #require(try frame.withBytes { try PacketDecoder.decode($0, linkType: .ethernet) })
        #expect(packet.ip.source == IPAddress("10.0.0.1"))
        #expect(packet.ip.destination == IPAddress("10.0.0.2"))
        #expect(packet.ip.totalLength == 20 + 32)
        guard case .tcp(let tcp) = packet.transport else { Issue.record("not TCP"); return }
        #expect(tcp.sourcePort == 40000 && tcp.destinationPort == 443)
        #expect(tcp.sequence == 0xDEAD_BEEF)
        #expect(tcp.flags == .syn)
        #expect(tcp.headerLength == 32)
        #expect(tcp.mss == 1460 && tcp.windowScale == 7 && tcp.sackPermitted)
        #expect(packet.payloadLength == 0 && packet.payloadOffset == 14 + 20 + 32)
    }

    @Test("Ethernet padding after a short datagram is not payload")
    func ethernetPadding() throws {
        let frame = F.udpFrame("10.0.0.1", 5000, "10.0.0.2", 53, payload: [1, 2]) + [UInt8](repeating: 0, count: 16)
        let packet = try #require(try frame.withBytes { try PacketDecoder.decode($0, linkType: .ethernet) })
        #expect(packet.payloadLength == 2)
        #expect(packet.declaredPayloadLength == 2)
        #expect(!packet.isCut)
    }

    @Test("a datagram longer than the capture (snaplen) keeps the declared length and is flagged")
    func snaplenCut() throws {
        let full = F.tcpFrame(
            "10.0.0.1", 1234, "10.0.0.2", 80, flags: [.ack, .psh], payload: Array(repeating: 0x41, count: 500))
        let cut = Array(full.prefix(96))
        let packet = try #require(try cut.withBytes { try PacketDecoder.decode($0, linkType: .ethernet) })
        #expect(packet.ip.totalLength == 540)
        #expect(packet.declaredPayloadLength == 500)
        #expect(packet.payloadLength == 96 - 54)
        #expect(packet.isCut)
    }

    @Test("802.1Q and 802.1ad (QinQ) tags are walked and recorded outermost first")
    func vlanTags() throws {
        let inner = F.ipv4(
            source: "10.0.0.1", destination: "10.0.0.2", proto: IPProtocol.udp,
            payload: F.udp(sourcePort: 1, destinationPort: 2, payload: []))
        let single = try #require(
            try F.ethernet(inner, vlans: [100]).withBytes { try PacketDecoder.decode($0, linkType: .ethernet) })
        #expect(single.vlan == 100 && single.innerVlan == nil)
        let double = try #require(
            try F.ethernet(inner, vlans: [200, 100]).withBytes { try PacketDecoder.decode($0, linkType: .ethernet) })
        #expect(double.vlan == 200 && double.innerVlan == 100)
    }

    @Test("Linux cooked v1 and v2, BSD null in both byte orders, OpenBSD loop and raw IP reach the same IP header")
    func linkTypes() throws {
        let ip = F.ipv4(
            source: "192.0.2.1", destination: "192.0.2.2", proto: IPProtocol.udp,
            payload: F.udp(sourcePort: 53, destinationPort: 5353, payload: [0xAA]))
        let sll: [UInt8] = [0, 0, 0, 1, 0, 6] + [UInt8](repeating: 0, count: 8) + [0x08, 0x00]
        let sll2: [UInt8] = [0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6] + [UInt8](repeating: 0, count: 8)
        let cases: [(LinkType, [UInt8])] = [
            (.linuxSLL, sll + ip), (.linuxSLL2, sll2 + ip),
            (.null, [2, 0, 0, 0] + ip), (.null, [0, 0, 0, 2] + ip), (.loop, [0, 0, 0, 2] + ip),
            (.raw, ip), (.rawDLT12, ip), (.ipv4, ip),
        ]
        for (linkType, frame) in cases {
            let packet = try #require(try frame.withBytes { try PacketDecoder.decode($0, linkType: linkType) })
            #expect(packet.ip.source == IPAddress("192.0.2.1"), "\(linkType)")
            guard case .udp(let udp) = packet.transport else { Issue.record("\(linkType): not UDP"); continue }
            #expect(udp.sourcePort == 53 && udp.destinationPort == 5353)
            #expect(packet.payloadLength == 1)
        }
    }

    @Test("an MPLS label stack is walked to the IP packet under it")
    func mpls() throws {
        let ip = F.ipv4(
            source: "10.0.0.1", destination: "10.0.0.2", proto: IPProtocol.udp,
            payload: F.udp(sourcePort: 1, destinationPort: 2, payload: [7]))
        // Two labels (16 and 17), the second with the bottom-of-stack bit, TTL 64.
        let labels: [UInt8] = [0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x11, 0x40]
        let frame = F.ethernet(labels + ip, etherType: EtherType.mpls)
        let packet = try #require(try frame.withBytes { try PacketDecoder.decode($0, linkType: .ethernet) })
        #expect(packet.ipOffset == 14 + 8)
        #expect(packet.payloadLength == 1)
        let endless = F.ethernet([UInt8](repeating: 0, count: 40), etherType: EtherType.mpls)
        #expect(throws: DecodeError.malformed(.link, "mpls_too_many_labels")) {
            try endless.withBytes { try PacketDecoder.decode($0, linkType: .ethernet) }
        }
    }

    @Test("non-IP frames (ARP) decode to nil, not an error")
    func arp() throws {
        let frame = F.ethernet([UInt8](repeating: 0, count: 28), etherType: EtherType.arp)
        #expect(try frame.withBytes { try PacketDecoder.decode($0, linkType: .ethernet) } == nil)
    }

    @Test("IPv6: hop-by-hop and fragment headers are walked to the upper-layer protocol")
    func ipv6Extensions() throws {
        let udp = F.udp(sourcePort: 1000, destinationPort: 53, payload: [1, 2, 3])
        // Hop-by-hop (next = 44 fragment, len 0 = 8 bytes, PadN), then fragment header (next = 17 UDP, offset 0, M = 1, id 7).
        let hopByHop: [UInt8] = [44, 0, 1, 4, 0, 0, 0, 0]
        let fragment: [UInt8] = [17, 0, 0x00, 0x01, 0, 0, 0, 7]
        let frame = F.ethernet(
            F.ipv6(
                source: "2001:db8::1", destination: "2001:db8::2", nextHeader: 0, payload: udp,
                extensionBytes: hopByHop + fragment), etherType: EtherType.ipv6)
        let packet = try #require(try frame.withBytes { try PacketDecoder.decode($0, linkType: .ethernet) })
        #expect(packet.ip.version == 6)
        #expect(packet.ip.proto == IPProtocol.udp)
        #expect(packet.ip.headerLength == 56)
        #expect(packet.ip.moreFragments && packet.ip.identification == 7 && packet.ip.isFragment)
        #expect(packet.ip.source.description == "2001:db8::1")
    }

    @Test("ICMP port unreachable exposes the quoted UDP datagram's endpoints")
    func icmpUnreachable() throws {
        let probe = F.ipv4(
            source: "10.0.0.1", destination: "10.0.0.2", proto: IPProtocol.udp,
            payload: F.udp(sourcePort: 33333, destinationPort: 161, payload: [0, 1, 2, 3]))
        let frame = F.ethernet(
            F.ipv4(
                source: "10.0.0.2", destination: "10.0.0.1", proto: IPProtocol.icmp,
                payload: F.icmp(type: 3, code: 3, payload: Array(probe.prefix(28)))))
        let packet = try #require(try frame.withBytes { try PacketDecoder.decode($0, linkType: .ethernet) })
        guard case .icmp(let icmp) = packet.transport else { Issue.record("not ICMP"); return }
        #expect(icmp.type == 3 && icmp.code == 3 && icmp.isError)
        let embedded = try #require(icmp.embedded)
        #expect(embedded.source == IPAddress("10.0.0.1") && embedded.destination == IPAddress("10.0.0.2"))
        #expect(embedded.proto == IPProtocol.udp && embedded.sourcePort == 33333 && embedded.destinationPort == 161)
    }

    @Test("ICMPv6 echo request carries identifier and sequence")
    func icmpv6Echo() throws {
        let frame = F.ethernet(
            F.ipv6(
                source: "::1", destination: "::1", nextHeader: IPProtocol.icmpv6,
                payload: F.icmp(type: 128, code: 0, rest: [0x12, 0x34, 0, 9])), etherType: EtherType.ipv6)
        let packet = try #require(try frame.withBytes { try PacketDecoder.decode($0, linkType: .ethernet) })
        guard case .icmpv6(let icmp) = packet.transport else { Issue.record("not ICMPv6"); return }
        #expect(icmp.identifier == 0x1234 && icmp.sequence == 9 && !icmp.isError)
    }

    @Test("malformed headers throw the named error")
    func malformed() throws {
        var badIHL = F.tcpFrame("10.0.0.1", 1, "10.0.0.2", 2, flags: .syn)
        badIHL[14] = 0x44  // IHL 4 words = 16 bytes < 20
        #expect(throws: DecodeError.malformed(.ipv4, "bad_header_length")) {
            try badIHL.withBytes { try PacketDecoder.decode($0, linkType: .ethernet) }
        }
        var badOffset = F.tcpFrame("10.0.0.1", 1, "10.0.0.2", 2, flags: .syn)
        badOffset[14 + 20 + 12] = 0x40  // data offset 4 words
        #expect(throws: DecodeError.malformed(.tcp, "bad_data_offset")) {
            try badOffset.withBytes { try PacketDecoder.decode($0, linkType: .ethernet) }
        }
        let shortTotal = F.ethernet(
            F.ipv4(
                source: "10.0.0.1", destination: "10.0.0.2", proto: 6, payload: [],
                totalLengthOverride: 12))
        #expect(throws: DecodeError.malformed(.ipv4, "bad_total_length")) {
            try shortTotal.withBytes { try PacketDecoder.decode($0, linkType: .ethernet) }
        }
        let version5 = F.ethernet([0x55] + [UInt8](repeating: 0, count: 30))
        #expect(throws: DecodeError.malformed(.ipv4, "bad_version")) {
            try version5.withBytes { try PacketDecoder.decode($0, linkType: .ethernet) }
        }
        #expect(DecodeError.truncated(.tcp, needed: 20, available: 3).counterName == "tcp.truncated")
    }

    @Test("every prefix of valid frames decodes or throws, never traps", arguments: LinkType.allCases)
    func prefixes(linkType: LinkType) {
        let frames = [
            F.tcpFrame("10.0.0.1", 1, "10.0.0.2", 2, flags: [.syn], payload: Array("GET / HTTP/1.1\r\n".utf8)),
            F.ethernet(
                F.ipv6(
                    source: "::1", destination: "::2", nextHeader: 17,
                    payload: F.udp(sourcePort: 1, destinationPort: 53, payload: [1])),
                etherType: EtherType.ipv6, vlans: [5, 6]),
        ]
        var decoded = 0
        for frame in frames {
            for length in 0...frame.count {
                let prefix = Array(frame.prefix(length))
                if (try? prefix.withBytes({ try PacketDecoder.decode($0, linkType: linkType) })) != nil { decoded += 1 }
            }
        }
        // The full Ethernet frames at least decode as Ethernet.
        if linkType == .ethernet { #expect(decoded >= 2) }
    }

    @Test(
        "IPv6 text form follows RFC 5952 and round-trips",
        arguments: [
            ("2001:db8::1", "2001:db8::1"), ("2001:0db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("::", "::"),
            ("::1", "::1"),
            ("fe80::200:86ff:fe05:80da", "fe80::200:86ff:fe05:80da"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ])
    func ipv6Text(input: String, expected: String) throws {
        let address = try #require(IPAddress(input))
        #expect(address.description == expected)
        #expect(IPAddress(expected) == address)
    }

    @Test(
        "address text that is not an address is refused",
        arguments: ["1.2.3", "1.2.3.256", "1::2::3", "g::1", "", "1.2.3.4.5"])
    func badAddress(text: String) {
        #expect(IPAddress(text) == nil)
    }
}
