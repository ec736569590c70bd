import Packets

/// Builds Ethernet/IPv4/IPv6/TCP/UDP/ICMP frames byte by byte for decoder and flow-table tests.
/// Checksums are left zero: the decoders do not verify them (neither does a passive sensor).
public enum FrameBuilder {
    public static func ethernet(_ payload: [UInt8], etherType: UInt16 = EtherType.ipv4, vlans: [UInt16] = []) -> [UInt8]
    {
        var frame: [UInt8] = [0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02]
        for (index, vlan) in vlans.enumerated() {
            let tpid = index == 0 && vlans.count > 1 ? EtherType.qinq : EtherType.vlan
            frame += be16(tpid) + be16(vlan)
        }
        return frame + be16(etherType) + payload
    }

    public static func ipv4(
        source: String, destination: String, proto: UInt8, payload: [UInt8], identification: UInt16 = 1,
        fragmentOffset: Int = 0, moreFragments: Bool = false, options: [UInt8] = [], ttl: UInt8 = 64,
        totalLengthOverride: Int? = nil
    ) -> [UInt8] {
        let headerLength = 20 + options.count
        let total = totalLengthOverride ?? (headerLength + payload.count)
        var flags = UInt16(fragmentOffset / 8)
        if moreFragments { flags |= 0x2000 }
        var header: [UInt8] = [0x40 | UInt8(headerLength / 4), 0]
        header += be16(UInt16(total)) + be16(identification) + be16(flags) + [ttl, proto, 0, 0]
        header += address(source) + address(destination) + options
        return header + payload
    }

    public static func ipv6(
        source: String, destination: String, nextHeader: UInt8, payload: [UInt8], extensionBytes: [UInt8] = []
    ) -> [UInt8] {
        var header: [UInt8] = [0x60, 0, 0, 0]
        header += be16(UInt16(extensionBytes.count + payload.count)) + [nextHeader, 64]
        header += address(source) + address(destination)
        return header + extensionBytes + payload
    }

    public static func tcp(
        sourcePort: UInt16, destinationPort: UInt16, sequence: UInt32 = 1000, acknowledgment: UInt32 = 0,
        flags: TCPFlags, window: UInt16 = 65535, options: [UInt8] = [], payload: [UInt8] = []
    ) -> [UInt8] {
        let headerLength = 20 + options.count
        var segment = be16(sourcePort) + be16(destinationPort) + be32(sequence) + be32(acknowledgment)
        segment += be16(UInt16(headerLength / 4) << 12 | flags.rawValue) + be16(window) + [0, 0, 0, 0]
        return segment + options + payload
    }

    public static func udp(sourcePort: UInt16, destinationPort: UInt16, payload: [UInt8]) -> [UInt8] {
        be16(sourcePort) + be16(destinationPort) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
    }

    public static func icmp(type: UInt8, code: UInt8, rest: [UInt8] = [0, 0, 0, 0], payload: [UInt8] = []) -> [UInt8] {
        [type, code, 0, 0] + rest + payload
    }

    /// A complete Ethernet/IPv4/TCP frame.
    public static func tcpFrame(
        _ source: String, _ sourcePort: UInt16, _ destination: String, _ destinationPort: UInt16,
        flags: TCPFlags, sequence: UInt32 = 1000, acknowledgment: UInt32 = 0, payload: [UInt8] = []
    ) -> [UInt8] {
        ethernet(
            ipv4(
                source: source, destination: destination, proto: IPProtocol.tcp,
                payload: tcp(
                    sourcePort: sourcePort, destinationPort: destinationPort, sequence: sequence,
                    acknowledgment: acknowledgment, flags: flags, payload: payload)))
    }

    /// A complete Ethernet/IPv4/UDP frame.
    public static func udpFrame(
        _ source: String, _ sourcePort: UInt16, _ destination: String, _ destinationPort: UInt16, payload: [UInt8]
    ) -> [UInt8] {
        ethernet(
            ipv4(
                source: source, destination: destination, proto: IPProtocol.udp,
                payload: udp(sourcePort: sourcePort, destinationPort: destinationPort, payload: payload)))
    }

    public static func address(_ text: String) -> [UInt8] {
        guard let parsed = IPAddress(text) else { preconditionFailure("bad test address \(text)") }
        return parsed.bytes
    }

    public static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    public static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
}

extension Array where Element == UInt8 {
    /// Runs `body` with the bytes as an `UnsafeRawBufferPointer`, the form the decoders take.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}
