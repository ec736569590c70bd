// libFuzzer target for the fragment reassembler (Sources/Flows/Fragments.swift), through `PacketIntake` as the
// sensor runs it.
//
// Random bytes rarely make a fragment sequence that a reassembler gets far with, so this target builds the
// fragments itself: one input is a list of 4-byte operations, each one IP fragment (or a jump in packet time):
//
//   byte 0  bit 0      IPv6 (else IPv4)
//           bits 1-2   which of 4 datagrams (identification)
//           bit 3      More Fragments
//           bit 4      content: "liar" bytes (else the datagram's true bytes at that offset)
//           bit 5      offset coarse: byte 1 × 256 (else byte 1 % 64 × 8)
//           bits 6-7   the last fragment's extra bytes (0-3) past its 8-byte units; 3 with bit 3 clear and
//                      byte 2 = 0xFF means "advance packet time by 30 s" instead of a fragment
//   byte 1  offset
//   byte 2  length in 8-byte units (% 48)
//   byte 3  seed of the liar bytes
//
// Invariants (a violation is a `fatalError`, reported as a crash):
// - bytes held never exceed `maxBufferedBytes`, and are 0 when no datagram is in progress; datagrams in progress
//   never exceed `maxDatagrams`;
// - a reassembled datagram decodes, and when no liar fragment of it was sent since the last flush, its payload is
//   the datagram's true bytes: whatever the order, duplicates and overlaps, only true bytes can come out.
// The reassembler persists across inputs (as in the sensor); every `flushInterval` inputs, time jumps past the
// fragment timeout and everything in progress must be gone.

import Flows
import Packets

let flushInterval = 500

/// The true byte at `position` of datagram `id` (IPv4 or IPv6).
@inline(__always)
func trueByte(_ id: Int, _ v6: Bool, _ position: Int) -> UInt8 {
    UInt8(truncatingIfNeeded: position &* 31 &+ id &* 7 &+ (v6 ? 101 : 0))
}

final class FuzzState {
    let intake: PacketIntake
    var now = 1_000.0
    var inputs = 0
    /// Datagram keys (id + 4 × v6) that got a liar fragment since the last flush.
    var lied = Set<Int>()
    var reassembled = 0

    init() {
        intake = PacketIntake(table: FlowTable(config: FlowConfig(sensor: "fuzz"), emit: { _ in }))
        // Small caps, so that every bound is reached.
        intake.reassembler.maxDatagrams = 3
        intake.reassembler.maxPiecesPerDatagram = 24
        intake.reassembler.maxBufferedBytes = 24_000
        intake.onAccepted = { [unowned self] packet, bytes in accepted(packet, bytes) }
    }

    func accepted(_ packet: DecodedPacket, _ bytes: UnsafeRawBufferPointer) {
        guard packet.ip.source != probeSource else { return }  // flush()'s probe is no datagram of ours
        reassembled += 1
        let v6 = packet.ip.version == 6
        // A reassembled IPv6 datagram has no Fragment header, so no identification: the id is in the source address.
        let id = v6 ? Int(bytes[packet.ipOffset + 23]) - 1 : Int(packet.ip.identification)
        let start = packet.ipOffset + packet.ip.headerLength
        let end = packet.ipOffset + packet.ip.totalLength
        guard start <= end, end <= bytes.count else { fatalError("reassembled datagram's lengths outside its bytes") }
        guard !lied.contains(id + (v6 ? 4 : 0)) else { return }
        for position in start..<end where bytes[position] != trueByte(id, v6, position - start) {
            fatalError("datagram \(id) (v6: \(v6)) reassembled with a byte no fragment sent, at \(position - start)")
        }
    }

    func check() {
        let r = intake.reassembler
        guard r.bufferedBytes <= r.maxBufferedBytes, r.bufferedBytes >= 0 else {
            fatalError("\(r.bufferedBytes) bytes held, the cap is \(r.maxBufferedBytes)")
        }
        guard r.inProgress <= r.maxDatagrams else { fatalError("\(r.inProgress) datagrams in progress") }
        guard r.inProgress > 0 || r.bufferedBytes == 0 else {
            fatalError("\(r.bufferedBytes) bytes held with no datagram in progress")
        }
    }

    func fragment(v6: Bool, id: Int, offset: Int, data: [UInt8], more: Bool) -> [UInt8] {
        if v6 {
            let offsetAndFlags = UInt16(truncatingIfNeeded: offset) | (more ? 1 : 0)
            let body: [UInt8] =
                [17, 0, UInt8(offsetAndFlags >> 8), UInt8(offsetAndFlags & 0xFF), 0, 0, 0, UInt8(id)] + data
            var header: [UInt8] = [0x60, 0, 0, 0, UInt8(body.count >> 8), UInt8(body.count & 0xFF), 44, 64]
            header += [UInt8](repeating: 0, count: 15) + [UInt8(id + 1)] + [UInt8](repeating: 0, count: 15) + [2]
            return header + body
        }
        let total = 20 + data.count
        let flagsAndOffset = UInt16(truncatingIfNeeded: offset / 8) & 0x1FFF | (more ? 0x2000 : 0)
        return [
            0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, UInt8(id), UInt8(flagsAndOffset >> 8),
            UInt8(flagsAndOffset & 0xFF), 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ] + data
    }

    func run(_ op: UnsafeRawBufferPointer) {
        let flags = op[0]
        let v6 = flags & 1 != 0
        let id = Int(flags >> 1 & 3)
        let more = flags & 8 != 0
        let liar = flags & 0x10 != 0
        let extra = Int(flags >> 6)
        if !more && extra == 3 && op[2] == 0xFF {
            now += 30
            return
        }
        let offset = flags & 0x20 != 0 ? Int(op[1]) * 256 : Int(op[1] % 64) * 8
        let length = Int(op[2] % 48) * 8 + (more ? 0 : extra)
        guard offset + length + 48 <= 65_535 else { return }  // stays inside one IP packet
        guard offset > 0 || more else { return }  // not a fragment: the flow table's business
        var data = [UInt8](repeating: 0, count: length)
        for i in 0..<length {
            data[i] = liar ? UInt8(truncatingIfNeeded: Int(op[3]) &+ i) : trueByte(id, v6, offset + i)
        }
        if liar { lied.insert(id + (v6 ? 4 : 0)) }
        let frame = fragment(v6: v6, id: id, offset: offset, data: data, more: more)
        now += 0.01
        frame.withUnsafeBytes { bytes in
            intake.ingest(bytes, linkType: .raw, wireLength: bytes.count, timestamp: now)
        }
        check()
    }

    func flush() {
        now += intake.reassembler.timeout + 2
        // Any packet after the timeout sweeps; a non-fragment one adds nothing.
        let probe: [UInt8] = [
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 3, 10, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0,
        ]
        probe.withUnsafeBytes { intake.ingest($0, linkType: .raw, wireLength: $0.count, timestamp: now) }
        guard intake.reassembler.inProgress == 0, intake.reassembler.bufferedBytes == 0 else {
            fatalError("\(intake.reassembler.inProgress) datagrams survived the timeout")
        }
        lied.removeAll()
    }
}

/// The source of the unfragmented packet `flush()` sends to make the timeout sweep run.
let probeSource = IPAddress.v4(0x0A00_0003)

nonisolated(unsafe) let state = FuzzState()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    var offset = 0
    while offset + 4 <= input.count {
        state.run(UnsafeRawBufferPointer(rebasing: input[offset..<(offset + 4)]))
        offset += 4
    }
    state.inputs += 1
    if state.inputs % flushInterval == 0 { state.flush() }
    return 0
}
