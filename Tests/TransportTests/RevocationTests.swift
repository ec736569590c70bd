import Certs
import Collector
import Foundation
import NIOSSL
import TestSupport
import Testing
import Wire

/// `wirewatch certs revoke` and the collector's `--revoked` list, over real mutual TLS on 127.0.0.1.
@Suite("certificate revocation", .serialized)
struct RevocationTests {
    /// True when the collector answered Hello with HelloAck (the certificate was accepted).
    private func helloAccepted(_ tls: NIOSSLContext, sensor: String, port: Int) async throws -> Bool {
        let result = try await rawExchange(
            port: port, tls: tls, bytes: try Frames.hello(sensor),
            enough: { result in
                result.envelopes.contains { if case .helloAck = $0.body { true } else { false } }
            })
        return result.envelopes.contains { if case .helloAck = $0.body { true } else { false } }
    }

    @Test("a revoked certificate is refused at the handshake; the others still deliver")
    func revokedRefused() async throws {
        let pki = try PKI()
        // Loaded before the revocation moves the files away: what a thief of the lost host still holds.
        let stolen = try MutualTLS.clientContext(pki.sensorFiles("edge-2"))
        let report = try CertsRevoke(directory: pki.layout.directory, names: ["edge-2"]).run()
        #expect(report.revoked.map(\.name) == ["edge-2"])
        let collector = try TestCollector(pki: pki, revokedPath: pki.layout.revocationList)
        defer { collector.stop() }
        #expect(collector.revocation?.count == 1)

        #expect(try await helloAccepted(stolen, sensor: "edge-2", port: collector.port) == false)
        #expect(collector.revocation?.refusals == 1)
        let line = await collector.logs.waitFor(["revocation list", report.revoked[0].serialHex])
        #expect(line != nil, "\(collector.logs.all)")
        #expect(collector.server.metrics.connectedSensors == 0)

        let expected = try expectedRecords(["dns.pcap"], sensor: "edge-1").map(normalizedJSON).sorted()
        _ = try await shipInProcess(["dns.pcap"], sensor: "edge-1", pki: pki, port: collector.port)
        #expect(try collector.jsonLines(sensor: "edge-1") == expected)
        #expect(try collector.jsonLines(sensor: "edge-2").isEmpty)
    }

    @Test("a revocation made while the collector runs applies to the next handshake, without a restart")
    func reloadedWhileRunning() async throws {
        let pki = try PKI()
        try RevocationList().text.write(toFile: pki.layout.revocationList, atomically: true, encoding: .utf8)
        let stolen = try MutualTLS.clientContext(pki.sensorFiles("edge-3"))
        let collector = try TestCollector(pki: pki, revokedPath: pki.layout.revocationList)
        defer { collector.stop() }
        #expect(try await helloAccepted(stolen, sensor: "edge-3", port: collector.port))

        _ = try CertsRevoke(directory: pki.layout.directory, names: ["edge-3"]).run()
        #expect(await collector.logs.waitFor(["reloaded", "1 revoked"]) != nil, "\(collector.logs.all)")
        #expect(try await helloAccepted(stolen, sensor: "edge-3", port: collector.port) == false)
        #expect(collector.revocation?.refusals == 1)
    }

    @Test("a session already open is closed when its certificate is revoked")
    func openSessionClosed() async throws {
        let pki = try PKI()
        try RevocationList().text.write(toFile: pki.layout.revocationList, atomically: true, encoding: .utf8)
        let stolen = try MutualTLS.clientContext(pki.sensorFiles("edge-2"))
        let collector = try TestCollector(pki: pki, revokedPath: pki.layout.revocationList)
        defer { collector.stop() }
        let port = collector.port
        // Hello, then silence: the session stays open until the collector closes it.
        let session = Task { try await rawExchange(port: port, tls: stolen, bytes: try Frames.hello("edge-2")) }
        #expect(await collector.logs.waitFor(["sensor edge-2 connected"]) != nil, "\(collector.logs.all)")
        _ = try CertsRevoke(directory: pki.layout.directory, names: ["edge-2"]).run()
        let result = try await session.value
        #expect(result.errorCode == .notAllowed)
        #expect(await collector.logs.waitFor(["closed the sessions of edge-2", "certificate revoked"]) != nil)
        for _ in 0..<100 where collector.server.metrics.connectedSensors != 0 {
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect(collector.server.metrics.connectedSensors == 0)
    }

    @Test("a broken list keeps the revocations in force and says so once")
    func brokenListKeepsThePrevious() async throws {
        let pki = try PKI()
        let stolen = try MutualTLS.clientContext(pki.sensorFiles("edge-4"))
        _ = try CertsRevoke(directory: pki.layout.directory, names: ["edge-4"]).run()
        let collector = try TestCollector(pki: pki, revokedPath: pki.layout.revocationList)
        defer { collector.stop() }
        try "this is not a revocation list\n".write(
            toFile: pki.layout.revocationList, atomically: true, encoding: .utf8)
        let line = await collector.logs.waitFor(["not reloaded", "keeping the 1 revocations", "revoked.txt:1"])
        #expect(line != nil, "\(collector.logs.all)")
        #expect(try await helloAccepted(stolen, sensor: "edge-4", port: collector.port) == false)
        try await Task.sleep(nanoseconds: 300_000_000)
        #expect(collector.logs.all.filter { $0.contains("not reloaded") }.count == 1)
    }

    @Test("re-issuing a sensor revokes its old certificate; the new one is accepted")
    func reissue() async throws {
        let pki = try PKI()
        let old = try MutualTLS.clientContext(pki.sensorFiles("edge-1"))
        let report = try CertsInit(directory: pki.layout.directory, reissue: ["edge-1"], hostName: nil).run()
        #expect(report.revoked.map(\.name) == ["edge-1"])
        #expect(report.sensorsCreated == ["edge-1"])
        let collector = try TestCollector(pki: pki, revokedPath: pki.layout.revocationList)
        defer { collector.stop() }
        #expect(try await helloAccepted(old, sensor: "edge-1", port: collector.port) == false)
        let new = try MutualTLS.clientContext(pki.sensorFiles("edge-1"))
        #expect(try await helloAccepted(new, sensor: "edge-1", port: collector.port))
    }
}
