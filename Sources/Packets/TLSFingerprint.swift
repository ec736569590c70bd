// TLS client fingerprints.
//
// JA3 (Salesforce, BSD-3-Clause): "SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats",
// each field the decimal values joined by '-', GREASE (RFC 8701) removed, then MD5 in lowercase hex.
// JA3S is the server form "SSLVersion,Cipher,Extensions".
//
// JA4 (FoxIO, BSD-3-Clause; technical_details/JA4.md):
//   a = protocol ('t' TCP, 'q' QUIC) + 2-char version + 'd'/'i' (SNI present or not) + 2-digit cipher
//       count + 2-digit extension count (GREASE excluded, capped at 99) + ALPN first/last character
//   b = sha256 of the sorted 4-hex cipher list, first 12 hex digits
//   c = sha256 of the sorted extension list without SNI (0000) and ALPN (0010), then '_' and the
//       signature algorithms in wire order (no '_' when there are none), first 12 hex digits
//   An empty list hashes to "000000000000". GREASE is ignored everywhere, signature algorithms included.
// JA4S and the rest of JA4+ are under the FoxIO License, not BSD, and are not implemented.

import Crypto

/// The transport a ClientHello arrived on, the first character of JA4.
public enum TLSTransport: Sendable {
    case tcp, quic
}

extension TLSClientHello {
    /// "SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats" with GREASE removed.
    public var ja3String: String {
        let fields = [
            String(legacyVersion),
            TLSHex.decimalList(cipherSuites.filter { !TLSConstant.isGREASE($0) }),
            TLSHex.decimalList(extensions.filter { !TLSConstant.isGREASE($0) }),
            TLSHex.decimalList(supportedGroups.filter { !TLSConstant.isGREASE($0) }),
            TLSHex.decimalList(ecPointFormats),
        ]
        return fields.joined(separator: ",")
    }

    /// MD5 of `ja3String`, 32 lowercase hex digits.
    public var ja3: String {
        TLSHex.string(Insecure.MD5.hash(data: Array(ja3String.utf8)))
    }

    /// The version JA4 reports: the highest non-GREASE supported_versions entry, else `legacyVersion`.
    public var ja4Version: UInt16 {
        supportedVersions.filter { !TLSConstant.isGREASE($0) }.max() ?? legacyVersion
    }

    /// The JA4 fingerprint, for example `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    public func ja4(transport: TLSTransport = .tcp) -> String {
        let parts = ja4Parts(transport: transport)
        return parts.a + "_" + TLSHex.sha256Prefix(parts.b) + "_" + TLSHex.sha256Prefix(parts.c)
    }

    /// The raw (unhashed) JA4, `JA4_r` in FoxIO's tools: the same three sections with the
    /// sorted lists in place of their hashes.
    public func ja4Raw(transport: TLSTransport = .tcp) -> String {
        let parts = ja4Parts(transport: transport)
        return parts.a + "_" + parts.b + "_" + parts.c
    }

    private func ja4Parts(transport: TLSTransport) -> (a: String, b: String, c: String) {
        let ciphers = cipherSuites.filter { !TLSConstant.isGREASE($0) }
        let exts = extensions.filter { !TLSConstant.isGREASE($0) }
        let sni = exts.contains(TLSConstant.extServerName) ? "d" : "i"
        let a =
            (transport == .quic ? "q" : "t") + Self.ja4VersionCode(ja4Version) + sni
            + Self.twoDigits(ciphers.count) + Self.twoDigits(exts.count) + ja4ALPN

        let b = ciphers.sorted().map(TLSHex.hex4).joined(separator: ",")

        let hashedExts = exts.filter { $0 != TLSConstant.extServerName && $0 != TLSConstant.extALPN }.sorted()
        var c = hashedExts.map(TLSHex.hex4).joined(separator: ",")
        let sigs = signatureAlgorithms.filter { !TLSConstant.isGREASE($0) }
        if !hashedExts.isEmpty, !sigs.isEmpty {
            c += "_" + sigs.map(TLSHex.hex4).joined(separator: ",")
        }
        return (a, b, c)
    }

    /// The two ALPN characters of JA4_a: first and last character of the first ALPN value when
    /// both are ASCII alphanumeric, else the first and last hex digit of its bytes; "00" if none.
    var ja4ALPN: String {
        guard let value = alpnBytes.first, let first = value.first, let last = value.last else { return "00" }
        if Self.isAlphanumeric(first), Self.isAlphanumeric(last) {
            return String(UnicodeScalar(first)) + String(UnicodeScalar(last))
        }
        return String(TLSHex.digit(first >> 4)) + String(TLSHex.digit(last & 0x0F))
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    private static func twoDigits(_ count: Int) -> String {
        let capped = min(count, 99)
        return capped < 10 ? "0\(capped)" : "\(capped)"
    }

    /// JA4's two-character version code; "00" for anything not listed in the spec.
    static func ja4VersionCode(_ version: UInt16) -> String {
        switch version {
        case 0x0304: return "13"
        case 0x0303: return "12"
        case 0x0302: return "11"
        case 0x0301: return "10"
        case 0x0300: return "s3"
        case 0x0002: return "s2"
        case 0xFEFF: return "d1"
        case 0xFEFD: return "d2"
        case 0xFEFC: return "d3"
        default: return "00"
        }
    }
}

extension TLSServerHello {
    /// JA3S input: "SSLVersion,Cipher,Extensions" (legacy version, GREASE removed from extensions).
    public var ja3sString: String {
        String(legacyVersion) + "," + String(cipherSuite) + ","
            + TLSHex.decimalList(extensions.filter { !TLSConstant.isGREASE($0) })
    }

    /// MD5 of `ja3sString`, 32 lowercase hex digits.
    public var ja3s: String {
        TLSHex.string(Insecure.MD5.hash(data: Array(ja3sString.utf8)))
    }
}

/// Hex and decimal formatting for fingerprints, without Foundation.
enum TLSHex {
    static func digit(_ nibble: UInt8) -> Character {
        let n = nibble & 0x0F
        return Character(UnicodeScalar(n < 10 ? 0x30 + n : 0x61 + n - 10))
    }

    /// Four lowercase hex digits.
    static func hex4(_ value: UInt16) -> String {
        String([
            digit(UInt8(truncatingIfNeeded: value >> 12)), digit(UInt8(truncatingIfNeeded: value >> 8)),
            digit(UInt8(truncatingIfNeeded: value >> 4)), digit(UInt8(truncatingIfNeeded: value)),
        ])
    }

    static func string<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        var out = ""
        for byte in bytes {
            out.append(digit(byte >> 4))
            out.append(digit(byte & 0x0F))
        }
        return out
    }

    static func decimalList<T: BinaryInteger>(_ values: [T]) -> String {
        values.map { String($0) }.joined(separator: "-")
    }

    /// First 12 lowercase hex digits of SHA-256 of `text`; "000000000000" for empty input (JA4 spec).
    static func sha256Prefix(_ text: String) -> String {
        guard !text.isEmpty else { return "000000000000" }
        return String(string(SHA256.hash(data: Array(text.utf8))).prefix(12))
    }
}
