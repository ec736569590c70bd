import Packets

/// Reassembles IPv4 and IPv6 fragments (RFC 791 §3.2, RFC 8200 §4.5) so that a fragmented datagram reaches the
/// flow table once, whole, as Zeek counts it.
///
/// Policy for fragments that disagree (a sender chooses its fragmentation, so each case is a possible evasion and
/// is counted as a weird; the name is given after each rule):
/// - A fragment whose bytes are all held already, with the same content, is an exact duplicate and is dropped
///   (`ip.fragment_duplicate`). This holds for IPv4 and IPv6 (RFC 8200 §4.5 allows dropping exact duplicates).
/// - IPv4, first wins: a fragment that overlaps bytes already held contributes only its new bytes; the held bytes
///   stay (`ip.fragment_overlap`). If the overlapped bytes differ, the new copy is ignored there and
///   `ip.fragment_inconsistent_overlap` is counted as well. This is Zeek's choice (keep the first data, flag
///   differing overlaps); an end host may resolve the overlap the other way.
/// - IPv6: any other overlap drops the whole datagram, as RFC 5722 requires (`ipv6.fragment_overlap`).
/// - A fragment that contradicts the datagram's end (a second last fragment ending elsewhere, or data past the end
///   a last fragment set) is dropped, the first word wins (`ip.fragment_inconsistent_end`).
/// - A fragment other than the last whose data is not a multiple of 8 bytes is dropped (RFC 791 §3.2, RFC 8200
///   §4.5; `ip.fragment_bad_length`); one that would end past 65,535 bytes drops its datagram
///   (`ip.fragment_too_long`).
///
/// Bounds, each drop counted: at most `maxDatagrams` datagrams in progress (the oldest goes,
/// `ip.fragment_datagram_limit`), at most `maxPiecesPerDatagram` fragments that added bytes to one datagram (it is
/// dropped, `ip.fragment_too_many_pieces`), at most `maxBufferedBytes` held over all datagrams (the oldest go,
/// `ip.fragment_memory_limit`), and `timeout` seconds of packet time from a datagram's first fragment. Every
/// datagram dropped unfinished counts in `expired`.
///
/// Cost: a datagram's bytes live in one buffer with a coverage bitmap of 8-byte units (fragment offsets count in
/// 8-byte units, so 8,192 bits cover 65,535 bytes). A fragment is checked, compared and copied unit by unit, so
/// its cost grows with its own length, never with the number of fragments already held.
public struct FragmentReassembler {
    /// RFC 791: the largest IPv4 datagram; RFC 8200 without jumbograms likewise.
    public static let maxDatagramLength = 65_535
    /// RFC 791 §3.2, RFC 8200 §4.5: fragment offsets count in units of 8 bytes.
    static let unit = 8
    /// What one datagram in progress costs beyond its buffers (key, bookkeeping), for the byte bound.
    static let entryOverhead = 128

    public var maxDatagrams = 1024
    /// A 65,535-byte datagram needs 45 fragments at a 1,500-byte MTU and 118 at 576; more is a flood of tiny ones.
    public var maxPiecesPerDatagram = 128
    /// Bytes held over all datagrams in progress: 256 datagrams of the largest size, or all 1,024 of ordinary ones.
    public var maxBufferedBytes = 16 << 20
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
        /// Which `order` entry is this datagram's (an older entry for the same key is stale).
        var serial: UInt64
        /// The first fragment's IP header bytes (IPv4 header with options, or the IPv6 fixed header); empty until
        /// the fragment at offset 0 arrives.
        var header: [UInt8] = []
        /// The datagram's data as far as received; bytes not yet covered are zero.
        var payload: [UInt8] = []
        /// One bit per 8-byte unit of `payload` that some fragment filled.
        var covered: [UInt64] = []
        var coveredUnits = 0
        /// Set by the last fragment (the one without More Fragments).
        var totalLength: Int?
        /// Fragments that added bytes.
        var pieces = 0

        var cost: Int { payload.count + covered.count * 8 + header.count + FragmentReassembler.entryOverhead }
    }

    private var pending: [Key: Pending] = [:]
    /// Datagrams in the order they started, for evicting the oldest in O(1); entries whose serial no longer
    /// matches `pending` are stale and skipped.
    private var order: [(key: Key, serial: UInt64)] = []
    private var orderHead = 0
    private var nextSerial: UInt64 = 0

    public private(set) var fragmentsSeen: UInt64 = 0
    public private(set) var reassembled: UInt64 = 0
    /// Datagrams dropped unfinished, for any reason.
    public private(set) var expired: UInt64 = 0
    /// Bytes held now over all datagrams in progress (what `maxBufferedBytes` bounds).
    public private(set) var bufferedBytes = 0
    /// Datagrams in progress.
    public var inProgress: Int { pending.count }

    public init() {}

    /// What one fragment does to its datagram.
    private enum Verdict {
        case keep
        case dropFragment
        case dropDatagram
    }

    /// Adds one fragment. Returns the bytes of the whole datagram (a fresh IP header followed by the payload)
    /// when this fragment completes it. Problems go to `weird` under the names in the type's documentation.
    public mutating func add(
        _ packet: DecodedPacket, bytes: UnsafeRawBufferPointer, timestamp: Double,
        weird: (String) -> Void = { _ in }
    ) -> [UInt8]? {
        fragmentsSeen += 1
        let ip = packet.ip
        let key = Key(
            source: ip.source, destination: ip.destination, proto: ip.proto, identification: ip.identification)
        // The fragment's data: everything after the IP header(s), as captured.
        let dataStart = packet.ipOffset + ip.headerLength
        let dataEnd = min(bytes.count, packet.ipOffset + ip.totalLength)
        guard dataStart <= dataEnd else { return nil }
        let offset = ip.fragmentOffset
        let length = dataEnd - dataStart
        let end = offset + length
        if ip.moreFragments && length % Self.unit != 0 {
            weird("ip.fragment_bad_length")
            return nil
        }
        guard end <= Self.maxDatagramLength, length == ip.totalLength - ip.headerLength else {
            // Oversized or snaplen-cut fragment: the datagram can never be completed faithfully.
            if end > Self.maxDatagramLength { weird("ip.fragment_too_long") }
            if let dropped = pending.removeValue(forKey: key) { bufferedBytes -= dropped.cost }
            expired += 1
            return nil
        }

        if pending[key] == nil {
            if pending.count >= maxDatagrams {
                _ = evictOldest(protecting: nil, weird: weird, name: "ip.fragment_datagram_limit")
            }
            pending[key] = Pending(firstSeen: timestamp, serial: nextSerial)
            bufferedBytes += Self.entryOverhead
            order.append((key, nextSerial))
            nextSerial += 1
            compactOrder()
        }
        guard var entry = pending.removeValue(forKey: key) else { return nil }
        let costBefore = entry.cost
        let data = UnsafeRawBufferPointer(rebasing: bytes[dataStart..<dataEnd])
        let verdict = Self.insert(
            data, at: offset, more: ip.moreFragments, version: ip.version, into: &entry,
            maxPieces: maxPiecesPerDatagram, weird: weird)
        if verdict == .dropDatagram {
            bufferedBytes -= costBefore
            expired += 1
            return nil
        }
        if verdict == .keep && offset == 0 && entry.header.isEmpty {
            let headerLength = ip.version == 4 ? ip.headerLength : DecodeLimits.ipv6Header
            entry.header = Array(bytes[packet.ipOffset..<(packet.ipOffset + headerLength)])
        }
        bufferedBytes += entry.cost - costBefore
        if let total = entry.totalLength, !entry.header.isEmpty, entry.coveredUnits * Self.unit >= total,
            entry.payload.count >= total
        {
            bufferedBytes -= entry.cost
            reassembled += 1
            return Self.buildDatagram(
                header: entry.header, version: ip.version, proto: ip.proto, payload: entry.payload[0..<total])
        }
        if bufferedBytes > maxBufferedBytes && !makeRoom(protecting: entry.serial, weird: weird) {
            // This datagram is the oldest left and still does not fit: it goes.
            bufferedBytes -= entry.cost
            expired += 1
            weird("ip.fragment_memory_limit")
            return nil
        }
        pending[key] = entry
        return nil
    }

    /// Checks one fragment against its datagram and copies its new 8-byte units in.
    private static func insert(
        _ data: UnsafeRawBufferPointer, at offset: Int, more: Bool, version: UInt8, into entry: inout Pending,
        maxPieces: Int, weird: (String) -> Void
    ) -> Verdict {
        let end = offset + data.count
        // The end is fixed by the first last fragment; held data past a later one's end means that one lies.
        if !more {
            if let total = entry.totalLength, total != end {
                weird("ip.fragment_inconsistent_end")
                return .dropFragment
            }
            if entry.payload.count > end {
                weird("ip.fragment_inconsistent_end")
                return .dropFragment
            }
        } else if let total = entry.totalLength, end > total {
            weird("ip.fragment_inconsistent_end")
            return .dropFragment
        }
        let firstUnit = offset / unit
        let endUnit = (end + unit - 1) / unit
        guard firstUnit < endUnit else {
            if !more { entry.totalLength = end }
            return .keep
        }
        // One pass over the fragment's units: how many are held already, and whether their bytes agree.
        var heldUnits = 0
        var differs = false
        entry.covered.withUnsafeBufferPointer { covered in
            entry.payload.withUnsafeBytes { payload in
                for unitIndex in firstUnit..<endUnit where isSet(covered, unitIndex) {
                    heldUnits += 1
                    if differs { continue }
                    let start = unitIndex * unit
                    let stop = min(start + unit, end, payload.count)
                    if stop - start == unit {
                        // A whole unit: one 8-byte comparison instead of eight.
                        differs =
                            payload.loadUnaligned(fromByteOffset: start, as: UInt64.self)
                            != data.loadUnaligned(fromByteOffset: start - offset, as: UInt64.self)
                    } else {
                        for position in start..<stop where payload[position] != data[position - offset] {
                            differs = true
                            break
                        }
                    }
                }
            }
        }
        let units = endUnit - firstUnit
        if heldUnits == units && !differs {
            weird("ip.fragment_duplicate")
            return .dropFragment
        }
        if heldUnits > 0 {
            if version == 6 {
                weird("ipv6.fragment_overlap")  // RFC 5722: drop the whole datagram
                return .dropDatagram
            }
            if differs { weird("ip.fragment_inconsistent_overlap") }
            if heldUnits == units { return .dropFragment }
            weird("ip.fragment_overlap")
        }
        entry.pieces += 1
        if entry.pieces > maxPieces {
            weird("ip.fragment_too_many_pieces")
            return .dropDatagram
        }
        if !more { entry.totalLength = end }
        if entry.payload.count < end {
            entry.payload.append(contentsOf: repeatElement(0, count: end - entry.payload.count))
        }
        let words = (endUnit + 63) / 64
        if entry.covered.count < words {
            entry.covered.append(contentsOf: repeatElement(0, count: words - entry.covered.count))
        }
        var added = 0
        entry.covered.withUnsafeMutableBufferPointer { covered in
            entry.payload.withUnsafeMutableBytes { payload in
                for unitIndex in firstUnit..<endUnit where !isSet(UnsafeBufferPointer(covered), unitIndex) {
                    covered[unitIndex >> 6] |= 1 << UInt64(unitIndex & 63)
                    added += 1
                    let start = unitIndex * unit
                    let stop = min(start + unit, end)
                    UnsafeMutableRawBufferPointer(rebasing: payload[start..<stop]).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: data[(start - offset)..<(stop - offset)]))
                }
            }
        }
        entry.coveredUnits += added
        return .keep
    }

    @inline(__always)
    private static func isSet(_ covered: UnsafeBufferPointer<UInt64>, _ unitIndex: Int) -> Bool {
        let word = unitIndex >> 6
        return word < covered.count && covered[word] & (1 << UInt64(unitIndex & 63)) != 0
    }

    /// Drops datagrams still incomplete after the timeout (all of them that started before `cutoff`).
    public mutating func expire(before cutoff: Double) {
        let stale = pending.filter { $0.value.firstSeen < cutoff }.map(\.key)
        for key in stale {
            if let dropped = pending.removeValue(forKey: key) { bufferedBytes -= dropped.cost }
        }
        expired += UInt64(stale.count)
        compactOrder()
    }

    /// Drops the oldest datagram in progress; false, dropping nothing, if that is the one with serial `protecting`
    /// (out of `pending` while a fragment is added to it) or none is left.
    private mutating func evictOldest(protecting: UInt64?, weird: (String) -> Void, name: String) -> Bool {
        while orderHead < order.count {
            let (key, serial) = order[orderHead]
            if serial == protecting { return false }
            orderHead += 1
            guard let entry = pending[key], entry.serial == serial else { continue }
            pending.removeValue(forKey: key)
            bufferedBytes -= entry.cost
            expired += 1
            weird(name)
            return true
        }
        return false
    }

    /// Drops the oldest datagrams until `bufferedBytes` fits; false if the one being added to is the oldest left.
    private mutating func makeRoom(protecting serial: UInt64, weird: (String) -> Void) -> Bool {
        while bufferedBytes > maxBufferedBytes {
            guard evictOldest(protecting: serial, weird: weird, name: "ip.fragment_memory_limit") else { return false }
        }
        return true
    }

    /// Keeps `order` proportional to the datagrams in progress: stale entries pile up behind a long-lived one.
    private mutating func compactOrder() {
        let live = order.count - orderHead
        if live > 2 * pending.count + 64 {
            order = order[orderHead...].filter { pending[$0.key]?.serial == $0.serial }
            orderHead = 0
        } else if orderHead > 1024 && orderHead * 2 > order.count {
            order.removeFirst(orderHead)
            orderHead = 0
        }
    }

    private static func buildDatagram(
        header: [UInt8], version: UInt8, proto: UInt8, payload: ArraySlice<UInt8>
    ) -> [UInt8]? {
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
        out.append(contentsOf: payload)
        return out
    }
}
