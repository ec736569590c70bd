import Certs
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Started as root with `--user`, the sensor opens its spool and `--output` before dropping privileges; the user
/// it drops to can write there and plant links. The sensor must refuse a link (exit 2, one line naming the file)
/// and leave the file it points to as it was.
@Suite("sensor refuses planted symbolic links")
struct SymlinkCommandLineTests {
    /// `--user nobody` when the tests run as root, as in the deployment the links would be planted against.
    static var userArguments: [String] { geteuid() == 0 ? ["--user", "nobody"] : [] }

    /// A file outside the spool that a planted link points at, with its original bytes.
    static func victim(in directory: URL) throws -> (path: String, bytes: Data) {
        let path = directory.appendingPathComponent("victim").path
        let bytes = Data("root's file, not to be touched\n".utf8)
        try bytes.write(to: URL(fileURLWithPath: path))
        return (path, bytes)
    }

    static func expectRefused(_ output: ProcessOutput, naming path: String) {
        #expect(output.status == 2, "exit status; stderr: \(output.stderr)")
        #expect(output.stderrLines.count == 1, "stderr lines: \(output.stderrLines)")
        #expect(output.stderr.contains(path), "names \(path): \(output.stderr)")
        #expect(output.stderr.contains("refusing to follow symbolic link"), "\(output.stderr)")
    }

    @Test("a link at --output is refused and its target left unchanged")
    func outputLink() async throws {
        let directory = try Harness.temporaryDirectory()
        let victim = try Self.victim(in: directory)
        let planted = directory.appendingPathComponent("records.jsonl").path
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim.path)
        let output = try await ChildProcess.run(
            try Harness.binary("wirewatch-sensor"),
            ["--read", Harness.fixture("http.pcap"), "--emit", "jsonl", "--output", planted] + Self.userArguments,
            timeout: 60)
        Self.expectRefused(output, naming: planted)
        #expect(try Data(contentsOf: URL(fileURLWithPath: victim.path)) == victim.bytes)
    }

    /// `lock`, or the first segment name (recovery opens the newest segment read-write and cuts what does not
    /// parse).
    @Test("a link in the spool directory is refused and its target left unchanged", arguments: ["lock", "segment"])
    func spoolLink(at name: String) async throws {
        let pki = try PKI()
        let directory = try Harness.temporaryDirectory()
        let victim = try Self.victim(in: directory)
        let spool = directory.appendingPathComponent("spool")
        try FileManager.default.createDirectory(at: spool, withIntermediateDirectories: true)
        let planted = spool.appendingPathComponent(name == "lock" ? "lock" : "00000000000000000001.seg").path
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim.path)
        let output = try await ChildProcess.run(
            try Harness.binary("wirewatch-sensor"),
            [
                "--read", Harness.fixture("http.pcap"), "--collector", "127.0.0.1:1", "--tls-ca",
                pki.layout.caCertificate, "--tls-cert", pki.layout.sensorCertificate("edge-1"), "--tls-key",
                pki.layout.sensorPrivateKey("edge-1"), "--spool", spool.path, "--drain-timeout", "1",
            ] + Self.userArguments,
            timeout: 60)
        Self.expectRefused(output, naming: planted)
        #expect(try Data(contentsOf: URL(fileURLWithPath: victim.path)) == victim.bytes)
    }
}
