import Packets

/// The per-packet path in front of the flow table: decode, drop lying lengths, reassemble fragments, count into
/// flows. The sensor pipeline, the fuzz target and the robustness tests all run packets through this one type, so
/// what is fuzzed is what ships. Owned by one thread, like the flow table.
public final class PacketIntake {
    public let table: FlowTable
    public var reassembler = FragmentReassembler()
    public private(set) var decodeErrors: UInt64 = 0
    public private(set) var nonIPPackets: UInt64 = 0
    /// Called with every decoded packet and the buffer its offsets index (test and fuzz hooks; nil in production).
    public var onDecoded: ((DecodedPacket, UnsafeRawBufferPointer) -> Void)?
    /// Called with every packet handed to the flow table, after it was counted.
    public var onAccepted: ((DecodedPacket, UnsafeRawBufferPointer) -> Void)?
    private var lastFragmentSweep = -Double.infinity

    public init(table: FlowTable) {
        self.table = table
    }

    /// Runs one captured frame through the path. `wireLength` is the frame's length on the wire (at least the
    /// captured length): an IP length beyond it is a lying header, dropped and counted, as Zeek does.
    @inline(__always)
    public func ingest(_ bytes: UnsafeRawBufferPointer, linkType: LinkType, wireLength: Int, timestamp ts: Double) {
        do {
            guard let decoded = try PacketDecoder.decode(bytes, linkType: linkType) else {
                nonIPPackets += 1
                table.advance(to: ts)
                return
            }
            onDecoded?(decoded, bytes)
            if decoded.ipOffset + decoded.ip.totalLength > wireLength {
                decodeErrors += 1
                table.count(weird: "ip.length_exceeds_wire")
                table.advance(to: ts)
            } else if decoded.ip.isFragment {
                table.advance(to: ts)
                let whole = reassembler.add(decoded, bytes: bytes, timestamp: ts) { [table] in table.count(weird: $0) }
                if let whole {
                    ingestReassembled(whole, vlan: decoded.vlan, innerVlan: decoded.innerVlan, timestamp: ts)
                }
            } else {
                table.process(decoded, bytes: bytes, timestamp: ts)
                onAccepted?(decoded, bytes)
            }
        } catch {
            decodeErrors += 1
            table.count(weird: error.counterName)
            table.advance(to: ts)
        }
        if ts - lastFragmentSweep >= 1 {
            lastFragmentSweep = ts
            reassembler.expire(before: ts - reassembler.timeout)
        }
    }

    private func ingestReassembled(_ whole: [UInt8], vlan: UInt16?, innerVlan: UInt16?, timestamp ts: Double) {
        whole.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            do throws(DecodeError) {
                var full = try PacketDecoder.decodeIP(buffer, at: 0)
                full.vlan = vlan
                full.innerVlan = innerVlan
                onDecoded?(full, buffer)
                table.process(full, bytes: buffer, timestamp: ts)
                onAccepted?(full, buffer)
            } catch {
                decodeErrors += 1
                table.count(weird: error.counterName)
            }
        }
    }
}
