// libFuzzer target for the sensor's packet path.
//
// One input is one captured frame: byte 0 selects the link type (`LinkType.allCases[(byte & 0x3F) % count]`), the
// rest is the frame. With the selector's top bit (0x80) set, the rest is instead a sequence of frames, each preceded
// by its length (2 bytes, big-endian; the last one may be cut): fragments of one datagram, a TCP handshake then a TLS
// ServerHello, a DNS query then its response: state that single frames in random order rarely build. Bit 0x40 says
// the frames were cut by a snaplen (the wire length is unknown, so larger IP lengths are believed); without it the
// wire length is the frame's length and an IP length beyond it is dropped, as the pipeline does.
// Each frame goes through `PacketIntake.ingest` (Sources/Flows/PacketIntake.swift), the same per-packet path the
// sensor pipeline runs: `PacketDecoder.decode` -> wire-length check -> `FragmentReassembler.add` for fragments
// (the whole datagram decoded again with `decodeIP`) -> `FlowTable.process`.
// The flow table and the reassembler persist across inputs, so bugs that need
// state built by earlier packets (a TCP stream, an HTTP parser mid-message, half a fragmented datagram) are reachable;
// every `flushInterval` inputs everything is flushed and the counters are checked. Each frame, and each decoded
// transport payload, is also fed straight to the application-layer parsers, which the flow table reaches only behind
// the right ports and first bytes.
//
// A broken invariant calls `fatalError`, which libFuzzer reports as a crash like any trap.

import Flows
import Packets

/// Inputs between two `flushAll()` calls (and counter checks).
let flushInterval = 1000
/// Packet time added per input: 0.1 s, so one flush interval spans 100 s of packet time and the UDP/ICMP idle
/// timeouts (60 s), the TCP closed timeout (5 s), the active timeout (60 s), the series interval (60 s) and the
/// fragment timeout (60 s) all fire between flushes.
let secondsPerInput = 0.1

/// What the flow table emitted, checked against what it was fed.
final class Tally {
    /// Packets handed to `FlowTable.process` (each one is counted in exactly one flow).
    var packetsAccepted: UInt64 = 0
    /// Sum of `orig_pkts + resp_pkts` over final flow records.
    var packetsInFinalRecords: UInt64 = 0
    var finalFlowRecords: UInt64 = 0
    /// uids that already had their final record since the last flush.
    var finishedUIDs: Set<String> = []

    func record(_ record: Record) {
        // Render every record: the JSON writer sees whatever strings the parsers produced.
        let line = record.jsonLine
        guard line.hasPrefix("{"), line.hasSuffix("}") else { fatalError("record rendered as \(line)") }
        guard case .flow(let flow) = record, flow.final else { return }
        guard finishedUIDs.insert(flow.uid).inserted else { fatalError("second final record for uid \(flow.uid)") }
        finalFlowRecords += 1
        packetsInFinalRecords += flow.origPackets + flow.respPackets
    }
}

/// The state that lives across inputs (libFuzzer calls the entry point on one thread, one input at a time).
final class FuzzState {
    let tally = Tally()
    /// The sensor's own per-packet path: decode -> wire-length check -> reassembly -> flow table.
    let intake: PacketIntake
    var table: FlowTable { intake.table }
    var inputs = 0
    var now = 1_700_000_000.0

    init() {
        var config = FlowConfig(sensor: "fuzz")
        config.uidSeed = 1
        // Small caps so that eviction paths run within one flush interval.
        config.maxFlows = 32
        config.maxPendingDNSQueries = 8
        let tally = self.tally
        intake = PacketIntake(table: FlowTable(config: config, emit: { tally.record($0) }))
        intake.reassembler.maxDatagrams = 32
        intake.onDecoded = { [unowned self] packet, bytes in check(packet, in: bytes) }
        intake.onAccepted = { [unowned self] packet, bytes in accepted(packet, bytes: bytes) }
    }

    /// One frame through the sensor's per-packet path.
    func handle(_ bytes: UnsafeRawBufferPointer, linkType: LinkType, wireLength: Int, ts: Double) {
        intake.ingest(bytes, linkType: linkType, wireLength: wireLength, timestamp: ts)
    }

    private func accepted(_ packet: DecodedPacket, bytes: UnsafeRawBufferPointer) {
        tally.packetsAccepted += 1
        // The transport payload straight to the parsers too: the flow table picks at most one, by port and state.
        if packet.payloadLength > 0 {
            let payloadEnd = packet.payloadOffset + packet.payloadLength
            feedParsers(UnsafeRawBufferPointer(rebasing: bytes[packet.payloadOffset..<payloadEnd]))
        }
    }

    /// The offsets the flow table slices `bytes` with must lie inside `bytes`.
    private func check(_ packet: DecodedPacket, in bytes: UnsafeRawBufferPointer) {
        let ok = packet.offsetsFit(bufferCount: bytes.count)
        guard ok else { fatalError("decoded offsets outside the buffer of \(bytes.count) bytes: \(packet)") }
    }

    /// Ends every flow and checks that each accepted packet is counted in exactly one final flow record.
    func flushAndCheck() {
        table.flushAll()
        guard table.count == 0 else { fatalError("\(table.count) flows left after flushAll") }
        guard tally.packetsAccepted == tally.packetsInFinalRecords else {
            fatalError(
                "accepted \(tally.packetsAccepted) packets, final flow records count \(tally.packetsInFinalRecords)")
        }
        guard tally.finalFlowRecords == table.flowsCreated else {
            fatalError("\(table.flowsCreated) flows created, \(tally.finalFlowRecords) final flow records")
        }
        tally.finishedUIDs.removeAll(keepingCapacity: true)
    }
}

/// Feeds the bytes straight to every application-layer parser, whole and split in two.
func feedParsers(_ payload: UnsafeRawBufferPointer) {
    let half = payload.count / 2
    let head = UnsafeRawBufferPointer(rebasing: payload[0..<half])
    let tail = UnsafeRawBufferPointer(rebasing: payload[half...])

    // DNS over UDP, and over TCP with its 2-byte length framing.
    if let message = try? DNSMessage(parsing: payload) { describe(message) }
    var framer = DNSTCPFramer()
    for message in framer.feed(head) + framer.feed(tail) {
        message.withUnsafeBytes { bytes in
            var cursor = Cursor(bytes, layer: .dns)
            if let message = try? DNSMessage(parsing: &cursor) { describe(message) }
        }
    }
    guard framer.failed || framer.bufferedByteCount <= payload.count else {
        fatalError("DNSTCPFramer holds more than it was fed")
    }

    // HTTP: the bytes as a request stream and as a response stream, in two segments, then end of connection.
    var http = HTTPConnectionParser()
    _ = http.feed(head, from: .originator)
    _ = http.feed(tail, from: .originator)
    _ = http.feed(payload, from: .responder)
    _ = http.failure(of: .originator)?.counterName
    _ = http.finish()
    // A responder that answers before any request, and a gap in the middle of a request.
    var reversed = HTTPConnectionParser()
    _ = reversed.feed(payload, from: .responder)
    _ = reversed.feed(head, from: .originator)
    reversed.noteGap(from: .originator)
    _ = reversed.feed(tail, from: .originator)
    _ = reversed.finish()

    // TLS: the stream scanner in two segments.
    var scanner = TLSStreamScanner()
    var result = scanner.feed(head)
    if result == .needMore { result = scanner.feed(tail) }
    fingerprint(result)
    // The hello parsers on the bytes as a handshake body, and, when they start like a TLS record, on what follows
    // the record header and the handshake header.
    parseHellos(payload)
    let headers = TLSLimits.recordHeaderLength + TLSLimits.handshakeHeaderLength
    if payload.first == TLSConstant.contentTypeHandshake, payload.count > headers {
        parseHellos(UnsafeRawBufferPointer(rebasing: payload[headers...]))
    }
}

/// `TLSClientHello` and `TLSServerHello` on one handshake body, with their fingerprints.
func parseHellos(_ body: UnsafeRawBufferPointer) {
    if let hello = try? TLSClientHello(parsing: body) { fingerprint(.clientHello(hello)) }
    if let hello = try? TLSServerHello(parsing: body) { fingerprint(.serverHello(hello)) }
}

/// Renders what a DNS record would show (names, type, class and opcode names).
func describe(_ message: DNSMessage) {
    _ = DNSNames.opcodeName(message.opcode)
    _ = DNSNames.rcodeName(message.rcode)
    for question in message.questions {
        _ = question.normalizedName
        _ = DNSNames.typeName(question.type)
        _ = DNSNames.className(question.klass)
    }
    for answer in message.answers { _ = DNSNames.typeName(answer.type) }
}

/// Computes the fingerprints the flow table would put in a `tls` record.
func fingerprint(_ result: TLSStreamScanner.Result) {
    switch result {
    case .clientHello(let hello):
        _ = hello.ja3
        _ = hello.ja4(transport: .tcp)
        _ = hello.ja4Raw(transport: .quic)
    case .serverHello(let hello):
        _ = hello.ja3s
        _ = TLSVersionName.name(hello.selectedVersion)
    case .needMore, .notTLS:
        break
    }
}

// libFuzzer runs inputs one at a time on one thread; nothing else touches this.
nonisolated(unsafe) let state = FuzzState()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let selector = input[0]
    let linkType = LinkType.allCases[Int(selector & 0x3F) % LinkType.allCases.count]
    let snaplenCut = selector & 0x40 != 0
    let rest = UnsafeRawBufferPointer(rebasing: input[1...])

    state.inputs += 1
    if selector & 0x80 == 0 {
        state.now += secondsPerInput
        state.handle(rest, linkType: linkType, wireLength: snaplenCut ? Int.max : rest.count, ts: state.now)
        feedParsers(rest)
    } else {
        var offset = 0
        while offset < rest.count {
            let length = rest.count - offset >= 2 ? Int(rest[offset]) << 8 | Int(rest[offset + 1]) : 0
            let start = min(offset + 2, rest.count)
            let end = start + min(length, rest.count - start)
            let frame = UnsafeRawBufferPointer(rebasing: rest[start..<end])
            state.now += secondsPerInput / 10
            state.handle(frame, linkType: linkType, wireLength: snaplenCut ? Int.max : frame.count, ts: state.now)
            feedParsers(frame)
            offset = end
        }
    }
    if state.inputs % flushInterval == 0 { state.flushAndCheck() }
    return 0
}
