import Foundation
import Testing

@testable import Spool

/// A fresh directory under the system temporary directory, removed with its contents when the test ends.
final class TestDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/wirewatch-spool-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The segment files present, oldest first.
    var segmentNames: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { $0.hasSuffix(".seg") }.sorted()
    }

    func segmentPath(_ firstSequence: UInt64) -> String {
        path + "/" + SegmentFormat.fileName(firstSequence: firstSequence)
    }

    func contents(_ file: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
    }

    func write(_ bytes: [UInt8], to file: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: file))
    }
}

/// Deterministic payload bytes that differ per sequence, so a mix-up between entries shows.
func payload(_ sequence: UInt64, size: Int) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: Int(sequence) &* 31 &+ $0 &* 7) }
}

/// Appends `count` batches of `size` payload bytes; batch n holds n records.
@discardableResult
func appendBatches(_ spool: Spool, count: Int, size: Int) throws -> [UInt64] {
    var sequences: [UInt64] = []
    for _ in 0..<count {
        let next = spool.highestSequence + 1
        sequences.append(try spool.append(recordCount: Int(next), payload: payload(next, size: size)))
    }
    return sequences
}

/// Bytes of one entry and of a segment holding `entries` of them, for `payloadSize`-byte payloads.
func entryBytes(_ payloadSize: Int) -> Int { SegmentFormat.entryHeaderSize + payloadSize }
func segmentBytes(entries: Int, payloadSize: Int) -> Int {
    SegmentFormat.headerSize + entries * entryBytes(payloadSize)
}
