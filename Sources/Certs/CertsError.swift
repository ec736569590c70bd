#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An error from the `Certs` module: a stable ``Code`` that tests compare, the thing at fault (a path, a name,
/// an option value) and a human-readable detail.
public struct CertsError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong; stable, for tests and for mapping to exit codes.
    public enum Code: String, Hashable, Sendable {
        /// A sensor name outside `[A-Za-z0-9._-]{1,64}`.
        case invalidName
        /// A collector DNS name that is not a valid host name.
        case invalidDNSName
        /// A collector address that is not an IPv4 or IPv6 address.
        case invalidIPAddress
        /// A validity period that is not a positive number of days within the supported range.
        case invalidValidity
        /// A file that does not hold the PEM certificate or private key it should.
        case invalidPEM
        /// A private key that does not belong to the certificate it is paired with.
        case keyMismatch
        /// A certificate loaded as the CA that is not a CA certificate.
        case notCertificateAuthority
        /// An existing certificate that the CA in the same directory did not sign.
        case notIssuedByAuthority
        /// A certificate that names no one: neither a subject common name nor a DNS subject alternative name.
        case noIdentity
        /// A half-present certificate/key pair, or leaf files without their CA.
        case inconsistentDirectory
        /// A file-system call failed; ``CertsError/systemErrno`` says why.
        case fileSystem
        /// Generating a key or signing a certificate failed.
        case signing
        /// A revocation list line that is not `SERIAL NAME REVOKED-AT`.
        case invalidRevocationList
        /// A sensor to revoke that has no certificate in the directory.
        case unknownSensor
    }

    public var code: Code
    /// What is at fault: a path, a name, an option value.
    public var subject: String
    /// Why, in words.
    public var detail: String
    /// The `errno` of a failed file-system call.
    public var systemErrno: Int32?

    public init(_ code: Code, _ subject: String, _ detail: String, errno: Int32? = nil) {
        self.code = code
        self.subject = subject
        self.detail = detail
        self.systemErrno = errno
    }

    /// True when the error lies in what the operator gave (a name, an address, a directory or file that cannot be
    /// used) rather than in the machine: the CLI exits 2 for these and 1 for the rest.
    public var isInputError: Bool {
        switch code {
        case .signing:
            return false
        case .fileSystem:
            guard let systemErrno else { return false }
            return [EACCES, EPERM, EROFS, ENOTDIR, ENOENT, EEXIST, EISDIR, ELOOP, ENAMETOOLONG].contains(systemErrno)
        default:
            return true
        }
    }

    public var description: String {
        var text = "\(subject): \(detail)"
        if let systemErrno {
            text += " (\(String(cString: strerror(systemErrno))))"
        }
        return text
    }
}
