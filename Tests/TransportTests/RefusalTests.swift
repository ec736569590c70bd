import Certs
import Collector
import Foundation
import NIOCore
import NIOSSL
import TestSupport
import Testing
import Wire

/// Each bad peer is refused with one log line naming it and the reason, and a valid sensor delivers afterwards.
@Suite("refused connections")
struct RefusalTests {
    /// After a refusal: the log names the peer and the reason, and a valid sensor still connects and delivers.
    func expectRefusedThenHealthy(
        _ collector: TestCollector, pki: PKI, reason: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let line = await collector.logs.waitFor(["refused ", "127.0.0.1:"] + reason)
        #expect(line != nil, "no log line with \(reason) in \(collector.logs.all)", sourceLocation: sourceLocation)
        if let line {
            #expect(line.split(separator: "\n").count == 1, sourceLocation: sourceLocation)
            #expect(collector.logs.all.filter { $0.contains("refused") }.count == 1, sourceLocation: sourceLocation)
        }
        let expected = try expectedRecords(["dns.pcap"], sensor: "edge-1").map(normalizedJSON).sorted()
        _ = try await shipInProcess(["dns.pcap"], sensor: "edge-1", pki: pki, port: collector.port)
        #expect(try collector.jsonLines(sensor: "edge-1") == expected, sourceLocation: sourceLocation)
    }

    @Test("a plaintext client is refused at the TLS handshake")
    func plaintext() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let result = try await rawExchange(port: collector.port, tls: nil, bytes: try Frames.hello("edge-1"))
        #expect(result.errorCode == nil)  // no TLS session, so no Error frame: the connection is just closed
        #expect(collector.server.metrics.connectedSensors == 0)
        try await expectRefusedThenHealthy(collector, pki: pki, reason: ["TLS"])
    }

    @Test("a TLS client without a certificate is refused")
    func noCertificate() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        var config = TLSConfiguration.makeClientConfiguration()
        config.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(pki.layout.caCertificate))
        let result = try await rawExchange(
            port: collector.port, tls: try NIOSSLContext(configuration: config), bytes: try Frames.hello("edge-1"))
        #expect(result.envelopes.isEmpty)
        try await expectRefusedThenHealthy(collector, pki: pki, reason: ["TLS", "CERTIFICATE"])
    }

    @Test("a certificate from another CA is refused")
    func otherCA() async throws {
        let pki = try PKI()
        let rogue = try PKI()  // same names, different CA
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        // The rogue sensor trusts the real collector (so the handshake reaches the client-certificate check).
        var config = TLSConfiguration.makeClientConfiguration()
        config.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(pki.layout.caCertificate))
        config.certificateChain = try NIOSSLCertificate.fromPEMFile(rogue.layout.sensorCertificate("edge-1")).map {
            .certificate($0)
        }
        config.privateKey = .privateKey(
            try NIOSSLPrivateKey(file: rogue.layout.sensorPrivateKey("edge-1"), format: .pem))
        let result = try await rawExchange(
            port: collector.port, tls: try NIOSSLContext(configuration: config), bytes: try Frames.hello("edge-1"))
        #expect(result.envelopes.isEmpty)
        try await expectRefusedThenHealthy(collector, pki: pki, reason: ["TLS", "CERTIFICATE_VERIFY_FAILED"])
    }

    @Test("a valid certificate whose name differs from its Hello is refused with NAME_MISMATCH")
    func nameMismatch() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let tls = try MutualTLS.clientContext(pki.sensorFiles("edge-2"))
        let result = try await rawExchange(port: collector.port, tls: tls, bytes: try Frames.hello("edge-1"))
        #expect(result.errorCode == .nameMismatch)
        try await expectRefusedThenHealthy(collector, pki: pki, reason: ["edge-2", "\"edge-1\""])
    }

    @Test("a sensor missing from the allow-list is refused with NOT_ALLOWED")
    func allowList() async throws {
        let pki = try PKI()
        var options = CollectorOptions()
        options.allowList = ["edge-1"]
        let collector = try TestCollector(pki: pki, options: options)
        defer { collector.stop() }
        let tls = try MutualTLS.clientContext(pki.sensorFiles("edge-3"))
        let result = try await rawExchange(port: collector.port, tls: tls, bytes: try Frames.hello("edge-3"))
        #expect(result.errorCode == .notAllowed)
        try await expectRefusedThenHealthy(collector, pki: pki, reason: ["edge-3", "allow-list"])
    }

    @Test("garbage after the handshake is refused with BAD_FRAME")
    func garbage() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let tls = try MutualTLS.clientContext(pki.sensorFiles("edge-1"))
        let junk: [UInt8] = [0, 0, 0, 12] + Array("GET / HTTP/1".utf8)
        let result = try await rawExchange(port: collector.port, tls: tls, bytes: junk)
        #expect(result.errorCode == .badFrame)
        try await expectRefusedThenHealthy(collector, pki: pki, reason: ["not a valid Envelope"])
    }

    @Test("a 4 GiB length prefix is refused with FRAME_TOO_LARGE before anything is buffered")
    func hugeLength() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let tls = try MutualTLS.clientContext(pki.sensorFiles("edge-1"))
        let result = try await rawExchange(port: collector.port, tls: tls, bytes: [0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3])
        #expect(result.errorCode == .frameTooLarge)
        try await expectRefusedThenHealthy(collector, pki: pki, reason: ["4294967295 bytes exceeds the maximum"])
    }

    @Test("a wrong protocol version is refused with UNSUPPORTED_VERSION")
    func wrongVersion() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let tls = try MutualTLS.clientContext(pki.sensorFiles("edge-1"))
        let result = try await rawExchange(
            port: collector.port, tls: tls, bytes: try Frames.hello("edge-1", version: 0))
        #expect(result.errorCode == .unsupportedVersion)
        try await expectRefusedThenHealthy(collector, pki: pki, reason: ["version 0"])
    }

    @Test("a batch before Hello is refused with UNEXPECTED_MESSAGE")
    func batchBeforeHello() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let tls = try MutualTLS.clientContext(pki.sensorFiles("edge-1"))
        var envelope = Wirewatch_V1_Envelope()
        envelope.batch.sequence = 1
        let result = try await rawExchange(port: collector.port, tls: tls, bytes: try Frames.frame(envelope))
        #expect(result.errorCode == .unexpectedMessage)
        try await expectRefusedThenHealthy(collector, pki: pki, reason: ["RecordBatch where Hello was expected"])
    }
}

@Suite("idle connections")
struct IdleTests {
    @Test("a connection silent for the idle timeout gets IDLE_TIMEOUT and is closed; others are unaffected")
    func idleTimeout() async throws {
        let pki = try PKI()
        var options = CollectorOptions()
        options.idleTimeout = .milliseconds(1500)
        let collector = try TestCollector(pki: pki, options: options)
        defer { collector.stop() }
        let tls = try MutualTLS.clientContext(pki.sensorFiles("edge-2"))
        let started = Date()
        let result = try await rawExchange(port: collector.port, tls: tls, bytes: try Frames.hello("edge-2"))
        // The last frame is the Error (a HelloAck comes before it unless the machine is too loaded to answer
        // within the timeout, which closes the connection all the same).
        #expect(result.errorCode == .idleTimeout)
        #expect(result.envelopes.last?.error.code == .idleTimeout)
        #expect(Date().timeIntervalSince(started) >= 1.5)
        #expect(await collector.logs.waitFor(["sensor edge-2", "no frame for"]) != nil, "\(collector.logs.all)")
    }
}
