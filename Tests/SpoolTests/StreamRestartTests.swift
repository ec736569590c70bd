import Foundation
import Testing

@testable import Spool

/// `restartStream`: what a sensor does when the collector has committed more of its stream than the spool numbered.
@Suite("spool stream restart")
struct StreamRestartTests {
    @Test("batches above the floor are renumbered after the highest under a new boot id; those at or below go")
    func renumbersPendingAboveFloor() throws {
        let directory = try TestDirectory()
        let spool = try Spool(directory: directory.path, maxBytes: 1 << 20, segmentBytes: 2 * entryBytes(100) + 40)
        try appendBatches(spool, count: 6, size: 100)
        let oldBootID = spool.bootID

        let restart = try spool.restartStream(keepingAbove: 2)

        #expect(restart.previousBootID == oldBootID)
        #expect(restart.bootID == spool.bootID)
        #expect(spool.bootID != oldBootID)
        #expect(restart.batches == 4)
        #expect(restart.records == 3 + 4 + 5 + 6)
        #expect(restart.firstSequence == 7)
        let entries = spool.pending(after: 0, limit: 10, maxBytes: 1 << 20)
        #expect(entries.map(\.sequence) == [7, 8, 9, 10])
        #expect(entries.map(\.recordCount) == [3, 4, 5, 6])
        #expect(entries.map(\.payload) == (3...6).map { payload(UInt64($0), size: 100) })
        #expect(directory.segmentNames == [SegmentFormat.fileName(firstSequence: 7)])
        #expect(spool.statistics.droppedBatches == 0)
        #expect(spool.statistics.usedBytes == segmentBytes(entries: 4, payloadSize: 100))
        // Appends continue the new stream.
        #expect(try spool.append(recordCount: 1, payload: [9]) == 11)
        spool.close()

        // The new boot id and numbers are what a restart of the sensor finds.
        let reopened = try Spool(directory: directory.path, maxBytes: 1 << 20)
        #expect(reopened.bootID == restart.bootID)
        #expect(reopened.recovery.corruptSegments == 0)
        #expect(reopened.recovery.highestSequence == 11)
        #expect(reopened.pending(after: 0, limit: 10, maxBytes: 1 << 20).map(\.sequence) == [7, 8, 9, 10, 11])
        #expect(reopened.pending(after: 0, limit: 10, maxBytes: 1 << 20).first?.payload == payload(3, size: 100))
    }

    @Test("with nothing above the floor the directory ends empty and a reopened spool starts a fresh stream")
    func nothingToCarry() throws {
        let directory = try TestDirectory()
        let spool = try Spool(directory: directory.path, maxBytes: 1 << 20)
        try appendBatches(spool, count: 3, size: 50)
        let restart = try spool.restartStream(keepingAbove: 3)
        #expect(restart.batches == 0)
        #expect(spool.pendingBatches == 0)
        #expect(directory.segmentNames.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/" + SegmentFormat.restartFileName))
        #expect(try spool.append(recordCount: 1, payload: [1]) == 4)
    }

    @Test("a memory-only spool renumbers in place")
    func memoryOnly() throws {
        let spool = try Spool(directory: nil, maxBytes: 1 << 20)
        try appendBatches(spool, count: 3, size: 10)
        let oldBootID = spool.bootID
        let restart = try spool.restartStream(keepingAbove: 1)
        #expect(spool.bootID != oldBootID)
        #expect(restart.firstSequence == 4)
        let entries = spool.pending(after: 0, limit: 10, maxBytes: 1 << 20)
        #expect(entries.map(\.sequence) == [4, 5])
        #expect(entries.map(\.payload) == [payload(2, size: 10), payload(3, size: 10)])
        spool.acknowledge(through: 5)
        #expect(spool.pendingBatches == 0)
    }

    @Test("a restart that crashed before its rename leaves the old stream whole, and its file is removed")
    func crashBeforeRename() throws {
        let directory = try TestDirectory()
        let spool = try Spool(directory: directory.path, maxBytes: 1 << 20)
        try appendBatches(spool, count: 3, size: 50)
        let bootID = spool.bootID
        spool.close()
        let leftover = directory.path + "/" + SegmentFormat.restartFileName
        try directory.write([1, 2, 3], to: leftover)

        let reopened = try Spool(directory: directory.path, maxBytes: 1 << 20)
        #expect(reopened.bootID == bootID)
        #expect(reopened.recovery.highestSequence == 3)
        #expect(reopened.pending(after: 0, limit: 10, maxBytes: 1 << 20).map(\.sequence) == [1, 2, 3])
        #expect(!FileManager.default.fileExists(atPath: leftover))
    }
}
