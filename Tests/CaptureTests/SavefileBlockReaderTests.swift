import Capture
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every packet of a capture with its bytes, and how the read ended.
private func readWithBytes(_ handle: PcapHandle) throws -> (
    packets: [[UInt8]], summaries: [CapturedPacketSummary], end: ReadResult
) {
    var packets: [[UInt8]] = []
    var summaries: [CapturedPacketSummary] = []
    while true {
        let result = try handle.next { packet in
            packets.append(Array(packet.bytes))
            summaries.append(
                CapturedPacketSummary(
                    seconds: packet.seconds, nanoseconds: packet.nanoseconds, captured: packet.capturedLength,
                    wire: packet.wireLength))
        }
        if result != .packet { return (packets, summaries, result) }
    }
}

/// The same file read by the block reader and, with an accept-all filter (which makes libpcap read every record),
/// by libpcap alone.
private func bothWays(_ path: String) throws -> (
    blocks: (packets: [[UInt8]], summaries: [CapturedPacketSummary], end: ReadResult),
    libpcap: (packets: [[UInt8]], summaries: [CapturedPacketSummary], end: ReadResult)
) {
    let blocks = try readWithBytes(try PcapHandle.openOffline(path: path))
    let plain = try PcapHandle.openOffline(path: path)
    try plain.setFilter("")
    return (blocks, try readWithBytes(plain))
}

/// A pcap file (this machine's byte order, microseconds) written byte by byte.
private struct PcapWriter {
    var bytes: [UInt8] = []

    init(snaplen: UInt32) {
        append(UInt32(0xA1B2_C3D4))
        append(UInt16(2))
        append(UInt16(4))
        append(UInt32(0))
        append(UInt32(0))
        append(snaplen)
        append(UInt32(1))  // Ethernet
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    mutating func record(seconds: UInt32, microseconds: UInt32, data: [UInt8], wire: Int? = nil) {
        append(seconds)
        append(microseconds)
        append(UInt32(data.count))
        append(UInt32(wire ?? data.count))
        bytes.append(contentsOf: data)
    }

    func write(name: String) throws -> String {
        let path = "/tmp/wirewatch-\(getpid())-\(name).pcap"
        guard let file = fopen(path, "wb") else { throw CaptureError.unreadableFile(path: path, reason: "create") }
        defer { fclose(file) }
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        return path
    }
}

@Suite("block reader of plain pcap files")
struct SavefileBlockReaderTests {
    @Test(
        "reads what libpcap reads, to the same end",
        arguments: [
            "http.pcap", "http-cut.pcap", "http-snap96.pcap", "dns-nano.pcap", "dns.pcap", "mixed.pcap", "sll.pcap",
            "null.pcap", "fragments.pcap", "malformed.pcap",
        ])
    func fixtures(name: String) throws {
        let (blocks, libpcap) = try bothWays(Fixtures.path(name))
        #expect(!blocks.packets.isEmpty)
        #expect(blocks.packets == libpcap.packets)
        #expect(blocks.summaries == libpcap.summaries)
        #expect(blocks.end == libpcap.end)
    }

    @Test("breakLoop ends a file read early, as libpcap's own reads do")
    func breakLoop() throws {
        let handle = try PcapHandle.openOffline(path: Fixtures.path("http.pcap"))
        var packets = 0
        #expect(try handle.next { _ in packets += 1 } == .packet)
        handle.breakLoop()
        #expect(try handle.next { _ in packets += 1 } == .endOfFile)
        #expect(packets == 1)
    }

    @Test("records across block boundaries, one longer than the snapshot length, and a cut last record")
    func unusualRecords() throws {
        var writer = PcapWriter(snaplen: 1600)
        var generator = SystemRandomNumberGenerator()
        // ~3 MB: several 256 KiB blocks, records of every size straddling their ends.
        for index in 0..<4000 {
            let size = Int.random(in: 14...1500, using: &generator)
            let data = (0..<size).map { UInt8(truncatingIfNeeded: $0 &+ index) }
            writer.record(
                seconds: UInt32(1_700_000_000 + index), microseconds: UInt32(index * 7 % 1_000_000), data: data)
            if index == 2500 {
                // libpcap cuts a record longer than the file's snapshot length to it.
                writer.record(seconds: 1_700_002_500, microseconds: 1, data: [UInt8](repeating: 0xAB, count: 2000))
            }
        }
        writer.record(seconds: 1_700_005_000, microseconds: 2, data: [UInt8](repeating: 1, count: 100))
        writer.bytes.removeLast(40)
        let path = try writer.write(name: "unusual")
        defer { unlink(path) }
        let (blocks, libpcap) = try bothWays(path)
        #expect(blocks.packets.count == 4001)
        #expect(blocks.packets.contains { $0.count == 1600 })
        #expect(blocks.packets == libpcap.packets)
        #expect(blocks.summaries == libpcap.summaries)
        #expect(blocks.end == libpcap.end)
        guard case .truncatedFile = blocks.end else {
            Issue.record("expected truncatedFile, got \(blocks.end)")
            return
        }
    }
}
