import Foundation
import Testing

@testable import Spool

/// The sensor opens its spool as root before dropping to `--user`, who can write the spool directory: a link
/// planted at a spool file's name must be refused, and the file it points to left as it was.
@Suite("spool symbolic links")
struct SymlinkTests {
    /// A file outside the spool directory that a planted link points at.
    static func victim(in directory: TestDirectory) throws -> (path: String, bytes: [UInt8]) {
        let path = directory.path + "/victim"
        let bytes = Array("root's file, not to be touched\n".utf8)
        try directory.write(bytes, to: path)
        return (path, bytes)
    }

    @Test("a link at the lock file is refused")
    func lockLink() throws {
        let outside = try TestDirectory()
        let victim = try Self.victim(in: outside)
        let spoolDirectory = try TestDirectory()
        try FileManager.default.createSymbolicLink(
            atPath: spoolDirectory.path + "/lock", withDestinationPath: victim.path)

        let error = #expect(throws: SpoolError.self) {
            try Spool(directory: spoolDirectory.path, maxBytes: 1 << 20)
        }
        #expect(error?.code == .symbolicLink)
        #expect(error?.path == spoolDirectory.path + "/lock")
        #expect(error?.description.contains("refusing to follow symbolic link") == true)
        #expect(try outside.contents(victim.path) == victim.bytes)
    }

    @Test("a dangling link at the lock file creates nothing at its target")
    func danglingLockLink() throws {
        let outside = try TestDirectory()
        let target = outside.path + "/created-by-root"
        let spoolDirectory = try TestDirectory()
        try FileManager.default.createSymbolicLink(atPath: spoolDirectory.path + "/lock", withDestinationPath: target)
        let error = #expect(throws: SpoolError.self) {
            try Spool(directory: spoolDirectory.path, maxBytes: 1 << 20)
        }
        #expect(error?.code == .symbolicLink)
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test("a link with a segment's name is refused when the spool is opened")
    func existingSegmentLink() throws {
        let outside = try TestDirectory()
        let victim = try Self.victim(in: outside)
        let spoolDirectory = try TestDirectory()
        let first = try Spool(directory: spoolDirectory.path, maxBytes: 1 << 20)
        try appendBatches(first, count: 2, size: 10)
        first.close()
        // Newest, so recovery would open it read-write and cut what does not parse.
        let planted = spoolDirectory.segmentPath(5)
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim.path)

        let error = #expect(throws: SpoolError.self) {
            try Spool(directory: spoolDirectory.path, maxBytes: 1 << 20)
        }
        #expect(error?.code == .symbolicLink)
        #expect(error?.path == planted)
        #expect(try outside.contents(victim.path) == victim.bytes)
    }

    @Test("a link at the next segment's name fails that append and leaves its target alone")
    func nextSegmentLink() throws {
        let outside = try TestDirectory()
        let victim = try Self.victim(in: outside)
        let spoolDirectory = try TestDirectory()
        let spool = try Spool(directory: spoolDirectory.path, maxBytes: 1 << 20)
        let planted = spoolDirectory.segmentPath(1)
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim.path)

        let error = #expect(throws: SpoolError.self) {
            try spool.append(recordCount: 1, payload: [1, 2, 3])
        }
        #expect(error?.code == .symbolicLink)
        #expect(error?.path == planted)
        #expect(try outside.contents(victim.path) == victim.bytes)
        #expect(spool.pendingBatches == 0)
    }

    /// As root the link is handed to nobody (65534), as another user could have planted it; a link owned by the
    /// process's own user is an administrator's choice and is followed.
    @Test("the spool directory may be a link only if root or this user owns it")
    func directoryLink() throws {
        let outside = try TestDirectory()
        let parent = try TestDirectory()
        let link = parent.path + "/spool"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: outside.path)
        let own = try Spool(directory: link, maxBytes: 1 << 20)
        try own.append(recordCount: 1, payload: [1])
        own.close()
        #expect(FileManager.default.fileExists(atPath: outside.path + "/lock"))
        guard geteuid() == 0 else { return }
        try FileManager.default.removeItem(atPath: outside.path + "/lock")
        #expect(lchown(link, 65534, 65534) == 0)
        let error = #expect(throws: SpoolError.self) {
            try Spool(directory: link, maxBytes: 1 << 20)
        }
        #expect(error?.code == .symbolicLink)
        #expect(error?.description.contains("owned by uid 65534") == true)
        #expect(!FileManager.default.fileExists(atPath: outside.path + "/lock"))
    }

    @Test("a FIFO at the lock file is refused, not waited on")
    func lockFIFO() throws {
        let spoolDirectory = try TestDirectory()
        #expect(mkfifo(spoolDirectory.path + "/lock", 0o600) == 0)
        let error = #expect(throws: SpoolError.self) {
            try Spool(directory: spoolDirectory.path, maxBytes: 1 << 20)
        }
        #expect(error?.code == .lockFile)
        #expect(error?.description.contains("not a regular file") == true)
    }
}
