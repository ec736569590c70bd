// TLS handshake decoding: the ClientHello and ServerHello that open a TLS connection, and a
// per-direction scanner that finds them in the first bytes of a TCP stream.
//
// Wire formats: RFC 8446 §4.1.2 (ClientHello), §4.1.3 (ServerHello), §4.2 (extensions), §5.1
// (records); RFC 5246 §7.4.1 for the TLS 1.2 forms (extensions block may be absent); RFC 6066 §3
// (server_name); RFC 7301 §3.1 (ALPN); RFC 8422 §5.1 (supported_groups, ec_point_formats).
// Fingerprints (JA3, JA4) live in TLSFingerprint.swift.

/// Limits of the TLS decoder, each taken from the RFC that sets it.
public enum TLSLimits {
    /// RFC 8446 §5.1: a record header is `ContentType type; ProtocolVersion legacy_record_version;
    /// uint16 length` — 5 bytes.
    public static let recordHeaderLength = 5
    /// RFC 8446 §5.1 (and RFC 5246 §6.2.1): "The length MUST NOT exceed 2^14 bytes" for a
    /// plaintext record; handshake records before the keys change are plaintext.
    public static let maxPlaintextRecordLength = 1 << 14
    /// RFC 8446 §4: a handshake header is `HandshakeType msg_type; uint24 length` — 4 bytes.
    public static let handshakeHeaderLength = 4
    /// RFC 8446 §4.1.2: `Random random` is 32 bytes.
    public static let randomLength = 32
    /// RFC 8446 §4.1.2: `opaque legacy_session_id<0..32>`.
    public static let maxSessionIDLength = 32
    /// How many bytes of one direction of a TCP stream the scanner buffers before it gives up.
    /// RFC 8446 allows a handshake message of 2^24-1 bytes, but a real ClientHello is well under
    /// 2 KiB (about 1.8 KiB with a post-quantum key share) and a ServerHello under 200 bytes;
    /// 64 KiB bounds the memory an adversary can pin per flow.
    public static let maxScannedBytes = 64 * 1024
}

/// Registered numbers the decoder dispatches on (IANA "TLS Parameters" registries).
public enum TLSConstant {
    /// RFC 8446 §5.1 ContentType.handshake.
    public static let contentTypeHandshake: UInt8 = 22
    /// RFC 8446 §4 HandshakeType.client_hello.
    public static let handshakeClientHello: UInt8 = 1
    /// RFC 8446 §4 HandshakeType.server_hello.
    public static let handshakeServerHello: UInt8 = 2
    /// SSL 3.0, the lowest record-layer version accepted (RFC 6101 §5.2.1).
    public static let minRecordVersion: UInt16 = 0x0300
    /// TLS 1.3, the highest record-layer version accepted (RFC 8446 §5.1 sends 0x0303 or 0x0301).
    public static let maxRecordVersion: UInt16 = 0x0304
    /// RFC 6066 §3 server_name.
    public static let extServerName: UInt16 = 0x0000
    /// RFC 8422 §5.1.1 supported_groups (formerly elliptic_curves).
    public static let extSupportedGroups: UInt16 = 0x000A
    /// RFC 8422 §5.1.2 ec_point_formats.
    public static let extECPointFormats: UInt16 = 0x000B
    /// RFC 8446 §4.2.3 signature_algorithms.
    public static let extSignatureAlgorithms: UInt16 = 0x000D
    /// RFC 7301 §3.1 application_layer_protocol_negotiation.
    public static let extALPN: UInt16 = 0x0010
    /// RFC 8446 §4.2.1 supported_versions.
    public static let extSupportedVersions: UInt16 = 0x002B
    /// RFC 6066 §3 NameType.host_name.
    public static let serverNameTypeHostName: UInt8 = 0
    /// RFC 8446 §4.1.3: the `random` of a HelloRetryRequest, SHA-256("HelloRetryRequest").
    public static let helloRetryRequestRandom: [UInt8] = [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ]

    /// RFC 8701 §2: GREASE values are 0x?A?A with both bytes equal (0x0A0A, 0x1A1A, … 0xFAFA).
    @inlinable
    public static func isGREASE(_ value: UInt16) -> Bool {
        value & 0x0F0F == 0x0A0A && value >> 8 == value & 0xFF
    }
}

/// A TLS ClientHello (RFC 8446 §4.1.2), as the client sent it: every list in wire order,
/// GREASE values (RFC 8701) included. The fingerprints drop GREASE where their specs say to.
public struct TLSClientHello: Sendable, Hashable {
    /// `legacy_version` (0x0303 for TLS 1.2 and 1.3 clients).
    public var legacyVersion: UInt16
    /// The supported_versions extension's list, or empty when the extension is absent.
    public var supportedVersions: [UInt16]
    public var cipherSuites: [UInt16]
    /// `legacy_compression_methods`.
    public var compressionMethods: [UInt8]
    /// Extension types in wire order.
    public var extensions: [UInt16]
    /// The first host_name entry of server_name (RFC 6066 §3), decoded as UTF-8 (invalid bytes
    /// become U+FFFD).
    public var serverName: String?
    /// ALPN protocol names (RFC 7301) decoded as UTF-8; `alpnBytes` holds them as sent.
    public var alpn: [String]
    /// ALPN protocol names exactly as sent (JA4 looks at the raw first and last bytes).
    public var alpnBytes: [[UInt8]]
    public var supportedGroups: [UInt16]
    public var ecPointFormats: [UInt8]
    public var signatureAlgorithms: [UInt16]
    /// Length of `legacy_session_id` (non-zero for TLS 1.3 middlebox compatibility or resumption).
    public var sessionIDLength: Int

    /// Parses the body of a handshake message of type client_hello (the bytes after the 4-byte
    /// handshake header). The body must be consumed exactly.
    public init(parsing body: UnsafeRawBufferPointer) throws(DecodeError) {
        var cursor = Cursor(body, layer: .tls)
        legacyVersion = try cursor.readU16()
        try cursor.skip(TLSLimits.randomLength)
        sessionIDLength = try TLSWire.skipSessionID(&cursor)

        // cipher_suites<2..2^16-2>
        let suitesLength = Int(try cursor.readU16())
        guard suitesLength >= 2, suitesLength % 2 == 0 else { throw .malformed(.tls, "cipher_suites_length") }
        var suites = try cursor.subCursor(length: suitesLength)
        cipherSuites = try TLSWire.readU16List(&suites)

        // legacy_compression_methods<1..2^8-1>
        let compressionLength = Int(try cursor.readU8())
        guard compressionLength >= 1 else { throw .malformed(.tls, "compression_methods_length") }
        compressionMethods = Array(try cursor.readBytes(compressionLength))

        supportedVersions = []
        extensions = []
        serverName = nil
        alpn = []
        alpnBytes = []
        supportedGroups = []
        ecPointFormats = []
        signatureAlgorithms = []

        // RFC 5246 §7.4.1.2: the extensions block may be absent (SSL 3.0 / old TLS clients).
        guard !cursor.isAtEnd else { return }
        var block = try TLSWire.extensionsBlock(&cursor)
        while !block.isAtEnd {
            let type = try block.readU16()
            let length = Int(try block.readU16())
            var data = try block.subCursor(length: length)
            extensions.append(type)
            switch type {
            case TLSConstant.extServerName:
                // ServerNameList server_name_list<1..2^16-1>; ServerName = NameType + opaque<1..2^16-1>
                var list = try TLSWire.u16Vector(&data, minimum: 1, reason: "sni_list_length")
                while !list.isAtEnd {
                    let nameType = try list.readU8()
                    let nameLength = Int(try list.readU16())
                    let name = try list.readBytes(nameLength)
                    if nameType == TLSConstant.serverNameTypeHostName, serverName == nil {
                        serverName = String(decoding: name, as: UTF8.self)
                    }
                }
            case TLSConstant.extALPN:
                // ProtocolNameList protocol_name_list<2..2^16-1>; ProtocolName = opaque<1..2^8-1>.
                // An empty name is a protocol violation but JA4 defines a value for it, so it is kept.
                var list = try TLSWire.u16Vector(&data, minimum: 2, reason: "alpn_list_length")
                while !list.isAtEnd {
                    let nameLength = Int(try list.readU8())
                    let name = try list.readBytes(nameLength)
                    alpnBytes.append(Array(name))
                    alpn.append(String(decoding: name, as: UTF8.self))
                }
            case TLSConstant.extSupportedGroups:
                var list = try TLSWire.u16Vector(&data, minimum: 2, reason: "supported_groups_length")
                supportedGroups = try TLSWire.readU16List(&list)
            case TLSConstant.extECPointFormats:
                // ECPointFormat ec_point_format_list<1..2^8-1>
                let count = Int(try data.readU8())
                guard count >= 1 else { throw .malformed(.tls, "ec_point_formats_length") }
                ecPointFormats = Array(try data.readBytes(count))
            case TLSConstant.extSignatureAlgorithms:
                var list = try TLSWire.u16Vector(&data, minimum: 2, reason: "signature_algorithms_length")
                signatureAlgorithms = try TLSWire.readU16List(&list)
            case TLSConstant.extSupportedVersions:
                // ProtocolVersion versions<2..254> (client form)
                let count = Int(try data.readU8())
                guard count >= 2, count % 2 == 0 else { throw .malformed(.tls, "supported_versions_length") }
                var list = try data.subCursor(length: count)
                supportedVersions = try TLSWire.readU16List(&list)
            default:
                _ = data.readRest()  // contents not needed; the type is recorded
            }
            guard data.isAtEnd else { throw .malformed(.tls, "extension_length") }
        }
    }
}

/// A TLS ServerHello (RFC 8446 §4.1.3), or a HelloRetryRequest, which has the same shape.
public struct TLSServerHello: Sendable, Hashable {
    /// `legacy_version` (0x0303 for TLS 1.2 and 1.3 servers).
    public var legacyVersion: UInt16
    /// The version the server chose: the supported_versions extension if present, else `legacyVersion`.
    public var selectedVersion: UInt16
    public var cipherSuite: UInt16
    /// `legacy_compression_method`.
    public var compressionMethod: UInt8
    /// Extension types in wire order.
    public var extensions: [UInt16]
    /// The protocol the server selected via ALPN. TLS 1.3 servers send ALPN in the encrypted
    /// EncryptedExtensions, so this is only seen for TLS 1.2 and below.
    public var alpn: String?
    /// True when `random` is the HelloRetryRequest value (RFC 8446 §4.1.3).
    public var isHelloRetryRequest: Bool

    /// Parses the body of a handshake message of type server_hello (the bytes after the 4-byte
    /// handshake header). The body must be consumed exactly.
    public init(parsing body: UnsafeRawBufferPointer) throws(DecodeError) {
        var cursor = Cursor(body, layer: .tls)
        legacyVersion = try cursor.readU16()
        let random = try cursor.readBytes(TLSLimits.randomLength)
        isHelloRetryRequest = random.elementsEqual(TLSConstant.helloRetryRequestRandom)
        _ = try TLSWire.skipSessionID(&cursor)
        cipherSuite = try cursor.readU16()
        compressionMethod = try cursor.readU8()
        selectedVersion = legacyVersion
        extensions = []
        alpn = nil

        guard !cursor.isAtEnd else { return }
        var block = try TLSWire.extensionsBlock(&cursor)
        while !block.isAtEnd {
            let type = try block.readU16()
            let length = Int(try block.readU16())
            var data = try block.subCursor(length: length)
            extensions.append(type)
            switch type {
            case TLSConstant.extSupportedVersions:
                // Server form: ProtocolVersion selected_version (RFC 8446 §4.2.1).
                selectedVersion = try data.readU16()
            case TLSConstant.extALPN:
                // RFC 7301 §3.1: the server's list "MUST contain exactly one ProtocolName".
                var list = try TLSWire.u16Vector(&data, minimum: 2, reason: "alpn_list_length")
                let nameLength = Int(try list.readU8())
                let name = try list.readBytes(nameLength)
                guard list.isAtEnd else { throw .malformed(.tls, "alpn_server_list") }
                alpn = String(decoding: name, as: UTF8.self)
            default:
                _ = data.readRest()  // contents not needed; the type is recorded
            }
            guard data.isAtEnd else { throw .malformed(.tls, "extension_length") }
        }
    }
}

/// Version names as Zeek writes them in ssl.log (`SSL::version_strings` in
/// base/protocols/ssl/consts.zeek), so that records can be compared with Zeek's.
public enum TLSVersionName {
    public static func name(_ v: UInt16) -> String {
        switch v {
        case 0x0002: return "SSLv2"
        case 0x0300: return "SSLv3"
        case 0x0301: return "TLSv10"
        case 0x0302: return "TLSv11"
        case 0x0303: return "TLSv12"
        case 0x0304: return "TLSv13"
        case 0xFEFF: return "DTLSv10"
        case 0xFEFD: return "DTLSv12"
        case 0xFEFC: return "DTLSv13"
        default:
            // Zeek: `if ( i/0xFF == 0x7F ) return fmt("TLSv13-draft%d", i % 0x7F)`.
            if v / 0xFF == 0x7F { return "TLSv13-draft\(v % 0x7F)" }
            return "unknown-\(v)"
        }
    }
}

/// Per-direction scanner over the first bytes of a TCP stream: reassembles TLS handshake
/// records (content type 22, RFC 8446 §5.1) and handshake fragments across records and segments,
/// and returns the first ClientHello or ServerHello.
///
/// It decides quickly: a first byte other than 22, or a record header with a version outside
/// 0x0300...0x0304 or a length outside 1...2^14, is `.notTLS` at once, with nothing buffered.
/// It buffers at most `TLSLimits.maxScannedBytes`, then gives up. Once it has returned a hello
/// or `.notTLS`, every later `feed` returns that same result.
public struct TLSStreamScanner: Sendable {
    /// What the scanner has found so far.
    public enum Result: Sendable, Hashable {
        /// The bytes so far are a valid prefix of a TLS handshake; feed more.
        case needMore
        case clientHello(TLSClientHello)
        case serverHello(TLSServerHello)
        /// Not a TLS handshake (or not one this scanner can read: SSLv2, an alert first, a
        /// malformed hello); `failure` says why when the stream did start like TLS.
        case notTLS
    }

    /// Header bytes of the record being read (0 to 5 of them).
    private var header: [UInt8] = []
    /// Payload bytes still to come in the current record (valid once `header` is complete).
    private var recordRemaining = 0
    /// Handshake-layer bytes reassembled from record payloads.
    private var handshake: [UInt8] = []
    /// Stream bytes taken so far.
    private var scanned = 0
    private var final: Result?
    /// Why the scanner gave up on a stream that started like a TLS handshake, as a
    /// `DecodeError` with a stable counter name (for example `tls.record_type`); nil otherwise.
    public private(set) var failure: DecodeError?

    public init() {}

    /// True once the scanner has returned a hello or `.notTLS`.
    public var isFinished: Bool { final != nil }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Result {
        if let final { return final }
        guard let first = bytes.first else { return .needMore }
        // Hot path: most TCP payloads are not TLS; reject on the first byte with no allocation.
        if scanned == 0, header.isEmpty, first != TLSConstant.contentTypeHandshake {
            return finish(.notTLS)
        }
        let room = TLSLimits.maxScannedBytes - scanned
        let take = min(bytes.count, room)
        scanned += take
        var index = 0
        while index < take {
            if header.count < TLSLimits.recordHeaderLength {
                header.append(bytes[index])
                index += 1
                if let problem = checkHeaderPrefix() { return fail(problem) }
                if header.count == TLSLimits.recordHeaderLength {
                    recordRemaining = Int(header[3]) << 8 | Int(header[4])
                }
                continue
            }
            let chunk = min(recordRemaining, take - index)
            handshake.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + chunk)]))
            index += chunk
            recordRemaining -= chunk
            if recordRemaining == 0 { header.removeAll(keepingCapacity: true) }
            if let result = tryHello() { return result }
        }
        if take < bytes.count || scanned >= TLSLimits.maxScannedBytes {
            return fail(.malformed(.tls, "scan_limit"))
        }
        return .needMore
    }

    /// Checks the record header bytes read so far; a handshake record from SSL 3.0 to TLS 1.3
    /// with a non-empty plaintext length (RFC 8446 §5.1: zero-length handshake fragments are forbidden).
    private func checkHeaderPrefix() -> DecodeError? {
        switch header.count {
        case 1:
            return header[0] == TLSConstant.contentTypeHandshake ? nil : .malformed(.tls, "record_type")
        case 2:
            return header[1] == UInt8(truncatingIfNeeded: TLSConstant.minRecordVersion >> 8)
                ? nil : .malformed(.tls, "record_version")
        case 3:
            return header[2] <= UInt8(truncatingIfNeeded: TLSConstant.maxRecordVersion)
                ? nil : .malformed(.tls, "record_version")
        case 5:
            let length = Int(header[3]) << 8 | Int(header[4])
            guard length >= 1, length <= TLSLimits.maxPlaintextRecordLength else {
                return .malformed(.tls, "record_length")
            }
            return nil
        default:
            return nil
        }
    }

    /// Looks at the reassembled handshake bytes: fails on a first message that is not a hello,
    /// parses the hello once all of it is here.
    private mutating func tryHello() -> Result? {
        guard let type = handshake.first else { return nil }
        guard type == TLSConstant.handshakeClientHello || type == TLSConstant.handshakeServerHello else {
            return fail(.malformed(.tls, "handshake_type"))
        }
        guard handshake.count >= TLSLimits.handshakeHeaderLength else { return nil }
        let length = Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3])
        guard length <= TLSLimits.maxScannedBytes - TLSLimits.handshakeHeaderLength else {
            return fail(.malformed(.tls, "handshake_length"))
        }
        let end = TLSLimits.handshakeHeaderLength + length
        guard handshake.count >= end else { return nil }
        let parsed: Swift.Result<Result, DecodeError> = handshake.withUnsafeBytes { raw in
            let body = UnsafeRawBufferPointer(rebasing: raw[TLSLimits.handshakeHeaderLength..<end])
            return Swift.Result { () throws(DecodeError) -> Result in
                if type == TLSConstant.handshakeClientHello {
                    return .clientHello(try TLSClientHello(parsing: body))
                }
                return .serverHello(try TLSServerHello(parsing: body))
            }
        }
        switch parsed {
        case .success(let result): return finish(result)
        case .failure(let error): return fail(error)
        }
    }

    private mutating func fail(_ error: DecodeError) -> Result {
        failure = error
        return finish(.notTLS)
    }

    private mutating func finish(_ result: Result) -> Result {
        final = result
        header = []
        handshake = []
        return result
    }
}

/// Shared pieces of hello parsing.
enum TLSWire {
    /// Skips `legacy_session_id<0..32>` and returns its length.
    static func skipSessionID(_ cursor: inout Cursor) throws(DecodeError) -> Int {
        let length = Int(try cursor.readU8())
        guard length <= TLSLimits.maxSessionIDLength else { throw .malformed(.tls, "session_id_length") }
        try cursor.skip(length)
        return length
    }

    /// Reads `Extension extensions<..2^16-1>`, which must run exactly to the end of the hello.
    static func extensionsBlock(_ cursor: inout Cursor) throws(DecodeError) -> Cursor {
        let length = Int(try cursor.readU16())
        guard length == cursor.remaining else { throw .malformed(.tls, "extensions_length") }
        return try cursor.subCursor(length: length)
    }

    /// Reads a vector with a 2-byte length that must fill the rest of `cursor` exactly.
    static func u16Vector(_ cursor: inout Cursor, minimum: Int, reason: String) throws(DecodeError) -> Cursor {
        let length = Int(try cursor.readU16())
        guard length >= minimum, length == cursor.remaining else { throw .malformed(.tls, reason) }
        return try cursor.subCursor(length: length)
    }

    /// Reads the rest of `cursor` as big-endian 16-bit values; an odd byte count is malformed.
    static func readU16List(_ cursor: inout Cursor) throws(DecodeError) -> [UInt16] {
        guard cursor.remaining % 2 == 0 else { throw .malformed(.tls, "odd_list_length") }
        var values: [UInt16] = []
        values.reserveCapacity(cursor.remaining / 2)
        while !cursor.isAtEnd { values.append(try cursor.readU16()) }
        return values
    }
}
