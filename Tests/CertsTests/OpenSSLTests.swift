import Certs
import Foundation
import Testing

/// An independent check: the OpenSSL command-line tool (a different X.509 implementation from
/// swift-certificates) accepts what `certs init` writes, for the purposes TLS will use it for.
@Suite struct OpenSSLTests {
    @Test func opensslVerifiesTheCollectorAndSensorCertificates() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let layout = CertsLayout(directory: temporary.path)
        _ = try CertsInit(
            directory: temporary.path, sensors: ["edge-1"], extraCollectorAddresses: ["2001:db8::7"],
            hostName: nil
        ).run()
        let sensor = layout.sensorCertificate("edge-1")

        let server = try openssl([
            "verify", "-CAfile", layout.caCertificate, "-purpose", "sslserver", "-verify_hostname", "localhost",
            layout.collectorCertificate,
        ])
        #expect(server.status == 0, "\(server.output)")
        let serverByIP = try openssl([
            "verify", "-CAfile", layout.caCertificate, "-purpose", "sslserver", "-verify_ip", "2001:db8::7",
            layout.collectorCertificate,
        ])
        #expect(serverByIP.status == 0, "\(serverByIP.output)")
        let client = try openssl(["verify", "-CAfile", layout.caCertificate, "-purpose", "sslclient", sensor])
        #expect(client.status == 0, "\(client.output)")

        // The purposes are not interchangeable: a sensor certificate cannot serve, the collector's cannot be a client.
        let sensorAsServer = try openssl(["verify", "-CAfile", layout.caCertificate, "-purpose", "sslserver", sensor])
        #expect(sensorAsServer.status != 0, "\(sensorAsServer.output)")
        let collectorAsClient = try openssl([
            "verify", "-CAfile", layout.caCertificate, "-purpose", "sslclient", layout.collectorCertificate,
        ])
        #expect(collectorAsClient.status != 0, "\(collectorAsClient.output)")
        let wrongName = try openssl([
            "verify", "-CAfile", layout.caCertificate, "-verify_hostname", "elsewhere.example",
            layout.collectorCertificate,
        ])
        #expect(wrongName.status != 0, "\(wrongName.output)")
    }

    @Test func opensslRejectsCertificatesAgainstAnotherCA() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let layout = CertsLayout(directory: temporary.path)
        _ = try CertsInit(directory: temporary.path, sensors: ["edge-1"], hostName: nil).run()
        let other = try CertificateAuthority.create(validDays: 30)
        let otherCA = try temporary.write("other-ca.pem", other.credentials.certificatePEM)
        let result = try openssl(["verify", "-CAfile", otherCA, layout.sensorCertificate("edge-1")])
        #expect(result.status != 0, "\(result.output)")
    }

    @Test func opensslReadsTheKeysAndTheyMatchTheirCertificates() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let layout = CertsLayout(directory: temporary.path)
        _ = try CertsInit(directory: temporary.path, sensors: ["edge-1"], hostName: nil).run()
        for (certificate, key) in [
            (layout.caCertificate, layout.caPrivateKey),
            (layout.collectorCertificate, layout.collectorPrivateKey),
            (layout.sensorCertificate("edge-1"), layout.sensorPrivateKey("edge-1")),
        ] {
            let fromCertificate = try openssl(["x509", "-in", certificate, "-noout", "-pubkey"])
            let fromKey = try openssl(["pkey", "-in", key, "-pubout"])
            #expect(fromCertificate.status == 0 && fromKey.status == 0, "\(fromCertificate.output)\(fromKey.output)")
            #expect(fromCertificate.output.contains("BEGIN PUBLIC KEY"))
            #expect(fromCertificate.output == fromKey.output, "\(key) does not match \(certificate)")
        }
    }
}
