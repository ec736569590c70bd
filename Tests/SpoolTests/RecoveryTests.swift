import Foundation
import Testing

@testable import Spool

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("spool recovery")
struct RecoveryTests {
    /// Where the torn write stops inside the last entry (bytes of it that reached the file).
    @Test("a torn last entry is cut away and only it is lost", arguments: [1, 19, 20, 21, 520])
    func tornTail(keptBytesOfLastEntry: Int) throws {
        let directory = try TestDirectory()
        let first = try Spool(directory: directory.path, maxBytes: 1 << 20)
        try appendBatches(first, count: 4, size: 1000)
        let bootID = first.bootID
        first.close()
        let file = directory.segmentPath(1)
        let complete = segmentBytes(entries: 3, payloadSize: 1000)
        try directory.write(Array(try directory.contents(file)[..<(complete + keptBytesOfLastEntry)]), to: file)

        let spool = try Spool(directory: directory.path, maxBytes: 1 << 20)
        #expect(spool.bootID == bootID)
        #expect(spool.recovery.recoveredBatches == 3)
        #expect(spool.recovery.tornBytes == keptBytesOfLastEntry)
        #expect(spool.recovery.corruptSegments == 0)
        #expect(try directory.contents(file).count == complete)
        let entries = spool.pending(after: 0, limit: 10, maxBytes: 1 << 20)
        #expect(entries.map(\.sequence) == [1, 2, 3])
        #expect(entries.allSatisfy { $0.payload == payload($0.sequence, size: 1000) })
        // Numbering resumes past any entry the torn bytes could have held.
        let next = try spool.append(recordCount: 1, payload: [1])
        #expect(next == 4 + UInt64(keptBytesOfLastEntry / SegmentFormat.entryHeaderSize))
    }

    @Test("garbage or zeros after the last entry are cut away and nothing is lost", arguments: [false, true])
    func garbageTail(zeros: Bool) throws {
        let directory = try TestDirectory()
        let first = try Spool(directory: directory.path, maxBytes: 1 << 20)
        try appendBatches(first, count: 4, size: 300)
        first.close()
        let file = directory.segmentPath(1)
        let original = try directory.contents(file)
        // What a power cut can leave (zeros: the size reached the disk, the data did not), or plain garbage.
        let tail =
            zeros ? [UInt8](repeating: 0, count: 4096) : (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        try directory.write(original + tail, to: file)

        let spool = try Spool(directory: directory.path, maxBytes: 1 << 20)
        #expect(spool.recovery.recoveredBatches == 4)
        #expect(spool.recovery.tornBytes == tail.count)
        #expect(try directory.contents(file) == original)
        #expect(spool.pending(after: 0, limit: 10, maxBytes: 1 << 20).map(\.sequence) == [1, 2, 3, 4])
        #expect(try spool.append(recordCount: 1, payload: [1]) > 4)
    }

    @Test("a flipped byte in an older segment is caught by its checksum; the rest of that segment is counted lost")
    func flippedByte() throws {
        let directory = try TestDirectory()
        let first = try Spool(
            directory: directory.path,
            maxBytes: 1 << 20,
            segmentBytes: segmentBytes(entries: 3, payloadSize: 1000)
        )
        try appendBatches(first, count: 9, size: 1000)
        first.close()
        #expect(directory.segmentNames.count == 3)
        // Batch 5, the middle entry of the middle segment: one payload bit.
        let file = directory.segmentPath(4)
        var bytes = try directory.contents(file)
        bytes[SegmentFormat.headerSize + entryBytes(1000) + SegmentFormat.entryHeaderSize + 500] ^= 0x10
        try directory.write(bytes, to: file)

        let spool = try Spool(directory: directory.path, maxBytes: 1 << 20)
        #expect(spool.recovery.corruptSegments == 1)
        #expect(spool.recovery.corruptBytes == 2 * entryBytes(1000))
        #expect(spool.recovery.tornBytes == 0)
        #expect(spool.recovery.recoveredBatches == 7)
        let entries = spool.pending(after: 0, limit: 20, maxBytes: 1 << 30)
        #expect(entries.map(\.sequence) == [1, 2, 3, 4, 7, 8, 9])
        #expect(entries.allSatisfy { $0.payload == payload($0.sequence, size: 1000) })
        #expect(try spool.append(recordCount: 1, payload: [1]) == 10)
        // The damaged segment is still deleted once its good entries are acknowledged.
        spool.acknowledge(through: 4)
        #expect(!FileManager.default.fileExists(atPath: file))
    }

    @Test("a damaged header in an older segment loses that segment only, counted")
    func damagedHeader() throws {
        let directory = try TestDirectory()
        let first = try Spool(
            directory: directory.path,
            maxBytes: 1 << 20,
            segmentBytes: segmentBytes(entries: 2, payloadSize: 100)
        )
        try appendBatches(first, count: 6, size: 100)
        first.close()
        let file = directory.segmentPath(3)
        var bytes = try directory.contents(file)
        bytes[14] ^= 0xFF  // inside the boot id, covered by the header checksum
        try directory.write(bytes, to: file)

        let spool = try Spool(directory: directory.path, maxBytes: 1 << 20)
        #expect(spool.recovery.corruptSegments == 1)
        #expect(spool.recovery.corruptBytes == segmentBytes(entries: 2, payloadSize: 100))
        #expect(spool.pending(after: 0, limit: 20, maxBytes: 1 << 30).map(\.sequence) == [1, 2, 5, 6])
        #expect(directory.segmentNames == ["00000000000000000001.seg", "00000000000000000005.seg"])
    }

    @Test("unknown files are left alone")
    func unknownFiles() throws {
        let directory = try TestDirectory()
        try directory.write([1, 2, 3], to: directory.path + "/notes.txt")
        try directory.write([1, 2, 3], to: directory.path + "/42.seg")
        let spool = try Spool(directory: directory.path, maxBytes: 1 << 20)
        #expect(spool.highestSequence == 0)
        #expect(spool.recovery == SpoolRecovery())
        try appendBatches(spool, count: 2, size: 10)
        spool.acknowledge(through: 2)
        #expect(FileManager.default.fileExists(atPath: directory.path + "/notes.txt"))
        #expect(FileManager.default.fileExists(atPath: directory.path + "/42.seg"))
    }

    @Test("a bound lowered since the last run drops the oldest segments on open, counted")
    func lowerBoundOnOpen() throws {
        let directory = try TestDirectory()
        let segment = segmentBytes(entries: 2, payloadSize: 980)
        let first = try Spool(directory: directory.path, maxBytes: 1 << 20, segmentBytes: segment)
        try appendBatches(first, count: 8, size: 980)
        first.close()
        let spool = try Spool(directory: directory.path, maxBytes: 2 * segment, segmentBytes: segment)
        // Four segments of two batches on disk, room for two segments now.
        #expect(spool.droppedBatches == 4)
        #expect(spool.droppedRecords == 1 + 2 + 3 + 4)
        #expect(spool.pending(after: 0, limit: 20, maxBytes: 1 << 30).map(\.sequence) == [5, 6, 7, 8])
        #expect(directory.segmentNames == ["00000000000000000005.seg", "00000000000000000007.seg"])
        #expect(try spool.append(recordCount: 1, payload: [1]) == 9)
    }

    @Test("what close leaves (no sync, nothing written at close) is what a killed process leaves: all of it")
    func abandonedWithoutSync() throws {
        let directory = try TestDirectory()
        let first = try Spool(
            directory: directory.path,
            maxBytes: 1 << 20,
            segmentBytes: 64 << 10,
            syncPolicy: .manual
        )
        let sequences = try appendBatches(first, count: 50, size: 5000)
        let bootID = first.bootID
        first.close()
        let spool = try Spool(directory: directory.path, maxBytes: 1 << 20)
        #expect(spool.bootID == bootID)
        #expect(spool.recovery.tornBytes == 0)
        let entries = spool.pending(after: 0, limit: 100, maxBytes: 1 << 30)
        #expect(entries.map(\.sequence) == sequences)
        #expect(entries.allSatisfy { $0.payload == payload($0.sequence, size: 5000) })
    }

    static let childDirectoryVariable = "WIREWATCH_SPOOL_KILL_TEST_DIRECTORY"

    /// Runs twice: in `swift test`, as the parent, it starts this test binary again with only this test selected
    /// and the variable set; the child appends until SIGKILL stops it at some arbitrary point, logging each
    /// sequence `append` returned. Reopened, the spool must hold every logged batch intact.
    @Test(
        "a process killed while appending loses nothing append returned for",
        .enabled(if: CommandLine.arguments.contains("--testing-library"), "needs a test binary it can re-run"),
        .timeLimit(.minutes(1))
    )
    func killedWhileAppending() throws {
        if let directory = ProcessInfo.processInfo.environment[Self.childDirectoryVariable] {
            try appendUntilKilled(directory)
            return
        }
        let directory = try TestDirectory()
        let spoolPath = directory.path + "/spool"
        let log = directory.path + "/returned.log"
        let child = try spawnSelf(filter: "killedWhileAppending", environment: [Self.childDirectoryVariable: spoolPath])
        // Let it run until at least 300 batches are in, then kill it wherever it is.
        var logged = 0
        for _ in 0..<3000 where logged < 300 {
            usleep(10_000)
            logged = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").count ?? 0
        }
        kill(child, SIGKILL)
        var status: Int32 = 0
        waitpid(child, &status, 0)
        #expect(status & 0x7F == SIGKILL, "the child should die by SIGKILL, not exit (status \(status))")
        #expect(logged >= 300)

        let returned = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").compactMap {
            UInt64($0)
        }
        let spool = try Spool(directory: spoolPath, maxBytes: 1 << 30)
        let entries = spool.pending(after: 0, limit: 1 << 20, maxBytes: Int.max)
        // Everything logged is there, intact, and at most one unlogged batch (appended, killed before logging).
        #expect(Array(entries.map(\.sequence).prefix(returned.count)) == returned)
        #expect(entries.count - returned.count <= 1)
        #expect(entries.allSatisfy { $0.payload == payload($0.sequence, size: Int($0.sequence % 7) * 10_000 + 100) })
        #expect(spool.recovery.corruptSegments == 0)
        #expect(spool.highestSequence >= UInt64(returned.count))
    }

    /// The child: appends batches of varying size forever (a minute at most) and logs each returned sequence.
    private func appendUntilKilled(_ directory: String) throws {
        let spool = try Spool(directory: directory, maxBytes: 1 << 30, segmentBytes: 256 << 10, syncPolicy: .manual)
        let log = open(
            (directory as NSString).deletingLastPathComponent + "/returned.log", O_WRONLY | O_CREAT | O_APPEND, 0o600)
        defer { close(log) }
        let start = Date()
        var sequence: UInt64 = 1
        while Date().timeIntervalSince(start) < 60 {
            let returned = try spool.append(
                recordCount: 1,
                payload: payload(sequence, size: Int(sequence % 7) * 10_000 + 100)
            )
            let line = Array("\(returned)\n".utf8)
            _ = line.withUnsafeBytes { write(log, $0.baseAddress, $0.count) }
            sequence += 1
        }
    }

    /// Starts this test binary again, running only tests matching `filter`, with extra environment variables.
    private func spawnSelf(filter: String, environment: [String: String]) throws -> pid_t {
        let arguments = [CommandLine.arguments[0], "--testing-library", "swift-testing", "--filter", filter]
        var variables = ProcessInfo.processInfo.environment
        for (key, value) in environment { variables[key] = value }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        // The child's test output is noise here.
        posix_spawn_file_actions_addopen(&fileActions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &fileActions, nil, argv, envp)
        try #require(result == 0, "posix_spawn \(arguments[0]): \(String(cString: strerror(result)))")
        return pid
    }
}
