import Foundation

/// The certificates the operator has withdrawn: `wirewatch certs revoke` writes it (`DIR/revoked.txt`), the
/// collector loads it (`--revoked FILE`) and refuses every handshake whose client certificate is on it.
///
/// One certificate a line, `SERIAL NAME REVOKED-AT`: the serial number in lowercase hex without leading zeros (as
/// `openssl x509 -serial` prints it, in lowercase), the sensor name, the time of revocation (ISO 8601, UTC).
/// Lines starting with `#` and empty lines are comments. A plain text file rather than an X.509 CRL: the list
/// never leaves the operator's own hosts, every certificate it names comes from the one private CA, and an operator
/// can read and diff it.
public struct RevocationList: Hashable, Sendable {
    /// One revoked certificate.
    public struct Entry: Hashable, Sendable {
        /// The serial number, big-endian, without leading zero bytes.
        public var serial: [UInt8]
        public var name: String
        public var revokedAt: Date

        public init(serial: [UInt8], name: String, revokedAt: Date) {
            self.serial = RevocationList.normalized(serial)
            self.name = name
            self.revokedAt = revokedAt
        }
    }

    /// The file is read whole on every reload; a list this long is not a revocation list.
    public static let maximumBytes = 16 << 20

    public private(set) var entries: [Entry] = []
    private var serials: Set<[UInt8]> = []

    public init(entries: [Entry] = []) {
        for entry in entries { add(entry) }
    }

    public var count: Int { entries.count }

    /// True when a certificate with this serial number (as DER content bytes or as BoringSSL gives it) is revoked.
    public func contains(serial: [UInt8]) -> Bool {
        serials.contains(Self.normalized(serial))
    }

    /// Adds `entry` unless its serial is already revoked; returns whether it was added.
    @discardableResult
    public mutating func add(_ entry: Entry) -> Bool {
        guard serials.insert(entry.serial).inserted else { return false }
        entries.append(entry)
        return true
    }

    /// The file's text.
    public var text: String {
        var lines = [
            "# wirewatch revocation list: serial (hex) name revoked-at (UTC); written by wirewatch certs revoke",
            "# and loaded by wirewatch-collector --revoked (reloaded while it runs)",
        ]
        for entry in entries {
            lines.append("\(Self.hex(entry.serial)) \(entry.name) \(Self.timeFormat.format(entry.revokedAt))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses the file's text; `source` names the file in errors, which give the line number.
    public init(parsing text: String, source: String) throws {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.trimmingCharacters(in: .whitespaces)
            if content.isEmpty || content.hasPrefix("#") { continue }
            let fields = content.split(separator: " ", omittingEmptySubsequences: true)
            func refuse(_ why: String) -> CertsError {
                CertsError(.invalidRevocationList, "\(source):\(index + 1)", why)
            }
            guard fields.count == 3 else {
                throw refuse("expected \"SERIAL NAME REVOKED-AT\", found \(fields.count) fields")
            }
            guard let serial = Self.bytes(ofHex: fields[0]) else {
                throw refuse("serial \"\(fields[0].prefix(80))\" is not 1 to 40 hex digits")
            }
            let name = String(fields[1])
            do {
                try CertificateIdentity.validateName(name)
            } catch {
                throw refuse("\(error)")
            }
            guard let revokedAt = try? Date(String(fields[2]), strategy: Self.timeFormat) else {
                throw refuse("revocation time \"\(fields[2].prefix(40))\" is not ISO 8601 UTC (2026-01-31T12:00:00Z)")
            }
            add(Entry(serial: serial, name: name, revokedAt: revokedAt))
        }
    }

    /// Reads and parses `path`. A missing file is an error: a collector told to check revocations must not start
    /// (or carry on) believing nothing is revoked because a path was mistyped.
    public static func load(path: String) throws -> RevocationList {
        let text = try SecureFile.readText(path, limit: maximumBytes, what: "revocation list")
        return try RevocationList(parsing: text, source: path)
    }

    /// Lowercase hex, two digits a byte, without leading zero bytes; "0" for zero.
    public static func hex(_ serial: [UInt8]) -> String {
        let digits = normalized(serial).map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }
        return digits.isEmpty ? "0" : digits.joined()
    }

    // RFC 5280 §4.1.2.2: serial numbers are at most 20 octets; DER adds a 0x00 in front of a high bit, which
    // BoringSSL drops and swift-certificates keeps, so both are compared without leading zeros.
    static func normalized(_ serial: [UInt8]) -> [UInt8] {
        Array(serial.drop(while: { $0 == 0 }))
    }

    private static func bytes(ofHex text: Substring) -> [UInt8]? {
        guard (1...40).contains(text.count), text.allSatisfy(\.isHexDigit) else { return nil }
        let digits = (text.count % 2 == 1 ? "0" : "") + text
        var result: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else { return nil }
            result.append(byte)
            index = next
        }
        return result
    }

    private static let timeFormat = Date.ISO8601FormatStyle(timeZone: .gmt)
}
