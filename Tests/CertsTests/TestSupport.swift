import Certs
import Foundation
import SwiftASN1
import Testing
import X509

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("wirewatch-certs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// Writes `contents` to `name` in this directory and returns the path.
    @discardableResult
    func write(_ name: String, _ contents: String) throws -> String {
        let target = file(name)
        try contents.write(toFile: target, atomically: false, encoding: .utf8)
        return target
    }
}

/// Permission bits of a file or directory. Through FileManager rather than `stat()`: with Foundation imported, how
/// `struct stat`'s members resolve depends on which files the compiler batches together, and a clean build of this
/// target failed on it (MemberImportVisibility) where an incremental one did not.
func permissions(_ path: String) -> mode_t? {
    guard let bits = try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int else {
        return nil
    }
    return mode_t(bits & 0o777)
}

/// Every regular file under `directory`, by path relative to it, with its bytes.
func snapshot(_ directory: String) throws -> [String: Data] {
    var files: [String: Data] = [:]
    guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return files }
    for case let relative as String in enumerator {
        var isDirectory: ObjCBool = false
        let full = directory + "/" + relative
        if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
            files[relative] = try Data(contentsOf: URL(fileURLWithPath: full))
        }
    }
    return files
}

/// Whether swift-certificates' RFC 5280 verifier (plus `extraPolicy`, e.g. a server identity) accepts `leafPEM`
/// as issued by `root`.
func verifies(
    _ leafPEM: String,
    against root: Certificate,
    serverHostname: String? = nil,
    serverIP: String? = nil
) async throws -> Bool {
    let leaf = try Certificate(pemEncoded: leafPEM)
    let checksIdentity = serverHostname != nil || serverIP != nil
    var verifier = Verifier(rootCertificates: CertificateStore([root])) {
        RFC5280Policy()
        if checksIdentity {
            ServerIdentityPolicy(serverHostname: serverHostname, serverIP: serverIP)
        }
    }
    let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore())
    if case .validCertificate = result {
        return true
    }
    return false
}

/// The DER bytes of a PEM certificate.
func derBytes(ofPEM pem: String) throws -> [UInt8] {
    try PEMDocument(pemString: pem).derBytes
}

/// The subjectAltNames of a PEM certificate.
func alternativeNames(ofPEM pem: String) throws -> [GeneralName] {
    let certificate = try Certificate(pemEncoded: pem)
    return Array(try #require(try certificate.extensions.subjectAlternativeNames))
}

/// The ExtendedKeyUsage of a PEM certificate.
func extendedKeyUsage(ofPEM pem: String) throws -> [ExtendedKeyUsage.Usage] {
    let certificate = try Certificate(pemEncoded: pem)
    return Array(try #require(try certificate.extensions.extendedKeyUsage))
}

/// Result of running a command-line tool.
struct ToolResult {
    var status: Int32
    var output: String
}

/// Runs `openssl ARGUMENTS` (found on `PATH`) and returns its exit status and combined output.
func openssl(_ arguments: [String]) throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["openssl"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ToolResult(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self))
}

/// Runs `body`, expecting a ``CertsError`` with `code`, and returns it.
@discardableResult
func expectCertsError(
    _ code: CertsError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> CertsError? {
    do {
        try body()
        Issue.record("expected CertsError.\(code), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as CertsError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected CertsError.\(code), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
