import Crypto
import Foundation
import SwiftASN1
import X509

/// A private certificate authority: the root every Wirewatch party trusts, and the issuer of the collector's
/// server certificate and each sensor's client certificate.
///
/// Keys are ECDSA P-256. Certificates start an hour in the past so that a party whose clock runs behind still
/// accepts a certificate issued a moment ago, and never outlive the CA.
public struct CertificateAuthority: Sendable {
    /// How far `notValidBefore` is set back from the time of issue.
    public static let clockSkewAllowance: TimeInterval = 3600
    /// The longest validity accepted, in days (100 years).
    public static let maximumValidDays = 36_500

    /// The CA certificate.
    public let certificate: Certificate
    private let privateKey: Certificate.PrivateKey
    private let certificatePEM: String
    private let privateKeyPEM: String

    /// The CA certificate and key as PEM: as loaded, byte for byte, or as generated.
    public var credentials: PEMCredentials {
        PEMCredentials(certificatePEM: certificatePEM, privateKeyPEM: privateKeyPEM)
    }

    /// Makes a new self-signed CA: P-256 key, BasicConstraints CA with path length 0 (it signs leaves only),
    /// KeyUsage keyCertSign + cRLSign, SubjectKeyIdentifier.
    public static func create(
        commonName: String = "Wirewatch CA",
        validDays: Int,
        now: Date = Date()
    ) throws -> CertificateAuthority {
        try checkValidDays(validDays)
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let certificate: Certificate
        do {
            let name = try DistinguishedName { CommonName(commonName) }
            certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: now - clockSkewAllowance,
                notValidAfter: now + TimeInterval(validDays) * 86_400,
                issuer: name,
                subject: name,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: publicKey)
                },
                issuerPrivateKey: Certificate.PrivateKey(key)
            )
        } catch {
            throw CertsError(.signing, "CA '\(commonName)'", "could not make the CA certificate: \(error)")
        }
        return CertificateAuthority(
            certificate: certificate,
            privateKey: Certificate.PrivateKey(key),
            certificatePEM: try pem(of: certificate, for: "CA '\(commonName)'"),
            privateKeyPEM: lineTerminated(key.pemRepresentation)
        )
    }

    /// Loads an existing CA. Throws ``CertsError/Code/invalidPEM`` when either text does not parse,
    /// ``CertsError/Code/notCertificateAuthority`` when the certificate may not sign certificates, and
    /// ``CertsError/Code/keyMismatch`` when the key is not the certificate's.
    ///
    /// `certificateSource` and `keySource` name where the PEM came from (paths) in error messages.
    public init(
        certificatePEM: String,
        privateKeyPEM: String,
        certificateSource: String = "CA certificate",
        keySource: String = "CA private key"
    ) throws {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: certificatePEM)
        } catch {
            throw CertsError(.invalidPEM, certificateSource, "not a PEM certificate: \(error)")
        }
        let privateKey: Certificate.PrivateKey
        do {
            privateKey = try Certificate.PrivateKey(pemEncoded: privateKeyPEM)
        } catch {
            throw CertsError(.invalidPEM, keySource, "not a PEM private key: \(error)")
        }
        guard case .isCertificateAuthority = try? certificate.extensions.basicConstraints else {
            throw CertsError(
                .notCertificateAuthority, certificateSource, "is not a CA certificate (no BasicConstraints cA)")
        }
        if let keyUsage = try? certificate.extensions.keyUsage, !keyUsage.keyCertSign {
            throw CertsError(
                .notCertificateAuthority, certificateSource, "is a CA certificate whose KeyUsage forbids keyCertSign")
        }
        guard privateKey.publicKey == certificate.publicKey else {
            throw CertsError(
                .keyMismatch, keySource,
                "does not belong to \(certificateSource) (\(certificate.subject)): it is another key")
        }
        self.init(
            certificate: certificate,
            privateKey: privateKey,
            certificatePEM: certificatePEM,
            privateKeyPEM: privateKeyPEM
        )
    }

    private init(
        certificate: Certificate, privateKey: Certificate.PrivateKey, certificatePEM: String, privateKeyPEM: String
    ) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    /// Issues the collector's TLS server certificate: CN = `commonName`, subjectAltNames = every DNS name and
    /// IP address (IPv4 or IPv6 text), ExtendedKeyUsage serverAuth.
    public func issueServer(
        commonName: String,
        dnsNames: [String],
        ipAddresses: [String],
        validDays: Int,
        now: Date = Date()
    ) throws -> PEMCredentials {
        for dnsName in dnsNames {
            try NetworkName.validateDNSName(dnsName)
        }
        let addresses = try ipAddresses.map { try NetworkName.addressBytes($0) }
        let alternativeNames =
            dnsNames.map { GeneralName.dnsName($0) }
            + addresses.map { GeneralName.ipAddress(ASN1OctetString(contentBytes: ArraySlice($0))) }
        return try issueLeaf(
            commonName: commonName,
            alternativeNames: alternativeNames,
            usage: .serverAuth,
            validDays: validDays,
            now: now
        )
    }

    /// Issues a sensor's TLS client certificate: CN = `name` and a DNS subjectAltName = `name` (for verifiers
    /// that look only at SANs), ExtendedKeyUsage clientAuth. `name` must pass
    /// ``CertificateIdentity/validateName(_:)``.
    public func issueClient(name: String, validDays: Int, now: Date = Date()) throws -> PEMCredentials {
        try CertificateIdentity.validateName(name)
        return try issueLeaf(
            commonName: name,
            alternativeNames: [.dnsName(name)],
            usage: .clientAuth,
            validDays: validDays,
            now: now
        )
    }

    /// True when this CA signed `leaf`: the issuer name matches and the signature verifies with the CA's key.
    public func hasIssued(_ leaf: Certificate) -> Bool {
        leaf.issuer == certificate.subject && certificate.publicKey.isValidSignature(leaf.signature, for: leaf)
    }

    private func issueLeaf(
        commonName: String,
        alternativeNames: [GeneralName],
        usage: ExtendedKeyUsage.Usage,
        validDays: Int,
        now: Date
    ) throws -> PEMCredentials {
        try Self.checkValidDays(validDays)
        guard certificate.notValidAfter > now else {
            throw CertsError(
                .invalidValidity, "CA \(certificate.subject)", "expired on \(certificate.notValidAfter)")
        }
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        // RFC 5280 §4.2.1.1: the leaf's AuthorityKeyIdentifier is the CA's SubjectKeyIdentifier.
        let authorityKeyID =
            (try? certificate.extensions.subjectKeyIdentifier)?.keyIdentifier
            ?? SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
        // A certificate never outlives its issuer.
        let notValidAfter = min(now + TimeInterval(validDays) * 86_400, certificate.notValidAfter)
        let certificate: Certificate
        do {
            certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: now - Self.clockSkewAllowance,
                notValidAfter: notValidAfter,
                issuer: self.certificate.subject,
                subject: try DistinguishedName { CommonName(commonName) },
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([usage])
                    SubjectAlternativeNames(alternativeNames)
                    SubjectKeyIdentifier(hash: publicKey)
                    AuthorityKeyIdentifier(keyIdentifier: authorityKeyID)
                },
                issuerPrivateKey: privateKey
            )
        } catch {
            throw CertsError(.signing, "certificate '\(commonName)'", "could not issue: \(error)")
        }
        return PEMCredentials(
            certificatePEM: try Self.pem(of: certificate, for: "certificate '\(commonName)'"),
            privateKeyPEM: Self.lineTerminated(key.pemRepresentation)
        )
    }

    private static func checkValidDays(_ days: Int) throws {
        guard (1...maximumValidDays).contains(days) else {
            throw CertsError(.invalidValidity, "\(days) days", "validity must be 1 to \(maximumValidDays) days")
        }
    }

    private static func pem(of certificate: Certificate, for subject: String) throws -> String {
        do {
            return lineTerminated(try certificate.serializeAsPEM().pemString)
        } catch {
            throw CertsError(.signing, subject, "could not encode as PEM: \(error)")
        }
    }

    /// PEM files end with a newline, as OpenSSL writes them.
    private static func lineTerminated(_ pem: String) -> String {
        pem.hasSuffix("\n") ? pem : pem + "\n"
    }
}
