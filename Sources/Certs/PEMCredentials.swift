/// A certificate and its private key, both PEM text: what one party (CA, collector or a sensor) needs.
///
/// The key is PKCS#8 (`BEGIN PRIVATE KEY`), which swift-nio-ssl and OpenSSL both read.
public struct PEMCredentials: Hashable, Sendable {
    public var certificatePEM: String
    public var privateKeyPEM: String

    public init(certificatePEM: String, privateKeyPEM: String) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }
}
