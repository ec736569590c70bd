import Foundation
import Testing

@testable import Spool

@Suite("spool")
struct SpoolTests {
    /// Both kinds of spool: on disk (`true`) and memory-only.
    static let kinds = [true, false]

    @Test("append, pending and acknowledge keep sequence order", arguments: kinds)
    func appendPendingAcknowledge(onDisk: Bool) throws {
        let directory = try TestDirectory()
        let spool = try Spool(directory: onDisk ? directory.path + "/spool" : nil, maxBytes: 1 << 20)
        #expect(spool.bootID.count == 16)
        #expect(try appendBatches(spool, count: 5, size: 100) == [1, 2, 3, 4, 5])

        let all = spool.pending(after: 0, limit: 100, maxBytes: 1 << 20)
        #expect(all.map(\.sequence) == [1, 2, 3, 4, 5])
        #expect(all.map(\.recordCount) == [1, 2, 3, 4, 5])
        #expect(all.allSatisfy { $0.payload == payload($0.sequence, size: 100) })
        #expect(spool.pending(after: 2, limit: 100, maxBytes: 1 << 20).map(\.sequence) == [3, 4, 5])
        #expect(spool.pending(after: 0, limit: 2, maxBytes: 1 << 20).map(\.sequence) == [1, 2])
        // The byte budget stops after 250 bytes, but the first entry always comes even if it alone is over.
        #expect(spool.pending(after: 1, limit: 100, maxBytes: 250).map(\.sequence) == [2, 3])
        #expect(spool.pending(after: 0, limit: 100, maxBytes: 1).map(\.sequence) == [1])
        #expect(spool.pending(after: 5, limit: 100, maxBytes: 1 << 20).isEmpty)

        spool.acknowledge(through: 3)
        #expect(spool.pending(after: 0, limit: 100, maxBytes: 1 << 20).map(\.sequence) == [4, 5])
        let stats = spool.statistics
        #expect(stats.pendingBatches == 2)
        #expect(stats.pendingRecords == 9)
        #expect(stats.pendingBytes == 200)
        #expect(stats.acknowledgedSequence == 3)
        #expect(stats.highestSequence == 5)
        #expect(stats.droppedBatches == 0)

        // Acks are cumulative: an older one changes nothing; one beyond what was handed out is clamped.
        spool.acknowledge(through: 2)
        #expect(spool.acknowledgedSequence == 3)
        spool.acknowledge(through: 99)
        #expect(spool.acknowledgedSequence == 5)
        #expect(spool.pendingBatches == 0)
        #expect(try spool.append(recordCount: 1, payload: [1, 2, 3]) == 6)
        #expect(spool.pending(after: 0, limit: 10, maxBytes: 100).map(\.sequence) == [6])
    }

    @Test("reopening a non-empty spool keeps the boot id and numbers on")
    func reopenContinuesStream() throws {
        let directory = try TestDirectory()
        let first = try Spool(directory: directory.path, maxBytes: 1 << 20, cacheBytes: 0)
        try appendBatches(first, count: 3, size: 500)
        first.acknowledge(through: 1)
        let bootID = first.bootID
        first.close()

        let second = try Spool(directory: directory.path, maxBytes: 1 << 20, cacheBytes: 0)
        #expect(second.bootID == bootID)
        #expect(second.highestSequence == 3)
        // Acknowledgements are not persisted: batch 1 is replayed, and the collector dedupes it.
        #expect(second.recovery.recoveredBatches == 3)
        #expect(second.recovery.recoveredRecords == 6)
        #expect(second.recovery.tornBytes == 0 && second.recovery.corruptSegments == 0)
        let replay = second.pending(after: 0, limit: 10, maxBytes: 1 << 20)
        #expect(replay.map(\.sequence) == [1, 2, 3])
        #expect(replay.allSatisfy { $0.payload == payload($0.sequence, size: 500) })
        #expect(try second.append(recordCount: 1, payload: [9]) == 4)
        // The new batch goes to a new segment.
        #expect(directory.segmentNames == ["00000000000000000001.seg", "00000000000000000004.seg"])
    }

    @Test("an empty or fully acknowledged spool starts a fresh stream at 1")
    func freshStream() throws {
        let directory = try TestDirectory()
        let path = directory.path + "/not/yet/there"
        let first = try Spool(directory: path, maxBytes: 1 << 20)
        #expect(first.highestSequence == 0)
        #expect(try first.append(recordCount: 1, payload: [1]) == 1)
        #expect(try first.append(recordCount: 1, payload: [2]) == 2)
        first.acknowledge(through: 2)
        // Everything acknowledged: the segment being written is deleted too.
        #expect(try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".seg") }.isEmpty)
        // Within the run, numbering goes on in the same stream.
        #expect(try first.append(recordCount: 1, payload: [3]) == 3)
        first.acknowledge(through: 3)
        let firstBoot = first.bootID
        first.close()

        let second = try Spool(directory: path, maxBytes: 1 << 20)
        #expect(second.bootID != firstBoot)
        #expect(second.highestSequence == 0)
        #expect(try second.append(recordCount: 1, payload: [1]) == 1)
        second.acknowledge(through: 1)
        second.close()

        // Opened and closed with nothing in it: empty too.
        let third = try Spool(directory: path, maxBytes: 1 << 20)
        let thirdBoot = third.bootID
        third.close()
        let fourth = try Spool(directory: path, maxBytes: 1 << 20)
        #expect(fourth.bootID != thirdBoot)
        #expect(try fourth.append(recordCount: 1, payload: [1]) == 1)
        // The directory was created private.
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
    }

    @Test("segments roll at segmentBytes and are deleted once acknowledged")
    func segmentRollAndDeletion() throws {
        let directory = try TestDirectory()
        let spool = try Spool(
            directory: directory.path,
            maxBytes: 1 << 20,
            segmentBytes: segmentBytes(entries: 3, payloadSize: 100)
        )
        try appendBatches(spool, count: 7, size: 100)
        #expect(
            directory.segmentNames == [
                "00000000000000000001.seg", "00000000000000000004.seg", "00000000000000000007.seg",
            ]
        )
        let sizes = try directory.segmentNames.map { try directory.contents(directory.path + "/" + $0).count }
        #expect(sizes == [segmentBytes(entries: 3, payloadSize: 100), segmentBytes(entries: 3, payloadSize: 100), 160])
        #expect(spool.statistics.segments == 3)
        #expect(spool.statistics.usedBytes == sizes.reduce(0, +))

        spool.acknowledge(through: 3)
        #expect(!FileManager.default.fileExists(atPath: directory.segmentPath(1)))
        #expect(directory.segmentNames.count == 2)
        spool.acknowledge(through: 5)
        #expect(directory.segmentNames == ["00000000000000000004.seg", "00000000000000000007.seg"])
        spool.acknowledge(through: 6)
        #expect(directory.segmentNames == ["00000000000000000007.seg"])
        spool.acknowledge(through: 7)
        #expect(directory.segmentNames.isEmpty)
        #expect(spool.statistics.usedBytes == 0)
        #expect(try spool.append(recordCount: 1, payload: payload(8, size: 100)) == 8)
        #expect(directory.segmentNames == ["00000000000000000008.seg"])
        #expect(spool.pending(after: 0, limit: 10, maxBytes: 1 << 20).map(\.sequence) == [8])
    }

    @Test("the bound drops the oldest whole segments and counts exactly what it dropped")
    func boundOnDisk() throws {
        let directory = try TestDirectory()
        let segment = segmentBytes(entries: 3, payloadSize: 980)  // 3 entries of 1000 bytes
        let spool = try Spool(directory: directory.path, maxBytes: 4 * segment, segmentBytes: segment)
        #expect(spool.segmentBytes == segment)
        try appendBatches(spool, count: 12, size: 980)
        #expect(spool.statistics.usedBytes == 4 * segment)
        #expect(spool.droppedBatches == 0)
        spool.acknowledge(through: 2)

        // Batch 13 needs a fifth segment: the first goes, and with it batch 3, the only unacknowledged one in it.
        #expect(try spool.append(recordCount: 13, payload: payload(13, size: 980)) == 13)
        #expect(spool.droppedBatches == 1)
        #expect(spool.droppedRecords == 3)
        #expect(!FileManager.default.fileExists(atPath: directory.segmentPath(1)))
        #expect(spool.pending(after: 0, limit: 100, maxBytes: 1 << 30).map(\.sequence) == Array(4...13))

        // Two more segments' worth: batches 4...9 go, 6 batches holding 4+5+...+9 records.
        try appendBatches(spool, count: 6, size: 980)
        #expect(spool.droppedBatches == 7)
        #expect(spool.droppedRecords == 3 + (4...9).reduce(0, +))
        #expect(spool.pending(after: 0, limit: 100, maxBytes: 1 << 30).first?.sequence == 10)
        #expect(spool.statistics.usedBytes <= 4 * segment)
        #expect(directory.segmentNames.count == 4)
    }

    @Test("the bound drops the oldest entries of a memory-only spool")
    func boundInMemory() throws {
        let spool = try Spool(directory: nil, maxBytes: 5 * entryBytes(980))
        try appendBatches(spool, count: 5, size: 980)
        #expect(spool.droppedBatches == 0)
        try appendBatches(spool, count: 3, size: 980)
        #expect(spool.droppedBatches == 3)
        #expect(spool.droppedRecords == 1 + 2 + 3)
        #expect(spool.pending(after: 0, limit: 100, maxBytes: 1 << 30).map(\.sequence) == [4, 5, 6, 7, 8])
        #expect(spool.statistics.usedBytes == 5 * entryBytes(980))
    }

    @Test("a batch larger than the whole bound is dropped, counted and its number skipped", arguments: kinds)
    func oversizedBatch(onDisk: Bool) throws {
        let directory = try TestDirectory()
        let spool = try Spool(directory: onDisk ? directory.path : nil, maxBytes: 4096)
        #expect(try spool.append(recordCount: 2, payload: payload(1, size: 100)) == 1)
        #expect(try spool.append(recordCount: 7, payload: payload(2, size: 5000)) == 2)
        #expect(spool.droppedBatches == 1)
        #expect(spool.droppedRecords == 7)
        #expect(try spool.append(recordCount: 1, payload: payload(3, size: 100)) == 3)
        #expect(spool.pending(after: 0, limit: 10, maxBytes: 1 << 20).map(\.sequence) == [1, 3])
        if onDisk {
            // Sequences within a segment stay consecutive: after the gap comes a new segment.
            #expect(directory.segmentNames == ["00000000000000000001.seg", "00000000000000000003.seg"])
            spool.close()
            let reopened = try Spool(directory: directory.path, maxBytes: 4096)
            #expect(reopened.pending(after: 0, limit: 10, maxBytes: 1 << 20).map(\.sequence) == [1, 3])
            #expect(reopened.recovery.corruptSegments == 0)
        }
    }

    @Test("a second spool on the same directory fails, naming the directory")
    func exclusiveLock() throws {
        let directory = try TestDirectory()
        let first = try Spool(directory: directory.path, maxBytes: 1 << 20)
        let error = #expect(throws: SpoolError.self) { try Spool(directory: directory.path, maxBytes: 1 << 20) }
        #expect(error?.code == .locked)
        #expect(error?.description.hasPrefix(directory.path + ": spool directory is in use by another process") == true)
        #expect(error?.description.contains(String(cString: strerror(EWOULDBLOCK))) == true)
        first.close()
        let second = try Spool(directory: directory.path, maxBytes: 1 << 20)
        #expect(try second.append(recordCount: 1, payload: [1]) == 1)
    }

    @Test("errors name the path and the OS error")
    func errorMessages() throws {
        let directory = try TestDirectory()
        let file = directory.path + "/plain-file"
        try directory.write([1], to: file)
        let notDirectory = #expect(throws: SpoolError.self) { try Spool(directory: file, maxBytes: 1 << 20) }
        #expect(notDirectory?.code == .createDirectory)
        #expect(notDirectory?.description == "\(file): cannot create spool directory: Not a directory")

        let tooSmall = #expect(throws: SpoolError.self) { try Spool(directory: nil, maxBytes: 10) }
        #expect(tooSmall?.code == .invalidConfiguration)
        #expect(tooSmall?.description == "memory: invalid spool configuration (maxBytes 10 < 60)")

        let spool = try Spool(directory: directory.path + "/spool", maxBytes: 1 << 20)
        let negative = #expect(throws: SpoolError.self) { try spool.append(recordCount: -1, payload: []) }
        #expect(negative?.code == .invalidBatch)
        spool.close()
        let closed = #expect(throws: SpoolError.self) { try spool.append(recordCount: 1, payload: []) }
        #expect(closed?.description == directory.path + "/spool: spool is closed")
        #expect(spool.pending(after: 0, limit: 10, maxBytes: 100).isEmpty)
    }

    @Test("sync moves syncedSequence; everyAppend syncs each batch")
    func syncedSequence() throws {
        let directory = try TestDirectory()
        let manual = try Spool(
            directory: directory.path + "/a", maxBytes: 1 << 20, segmentBytes: 300, syncPolicy: .manual)
        try appendBatches(manual, count: 5, size: 100)
        #expect(manual.statistics.syncedSequence == 0)
        try manual.sync()
        #expect(manual.statistics.syncedSequence == 5)

        let eager = try Spool(directory: directory.path + "/b", maxBytes: 1 << 20, syncPolicy: .everyAppend)
        try appendBatches(eager, count: 3, size: 100)
        #expect(eager.statistics.syncedSequence == 3)

        let memory = try Spool(directory: nil, maxBytes: 1 << 20)
        try appendBatches(memory, count: 3, size: 100)
        try memory.sync()
        #expect(memory.statistics.syncedSequence == 0)
    }

    @Test("payloads read back from disk when not cached", arguments: [0, 250])
    func uncachedReads(cacheBytes: Int) throws {
        let directory = try TestDirectory()
        let spool = try Spool(
            directory: directory.path,
            maxBytes: 1 << 20,
            segmentBytes: segmentBytes(entries: 2, payloadSize: 100),
            cacheBytes: cacheBytes
        )
        try appendBatches(spool, count: 5, size: 100)
        let entries = spool.pending(after: 0, limit: 10, maxBytes: 1 << 20)
        #expect(entries.map(\.sequence) == [1, 2, 3, 4, 5])
        #expect(entries.allSatisfy { $0.payload == payload($0.sequence, size: 100) })
        #expect(spool.statistics.corruptBatches == 0)
    }

    @Test("a payload damaged on disk after it was written is dropped and counted when read back")
    func corruptionOnReadBack() throws {
        let directory = try TestDirectory()
        let spool = try Spool(directory: directory.path, maxBytes: 1 << 20, cacheBytes: 0)
        try appendBatches(spool, count: 3, size: 100)
        var bytes = try directory.contents(directory.segmentPath(1))
        bytes[SegmentFormat.headerSize + entryBytes(100) + SegmentFormat.entryHeaderSize + 50] ^= 0x01  // batch 2
        try directory.write(bytes, to: directory.segmentPath(1))
        #expect(spool.pending(after: 0, limit: 10, maxBytes: 1 << 20).map(\.sequence) == [1, 3])
        #expect(spool.statistics.corruptBatches == 1)
        #expect(spool.droppedBatches == 1)
        #expect(spool.droppedRecords == 2)
        #expect(spool.pendingBatches == 2)
    }

    @Test("one thread appends while another reads and acknowledges")
    func concurrentProducerAndConsumer() async throws {
        let directory = try TestDirectory()
        let spool = try Spool(
            directory: directory.path, maxBytes: 64 << 20, segmentBytes: 64 << 10, cacheBytes: 32 << 10)
        let total: UInt64 = 2000
        async let produced: Void = Task.detached {
            for sequence in 1...total {
                _ = try spool.append(recordCount: 1, payload: payload(sequence, size: 1000))
            }
        }.value
        let consumed = await Task.detached { () -> [UInt64] in
            var seen: [UInt64] = []
            var last: UInt64 = 0
            while last < total {
                let entries = spool.pending(after: last, limit: 50, maxBytes: 1 << 20)
                for entry in entries where entry.payload == payload(entry.sequence, size: 1000) {
                    seen.append(entry.sequence)
                }
                last = entries.last?.sequence ?? last
                spool.acknowledge(through: last)
            }
            return seen
        }.value
        try await produced
        #expect(consumed == Array(1...total))
        #expect(spool.pendingBatches == 0)
        #expect(directory.segmentNames.isEmpty)
    }

    @Test("CRC-32C matches the published check value")
    func crc32c() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        // Chaining equals one pass, across the 8-byte fast path and the tail.
        let bytes = payload(7, size: 1001)
        #expect(
            CRC32C.checksum(Array(bytes[333...]), continuing: CRC32C.checksum(Array(bytes[..<333])))
                == CRC32C.checksum(bytes))
    }
}
