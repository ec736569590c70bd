import Certs
import Foundation
import SwiftASN1
import Testing
import X509

@Suite struct CertsInitTests {
    @Test func initWritesTheLayoutWithPrivateModes() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let directory = temporary.file("pki")
        let report = try CertsInit(directory: directory, sensors: ["edge-1", "edge-2"], hostName: nil).run()
        let layout = CertsLayout(directory: directory)
        let keys = [
            layout.caPrivateKey, layout.collectorPrivateKey, layout.sensorPrivateKey("edge-1"),
            layout.sensorPrivateKey("edge-2"),
        ]
        let certificates = [
            layout.caCertificate, layout.collectorCertificate, layout.sensorCertificate("edge-1"),
            layout.sensorCertificate("edge-2"),
        ]
        #expect(Set(report.created) == Set(keys + certificates))
        #expect(report.existing.isEmpty)
        #expect(report.authorityCreated && report.collectorCreated)
        #expect(report.sensorsCreated == ["edge-1", "edge-2"])
        for key in keys {
            #expect(permissions(key) == 0o600, "\(key)")
        }
        for certificate in certificates {
            let mode = try #require(permissions(certificate))
            #expect(mode & 0o600 == 0o600 && mode & 0o022 == 0, "\(certificate) \(String(mode, radix: 8))")
        }
        #expect(permissions(directory) == 0o700)
        #expect(permissions(layout.sensorsDirectory) == 0o700)
        #expect(
            Set(try snapshot(directory).keys) == Set(report.created.map { String($0.dropFirst(directory.count + 1)) }))
    }

    @Test func issuedFilesFormAWorkingPKI() async throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let layout = CertsLayout(directory: temporary.path)
        _ = try CertsInit(directory: temporary.path, sensors: ["edge-1"], hostName: nil).run()
        let ca = try CertificateAuthority(
            certificatePEM: try String(contentsOfFile: layout.caCertificate, encoding: .utf8),
            privateKeyPEM: try String(contentsOfFile: layout.caPrivateKey, encoding: .utf8))
        for (certificatePath, keyPath) in [
            (layout.collectorCertificate, layout.collectorPrivateKey),
            (layout.sensorCertificate("edge-1"), layout.sensorPrivateKey("edge-1")),
        ] {
            let pem = try String(contentsOfFile: certificatePath, encoding: .utf8)
            #expect(try await verifies(pem, against: ca.certificate))
            let key = try Certificate.PrivateKey(pemEncoded: try String(contentsOfFile: keyPath, encoding: .utf8))
            #expect(key.publicKey == (try Certificate(pemEncoded: pem)).publicKey)
        }
        let sensorPEM = try String(contentsOfFile: layout.sensorCertificate("edge-1"), encoding: .utf8)
        #expect(try CertificateIdentity.name(fromDER: try derBytes(ofPEM: sensorPEM)) == "edge-1")
    }

    @Test func collectorGetsDefaultAndExtraNamesAndAddresses() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let report = try CertsInit(
            directory: temporary.path,
            extraCollectorNames: ["collector.example.net", "LOCALHOST"],
            extraCollectorAddresses: ["10.0.0.5", "2001:DB8::7", "127.0.0.1"],
            hostName: "sensorhost"
        ).run()
        #expect(report.collectorNames == ["localhost", "sensorhost", "collector.example.net"])
        #expect(report.collectorAddresses == ["127.0.0.1", "::1", "10.0.0.5", "2001:db8::7"])
        let pem = try String(contentsOfFile: report.layout.collectorCertificate, encoding: .utf8)
        let parsed = try CertsInit.alternativeNames(ofPEM: pem, source: "collector.pem")
        #expect(parsed.dnsNames == report.collectorNames)
        #expect(parsed.ipAddresses == report.collectorAddresses)
    }

    @Test func rerunAddsASensorAndTouchesNothingElse() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let layout = CertsLayout(directory: temporary.path)
        _ = try CertsInit(directory: temporary.path, sensors: ["edge-1"], hostName: nil).run()
        let before = try snapshot(temporary.path)

        let report = try CertsInit(
            directory: temporary.path + "/", sensors: ["edge-1", "edge-2", "edge-2"],
            extraCollectorNames: ["ignored.example"], hostName: nil
        ).run()
        #expect(report.created == [layout.sensorCertificate("edge-2"), layout.sensorPrivateKey("edge-2")])
        #expect(
            Set(report.existing)
                == [
                    layout.caCertificate, layout.caPrivateKey, layout.collectorCertificate, layout.collectorPrivateKey,
                    layout.sensorCertificate("edge-1"), layout.sensorPrivateKey("edge-1"),
                ])
        #expect(!report.authorityCreated && !report.collectorCreated)
        #expect(report.sensors == ["edge-1", "edge-2"])
        #expect(report.sensorsCreated == ["edge-2"])
        // The existing collector certificate is reported as it is, without the name asked for now.
        #expect(!report.collectorNames.contains("ignored.example"))

        let after = try snapshot(temporary.path)
        for (path, bytes) in before {
            #expect(after[path] == bytes, "\(path) changed")
        }
        #expect(Set(after.keys).subtracting(before.keys) == ["sensors/edge-2.pem", "sensors/edge-2-key.pem"])

        let third = try CertsInit(directory: temporary.path, sensors: ["edge-2"], hostName: nil).run()
        #expect(third.created.isEmpty)
        #expect(try snapshot(temporary.path) == after)
    }

    @Test func halfAPairIsRefusedAndNothingIsWritten() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let layout = CertsLayout(directory: temporary.path)
        _ = try CertsInit(directory: temporary.path, sensors: ["edge-1"], hostName: nil).run()
        try FileManager.default.removeItem(atPath: layout.sensorPrivateKey("edge-1"))
        let before = try snapshot(temporary.path)
        let error = expectCertsError(.inconsistentDirectory) {
            _ = try CertsInit(directory: temporary.path, sensors: ["new", "edge-1"], hostName: nil).run()
        }
        #expect(error?.subject == layout.sensorPrivateKey("edge-1"))
        #expect(try snapshot(temporary.path) == before)
    }

    @Test func leafFilesWithoutTheirCAAreRefused() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        try temporary.write("collector.pem", "stale")
        let error = expectCertsError(.inconsistentDirectory) {
            _ = try CertsInit(directory: temporary.path, hostName: nil).run()
        }
        #expect(error?.subject == temporary.file("collector.pem"))
        #expect(try snapshot(temporary.path).keys.sorted() == ["collector.pem"])
    }

    @Test func certificateFromAnotherCAIsRefused() throws {
        let first = try TemporaryDirectory()
        let second = try TemporaryDirectory()
        defer {
            first.remove()
            second.remove()
        }
        _ = try CertsInit(directory: first.path, sensors: ["edge-1"], hostName: nil).run()
        _ = try CertsInit(directory: second.path, hostName: nil).run()
        let from = CertsLayout(directory: first.path)
        let into = CertsLayout(directory: second.path)
        try FileManager.default.createDirectory(atPath: into.sensorsDirectory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: from.sensorCertificate("edge-1"), toPath: into.sensorCertificate("edge-1"))
        try FileManager.default.copyItem(
            atPath: from.sensorPrivateKey("edge-1"), toPath: into.sensorPrivateKey("edge-1"))
        let error = expectCertsError(.notIssuedByAuthority) {
            _ = try CertsInit(directory: second.path, sensors: ["edge-1"], hostName: nil).run()
        }
        #expect(error?.subject == into.sensorCertificate("edge-1"))
    }

    @Test func mismatchedCAKeyOnDiskIsRefused() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let other = try CertificateAuthority.create(validDays: 30)
        let layout = CertsLayout(directory: temporary.path)
        _ = try CertsInit(directory: temporary.path, hostName: nil).run()
        try FileManager.default.removeItem(atPath: layout.caPrivateKey)
        try temporary.write("ca-key.pem", other.credentials.privateKeyPEM)
        let error = expectCertsError(.keyMismatch) {
            _ = try CertsInit(directory: temporary.path, sensors: ["edge-1"], hostName: nil).run()
        }
        #expect(error?.subject == layout.caPrivateKey)
        #expect(!FileManager.default.fileExists(atPath: layout.sensorsDirectory))
    }

    @Test func unusableDirectoryIsAnInputError() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let file = try temporary.write("plain-file", "x")
        let error = expectCertsError(.fileSystem) {
            _ = try CertsInit(directory: file + "/pki", hostName: nil).run()
        }
        #expect(error?.isInputError == true)
        #expect(error?.subject == file)
    }

    @Test func badInputIsRefusedBeforeAnythingIsWritten() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let directory = temporary.file("pki")
        expectCertsError(.invalidName) {
            _ = try CertsInit(directory: directory, sensors: ["ok", "not ok"], hostName: nil).run()
        }
        expectCertsError(.invalidIPAddress) {
            _ = try CertsInit(directory: directory, extraCollectorAddresses: ["10.0.0"], hostName: nil).run()
        }
        expectCertsError(.invalidDNSName) {
            _ = try CertsInit(directory: directory, extraCollectorNames: ["a_b"], hostName: nil).validate()
        }
        expectCertsError(.invalidValidity) {
            _ = try CertsInit(directory: directory, validDays: 0, hostName: nil).run()
        }
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test func layoutPaths() {
        let layout = CertsLayout(directory: "out//")
        #expect(layout.caCertificate == "out/ca.pem")
        #expect(layout.caPrivateKey == "out/ca-key.pem")
        #expect(layout.collectorCertificate == "out/collector.pem")
        #expect(layout.collectorPrivateKey == "out/collector-key.pem")
        #expect(layout.sensorCertificate("s1") == "out/sensors/s1.pem")
        #expect(layout.sensorPrivateKey("s1") == "out/sensors/s1-key.pem")
        #expect(CertsLayout(directory: "/").caCertificate == "/ca.pem")
    }
}
