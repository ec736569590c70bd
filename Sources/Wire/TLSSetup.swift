import Foundation
import NIOSSL

/// The three PEM files each side of the wire needs: the deployment's CA, its own certificate and its private key.
public struct TLSFiles: Sendable, Hashable {
    public var caPath: String
    public var certificatePath: String
    public var keyPath: String

    public init(caPath: String, certificatePath: String, keyPath: String) {
        self.caPath = caPath
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }
}

/// Why a TLS credential could not be loaded: one line naming the file and the problem.
public struct TLSSetupError: Error, Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}

/// Mutual-TLS contexts for the collector (server, client certificate required) and the sensor (client).
/// TLS 1.2 is the minimum; 1.3 is negotiated whenever both sides have it (always, between Wirewatch peers).
public enum MutualTLS {
    /// The collector's context: presents its certificate and refuses any client without a certificate issued by
    /// the CA.
    public static func serverContext(_ files: TLSFiles) throws(TLSSetupError) -> NIOSSLContext {
        let (ca, chain, key) = try load(files)
        var config = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key),
            trustRoots: .certificates(ca))
        config.minimumTLSVersion = .tlsv12
        return try makeContext(config, files)
    }

    /// The sensor's context: presents its certificate and accepts only a collector certificate issued by the CA
    /// for the name or address the sensor dials.
    public static func clientContext(_ files: TLSFiles) throws(TLSSetupError) -> NIOSSLContext {
        let (ca, chain, key) = try load(files)
        var config = TLSConfiguration.makeClientConfiguration()
        config.trustRoots = .certificates(ca)
        config.certificateChain = chain.map { .certificate($0) }
        config.privateKey = .privateKey(key)
        config.minimumTLSVersion = .tlsv12
        config.certificateVerification = .fullVerification
        return try makeContext(config, files)
    }

    /// The name to send as SNI and verify the collector's certificate against: a DNS name as is; an IP address is
    /// not sent (SNI forbids it) and NIOSSL then checks the certificate's IP SANs against the connected address.
    public static func serverHostname(for host: String) -> String? {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1 { return nil }
        return host
    }

    private static func load(
        _ files: TLSFiles
    ) throws(TLSSetupError) -> ([NIOSSLCertificate], [NIOSSLCertificate], NIOSSLPrivateKey) {
        let ca = try certificates(files.caPath, what: "CA certificate")
        let chain = try certificates(files.certificatePath, what: "certificate")
        let keyBytes = try read(files.keyPath)
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
        } catch {
            throw TLSSetupError(path: files.keyPath, reason: "not a PEM private key (\(error))")
        }
        return (ca, chain, key)
    }

    private static func certificates(_ path: String, what: String) throws(TLSSetupError) -> [NIOSSLCertificate] {
        let bytes = try read(path)
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(bytes)
        } catch {
            throw TLSSetupError(path: path, reason: "not a PEM \(what) (\(error))")
        }
        guard !certificates.isEmpty else { throw TLSSetupError(path: path, reason: "no PEM \(what) in the file") }
        return certificates
    }

    private static func read(_ path: String) throws(TLSSetupError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file"
            throw TLSSetupError(path: path, reason: reason)
        }
        return [UInt8](data)
    }

    private static func makeContext(_ config: TLSConfiguration, _ files: TLSFiles) throws(TLSSetupError)
        -> NIOSSLContext
    {
        do {
            return try NIOSSLContext(configuration: config)
        } catch {
            throw TLSSetupError(
                path: files.keyPath, reason: "the key does not fit the certificate \(files.certificatePath) (\(error))")
        }
    }
}
