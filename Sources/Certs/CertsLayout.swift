/// Where `wirewatch certs init --out DIR` keeps each file.
///
/// ```
/// DIR/ca.pem  DIR/ca-key.pem  DIR/collector.pem  DIR/collector-key.pem
/// DIR/sensors/NAME.pem  DIR/sensors/NAME-key.pem
/// DIR/revoked.txt  DIR/revoked/NAME-SERIAL.pem        (after `wirewatch certs revoke`)
/// ```
public struct CertsLayout: Hashable, Sendable {
    /// The directory, as given (without a trailing slash), so printed paths read like the operator's own.
    public var directory: String

    public init(directory: String) {
        var trimmed = directory
        while trimmed.count > 1, trimmed.hasSuffix("/") {
            trimmed.removeLast()
        }
        self.directory = trimmed
    }

    public var caCertificate: String { path("ca.pem") }
    public var caPrivateKey: String { path("ca-key.pem") }
    public var collectorCertificate: String { path("collector.pem") }
    public var collectorPrivateKey: String { path("collector-key.pem") }
    public var sensorsDirectory: String { path("sensors") }
    /// The revocation list the collector loads with `--revoked`.
    public var revocationList: String { path("revoked.txt") }
    /// Where revoked certificates are kept, for the record.
    public var revokedDirectory: String { path("revoked") }

    /// `DIR/sensors/NAME.pem`; `name` must already be valid (``CertificateIdentity/validateName(_:)``).
    public func sensorCertificate(_ name: String) -> String { sensorsDirectory + "/" + name + ".pem" }
    /// `DIR/sensors/NAME-key.pem`.
    public func sensorPrivateKey(_ name: String) -> String { sensorsDirectory + "/" + name + "-key.pem" }

    /// `DIR/revoked/NAME-SERIAL.pem`: a revoked certificate, moved out of `sensors/`.
    public func revokedCertificate(_ name: String, serialHex: String) -> String {
        revokedDirectory + "/" + name + "-" + serialHex + ".pem"
    }

    private func path(_ file: String) -> String {
        directory == "/" ? "/" + file : directory + "/" + file
    }
}
