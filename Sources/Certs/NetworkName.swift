#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Checks and converts the names and addresses a collector certificate is issued for.
public enum NetworkName {
    /// The 4 (IPv4) or 16 (IPv6) network-order bytes of a textual address, as a subjectAltName `iPAddress` holds
    /// them (RFC 5280 §4.2.1.6).
    ///
    /// Accepts dotted-quad IPv4 and RFC 4291 IPv6 text (including `::ffff:1.2.3.4`); refuses zone suffixes
    /// (`fe80::1%eth0`), prefixes and anything else.
    public static func addressBytes(_ text: String) throws -> [UInt8] {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        throw CertsError(.invalidIPAddress, "'\(text)'", "not an IPv4 or IPv6 address")
    }

    /// The canonical text of an address held as 4 or 16 bytes; nil for any other length.
    public static func addressText(_ bytes: some Collection<UInt8>) -> String? {
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        let raw = Array(bytes)
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let result = raw.withUnsafeBytes { source in
            buffer.withUnsafeMutableBufferPointer { target in
                inet_ntop(family, source.baseAddress, target.baseAddress, socklen_t(target.count))
            }
        }
        guard result != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Throws unless `name` is a host name a TLS client can match: dot-separated labels of 1–63 letters, digits
    /// and inner hyphens, 253 characters at most (RFC 1123 §2.1, RFC 6125 §6.4). A trailing dot is refused
    /// because certificates carry names without it.
    public static func validateDNSName(_ name: String) throws {
        func refuse(_ why: String) -> CertsError {
            CertsError(.invalidDNSName, "'\(name)'", why)
        }
        guard !name.isEmpty, name.utf8.count <= 253 else {
            throw refuse("a DNS name has 1 to 253 characters")
        }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63 else {
                throw refuse("each dot-separated label has 1 to 63 characters")
            }
            guard label.utf8.allSatisfy({ isASCIILetterOrDigit($0) || $0 == UInt8(ascii: "-") }) else {
                throw refuse("only letters, digits, '-' and '.' are allowed")
            }
            guard label.utf8.first != UInt8(ascii: "-"), label.utf8.last != UInt8(ascii: "-") else {
                throw refuse("a label cannot start or end with '-'")
            }
        }
    }

    static func isASCIILetterOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// This machine's host name, lower-cased, or nil when it has none usable in a certificate.
    public static func currentHostName() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .lowercased()
        guard (try? validateDNSName(name)) != nil else { return nil }
        return name
    }
}
