import Flows
import Foundation
import Packets
import TestSupport
import Testing

// Bad input never traps. Every packet of several fixture captures, every prefix of it and seeded mutations of it
// (bit flips, corrupted length fields, truncation, inserted and deleted bytes), and random byte strings for every link
// type, go through the sensor's own per-packet path (Sources/Flows/PacketIntake.swift: decode -> fragment reassembly ->
// flow table) with one flow table per capture, so later packets meet the state that earlier ones left. Reaching the
// end of a test is the "no trap" assertion; the counters must also add up: every packet the flow table accepted is
// counted in exactly one final flow record, and every flow created ends in exactly one final record.
// The same chain, run by libFuzzer with coverage feedback, is FuzzTesting/Sources/FuzzPackets/main.swift.

/// One packet of a capture file: packet time, the captured bytes and the length it had on the wire.
private struct CapturedFrame {
    var timestamp: Double
    var bytes: [UInt8]
    var wireLength: Int
}

/// A classic pcap file (micro- or nanosecond, either byte order), read without the Capture module or libpcap.
private struct ClassicPcap {
    var linkType: LinkType
    var frames: [CapturedFrame]

    /// Reads a fixture; nil when the file is not a classic pcap with a link type the decoder knows.
    init?(bytes: [UInt8]) {
        guard bytes.count >= 24 else { return nil }
        func u32(_ at: Int, littleEndian: Bool) -> UInt32 {
            let value =
                UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16
                | UInt32(bytes[at + 3]) << 24
            return littleEndian ? value : value.byteSwapped
        }
        let magic = u32(0, littleEndian: true)
        let littleEndian: Bool
        let nanoseconds: Bool
        switch magic {
        case 0xA1B2_C3D4: (littleEndian, nanoseconds) = (true, false)
        case 0xA1B2_3C4D: (littleEndian, nanoseconds) = (true, true)
        case 0xD4C3_B2A1: (littleEndian, nanoseconds) = (false, false)
        case 0x4D3C_B2A1: (littleEndian, nanoseconds) = (false, true)
        default: return nil
        }
        guard let linkType = LinkType(rawValue: Int32(u32(20, littleEndian: littleEndian) & 0x0FFF_FFFF)) else {
            return nil
        }
        self.linkType = linkType
        frames = []
        var offset = 24
        while bytes.count - offset >= 16 {
            let seconds = Double(u32(offset, littleEndian: littleEndian))
            let fraction = Double(u32(offset + 4, littleEndian: littleEndian)) / (nanoseconds ? 1e9 : 1e6)
            let captured = Int(u32(offset + 8, littleEndian: littleEndian))
            let wire = Int(u32(offset + 12, littleEndian: littleEndian))
            offset += 16
            guard bytes.count - offset >= captured else { break }  // a record cut short ends the file
            frames.append(
                CapturedFrame(
                    timestamp: seconds + fraction, bytes: Array(bytes[offset..<(offset + captured)]),
                    wireLength: max(wire, captured)))
            offset += captured
        }
    }

    static func fixture(_ name: String) throws -> ClassicPcap {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent(name)
        let data = try Data(contentsOf: url)
        return try #require(ClassicPcap(bytes: Array(data)), "\(name) is not a classic pcap with a known link type")
    }
}

/// What the flow table emitted, checked against what it was fed.
private final class RecordTally {
    var packetsAccepted: UInt64 = 0
    var packetsInFinalRecords: UInt64 = 0
    var finalFlowRecords: UInt64 = 0
    var duplicateFinalUIDs: [String] = []
    var finalFlows: [FlowRecord] = []
    var badJSONLines: [String] = []
    var recordsByType: [String: Int] = [:]
    private var finishedUIDs: Set<String> = []

    func add(_ record: Record) {
        recordsByType[record.typeName, default: 0] += 1
        let line = record.jsonLine
        if !(line.hasPrefix("{") && line.hasSuffix("}")) { badJSONLines.append(line) }
        guard case .flow(let flow) = record, flow.final else { return }
        if !finishedUIDs.insert(flow.uid).inserted { duplicateFinalUIDs.append(flow.uid) }
        finalFlowRecords += 1
        packetsInFinalRecords += flow.origPackets + flow.respPackets
        finalFlows.append(flow)
    }
}

/// decode -> fragment reassembly -> flow table through the sensor's own `PacketIntake`, plus the application-layer
/// parsers fed directly with each decoded payload.
private final class PacketChain {
    let tally = RecordTally()
    /// The sensor's own per-packet path (decode, wire-length check, reassembly, flow table).
    let intake: PacketIntake
    var table: FlowTable { intake.table }
    var reassembler: FragmentReassembler { intake.reassembler }
    var decodeErrors: Int { Int(intake.decodeErrors) }
    /// Packets that decoded to an IP header (directly or after reassembly).
    private(set) var decoded = 0
    /// Decoded packets whose offsets point outside their buffer or whose lengths disagree.
    private(set) var badOffsets: [String] = []

    init() {
        var config = FlowConfig(sensor: "robustness")
        config.uidSeed = 7
        config.maxFlows = 64  // small, so that eviction runs too
        config.maxPendingDNSQueries = 4
        let tally = self.tally
        intake = PacketIntake(table: FlowTable(config: config, emit: { tally.add($0) }))
        intake.reassembler.maxDatagrams = 8
        intake.onDecoded = { [unowned self] packet, bytes in
            decoded += 1
            check(packet, in: bytes)
        }
        intake.onAccepted = { [unowned self] packet, bytes in accepted(packet, bytes: bytes) }
    }

    /// `wireLength` is the frame's length on the wire; more than `frame.count` when a snaplen cut the capture.
    func handle(_ frame: [UInt8], linkType: LinkType, timestamp ts: Double, wireLength: Int? = nil) {
        frame.withUnsafeBytes { bytes in
            intake.ingest(bytes, linkType: linkType, wireLength: max(wireLength ?? 0, bytes.count), timestamp: ts)
        }
    }

    private func accepted(_ packet: DecodedPacket, bytes: UnsafeRawBufferPointer) {
        tally.packetsAccepted += 1
        guard packet.payloadLength > 0, packet.payloadOffset <= bytes.count,
            packet.payloadLength <= bytes.count - packet.payloadOffset
        else { return }
        let payloadEnd = packet.payloadOffset + packet.payloadLength
        feedParsers(UnsafeRawBufferPointer(rebasing: bytes[packet.payloadOffset..<payloadEnd]))
    }

    /// The flow table slices `bytes` with these offsets, so they must lie inside it.
    private func check(_ packet: DecodedPacket, in bytes: UnsafeRawBufferPointer) {
        let ok = packet.offsetsFit(bufferCount: bytes.count)
        if !ok { badOffsets.append("\(bytes.count) bytes: \(packet)") }
    }

    func flushAll() { table.flushAll() }
}

/// Feeds bytes to every application-layer parser, whole and in two segments, in both directions.
private func feedParsers(_ payload: UnsafeRawBufferPointer) {
    let half = payload.count / 2
    let head = UnsafeRawBufferPointer(rebasing: payload[0..<half])
    let tail = UnsafeRawBufferPointer(rebasing: payload[half...])
    _ = try? DNSMessage(parsing: payload)
    var framer = DNSTCPFramer()
    for message in framer.feed(head) + framer.feed(tail) {
        _ = message.withUnsafeBytes { try? DNSMessage(parsing: $0) }
    }
    var http = HTTPConnectionParser()
    _ = http.feed(head, from: .originator)
    _ = http.feed(tail, from: .originator)
    _ = http.feed(payload, from: .responder)
    _ = http.finish()
    var scanner = TLSStreamScanner()
    var result = scanner.feed(head)
    if result == .needMore { result = scanner.feed(tail) }
    switch result {
    case .clientHello(let hello):
        _ = hello.ja3
        _ = hello.ja4(transport: .tcp)
    case .serverHello(let hello):
        _ = hello.ja3s
    case .needMore, .notTLS:
        break
    }
}

/// Seeded corruptions of one frame.
private enum Mutator {
    /// Interesting values for a 16-bit length field: empty, tiny, off by one either way, the sign bit, all ones.
    static func lengthValues(around value: Int) -> [UInt16] {
        [
            0, 1, 2, 4, 7, 8, 12, 19, 20, 39, 40, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF,
            UInt16(truncatingIfNeeded: value - 1), UInt16(truncatingIfNeeded: value + 1),
            UInt16(truncatingIfNeeded: value * 2), UInt16(truncatingIfNeeded: value / 2),
        ]
    }

    /// Offsets of the length-like fields of a decoded frame: IP header length and total/payload length, the TCP data
    /// offset, the UDP length, DNS section counts and the first bytes of the payload (TLS record and handshake
    /// lengths, a DNS-over-TCP length prefix).
    static func lengthFields(of frame: [UInt8], linkType: LinkType) -> [Int] {
        frame.withUnsafeBytes { bytes -> [Int] in
            guard let packet = try? PacketDecoder.decode(bytes, linkType: linkType) else { return [] }
            let ip = packet.ipOffset
            var fields = packet.ip.version == 4 ? [ip + 2] : [ip + 4]
            let transport = ip + packet.ip.headerLength
            switch packet.transport {
            case .tcp: fields.append(transport + 12)
            case .udp: fields.append(transport + 4)
            default: break
            }
            let payload = packet.payloadOffset
            fields += [payload, payload + 3, payload + 4, payload + 6, payload + 8, payload + 10, payload + 12]
            return fields.filter { $0 + 1 < frame.count }
        }
    }

    static func mutate(_ frame: [UInt8], lengthFields: [Int], using rng: inout SplitMix64) -> [UInt8] {
        var out = frame
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            switch Int.random(in: 0..<6, using: &rng) {
            case 0 where !out.isEmpty:  // flip a few bits
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let index = Int.random(in: 0..<out.count, using: &rng)
                    out[index] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
                }
            case 1 where !out.isEmpty:  // overwrite a byte
                out[Int.random(in: 0..<out.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            case 2:  // corrupt a length field (also the IHL / data-offset nibble when it lands there)
                let candidates = lengthFields.filter { $0 + 1 < out.count }
                guard let at = candidates.randomElement(using: &rng) else { continue }
                let old = Int(out[at]) << 8 | Int(out[at + 1])
                let value = lengthValues(around: old).randomElement(using: &rng) ?? 0
                out[at] = UInt8(value >> 8)
                out[at + 1] = UInt8(value & 0xFF)
            case 3 where !out.isEmpty:  // truncate
                out.removeLast(Int.random(in: 1...out.count, using: &rng))
            case 4:  // insert bytes
                let at = Int.random(in: 0...out.count, using: &rng)
                let count = Int.random(in: 1...8, using: &rng)
                out.insert(contentsOf: (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
            case 5 where !out.isEmpty:  // delete bytes
                let at = Int.random(in: 0..<out.count, using: &rng)
                out.removeSubrange(at..<min(out.count, at + Int.random(in: 1...8, using: &rng)))
            default:
                continue
            }
        }
        return out
    }
}

/// The input format of the FuzzPackets target (FuzzTesting/README.md): a selector byte whose low 6 bits pick the
/// link type, bit 0x40 says a snaplen cut the frames, and bit 0x80 says a sequence of frames follows, each behind a
/// 2-byte big-endian length, instead of one frame.
private enum FuzzInput {
    /// One input taken apart.
    struct Split {
        var linkType: LinkType
        var frames: [[UInt8]]
        var snaplenCut: Bool
        var isSequence: Bool
    }

    static func split(_ input: [UInt8]) -> Split? {
        guard let selector = input.first else { return nil }
        let linkType = LinkType.allCases[Int(selector & 0x3F) % LinkType.allCases.count]
        let rest = Array(input.dropFirst())
        let snaplenCut = selector & 0x40 != 0
        guard selector & 0x80 != 0 else {
            return Split(linkType: linkType, frames: [rest], snaplenCut: snaplenCut, isSequence: false)
        }
        var frames: [[UInt8]] = []
        var offset = 0
        while offset < rest.count {
            let length = rest.count - offset >= 2 ? Int(rest[offset]) << 8 | Int(rest[offset + 1]) : 0
            let start = min(offset + 2, rest.count)
            let end = start + min(length, rest.count - start)
            frames.append(Array(rest[start..<end]))
            offset = end
        }
        return Split(linkType: linkType, frames: frames, snaplenCut: snaplenCut, isSequence: true)
    }
}

/// Seeded mutations per fixture packet.
private let mutationsPerPacket = 64

/// Fixture packets, their prefixes and mutants, random frames and the fuzzer's committed inputs through the chain.
@Suite("Robustness: bad input never traps, counters stay consistent")
struct RobustnessTests {
    /// The record type each fixture's application traffic must still produce amid its broken copies.
    static let applicationRecords = ["http.pcap": "http", "dns.pcap": "dns", "tls.pcap": "tls", "sll.pcap": "dns"]

    @Test(
        "fixture packets, their prefixes and seeded mutations",
        arguments: [
            "http.pcap", "dns.pcap", "tls.pcap", "fragments.pcap", "malformed.pcap", "ipv6-tcp.pcap", "icmp.pcap",
            "udp-unreach.pcap", "qinq.pcap", "sll.pcap", "sll2.pcap", "null.pcap", "rawip.pcap", "http-snap96.pcap",
        ])
    func fixtureMutations(fixture: String) throws {
        let capture = try ClassicPcap.fixture(fixture)
        #expect(!capture.frames.isEmpty)
        let chain = PacketChain()
        var rng = SplitMix64(state: UInt64(truncatingIfNeeded: fixture.utf8.reduce(5381) { $0 &* 33 &+ Int($1) }))
        for frame in capture.frames {
            // The packet itself first, so that the flow exists when its prefixes and mutants arrive.
            chain.handle(
                frame.bytes, linkType: capture.linkType, timestamp: frame.timestamp, wireLength: frame.wireLength)
            // Each prefix as a snaplen would cut it: the wire length stays the packet's.
            for length in 0..<frame.bytes.count {
                chain.handle(
                    Array(frame.bytes[0..<length]), linkType: capture.linkType, timestamp: frame.timestamp,
                    wireLength: frame.wireLength)
            }
            let fields = Mutator.lengthFields(of: frame.bytes, linkType: capture.linkType)
            for _ in 0..<mutationsPerPacket {
                let mutant = Mutator.mutate(frame.bytes, lengthFields: fields, using: &rng)
                chain.handle(mutant, linkType: capture.linkType, timestamp: frame.timestamp)
            }
        }
        chain.flushAll()
        expectConsistent(chain, context: fixture)
        // Not vacuous: whole packets reached the flow table and broken ones reached the error paths.
        #expect(chain.decoded >= capture.frames.count)
        #expect(chain.decodeErrors > 0)
        #expect(chain.tally.finalFlowRecords > 0)
        if let type = Self.applicationRecords[fixture] {
            #expect(chain.tally.recordsByType[type, default: 0] > 0, "\(fixture): no \(type) record")
        }
    }

    @Test("random byte strings for every link type", arguments: LinkType.allCases)
    func randomFrames(linkType: LinkType) {
        let chain = PacketChain()
        var rng = SplitMix64(state: UInt64(linkType.rawValue) &+ 0x5EED)
        var ts = 1_700_000_000.0
        for index in 0..<10_000 {
            var frame = (0..<Int.random(in: 0..<160, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Half of them get a plausible link header, IP version and length, so that they get past the first checks;
            // half of those claim a snaplen cut them (so a larger IP length is believed, not dropped).
            if index % 2 == 1 { frame = Self.plausible(frame, linkType: linkType, using: &rng) }
            ts += Double.random(in: 0..<0.5, using: &rng)  // a few idle timeouts and series intervals pass
            chain.handle(frame, linkType: linkType, timestamp: ts, wireLength: index % 4 == 3 ? Int.max : nil)
        }
        chain.flushAll()
        expectConsistent(chain, context: linkType.name)
        #expect(chain.decodeErrors > 0)
        #expect(chain.decoded > 0, "no random frame of \(linkType) got as far as an IP header")
    }

    /// The fuzzer's committed inputs: its seeds, and the crashers it found (each one kept as a regression case: add
    /// the file to FuzzTesting/FailCases and it is replayed here, in the normal `swift test`, without libFuzzer).
    @Test("FuzzTesting/Corpus and FuzzTesting/FailCases replay through the chain")
    func fuzzInputs() throws {
        let fuzzTesting = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("FuzzTesting")
        var files: [URL] = []
        for directory in ["Corpus", "FailCases"] {
            let url = fuzzTesting.appendingPathComponent(directory)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            files += try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
                .filter { !$0.lastPathComponent.hasPrefix(".") }
                .sorted { $0.lastPathComponent < $1.lastPathComponent }
        }
        #expect(files.count >= 100, "the seed corpus is missing; run FuzzTesting/make-corpus.py")
        let chain = PacketChain()
        var ts = 1_700_000_000.0
        var sequences = 0
        for file in files {
            let input = Array(try Data(contentsOf: file))
            guard let split = FuzzInput.split(input) else { continue }
            if split.isSequence { sequences += 1 }
            for frame in split.frames {
                ts += 0.01
                let wireLength = split.snaplenCut ? Int.max : nil
                chain.handle(frame, linkType: split.linkType, timestamp: ts, wireLength: wireLength)
            }
        }
        chain.flushAll()
        expectConsistent(chain, context: "fuzz inputs")
        #expect(sequences > 0)
        #expect(chain.reassembler.reassembled > 0, "the fragment sequences of the corpus no longer reassemble")
    }

    /// Prepends a link header that leads to IP, and sets the IP version nibble, the protocol and (mostly) a length
    /// that matches the bytes.
    private static func plausible(_ frame: [UInt8], linkType: LinkType, using rng: inout SplitMix64) -> [UInt8] {
        let v6 = Bool.random(using: &rng)
        let etherType: [UInt8] = v6 ? [0x86, 0xDD] : [0x08, 0x00]
        let header: [UInt8]
        switch linkType {
        case .ethernet: header = [UInt8](repeating: 0, count: 12) + etherType
        case .linuxSLL: header = [UInt8](repeating: 0, count: 14) + etherType
        case .linuxSLL2: header = etherType + [UInt8](repeating: 0, count: 18)
        case .null: header = v6 ? [10, 0, 0, 0] : [2, 0, 0, 0]
        case .loop: header = v6 ? [0, 0, 0, 24] : [0, 0, 0, 2]
        case .raw, .rawDLT12, .rawDLT14, .ipv4, .ipv6: header = []
        }
        var ip = frame
        if ip.isEmpty { ip = [0] }
        ip[0] = v6 ? 0x60 | (ip[0] & 0x0F) : 0x45
        let matchingLength = Int.random(in: 0..<4, using: &rng) > 0
        if !v6 && ip.count > 9 {
            ip[9] = [1, 6, 17, 58].randomElement(using: &rng) ?? 6
            if matchingLength {
                ip[2] = UInt8(ip.count >> 8)
                ip[3] = UInt8(ip.count & 0xFF)
                ip[6] = 0x40  // DF, not a fragment (the other quarter keeps random flags and offsets)
                ip[7] = 0
            }
        }
        if v6 && ip.count > 6 {
            ip[6] = [0, 6, 17, 44, 58, 60].randomElement(using: &rng) ?? 6
            if matchingLength && ip.count >= 40 {
                ip[4] = UInt8((ip.count - 40) >> 8)
                ip[5] = UInt8((ip.count - 40) & 0xFF)
            }
        }
        return header + ip
    }
}

/// After `flushAll`: no flow is left, each accepted packet is in exactly one final flow record, each flow created has
/// exactly one final record, every record renders as a JSON object, and decoded offsets stayed inside their buffers.
private func expectConsistent(_ chain: PacketChain, context: String) {
    let tally = chain.tally
    #expect(chain.table.count == 0, "\(context): flows left after flushAll")
    #expect(tally.packetsAccepted > 0, "\(context): no packet reached the flow table")
    #expect(
        tally.packetsInFinalRecords == tally.packetsAccepted,
        "\(context): orig_pkts + resp_pkts over final flow records differs from the packets accepted")
    #expect(tally.finalFlowRecords == chain.table.flowsCreated, "\(context): final flow records vs flows created")
    let duplicates = tally.duplicateFinalUIDs.prefix(5)
    #expect(tally.duplicateFinalUIDs.isEmpty, "\(context): uids with two final records: \(duplicates)")
    #expect(tally.badJSONLines.isEmpty, "\(context): records that do not render as one JSON object")
    #expect(chain.badOffsets.isEmpty, "\(context): decoded offsets outside the buffer: \(chain.badOffsets.prefix(3))")
}

/// Fragmented datagrams built so that the whole connection depends on reassembly: a sender chooses its fragmentation,
/// so both are evasions (RFC 1858 §3, RFC 8200 §4.5) if the decoder drops the fragments. Found while writing these
/// tests: the decoder parsed the transport header of a first fragment (throwing `tcp.truncated` on a tiny one) and
/// walked IPv6 extension headers past the Fragment header into fragment data (`ipv6.truncated`); both were fixed
/// in 40598d2 ("fragments decoded only after reassembly; IPv6 walk stops at the fragment header").
@Suite("Robustness: crafted fragmentation")
struct CraftedFragmentationTests {
    /// A TCP SYN 1234 -> 80 without options (20 bytes).
    static let tcpSYN: [UInt8] = [
        0x04, 0xD2, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xFF, 0xFF,
        0x00, 0x00, 0x00, 0x00,
    ]

    /// An IPv4 fragment 127.0.0.1 -> 127.0.0.2, TCP, id 77; `offset` in bytes (a multiple of 8).
    static func ipv4Fragment(_ payload: [UInt8], offset: Int, more: Bool) -> [UInt8] {
        let total = 20 + payload.count
        let flagsAndOffset = UInt16(offset / 8) | (more ? 0x2000 : 0)
        return [
            0x45, 0x00, UInt8(total >> 8), UInt8(total & 0xFF), 0x00, 0x4D, UInt8(flagsAndOffset >> 8),
            UInt8(flagsAndOffset & 0xFF), 0x40, 0x06, 0x00, 0x00, 127, 0, 0, 1, 127, 0, 0, 2,
        ] + payload
    }

    /// An IPv6 fragment ::1 -> ::2 whose Fragment header (id 99) says the fragmentable part starts with `next`;
    /// `offset` in bytes (a multiple of 8, so it is already the 13-bit field shifted left by 3).
    static func ipv6Fragment(_ payload: [UInt8], next: UInt8, offset: Int, more: Bool) -> [UInt8] {
        let offsetAndFlags = UInt16(offset) | (more ? 1 : 0)
        let fragmentHeader: [UInt8] = [
            next, 0x00, UInt8(offsetAndFlags >> 8), UInt8(offsetAndFlags & 0xFF), 0x00, 0x00, 0x00, 0x63,
        ]
        let body = fragmentHeader + payload
        var header: [UInt8] = [0x60, 0x00, 0x00, 0x00, UInt8(body.count >> 8), UInt8(body.count & 0xFF), 44, 64]
        header += [UInt8](repeating: 0, count: 15) + [1] + [UInt8](repeating: 0, count: 15) + [2]
        return header + body
    }

    /// The one flow both fragments make: a TCP SYN to port 80 carrying `dataBytes`, one packet from the originator.
    private func expectOneSYNFlow(_ chain: PacketChain, dataBytes: UInt64) {
        #expect(chain.reassembler.reassembled == 1)
        #expect(chain.decodeErrors == 0)
        #expect(chain.table.flowsCreated == 1)
        #expect(chain.tally.finalFlows.count == 1)
        if let flow = chain.tally.finalFlows.first {
            #expect(flow.proto == IPProtocol.tcp)
            #expect(flow.id.origPort == 1234 && flow.id.respPort == 80)
            #expect(flow.history == (dataBytes > 0 ? "SD" : "S"))
            #expect(flow.origPackets == 1 && flow.respPackets == 0)
            #expect(flow.origBytes == dataBytes)
        }
    }

    /// RFC 1858 "tiny fragment": the first fragment holds only 8 of the 20 TCP header bytes.
    @Test("a first fragment shorter than its TCP header still reassembles into a flow")
    func tinyFirstFragment() {
        let chain = PacketChain()
        let first = Self.ipv4Fragment(Array(Self.tcpSYN[0..<8]), offset: 0, more: true)
        let second = Self.ipv4Fragment(Array(Self.tcpSYN[8...]), offset: 8, more: false)
        chain.handle(first, linkType: .raw, timestamp: 1)
        chain.handle(second, linkType: .raw, timestamp: 1.1)
        chain.flushAll()
        expectOneSYNFlow(chain, dataBytes: 0)
        #expect(chain.table.weird["tcp.truncated"] == nil)
    }

    /// RFC 8200 §4.5: a Destination Options header opens the fragmentable part, after the Fragment header; in the
    /// second fragment the bytes after the Fragment header are data (here "AAAA…", which read as a header is 528
    /// bytes long).
    @Test("an IPv6 datagram with Destination Options after the Fragment header reassembles into a flow")
    func ipv6OptionsAfterFragmentHeader() {
        let destinationOptions: [UInt8] = [0x06, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00]  // next TCP, PadN
        let fragmentable = destinationOptions + Self.tcpSYN + [UInt8](repeating: 0x41, count: 20)  // 48 bytes
        let chain = PacketChain()
        let first = Self.ipv6Fragment(Array(fragmentable[0..<32]), next: 60, offset: 0, more: true)
        let second = Self.ipv6Fragment(Array(fragmentable[32...]), next: 60, offset: 32, more: false)
        chain.handle(first, linkType: .raw, timestamp: 1)
        chain.handle(second, linkType: .raw, timestamp: 1.1)
        chain.flushAll()
        expectOneSYNFlow(chain, dataBytes: 20)
    }

    /// Fragments with the whole TCP header in the first one, for IPv4 and IPv6: the baseline the cases above extend.
    @Test("fragments with the transport header in the first one reassemble")
    func plainFragments() {
        let payload = Self.tcpSYN + [UInt8](repeating: 0x41, count: 12)  // 32 bytes
        let chain = PacketChain()
        chain.handle(Self.ipv4Fragment(Array(payload[0..<24]), offset: 0, more: true), linkType: .raw, timestamp: 1)
        chain.handle(Self.ipv4Fragment(Array(payload[24...]), offset: 24, more: false), linkType: .raw, timestamp: 1.1)
        let v6 = Self.tcpSYN + [UInt8](repeating: 0x42, count: 12)
        chain.handle(Self.ipv6Fragment(Array(v6[0..<24]), next: 6, offset: 0, more: true), linkType: .raw, timestamp: 2)
        chain.handle(
            Self.ipv6Fragment(Array(v6[24...]), next: 6, offset: 24, more: false), linkType: .raw, timestamp: 2.1)
        chain.flushAll()
        #expect(chain.reassembler.reassembled == 2)
        #expect(chain.table.flowsCreated == 2)
        #expect(chain.decodeErrors == 0)
        #expect(chain.tally.packetsAccepted == 2)
        #expect(chain.tally.packetsInFinalRecords == 2)
        #expect(chain.tally.finalFlows.map(\.origBytes).sorted() == [12, 12])
    }
}
