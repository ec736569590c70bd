import Certs
import Foundation
import SwiftASN1
import Testing
import X509

@Suite struct CertificateIdentityTests {
    @Test func nameIsTheCommonNameOfASensorCertificate() throws {
        let ca = try CertificateAuthority.create(validDays: 30)
        let client = try ca.issueClient(name: "edge-7", validDays: 5)
        #expect(try CertificateIdentity.name(fromDER: try derBytes(ofPEM: client.certificatePEM)) == "edge-7")
    }

    @Test func nameFallsBackToTheFirstDNSAlternativeName() throws {
        let der = try leafDER(subject: DistinguishedName(), alternativeNames: [.dnsName("from-san"), .dnsName("2nd")])
        #expect(try CertificateIdentity.name(fromDER: der) == "from-san")
    }

    @Test func nameSkipsNonDNSAlternativeNames() throws {
        let der = try leafDER(
            subject: DistinguishedName(),
            alternativeNames: [.ipAddress(ASN1OctetString(contentBytes: [10, 0, 0, 1])), .dnsName("sensor-b")])
        #expect(try CertificateIdentity.name(fromDER: der) == "sensor-b")
    }

    @Test func certificateNamingNoOneIsRefused() throws {
        let der = try leafDER(subject: DistinguishedName(), alternativeNames: nil)
        expectCertsError(.noIdentity) { _ = try CertificateIdentity.name(fromDER: der) }
    }

    @Test func bytesThatAreNoCertificateAreRefused() {
        expectCertsError(.invalidPEM) { _ = try CertificateIdentity.name(fromDER: [0x30, 0x03, 0x02, 0x01]) }
        expectCertsError(.invalidPEM) { _ = try CertificateIdentity.name(fromDER: []) }
    }

    @Test(arguments: ["a", "edge-1", "dmz.gw_2", "EDGE", "0", String(repeating: "x", count: 64)])
    func validNamesAreAccepted(name: String) throws {
        try CertificateIdentity.validateName(name)
    }

    @Test(arguments: [
        "", String(repeating: "x", count: 65), "a b", "a/b", "../x", "..", ".hidden", "é", "a:b", "a\u{0}b", "a\n",
    ])
    func badNamesAreRefused(name: String) {
        let error = expectCertsError(.invalidName) { try CertificateIdentity.validateName(name) }
        #expect(error?.isInputError == true)
        #expect(error?.description.contains("sensor name") == true)
    }

    @Test func badNameIsNeverIssued() throws {
        let ca = try CertificateAuthority.create(validDays: 30)
        expectCertsError(.invalidName) { _ = try ca.issueClient(name: "../../etc/x", validDays: 5) }
    }

    /// A leaf made directly with swift-certificates, for shapes `CertificateAuthority` never issues.
    private func leafDER(subject: DistinguishedName, alternativeNames: [GeneralName]?) throws -> [UInt8] {
        let ca = try CertificateAuthority.create(validDays: 30)
        let caKey = try Certificate.PrivateKey(pemEncoded: ca.credentials.privateKeyPEM)
        let leafKey = try Certificate.PrivateKey(
            pemEncoded: try ca.issueClient(name: "unused", validDays: 1).privateKeyPEM)
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: leafKey.publicKey,
            notValidBefore: now - 60, notValidAfter: now + 3600, issuer: ca.certificate.subject, subject: subject,
            extensions: try Certificate.Extensions {
                if let alternativeNames {
                    // RFC 5280 §4.2.1.6: critical when the subject is empty.
                    Critical(SubjectAlternativeNames(alternativeNames))
                }
            },
            issuerPrivateKey: caKey)
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }
}

@Suite struct NetworkNameTests {
    @Test(arguments: [
        ("127.0.0.1", [UInt8]([127, 0, 0, 1]), "127.0.0.1"),
        ("::1", [UInt8](repeating: 0, count: 15) + [1], "::1"),
        ("2001:DB8:0:0::7", [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [7], "2001:db8::7"),
        ("::ffff:10.0.0.1", [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 10, 0, 0, 1], "::ffff:10.0.0.1"),
    ])
    func addressesParseAndPrint(text: String, bytes: [UInt8], canonical: String) throws {
        #expect(try NetworkName.addressBytes(text) == bytes)
        #expect(NetworkName.addressText(bytes) == canonical)
    }

    @Test(arguments: [
        "", "1.2.3", "256.0.0.1", "1.2.3.4.5", "::g", "fe80::1%eth0", "10.0.0.0/8", "localhost", " 1.2.3.4",
    ])
    func badAddressesAreRefused(text: String) {
        expectCertsError(.invalidIPAddress) { _ = try NetworkName.addressBytes(text) }
    }

    @Test(arguments: ["localhost", "collector.example.net", "a-b.c", "x1", String(repeating: "a", count: 63) + ".com"])
    func hostNamesAreAccepted(name: String) throws {
        try NetworkName.validateDNSName(name)
    }

    @Test(arguments: [
        "", "-a", "a-", "a..b", "a.", ".a", "a_b", "a b", "*.example.com", String(repeating: "a", count: 64) + ".com",
    ])
    func badHostNamesAreRefused(name: String) {
        expectCertsError(.invalidDNSName) { try NetworkName.validateDNSName(name) }
    }
}
