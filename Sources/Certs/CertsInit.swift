import Foundation
import SwiftASN1
import X509

/// The file-system side of `wirewatch certs init`: makes (or reuses) the CA in a directory, the collector's
/// certificate and one certificate per sensor, in the ``CertsLayout`` layout.
///
/// It never overwrites a file. On a directory that already holds a CA it reuses the CA and the collector
/// certificate and issues only the sensor certificates that are missing, which is how an operator adds a sensor.
/// Everything is checked before anything is written, so a refused run leaves the directory as it was.
public struct CertsInit: Sendable {
    /// Names always on the collector certificate, besides the host name.
    public static let defaultCollectorNames = ["localhost"]
    /// Addresses always on the collector certificate.
    public static let defaultCollectorAddresses = ["127.0.0.1", "::1"]
    /// Validity of the collector and sensor certificates, in days (the CA/Browser Forum's old 825-day cap).
    public static let defaultValidDays = 825
    /// Validity of a new CA, in days.
    public static let defaultCAValidDays = 3650
    /// Subject common name of the collector certificate (clients match its subjectAltNames, not this).
    public static let collectorCommonName = "wirewatch-collector"

    public var layout: CertsLayout
    /// Sensors to have certificates for, in order; duplicates are ignored.
    public var sensors: [String]
    /// DNS names for a new collector certificate: `localhost`, the host name, then the operator's.
    public var collectorNames: [String]
    /// IP addresses for a new collector certificate: `127.0.0.1`, `::1`, then the operator's.
    public var collectorAddresses: [String]
    public var validDays: Int
    public var caValidDays: Int
    /// Sensors whose current certificate is revoked (``CertsRevoke``) and replaced by a new pair in this run.
    public var reissue: [String]

    /// - Parameters:
    ///   - hostName: this machine's name, added to the collector's names; nil leaves it out.
    public init(
        directory: String,
        sensors: [String] = [],
        extraCollectorNames: [String] = [],
        extraCollectorAddresses: [String] = [],
        validDays: Int = defaultValidDays,
        caValidDays: Int = defaultCAValidDays,
        reissue: [String] = [],
        hostName: String? = NetworkName.currentHostName()
    ) {
        self.layout = CertsLayout(directory: directory)
        self.sensors = sensors + reissue
        self.reissue = reissue
        self.collectorNames = Self.defaultCollectorNames + (hostName.map { [$0] } ?? []) + extraCollectorNames
        self.collectorAddresses = Self.defaultCollectorAddresses + extraCollectorAddresses
        self.validDays = validDays
        self.caValidDays = caValidDays
    }

    /// Checks names, addresses and validity without touching the file system.
    public func validate() throws {
        _ = try normalized()
    }

    /// Creates what is missing and reports what it did.
    public func run(now: Date = Date()) throws -> CertsInitReport {
        let request = try normalized()
        // Re-issuing revokes first: the old certificate must be on the list before its replacement exists, and
        // its pair must be gone so that the loop below issues a new one.
        let revoked =
            reissue.isEmpty ? [] : try CertsRevoke(directory: layout.directory, names: reissue).run(now: now).revoked
        try SecureFile.makeDirectory(layout.directory, mode: SecureFile.keyDirectoryMode)

        // Look at everything first, so that a refusal writes nothing.
        let caPair = Pair(certificate: layout.caCertificate, privateKey: layout.caPrivateKey)
        let collectorPair = Pair(certificate: layout.collectorCertificate, privateKey: layout.collectorPrivateKey)
        let sensorPairs = request.sensors.map {
            Pair(certificate: layout.sensorCertificate($0), privateKey: layout.sensorPrivateKey($0))
        }
        let leafPairs = [collectorPair] + sensorPairs
        let authority: CertificateAuthority
        let authorityExists = try caPair.exists()
        if authorityExists {
            authority = try CertificateAuthority(
                certificatePEM: try SecureFile.readText(caPair.certificate),
                privateKeyPEM: try SecureFile.readText(caPair.privateKey),
                certificateSource: caPair.certificate,
                keySource: caPair.privateKey
            )
            for pair in leafPairs {
                if try pair.exists() {
                    try pair.check(issuedBy: authority)
                }
            }
        } else {
            if let stray = leafPairs.flatMap({ [$0.certificate, $0.privateKey] }).first(where: SecureFile.exists) {
                throw CertsError(
                    .inconsistentDirectory, stray,
                    "exists but \(caPair.certificate) does not, so it belongs to another CA; "
                        + "move it away or choose another --out directory")
            }
            authority = try CertificateAuthority.create(validDays: caValidDays, now: now)
        }

        var report = CertsInitReport(layout: layout, sensors: request.sensors)
        report.revoked = revoked
        if authorityExists {
            report.existing += [caPair.certificate, caPair.privateKey]
        } else {
            try caPair.write(authority.credentials)
            report.created += [caPair.certificate, caPair.privateKey]
            report.authorityCreated = true
        }

        let collectorCertificatePEM: String
        if try collectorPair.exists() {
            report.existing += [collectorPair.certificate, collectorPair.privateKey]
            collectorCertificatePEM = try SecureFile.readText(collectorPair.certificate)
        } else {
            let credentials = try authority.issueServer(
                commonName: Self.collectorCommonName,
                dnsNames: request.names,
                ipAddresses: request.addresses,
                validDays: validDays,
                now: now
            )
            try collectorPair.write(credentials)
            report.created += [collectorPair.certificate, collectorPair.privateKey]
            report.collectorCreated = true
            collectorCertificatePEM = credentials.certificatePEM
        }
        (report.collectorNames, report.collectorAddresses) = try Self.alternativeNames(
            ofPEM: collectorCertificatePEM, source: collectorPair.certificate)

        for (name, pair) in zip(request.sensors, sensorPairs) {
            if try pair.exists() {
                report.existing += [pair.certificate, pair.privateKey]
                continue
            }
            try SecureFile.makeDirectory(layout.sensorsDirectory, mode: SecureFile.keyDirectoryMode)
            try pair.write(try authority.issueClient(name: name, validDays: validDays, now: now))
            report.created += [pair.certificate, pair.privateKey]
            report.sensorsCreated.append(name)
        }
        return report
    }

    /// The DNS names and IP addresses (as text) in a PEM certificate's subjectAltName.
    public static func alternativeNames(
        ofPEM pem: String,
        source: String
    ) throws -> (dnsNames: [String], ipAddresses: [String]) {
        let certificate: Certificate
        let alternativeNames: SubjectAlternativeNames?
        do {
            certificate = try Certificate(pemEncoded: pem)
            alternativeNames = try certificate.extensions.subjectAlternativeNames
        } catch {
            throw CertsError(.invalidPEM, source, "not a PEM certificate: \(error)")
        }
        var dnsNames: [String] = []
        var addresses: [String] = []
        for name in alternativeNames ?? SubjectAlternativeNames() {
            switch name {
            case .dnsName(let dnsName):
                dnsNames.append(dnsName)
            case .ipAddress(let octets):
                addresses.append(NetworkName.addressText(octets.bytes) ?? "\(octets.bytes)")
            default:
                continue
            }
        }
        return (dnsNames, addresses)
    }

    private struct Request {
        var sensors: [String]
        var names: [String]
        var addresses: [String]
    }

    /// Validates every input and drops duplicates (names case-insensitively, addresses by value).
    private func normalized() throws -> Request {
        var request = Request(sensors: [], names: [], addresses: [])
        for sensor in sensors where !request.sensors.contains(sensor) {
            try CertificateIdentity.validateName(sensor)
            request.sensors.append(sensor)
        }
        for name in collectorNames {
            try NetworkName.validateDNSName(name)
            if !request.names.contains(where: { $0.lowercased() == name.lowercased() }) {
                request.names.append(name)
            }
        }
        var seen: Set<[UInt8]> = []
        for address in collectorAddresses {
            let bytes = try NetworkName.addressBytes(address)
            if seen.insert(bytes).inserted {
                request.addresses.append(NetworkName.addressText(bytes) ?? address)
            }
        }
        for days in [validDays, caValidDays] where !(1...CertificateAuthority.maximumValidDays).contains(days) {
            throw CertsError(
                .invalidValidity, "\(days) days",
                "validity must be 1 to \(CertificateAuthority.maximumValidDays) days")
        }
        return request
    }

    /// A certificate file and its key file.
    private struct Pair {
        var certificate: String
        var privateKey: String

        /// True when both files exist, false when neither does; throws for one without the other.
        func exists() throws -> Bool {
            switch (SecureFile.exists(certificate), SecureFile.exists(privateKey)) {
            case (true, true):
                return true
            case (false, false):
                return false
            case (true, false):
                throw CertsError(
                    .inconsistentDirectory, privateKey,
                    "is missing but \(certificate) exists; restore it, or remove both to issue a new pair")
            case (false, true):
                throw CertsError(
                    .inconsistentDirectory, certificate,
                    "is missing but \(privateKey) exists; restore it, or remove both to issue a new pair")
            }
        }

        /// Throws unless the existing pair belongs together and `authority` signed the certificate.
        func check(issuedBy authority: CertificateAuthority) throws {
            let leaf: Certificate
            do {
                leaf = try Certificate(pemEncoded: try SecureFile.readText(certificate))
            } catch let error as CertsError {
                throw error
            } catch {
                throw CertsError(.invalidPEM, certificate, "not a PEM certificate: \(error)")
            }
            let key: Certificate.PrivateKey
            do {
                key = try Certificate.PrivateKey(pemEncoded: try SecureFile.readText(privateKey))
            } catch let error as CertsError {
                throw error
            } catch {
                throw CertsError(.invalidPEM, privateKey, "not a PEM private key: \(error)")
            }
            guard key.publicKey == leaf.publicKey else {
                throw CertsError(.keyMismatch, privateKey, "does not belong to \(certificate)")
            }
            guard authority.hasIssued(leaf) else {
                throw CertsError(
                    .notIssuedByAuthority, certificate,
                    "was not issued by the CA in \(authority.certificate.subject); move it away to issue a new one")
            }
        }

        /// Writes the key (mode 0600) and then the certificate; if the certificate cannot be written the key is
        /// removed again, so no half pair is left behind.
        func write(_ credentials: PEMCredentials) throws {
            try SecureFile.create(privateKey, contents: credentials.privateKeyPEM, mode: SecureFile.privateKeyMode)
            do {
                try SecureFile.create(
                    certificate, contents: credentials.certificatePEM, mode: SecureFile.certificateMode)
            } catch {
                _ = try? SecureFile.remove(privateKey)
                throw error
            }
        }
    }
}

/// What ``CertsInit/run(now:)`` did.
public struct CertsInitReport: Hashable, Sendable {
    public var layout: CertsLayout
    /// Paths written by this run: CA, collector, sensors; each certificate, then its key.
    public var created: [String] = []
    /// Paths that were already there and were left untouched.
    public var existing: [String] = []
    public var authorityCreated = false
    public var collectorCreated = false
    /// The DNS names in the collector certificate (new or existing): what sensors may use in `--collector`.
    public var collectorNames: [String] = []
    /// The IP addresses in the collector certificate, as text.
    public var collectorAddresses: [String] = []
    /// The sensors asked for (valid, without duplicates), whether new or existing.
    public var sensors: [String]
    /// The sensors whose certificates this run issued.
    public var sensorsCreated: [String] = []
    /// The certificates revoked because their sensors were re-issued (`reissue`).
    public var revoked: [CertsRevokeReport.Revoked] = []

    public init(layout: CertsLayout, sensors: [String]) {
        self.layout = layout
        self.sensors = sensors
    }
}
