import Crypto
import Packets

/// The Community ID v1 flow hash (corelight/community-id-spec), so records join with Zeek's and Suricata's.
public enum CommunityID {
    /// ICMP types that come in request/response pairs, with their counterpart (Zeek's ICMP analyzer mapping).
    static let icmpv4Counterpart: [UInt8: UInt8] = [
        8: 0, 0: 8,  // echo
        13: 14, 14: 13,  // timestamp
        15: 16, 16: 15,  // information
        10: 9, 9: 10,  // router solicitation / advertisement
        17: 18, 18: 17,  // address mask
    ]
    static let icmpv6Counterpart: [UInt8: UInt8] = [
        128: 129, 129: 128,  // echo
        133: 134, 134: 133,  // router solicitation / advertisement
        135: 136, 136: 135,  // neighbor solicitation / advertisement
        130: 131, 131: 130,  // multicast listener query / report
        139: 140, 140: 139,  // node information query / response
        144: 145, 145: 144,  // home agent address discovery
    ]

    /// True for the answering half of a request/response pair (echo reply, router advertisement, …), which is keyed
    /// by the request it answers.
    public static func isICMPReply(type: UInt8, v6: Bool) -> Bool {
        switch (v6, type) {
        case (false, 0), (false, 14), (false, 16), (false, 9), (false, 18): return true
        case (true, 129), (true, 134), (true, 136), (true, 131), (true, 140), (true, 145): return true
        default: return false
        }
    }

    /// The (source port, destination port, one-way) equivalents of an ICMP type and code.
    public static func icmpPorts(type: UInt8, code: UInt8, v6: Bool) -> (UInt16, UInt16, Bool) {
        if let counterpart = (v6 ? icmpv6Counterpart : icmpv4Counterpart)[type] {
            return (UInt16(type), UInt16(counterpart), false)
        }
        return (UInt16(type), UInt16(code), true)
    }

    /// Computes `1:<base64(sha1(seed . saddr . daddr . proto . 0 . sport . dport))>` with the smaller endpoint first
    /// (unless the ICMP message is one-way).
    public static func hash(
        source: IPAddress, destination: IPAddress, sourcePort: UInt16, destinationPort: UInt16,
        proto: UInt8, seed: UInt16 = 0, oneWay: Bool = false
    ) -> String {
        var saddr = source
        var daddr = destination
        var sport = sourcePort
        var dport = destinationPort
        if !oneWay && (daddr < saddr || (daddr == saddr && dport < sport)) {
            swap(&saddr, &daddr)
            swap(&sport, &dport)
        }
        // seed(2) saddr(4|16) daddr(4|16) proto(1) pad(1) sport(2) dport(2): at most 40 bytes, on the stack.
        let digest = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { buffer in
            var count = 0
            func put(_ byte: UInt8) {
                buffer[count] = byte
                count += 1
            }
            put(UInt8(seed >> 8))
            put(UInt8(seed & 0xFF))
            saddr.forEachByte(put)
            daddr.forEachByte(put)
            put(proto)
            put(0)
            let hasPorts =
                proto == IPProtocol.tcp || proto == IPProtocol.udp || proto == IPProtocol.sctp
                || proto == IPProtocol.icmp || proto == IPProtocol.icmpv6
            if hasPorts {
                put(UInt8(sport >> 8))
                put(UInt8(sport & 0xFF))
                put(UInt8(dport >> 8))
                put(UInt8(dport & 0xFF))
            }
            return Insecure.SHA1.hash(data: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<count]))
        }
        return digest.withUnsafeBytes { Base64.encode($0, prefix: "1:") }
    }
}

/// Standard base64 (RFC 4648 §4) with padding; small enough not to need Foundation.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { encode($0) }
    }

    /// `prefix` followed by the encoding of `bytes`, built in place (no intermediate array or string).
    public static func encode(_ bytes: UnsafeRawBufferPointer, prefix: StaticString = "") -> String {
        let length = prefix.utf8CodeUnitCount + (bytes.count + 2) / 3 * 4
        let padding = UInt8(ascii: "=")
        return String(unsafeUninitializedCapacity: length) { out in
            var o = 0
            for byte in UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount) {
                out[o] = byte
                o += 1
            }
            var i = 0
            while i + 3 <= bytes.count {
                let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                out[o] = alphabet[Int(n >> 18)]
                out[o + 1] = alphabet[Int((n >> 12) & 63)]
                out[o + 2] = alphabet[Int((n >> 6) & 63)]
                out[o + 3] = alphabet[Int(n & 63)]
                o += 4
                i += 3
            }
            let rest = bytes.count - i
            if rest > 0 {
                let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
                out[o] = alphabet[Int(n >> 18)]
                out[o + 1] = alphabet[Int((n >> 12) & 63)]
                out[o + 2] = rest == 2 ? alphabet[Int((n >> 6) & 63)] : padding
                out[o + 3] = padding
                o += 4
            }
            return o
        }
    }
}
