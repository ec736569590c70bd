import Synchronization
import Testing

@testable import Capture

#if canImport(Glibc)
    import Glibc
#endif

/// One packet as the reader delivered it: header fields and a copy of the bytes.
private struct Delivered: Equatable {
    var seconds: Int64
    var nanoseconds: Int64
    var wire: Int
    var bytes: [UInt8]
}

/// Reads `handle` directly, packet by packet, copying each packet's bytes.
private func readDirectly(_ handle: PcapHandle) throws -> [Delivered] {
    var packets: [Delivered] = []
    var packet = CapturedPacket.none
    while try handle.next(into: &packet) == .packet {
        packets.append(
            Delivered(
                seconds: packet.seconds, nanoseconds: packet.nanoseconds, wire: packet.wireLength,
                bytes: Array(packet.bytes)))
    }
    return packets
}

/// Takes every batch of `reader` until its last: the packets of each source, and the events in order.
private func drain(_ reader: CaptureReader) -> (packets: [[Delivered]], events: [BatchEvent]) {
    var packets: [[Delivered]] = []
    var events: [BatchEvent] = []
    reader.start()
    defer { reader.stop() }
    while true {
        let batch = reader.next()
        while packets.count <= batch.source { packets.append([]) }
        for index in 0..<batch.count {
            let packet = batch[index]
            #expect(packet.capturedLength == packet.bytes.count)
            packets[batch.source].append(
                Delivered(
                    seconds: packet.seconds, nanoseconds: packet.nanoseconds, wire: packet.wireLength,
                    bytes: Array(packet.bytes)))
        }
        let event = batch.event
        reader.recycle(batch)
        if let event { events.append(event) }
        switch event {
        case .end, .failed: return (packets, events)
        default: continue
        }
    }
}

private final class PollCounter: Sendable {
    let count = Atomic<Int>(0)
}

@Suite("capture reader thread")
struct CaptureReaderTests {
    @Test("several files arrive whole and in order, each ended by its own event, then the end")
    func filesInOrder() throws {
        let names = ["http.pcap", "dns.pcap", "mixed.pcap"]
        let expected = try names.map { try readDirectly(try PcapHandle.openOffline(path: Fixtures.path($0))) }
        let reader = CaptureReader(
            handles: try names.map { try PcapHandle.openOffline(path: Fixtures.path($0)) }, live: false,
            shouldStop: { false })
        let (packets, events) = drain(reader)
        #expect(expected.allSatisfy { !$0.isEmpty })
        #expect(packets == expected)
        #expect(events == [.endOfSource, .endOfSource, .endOfSource, .end])
    }

    @Test("a file cut mid-packet delivers its complete packets, says so, and the next file follows")
    func truncatedThenNext() throws {
        let reader = CaptureReader(
            handles: [
                try PcapHandle.openOffline(path: Fixtures.path("http-cut.pcap")),
                try PcapHandle.openOffline(path: Fixtures.path("dns.pcap")),
            ], live: false, shouldStop: { false })
        let (packets, events) = drain(reader)
        #expect(packets.count == 2 && packets.first?.count == 50)
        #expect(packets.last?.isEmpty == false)
        #expect(events.count == 3 && events.last == .end && events[1] == .endOfSource)
        guard case .truncatedSource(let reason) = events.first else {
            Issue.record("expected truncatedSource first, got \(events)")
            return
        }
        #expect(reason.contains("truncated"))
    }

    @Test("a stop request ends the stream early with `.end`, and the thread is joined")
    func stopsEarly() throws {
        let polls = PollCounter()
        // The flag turns true after 10 packets have been read (it is polled once per packet).
        let reader = CaptureReader(
            handles: [try PcapHandle.openOffline(path: Fixtures.path("mixed.pcap"))], live: false,
            shouldStop: { polls.count.add(1, ordering: .relaxed).newValue > 10 })
        let all = try readDirectly(try PcapHandle.openOffline(path: Fixtures.path("mixed.pcap")))
        let (packets, events) = drain(reader)
        #expect(events == [.end])
        #expect(packets.first?.count == 10)
        #expect(packets.first.map { Array(all.prefix($0.count)) == $0 } == true)
    }

    @Test("a consumer slower than the reader gets every packet: the reader waits for batches to come back")
    func backPressure() throws {
        // mixed.pcap read 40 times: many more packets than the batches in circulation hold.
        let path = Fixtures.path("mixed.pcap")
        let one = try readDirectly(try PcapHandle.openOffline(path: path))
        let reader = CaptureReader(
            handles: try (0..<40).map { _ in try PcapHandle.openOffline(path: path) }, live: false,
            shouldStop: { false })
        reader.start()
        defer { reader.stop() }
        var total = 0
        var ends = 0
        var batches = 0
        while true {
            let batch = reader.next()
            batches += 1
            total += batch.count
            if batches % 3 == 0 { usleep(1000) }  // slow
            let event = batch.event
            reader.recycle(batch)
            if event == .endOfSource { ends += 1 }
            if event == .end { break }
        }
        #expect(total == one.count * 40)
        #expect(ends == 40)
    }

    @Test("a batch refuses a packet it has no room for, and an empty batch grows to take an oversized one")
    func batchRoom() {
        let bytes: [UInt8] = Array(0..<40)
        let batch = PacketBatch(maxPackets: 4, bytes: 32)
        bytes.withUnsafeBytes { raw in
            func packet(_ length: Int) -> CapturedPacket {
                CapturedPacket(
                    seconds: 1, nanoseconds: 2, capturedLength: length, wireLength: length + 1,
                    bytes: UnsafeRawBufferPointer(rebasing: raw[0..<length]))
            }
            #expect(batch.append(packet(10)))
            #expect(batch.append(packet(10)))  // 16 (10 rounded to 8) + 10 <= 32
            #expect(!batch.append(packet(10)))  // 32 + 10 > 32
            #expect(batch.count == 2 && Array(batch[1].bytes) == Array(bytes[0..<10]))
            batch.reset()
            #expect(batch.append(packet(40)))  // bigger than the whole buffer: it grows
            #expect(batch.count == 1 && Array(batch[0].bytes) == bytes && batch[0].wireLength == 41)
        }
    }
}
