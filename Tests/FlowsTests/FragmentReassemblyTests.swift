import Flows
import Packets
import Testing

/// Runs raw-IP frames through the sensor's `PacketIntake` and keeps the bytes after the IP header of every datagram
/// the flow table receives, so a test can compare a reassembled payload byte for byte.
private final class FragmentHarness {
    let intake: PacketIntake
    /// The bytes after the IP header of each packet handed to the flow table.
    private(set) var datagrams: [[UInt8]] = []

    init(configure: (inout FragmentReassembler) -> Void = { _ in }) {
        intake = PacketIntake(table: FlowTable(config: FlowConfig(sensor: "fragments"), emit: { _ in }))
        configure(&intake.reassembler)
        intake.onAccepted = { [unowned self] packet, bytes in
            let start = packet.ipOffset + packet.ip.headerLength
            datagrams.append(Array(bytes[start..<(packet.ipOffset + packet.ip.totalLength)]))
        }
    }

    func feed(_ frame: [UInt8], at ts: Double = 1) {
        frame.withUnsafeBytes { bytes in
            intake.ingest(bytes, linkType: .raw, wireLength: bytes.count, timestamp: ts)
        }
    }

    var reassembler: FragmentReassembler { intake.reassembler }
    func weird(_ name: String) -> UInt64 { intake.table.weird[name] ?? 0 }
}

/// The duplicate/overlap policy and the bounds of `FragmentReassembler` (issue 12, finding 2: duplicate fragments
/// made the sensor's work quadratic).
@Suite("Fragment reassembly: policy and bounds")
struct FragmentReassemblyTests {
    /// A UDP datagram 1111 -> 2222 whose `count` payload bytes count up from `seed`: 8 + `count` bytes.
    static func udpDatagram(count: Int, seed: UInt8 = 0) -> [UInt8] {
        let length = 8 + count
        let header: [UInt8] = [0x04, 0x57, 0x08, 0xAE, UInt8(length >> 8), UInt8(length & 0xFF), 0x00, 0x00]
        return header + (0..<count).map { UInt8(truncatingIfNeeded: Int(seed) + $0) }
    }

    /// An IPv4 UDP fragment 127.0.0.1 -> 127.0.0.2 with identification `id`; `offset` in bytes (a multiple of 8).
    static func ipv4(_ data: [UInt8], offset: Int, more: Bool, id: UInt16 = 7) -> [UInt8] {
        let total = 20 + data.count
        let flagsAndOffset = UInt16(offset / 8) | (more ? 0x2000 : 0)
        return [
            0x45, 0x00, UInt8(total >> 8), UInt8(total & 0xFF), UInt8(id >> 8), UInt8(id & 0xFF),
            UInt8(flagsAndOffset >> 8), UInt8(flagsAndOffset & 0xFF), 0x40, 17, 0x00, 0x00, 127, 0, 0, 1, 127, 0, 0, 2,
        ] + data
    }

    /// An IPv6 UDP fragment ::1 -> ::2 with identification `id`; `offset` in bytes (a multiple of 8).
    static func ipv6(_ data: [UInt8], offset: Int, more: Bool, id: UInt8 = 9) -> [UInt8] {
        let offsetAndFlags = UInt16(offset) | (more ? 1 : 0)
        let body = [17, 0x00, UInt8(offsetAndFlags >> 8), UInt8(offsetAndFlags & 0xFF), 0, 0, 0, id] + data
        var header: [UInt8] = [0x60, 0x00, 0x00, 0x00, UInt8(body.count >> 8), UInt8(body.count & 0xFF), 44, 64]
        header += [UInt8](repeating: 0, count: 15) + [1] + [UInt8](repeating: 0, count: 15) + [2]
        return header + body
    }

    @Test("40,000 duplicates of one fragment, then the last one: one datagram, right bytes, duplicates counted")
    func duplicateFlood() {
        let datagram = Self.udpDatagram(count: 56)  // 64 bytes: two fragments of 32
        let harness = FragmentHarness()
        let first = Self.ipv4(Array(datagram[0..<32]), offset: 0, more: true)
        for _ in 0..<40_000 { harness.feed(first) }
        #expect(harness.reassembler.inProgress == 1)
        harness.feed(Self.ipv4(Array(datagram[32...]), offset: 32, more: false))
        #expect(harness.datagrams == [datagram])
        #expect(harness.reassembler.reassembled == 1)
        #expect(harness.weird("ip.fragment_duplicate") == 39_999)
        #expect(harness.reassembler.fragmentsSeen == 40_001)
        #expect(harness.reassembler.inProgress == 0)
        #expect(harness.reassembler.bufferedBytes == 0)
        // Duplicates of a finished datagram start a new one that never completes; they are not a second datagram.
        harness.feed(first)
        #expect(harness.reassembler.reassembled == 1)
    }

    @Test("a datagram sent out of order with every fragment repeated reassembles once, byte for byte")
    func repeatedOutOfOrder() {
        let datagram = Self.udpDatagram(count: 192, seed: 3)  // 200 bytes: 25 units of 8
        let harness = FragmentHarness()
        let pieces = stride(from: 0, to: 200, by: 40).map { start in
            Self.ipv4(Array(datagram[start..<min(start + 40, 200)]), offset: start, more: start + 40 < 200)
        }
        // Every piece but the first, backwards, then again in order, then the first, which completes the datagram.
        for piece in pieces.dropFirst().reversed() + pieces.dropFirst() + pieces.prefix(1) { harness.feed(piece) }
        #expect(harness.datagrams == [datagram])
        #expect(harness.weird("ip.fragment_duplicate") == 4)
        #expect(harness.weird("ip.fragment_overlap") == 0)
    }

    @Test("IPv4 overlap: the first bytes win, the new bytes are kept, overlap and differing content counted")
    func ipv4OverlapFirstWins() {
        let harness = FragmentHarness()
        let a = [UInt8](repeating: 0x41, count: 16)
        let b = [UInt8](repeating: 0x42, count: 16)
        let c = [UInt8](repeating: 0x43, count: 8)
        harness.feed(Self.ipv4(a, offset: 0, more: true))
        harness.feed(Self.ipv4(b, offset: 8, more: true))  // bytes 8..<16 held as "A": "B" ignored there
        harness.feed(Self.ipv4(c, offset: 24, more: false))
        #expect(harness.datagrams == [a + [UInt8](repeating: 0x42, count: 8) + c])
        #expect(harness.weird("ip.fragment_overlap") == 1)
        #expect(harness.weird("ip.fragment_inconsistent_overlap") == 1)
        #expect(harness.weird("ip.fragment_duplicate") == 0)
    }

    @Test("IPv4 overlap with the same bytes is counted as an overlap, not as differing content")
    func ipv4ConsistentOverlap() {
        let datagram = Self.udpDatagram(count: 40)  // 48 bytes
        let harness = FragmentHarness()
        harness.feed(Self.ipv4(Array(datagram[0..<24]), offset: 0, more: true))
        harness.feed(Self.ipv4(Array(datagram[16..<40]), offset: 16, more: true))
        harness.feed(Self.ipv4(Array(datagram[40...]), offset: 40, more: false))
        #expect(harness.datagrams == [datagram])
        #expect(harness.weird("ip.fragment_overlap") == 1)
        #expect(harness.weird("ip.fragment_inconsistent_overlap") == 0)
    }

    @Test("IPv4: a fragment covering only held bytes with other content is dropped; the first copy stays")
    func ipv4FullOverlapDiffering() {
        let datagram = Self.udpDatagram(count: 24)  // 32 bytes
        let harness = FragmentHarness()
        harness.feed(Self.ipv4(Array(datagram[0..<16]), offset: 0, more: true))
        harness.feed(Self.ipv4([UInt8](repeating: 0xEE, count: 16), offset: 0, more: true))
        harness.feed(Self.ipv4(Array(datagram[16...]), offset: 16, more: false))
        #expect(harness.datagrams == [datagram])
        #expect(harness.weird("ip.fragment_inconsistent_overlap") == 1)
        #expect(harness.weird("ip.fragment_duplicate") == 0)
        #expect(harness.weird("ip.fragment_overlap") == 0)
    }

    @Test("IPv6: an overlap drops the whole datagram (RFC 5722); exact duplicates are only dropped themselves")
    func ipv6Overlap() {
        let datagram = Self.udpDatagram(count: 40)  // 48 bytes
        let harness = FragmentHarness()
        harness.feed(Self.ipv6(Array(datagram[0..<24]), offset: 0, more: true))
        harness.feed(Self.ipv6(Array(datagram[16..<32]), offset: 16, more: true))
        #expect(harness.weird("ipv6.fragment_overlap") == 1)
        #expect(harness.reassembler.expired == 1)
        #expect(harness.reassembler.inProgress == 0)
        harness.feed(Self.ipv6(Array(datagram[32...]), offset: 32, more: false))
        #expect(harness.datagrams.isEmpty, "the rest of a dropped datagram must not complete it")

        let other = FragmentHarness()
        let first = Self.ipv6(Array(datagram[0..<24]), offset: 0, more: true, id: 10)
        other.feed(first)
        other.feed(first)
        other.feed(Self.ipv6(Array(datagram[24...]), offset: 24, more: false, id: 10))
        #expect(other.datagrams == [datagram])
        #expect(other.weird("ip.fragment_duplicate") == 1)
        #expect(other.weird("ipv6.fragment_overlap") == 0)
    }

    @Test("a second last fragment with another end, or data past the end, is dropped; the first end stands")
    func inconsistentEnd() {
        let datagram = Self.udpDatagram(count: 24)  // 32 bytes
        let harness = FragmentHarness()
        harness.feed(Self.ipv4(Array(datagram[16...]), offset: 16, more: false))
        harness.feed(Self.ipv4([UInt8](repeating: 0, count: 8), offset: 32, more: false))
        harness.feed(Self.ipv4([UInt8](repeating: 0, count: 16), offset: 24, more: true))
        harness.feed(Self.ipv4(Array(datagram[0..<16]), offset: 0, more: true))
        #expect(harness.datagrams == [datagram])
        #expect(harness.weird("ip.fragment_inconsistent_end") == 2)
    }

    @Test("a fragment other than the last whose length is not a multiple of 8 is dropped and counted")
    func badLength() {
        let harness = FragmentHarness()
        harness.feed(Self.ipv4([UInt8](repeating: 1, count: 12), offset: 0, more: true))
        #expect(harness.weird("ip.fragment_bad_length") == 1)
        #expect(harness.reassembler.inProgress == 0)
    }

    @Test("more fragments per datagram than the cap drop it, counted")
    func piecesCap() {
        let harness = FragmentHarness { $0.maxPiecesPerDatagram = 4 }
        for piece in 0..<4 {
            harness.feed(Self.ipv4([UInt8](repeating: 1, count: 8), offset: piece * 8, more: true))
        }
        #expect(harness.reassembler.inProgress == 1)
        // Duplicates add no bytes, so they do not count towards the cap.
        harness.feed(Self.ipv4([UInt8](repeating: 1, count: 8), offset: 0, more: true))
        #expect(harness.reassembler.inProgress == 1)
        harness.feed(Self.ipv4([UInt8](repeating: 1, count: 8), offset: 32, more: false))
        #expect(harness.weird("ip.fragment_too_many_pieces") == 1)
        #expect(harness.reassembler.inProgress == 0)
        #expect(harness.reassembler.expired == 1)
        #expect(harness.reassembler.bufferedBytes == 0)
        #expect(harness.datagrams.isEmpty)
    }

    @Test("bytes held over all datagrams stay under the cap: the oldest datagrams go first, counted")
    func bufferedBytesCap() {
        let harness = FragmentHarness { $0.maxBufferedBytes = 4_000 }
        let piece = [UInt8](repeating: 7, count: 1_024)
        for id in UInt16(1)...5 { harness.feed(Self.ipv4(piece, offset: 0, more: true, id: id)) }
        #expect(harness.reassembler.bufferedBytes <= 4_000)
        #expect(harness.reassembler.inProgress == 3)
        #expect(harness.weird("ip.fragment_memory_limit") == 2)
        #expect(harness.reassembler.expired == 2)
        // The oldest (1) was dropped: its last fragment starts a datagram that lacks its head; the newest completes.
        harness.feed(Self.ipv4([1, 2, 3, 4], offset: 1_024, more: false, id: 1))
        harness.feed(Self.ipv4([1, 2, 3, 4], offset: 1_024, more: false, id: 5))
        #expect(harness.datagrams == [piece + [1, 2, 3, 4]])
        #expect(harness.reassembler.bufferedBytes <= 4_000)

        // A datagram that cannot fit even alone is dropped itself.
        let tiny = FragmentHarness { $0.maxBufferedBytes = 500 }
        tiny.feed(Self.ipv4(piece, offset: 0, more: true))
        #expect(tiny.reassembler.inProgress == 0)
        #expect(tiny.reassembler.bufferedBytes == 0)
        #expect(tiny.weird("ip.fragment_memory_limit") == 1)
    }

    @Test("more datagrams in progress than the cap drop the oldest, counted")
    func datagramCap() {
        let harness = FragmentHarness { $0.maxDatagrams = 2 }
        for id in UInt16(1)...3 { harness.feed(Self.ipv4([1, 1, 1, 1, 1, 1, 1, 1], offset: 0, more: true, id: id)) }
        #expect(harness.reassembler.inProgress == 2)
        #expect(harness.weird("ip.fragment_datagram_limit") == 1)
        harness.feed(Self.ipv4([2], offset: 8, more: false, id: 2))
        harness.feed(Self.ipv4([3], offset: 8, more: false, id: 3))
        #expect(harness.datagrams.count == 2)
    }

    @Test("datagrams unfinished after the timeout are dropped and their bytes released")
    func timeout() {
        let harness = FragmentHarness()
        harness.feed(Self.ipv4([UInt8](repeating: 1, count: 64), offset: 0, more: true), at: 1)
        #expect(harness.reassembler.bufferedBytes > 64)
        harness.feed(Self.ipv4([2], offset: 64, more: false, id: 8), at: 70)
        #expect(harness.reassembler.expired == 1)
        #expect(harness.reassembler.inProgress == 1)
    }

    /// A reference model of the policy: bytes of the first fragment to cover them win; the datagram completes
    /// when every byte up to the first last fragment's end is covered.
    @Test("random IPv4 fragment sequences with overlaps and duplicates reassemble as the first-wins model says")
    func randomAgainstModel() {
        var rng = SplitMix64(state: 12)
        for round in 0..<300 {
            let units = Int(rng.next() % 12) + 2
            let total = (units - 1) * 8 + Int(rng.next() % 8) + 1
            var model = [UInt8?](repeating: nil, count: total)
            var modelEnd: Int?
            let harness = FragmentHarness()
            var done = false
            for _ in 0..<Int(rng.next() % 24) + 1 where !done {
                let start = Int(rng.next() % UInt64(units)) * 8
                let last = start > 0 && (rng.next() % 4 == 0 || start + 8 >= total)  // offset 0 without MF: no fragment
                let end =
                    last ? total : min(total - (total % 8 == 0 ? 8 : total % 8), start + 8 * Int(rng.next() % 4 + 1))
                guard start < end else { continue }
                let fill = UInt8(truncatingIfNeeded: rng.next())
                let data = (start..<end).map { UInt8(truncatingIfNeeded: $0) &+ fill }
                harness.feed(Self.ipv4(data, offset: start, more: !last, id: UInt16(round)))
                if modelEnd == nil && last { modelEnd = total }
                for i in start..<end where model[i] == nil { model[i] = data[i - start] }
                if modelEnd != nil && model.allSatisfy({ $0 != nil }) { done = true }
            }
            if done {
                #expect(harness.datagrams == [model.map { $0 ?? 0 }], "round \(round)")
            } else {
                #expect(harness.datagrams.isEmpty, "round \(round)")
            }
        }
    }
}
