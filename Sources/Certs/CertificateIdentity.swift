import SwiftASN1
import X509

/// Who a certificate names: the sensor name the collector attributes a connection to.
public enum CertificateIdentity {
    /// The longest sensor name accepted.
    public static let maximumNameLength = 64

    /// The name in a DER certificate (the collector passes the TLS peer's certificate, e.g. from NIOSSL's
    /// `NIOSSLCertificate.toDERBytes()`): its subject common name, else its first DNS subjectAltName.
    ///
    /// The name is returned as written; the CA that issued the certificate vouches for it. Throws
    /// ``CertsError/Code/invalidPEM`` for bytes that are not a certificate and ``CertsError/Code/noIdentity`` for a
    /// certificate that names no one.
    public static func name(fromDER der: [UInt8]) throws -> String {
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: der)
        } catch {
            throw CertsError(.invalidPEM, "certificate", "not a DER X.509 certificate: \(error)")
        }
        return try name(of: certificate)
    }

    /// The name of a parsed certificate: its subject common name, else its first DNS subjectAltName.
    public static func name(of certificate: Certificate) throws -> String {
        if let commonName = commonName(of: certificate.subject), !commonName.isEmpty {
            return commonName
        }
        if let alternativeNames = try certificate.extensions.subjectAlternativeNames {
            for case .dnsName(let dnsName) in alternativeNames where !dnsName.isEmpty {
                return dnsName
            }
        }
        throw CertsError(
            .noIdentity, "certificate \(certificate.subject)", "has neither a common name nor a DNS subjectAltName")
    }

    /// The first common name in a distinguished name that is text.
    public static func commonName(of name: DistinguishedName) -> String? {
        for relativeName in name {
            for attribute in relativeName where attribute.type == .RDNAttributeType.commonName {
                if let text = String(attribute.value) {
                    return text
                }
            }
        }
        return nil
    }

    /// Throws ``CertsError/Code/invalidName`` unless `name` is 1 to 64 ASCII letters, digits, '-', '_' and '.',
    /// and does not start with '.'.
    ///
    /// A sensor name becomes a certificate common name and DNS name, a file name (`sensors/NAME.pem`) and a
    /// stored column, so it is kept to characters that are safe in all of them. The leading-dot rule keeps
    /// `.`/`..` and hidden files out of the `sensors/` directory.
    public static func validateName(_ name: String) throws {
        func refuse(_ why: String) -> CertsError {
            CertsError(.invalidName, "sensor name '\(name)'", why)
        }
        guard !name.isEmpty, name.utf8.count <= maximumNameLength else {
            throw refuse("a sensor name has 1 to \(maximumNameLength) characters")
        }
        let allowed = name.utf8.allSatisfy {
            NetworkName.isASCIILetterOrDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
                || $0 == UInt8(ascii: ".")
        }
        guard allowed else {
            throw refuse("only letters, digits, '-', '_' and '.' are allowed")
        }
        guard name.utf8.first != UInt8(ascii: ".") else {
            throw refuse("a sensor name cannot start with '.'")
        }
    }
}
