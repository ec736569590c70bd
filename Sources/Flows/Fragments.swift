import Packets

/// Reassembles IPv4 and IPv6 fragments (RFC 791 §3.2, RFC 8200 §4.5) so that a fragmented datagram reaches the
/// flow table once, whole, as Zeek counts it. Memory is bounded: at most `maxDatagrams` in progress, each at most
/// 65,535 bytes, dropped after `timeout` seconds of packet time; every drop is counted.
public struct FragmentReassembler {
    /// RFC 791: the largest IPv4 datagram; RFC 8200 without jumbograms likewise.
    public static let maxDatagramLength = 65_535
    public var maxDatagrams = 1024
    /// RFC 8200 §4.5 reassembly timeout: 60 seconds.
    public var timeout: Double = 60

    struct Key: Hashable {
        var source: IPAddress
        var destination: IPAddress
        var proto: UInt8
        var identification: UInt32
    }

    struct Pending {
        var firstSeen: Double
        /// The first fragment's IP header bytes (IPv4 header with options, or the IPv6 fixed header).
        var header: [UInt8]?
        var pieces: [(offset: Int, bytes: [UInt8])] = []
        var totalLength: Int?
    }

    private var pending: [Key: Pending] = [:]
    public private(set) var fragmentsSeen: UInt64 = 0
    public private(set) var reassembled: UInt64 = 0
    public private(set) var expired: UInt64 = 0
    public private(set) var overlapping: UInt64 = 0

    public init() {}

    /// Adds one fragment. Returns the bytes of the whole datagram (a fresh IP header followed by the payload)
    /// when this fragment completes it.
    public mutating func add(_ packet: DecodedPacket, bytes: UnsafeRawBufferPointer, timestamp: Double) -> [UInt8]? {
        fragmentsSeen += 1
        let ip = packet.ip
        let key = Key(
            source: ip.source, destination: ip.destination, proto: ip.proto, identification: ip.identification)
        if pending[key] == nil {
            if pending.count >= maxDatagrams { expire(before: timestamp - timeout, force: true) }
            pending[key] = Pending(firstSeen: timestamp)
        }
        guard var entry = pending.removeValue(forKey: key) else { return nil }
        // The fragment's data: everything after the IP header(s), as captured.
        let dataStart = packet.ipOffset + ip.headerLength
        let dataEnd = min(bytes.count, packet.ipOffset + ip.totalLength)
        guard dataStart <= dataEnd else { return nil }
        let data = Array(bytes[dataStart..<dataEnd])
        let end = ip.fragmentOffset + data.count
        guard end <= Self.maxDatagramLength, dataEnd - dataStart == ip.totalLength - ip.headerLength else {
            // Oversized or snaplen-cut fragment: the datagram can never be completed faithfully.
            expired += 1
            return nil
        }
        if entry.pieces.contains(where: { $0.offset < end && ip.fragmentOffset < $0.offset + $0.bytes.count }) {
            overlapping += 1  // overlapping fragments are an evasion technique; keep the first copy (first wins)
        }
        if ip.fragmentOffset == 0 {
            if ip.version == 4 {
                entry.header = Array(bytes[packet.ipOffset..<(packet.ipOffset + ip.headerLength)])
            } else {
                entry.header = Array(bytes[packet.ipOffset..<(packet.ipOffset + DecodeLimits.ipv6Header)])
            }
        }
        if !ip.moreFragments { entry.totalLength = end }
        entry.pieces.append((ip.fragmentOffset, data))
        if let total = entry.totalLength, let header = entry.header,
            let payload = Self.assemble(entry.pieces, total: total)
        {
            reassembled += 1
            return Self.buildDatagram(header: header, version: ip.version, proto: ip.proto, payload: payload)
        }
        pending[key] = entry
        return nil
    }

    /// Drops datagrams still incomplete after the timeout (all of them past `before`; the oldest when `force`).
    public mutating func expire(before cutoff: Double, force: Bool = false) {
        let stale = pending.filter { $0.value.firstSeen < cutoff }.map(\.key)
        for key in stale { pending.removeValue(forKey: key) }
        expired += UInt64(stale.count)
        if force && stale.isEmpty, let oldest = pending.min(by: { $0.value.firstSeen < $1.value.firstSeen })?.key {
            pending.removeValue(forKey: oldest)
            expired += 1
        }
    }

    private static func assemble(_ pieces: [(offset: Int, bytes: [UInt8])], total: Int) -> [UInt8]? {
        var covered = 0
        for piece in pieces.sorted(by: { $0.offset < $1.offset }) {
            if piece.offset > covered { return nil }
            covered = max(covered, piece.offset + piece.bytes.count)
        }
        guard covered >= total else { return nil }
        var out = [UInt8](repeating: 0, count: total)
        // Later pieces first so that the first copy of an overlapped range wins.
        for piece in pieces.reversed() {
            let end = min(total, piece.offset + piece.bytes.count)
            guard piece.offset < end else { continue }
            out.replaceSubrange(piece.offset..<end, with: piece.bytes[0..<(end - piece.offset)])
        }
        return out
    }

    private static func buildDatagram(header: [UInt8], version: UInt8, proto: UInt8, payload: [UInt8]) -> [UInt8]? {
        var out = header
        if version == 4 {
            let total = header.count + payload.count
            guard total <= maxDatagramLength, header.count >= DecodeLimits.ipv4MinimumHeader else { return nil }
            out[2] = UInt8(total >> 8)
            out[3] = UInt8(total & 0xFF)
            out[6] = 0  // clear MF and the fragment offset, keep nothing of the flags
            out[7] = 0
        } else {
            guard header.count == DecodeLimits.ipv6Header, payload.count <= maxDatagramLength else { return nil }
            out[4] = UInt8(payload.count >> 8)
            out[5] = UInt8(payload.count & 0xFF)
            out[6] = proto  // the extension headers before the fragment header are dropped
        }
        return out + payload
    }
}
