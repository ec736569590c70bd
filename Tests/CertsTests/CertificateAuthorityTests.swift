import Certs
import Foundation
import SwiftASN1
import Testing
import X509

@Suite struct CertificateAuthorityTests {
    @Test func caIsAPathLengthZeroSigningAuthority() throws {
        let ca = try CertificateAuthority.create(validDays: 30)
        let extensions = ca.certificate.extensions
        #expect(try extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        let keyUsage = try #require(try extensions.keyUsage)
        #expect(keyUsage.keyCertSign && keyUsage.cRLSign && !keyUsage.digitalSignature)
        #expect(try extensions.subjectKeyIdentifier != nil)
        #expect(CertificateIdentity.commonName(of: ca.certificate.subject) == "Wirewatch CA")
        #expect(ca.certificate.issuer == ca.certificate.subject)
        #expect(ca.certificate.signatureAlgorithm == .ecdsaWithSHA256)
        #expect(ca.credentials.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(ca.credentials.certificatePEM.hasSuffix("-----END CERTIFICATE-----\n"))
    }

    @Test func issuedCertificatesVerifyAgainstTheirCAAndNotAnother() async throws {
        let ca = try CertificateAuthority.create(validDays: 30)
        // Same subject name, different key: a verifier must check the signature, not just the issuer name.
        let other = try CertificateAuthority.create(validDays: 30)
        let server = try ca.issueServer(
            commonName: "collector", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validDays: 10)
        let client = try ca.issueClient(name: "edge-1", validDays: 10)
        for leaf in [server.certificatePEM, client.certificatePEM] {
            #expect(try await verifies(leaf, against: ca.certificate))
            #expect(try await !verifies(leaf, against: other.certificate))
        }
    }

    @Test func serverCertificateMatchesItsNamesAndAddressesOnly() async throws {
        let ca = try CertificateAuthority.create(validDays: 30)
        let server = try ca.issueServer(
            commonName: "collector", dnsNames: ["localhost", "collector.example.net"],
            ipAddresses: ["127.0.0.1", "::1", "2001:db8::7"], validDays: 10)
        let pem = server.certificatePEM
        #expect(try await verifies(pem, against: ca.certificate, serverHostname: "collector.example.net"))
        #expect(try await verifies(pem, against: ca.certificate, serverIP: "2001:db8::7"))
        #expect(try await verifies(pem, against: ca.certificate, serverIP: "::1"))
        #expect(try await !verifies(pem, against: ca.certificate, serverHostname: "other.example.net"))
        #expect(try await !verifies(pem, against: ca.certificate, serverIP: "10.0.0.1"))
    }

    @Test func serverCertificateCarriesEveryNameAndAddress() throws {
        let ca = try CertificateAuthority.create(validDays: 30)
        let server = try ca.issueServer(
            commonName: "collector", dnsNames: ["localhost", "collector.example.net"],
            ipAddresses: ["127.0.0.1", "::1", "10.1.2.3", "2001:db8::7"], validDays: 10)
        let names = try alternativeNames(ofPEM: server.certificatePEM)
        let dnsNames = names.compactMap { name -> String? in
            if case .dnsName(let dnsName) = name { return dnsName }
            return nil
        }
        let addresses = names.compactMap { name -> [UInt8]? in
            if case .ipAddress(let octets) = name { return Array(octets.bytes) }
            return nil
        }
        #expect(dnsNames == ["localhost", "collector.example.net"])
        #expect(
            addresses == [
                [127, 0, 0, 1],
                [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [10, 1, 2, 3],
                [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7],
            ])
        #expect(try extendedKeyUsage(ofPEM: server.certificatePEM) == [.serverAuth])
    }

    @Test func clientCertificateNamesTheSensorTwice() throws {
        let ca = try CertificateAuthority.create(validDays: 30)
        let client = try ca.issueClient(name: "dmz.gw_2", validDays: 10)
        let certificate = try Certificate(pemEncoded: client.certificatePEM)
        #expect(CertificateIdentity.commonName(of: certificate.subject) == "dmz.gw_2")
        #expect(try alternativeNames(ofPEM: client.certificatePEM) == [.dnsName("dmz.gw_2")])
        #expect(try extendedKeyUsage(ofPEM: client.certificatePEM) == [.clientAuth])
        #expect(try certificate.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try certificate.extensions.keyUsage?.digitalSignature == true)
    }

    @Test func leafLinksToTheCAKeyAndHasItsOwnKeyAndSerial() throws {
        let ca = try CertificateAuthority.create(validDays: 30)
        let first = try Certificate(pemEncoded: try ca.issueClient(name: "a", validDays: 10).certificatePEM)
        let second = try Certificate(pemEncoded: try ca.issueClient(name: "a", validDays: 10).certificatePEM)
        let caKeyID = try #require(try ca.certificate.extensions.subjectKeyIdentifier).keyIdentifier
        #expect(try first.extensions.authorityKeyIdentifier?.keyIdentifier == caKeyID)
        #expect(try first.extensions.subjectKeyIdentifier?.keyIdentifier != caKeyID)
        #expect(first.serialNumber != second.serialNumber)
        #expect(first.publicKey != second.publicKey)
        #expect(ca.hasIssued(first))
    }

    @Test func validityAllowsForClockSkewAndNeverOutlivesTheCA() throws {
        let now = Date()
        let ca = try CertificateAuthority.create(validDays: 10, now: now)
        let shortLived = try Certificate(
            pemEncoded: try ca.issueClient(name: "a", validDays: 2, now: now).certificatePEM)
        let longLived = try Certificate(
            pemEncoded: try ca.issueClient(name: "b", validDays: 400, now: now).certificatePEM)
        #expect(shortLived.notValidBefore <= now - 30 * 60)
        #expect(abs(shortLived.notValidAfter.timeIntervalSince(now) - 2 * 86_400) < 2)
        #expect(longLived.notValidAfter == ca.certificate.notValidAfter)
    }

    @Test func expiredCAIssuesNothing() throws {
        let ca = try CertificateAuthority.create(validDays: 1, now: Date() - 3 * 86_400)
        expectCertsError(.invalidValidity) { _ = try ca.issueClient(name: "a", validDays: 1) }
    }

    @Test(arguments: [0, -1, CertificateAuthority.maximumValidDays + 1])
    func validityOutOfRangeIsRefused(days: Int) throws {
        expectCertsError(.invalidValidity) { _ = try CertificateAuthority.create(validDays: days) }
        let ca = try CertificateAuthority.create(validDays: 30)
        expectCertsError(.invalidValidity) { _ = try ca.issueClient(name: "a", validDays: days) }
    }

    @Test func loadedCAKeepsItsPEMAndIssuesVerifiableCertificates() async throws {
        let original = try CertificateAuthority.create(validDays: 30)
        let loaded = try CertificateAuthority(
            certificatePEM: original.credentials.certificatePEM, privateKeyPEM: original.credentials.privateKeyPEM)
        #expect(loaded.credentials == original.credentials)
        #expect(loaded.certificate == original.certificate)
        let client = try loaded.issueClient(name: "later", validDays: 5)
        #expect(try await verifies(client.certificatePEM, against: original.certificate))
    }

    @Test func loadingWithAnotherKeyFails() throws {
        let ca = try CertificateAuthority.create(validDays: 30)
        let other = try CertificateAuthority.create(validDays: 30)
        let error = expectCertsError(.keyMismatch) {
            _ = try CertificateAuthority(
                certificatePEM: ca.credentials.certificatePEM, privateKeyPEM: other.credentials.privateKeyPEM,
                certificateSource: "pki/ca.pem", keySource: "pki/ca-key.pem")
        }
        #expect(error?.subject == "pki/ca-key.pem")
        #expect(error?.description.contains("pki/ca.pem") == true)
    }

    @Test func loadingALeafAsCAFails() throws {
        let ca = try CertificateAuthority.create(validDays: 30)
        let leaf = try ca.issueClient(name: "edge", validDays: 5)
        expectCertsError(.notCertificateAuthority) {
            _ = try CertificateAuthority(certificatePEM: leaf.certificatePEM, privateKeyPEM: leaf.privateKeyPEM)
        }
    }

    @Test func loadingGarbageFails() throws {
        let ca = try CertificateAuthority.create(validDays: 30)
        expectCertsError(.invalidPEM) {
            _ = try CertificateAuthority(certificatePEM: "not pem", privateKeyPEM: ca.credentials.privateKeyPEM)
        }
        expectCertsError(.invalidPEM) {
            _ = try CertificateAuthority(
                certificatePEM: ca.credentials.certificatePEM, privateKeyPEM: ca.credentials.certificatePEM)
        }
    }

    @Test func badServerNamesAndAddressesAreRefused() throws {
        let ca = try CertificateAuthority.create(validDays: 30)
        expectCertsError(.invalidDNSName) {
            _ = try ca.issueServer(commonName: "c", dnsNames: ["bad_name"], ipAddresses: [], validDays: 1)
        }
        expectCertsError(.invalidIPAddress) {
            _ = try ca.issueServer(commonName: "c", dnsNames: [], ipAddresses: ["1.2.3"], validDays: 1)
        }
    }
}
