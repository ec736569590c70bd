import Foundation
import SwiftASN1
import X509

/// The file-system side of `wirewatch certs revoke --out DIR NAME`: puts each named sensor's certificate on the
/// revocation list (`DIR/revoked.txt`), then moves the certificate to `DIR/revoked/` and deletes its key, so that
/// `certs init --sensor NAME` issues a new pair instead of reusing the revoked one.
///
/// The list is written first (atomically), so a crash between the two steps leaves the certificate revoked; a
/// second run finds its serial on the list already and only finishes the move.
public struct CertsRevoke: Sendable {
    public var layout: CertsLayout
    public var names: [String]

    public init(directory: String, names: [String]) {
        self.layout = CertsLayout(directory: directory)
        self.names = names
    }

    /// Revokes every name's current certificate; every name is checked before anything is written.
    public func run(now: Date = Date()) throws -> CertsRevokeReport {
        let authority = try loadAuthorityCertificate()
        var list =
            SecureFile.exists(layout.revocationList)
            ? try RevocationList.load(path: layout.revocationList) : RevocationList()
        var found: [(name: String, serial: [UInt8])] = []
        for name in names where !found.contains(where: { $0.name == name }) {
            try CertificateIdentity.validateName(name)
            found.append((name, try currentSerial(of: name, authority: authority)))
        }
        var report = CertsRevokeReport(layout: layout)
        for (name, serial) in found {
            let added = list.add(RevocationList.Entry(serial: serial, name: name, revokedAt: now))
            report.revoked.append(.init(name: name, serialHex: RevocationList.hex(serial), newlyRevoked: added))
        }
        try SecureFile.replace(layout.revocationList, contents: list.text, mode: SecureFile.certificateMode)
        try SecureFile.makeDirectory(layout.revokedDirectory, mode: SecureFile.keyDirectoryMode)
        for (name, serial) in found {
            let target = layout.revokedCertificate(name, serialHex: RevocationList.hex(serial))
            if SecureFile.exists(target) {
                try SecureFile.remove(layout.sensorCertificate(name))
            } else {
                try SecureFile.move(layout.sensorCertificate(name), to: target)
            }
            if SecureFile.exists(layout.sensorPrivateKey(name)) {
                try SecureFile.remove(layout.sensorPrivateKey(name))
            }
        }
        report.listCount = list.count
        return report
    }

    private func loadAuthorityCertificate() throws -> Certificate {
        let path = layout.caCertificate
        guard SecureFile.exists(path) else {
            throw CertsError(.inconsistentDirectory, path, "is missing: no CA in \(layout.directory)")
        }
        do {
            return try Certificate(pemEncoded: try SecureFile.readText(path))
        } catch let error as CertsError {
            throw error
        } catch {
            throw CertsError(.invalidPEM, path, "not a PEM certificate: \(error)")
        }
    }

    /// The serial number of `sensors/NAME.pem`, after checking it is NAME's and the CA's.
    private func currentSerial(of name: String, authority: Certificate) throws -> [UInt8] {
        let path = layout.sensorCertificate(name)
        guard SecureFile.exists(path) else {
            throw CertsError(
                .unknownSensor, name,
                "has no certificate in \(layout.sensorsDirectory) (already revoked, or never issued)")
        }
        let leaf: Certificate
        do {
            leaf = try Certificate(pemEncoded: try SecureFile.readText(path))
        } catch let error as CertsError {
            throw error
        } catch {
            throw CertsError(.invalidPEM, path, "not a PEM certificate: \(error)")
        }
        guard leaf.issuer == authority.subject, authority.publicKey.isValidSignature(leaf.signature, for: leaf) else {
            throw CertsError(.notIssuedByAuthority, path, "was not issued by the CA in \(layout.caCertificate)")
        }
        guard try CertificateIdentity.name(of: leaf) == name else {
            throw CertsError(.noIdentity, path, "is not the certificate of sensor \(name)")
        }
        return Array(leaf.serialNumber.bytes)
    }
}

/// What ``CertsRevoke/run(now:)`` did.
public struct CertsRevokeReport: Hashable, Sendable {
    /// One revoked certificate.
    public struct Revoked: Hashable, Sendable {
        public var name: String
        public var serialHex: String
        /// False when the serial was on the list already (a run that had stopped half way).
        public var newlyRevoked: Bool

        public init(name: String, serialHex: String, newlyRevoked: Bool) {
            self.name = name
            self.serialHex = serialHex
            self.newlyRevoked = newlyRevoked
        }
    }

    public var layout: CertsLayout
    public var revoked: [Revoked] = []
    /// Certificates on the list after this run.
    public var listCount = 0
}
