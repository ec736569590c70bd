import Testing

@testable import Packets

// Fixtures: real hellos captured on loopback (127.0.0.1:8443) with `tcpdump -U -i lo` while
// `openssl s_server -www -alpn h2,http/1.1` answered `openssl s_client -servername test.example
// -alpn h2,http/1.1` (OpenSSL 3.0) and `curl -k --tls-max 1.2` (curl 7.88.1). Expected SNI, ALPN and
// JA3 are what tshark 4.0.17 printed for the same frames:
//   tshark -r F -Y tls.handshake.type==1 -T fields -e tls.handshake.extensions_server_name
//          -e tls.handshake.ja3 -e tls.handshake.ja3_full   (and ja3s/ja3s_full for type 2)
// This tshark has no JA4 field; the JA4 values were computed from tshark's field dump by an
// independent script following FoxIO's JA4.md, and the published FoxIO vectors are tested below.
/// TLS records captured on loopback, as hexdumps.
private enum TLSFixtures {
    /// 336 bytes
    static let opensslClientHello = tlsHexBytes(
        """
        16 03 01 01 4b 01 00 01  47 03 03 b7 f5 24 e0 99 |....K...G....$..|
        dd 41 e8 17 4e 0d bf 00  7f 81 e6 2b 2c 37 dd f8 |.A..N......+,7..|
        9e d0 ee a7 19 a8 be e9  02 e5 ea 20 d8 0a 7c 5f |........... ..._|
        d9 e8 a2 b0 b7 fb 68 d1  fb bf c6 6d b3 17 9b 3e |......h....m...>|
        0b a7 2d 4b b4 28 c6 0b  f4 0e e0 04 00 3e 13 02 |..-K.(.......>..|
        13 03 13 01 c0 2c c0 30  00 9f cc a9 cc a8 cc aa |.....,.0........|
        c0 2b c0 2f 00 9e c0 24  c0 28 00 6b c0 23 c0 27 |.+./...$.(.k.#.'|
        00 67 c0 0a c0 14 00 39  c0 09 c0 13 00 33 00 9d |.g.....9.....3..|
        00 9c 00 3d 00 3c 00 35  00 2f 00 ff 01 00 00 c0 |...=.<.5./......|
        00 00 00 11 00 0f 00 00  0c 74 65 73 74 2e 65 78 |.........test.ex|
        61 6d 70 6c 65 00 0b 00  04 03 00 01 02 00 0a 00 |ample...........|
        16 00 14 00 1d 00 17 00  1e 00 19 00 18 01 00 01 |................|
        01 01 02 01 03 01 04 00  23 00 00 00 10 00 0e 00 |........#.......|
        0c 02 68 32 08 68 74 74  70 2f 31 2e 31 00 16 00 |..h2.http/1.1...|
        00 00 17 00 00 00 0d 00  2a 00 28 04 03 05 03 06 |........*.(.....|
        03 08 07 08 08 08 09 08  0a 08 0b 08 04 08 05 08 |................|
        06 04 01 05 01 06 01 03  03 03 01 03 02 04 02 05 |................|
        02 06 02 00 2b 00 09 08  03 04 03 03 03 02 03 01 |....+...........|
        00 2d 00 02 01 01 00 33  00 26 00 24 00 1d 00 20 |.-.....3.&.$... |
        d5 a4 08 5b f0 1b 39 42  16 2f e8 4c b6 52 15 dc |...[..9B./.L.R..|
        ca 76 dc 47 cb 7e 71 56  26 67 91 12 d0 c3 d0 03 |.v.G.~qV&g......|
        """)
    /// 223 bytes
    static let curlTLS12ClientHello = tlsHexBytes(
        """
        16 03 01 00 da 01 00 00  d6 03 03 f4 b9 c4 65 1b |..............e.|
        a1 2a 36 8a df b5 2f 62  ac 3a b8 ce d7 a7 e8 ff |.*6.../b.:......|
        67 52 82 c3 26 ab 6c 3a  9f a0 4d 00 00 38 c0 2c |gR..&.l:..M..8.,|
        c0 30 00 9f cc a9 cc a8  cc aa c0 2b c0 2f 00 9e |.0.........+./..|
        c0 24 c0 28 00 6b c0 23  c0 27 00 67 c0 0a c0 14 |.$.(.k.#.'.g....|
        00 39 c0 09 c0 13 00 33  00 9d 00 9c 00 3d 00 3c |.9.....3.....=.<|
        00 35 00 2f 00 ff 01 00  00 75 00 00 00 11 00 0f |.5./.....u......|
        00 00 0c 74 65 73 74 2e  65 78 61 6d 70 6c 65 00 |...test.example.|
        0b 00 04 03 00 01 02 00  0a 00 0c 00 0a 00 1d 00 |................|
        17 00 1e 00 19 00 18 00  10 00 0e 00 0c 02 68 32 |..............h2|
        08 68 74 74 70 2f 31 2e  31 00 16 00 00 00 17 00 |.http/1.1.......|
        00 00 0d 00 2a 00 28 04  03 05 03 06 03 08 07 08 |....*.(.........|
        08 08 09 08 0a 08 0b 08  04 08 05 08 06 04 01 05 |................|
        01 06 01 03 03 03 01 03  02 04 02 05 02 06 02    |...............|
        """)
    /// 127 bytes
    static let tls13ServerHello = tlsHexBytes(
        """
        16 03 03 00 7a 02 00 00  76 03 03 54 e6 46 fd c4 |....z...v..T.F..|
        6b f0 d9 f6 5e c2 96 de  01 89 68 4f 39 8f 2a 13 |k...^.....hO9.*.|
        ae 65 f2 6e a1 09 30 a0  2b 77 c0 20 d8 0a 7c 5f |.e.n..0.+w. ..._|
        d9 e8 a2 b0 b7 fb 68 d1  fb bf c6 6d b3 17 9b 3e |......h....m...>|
        0b a7 2d 4b b4 28 c6 0b  f4 0e e0 04 13 02 00 00 |..-K.(..........|
        2e 00 2b 00 02 03 04 00  33 00 24 00 1d 00 20 ee |..+.....3.$... .|
        63 4d d5 a2 e5 9b 6e db  1d 8b 94 d7 2a 71 aa 27 |cM....n.....*q.'|
        3e 5a 4b cb dd 96 27 ed  d3 69 75 dc 20 c3 6f    |>ZK...'..iu. .o|
        """)
    /// 107 bytes
    static let tls12ServerHello = tlsHexBytes(
        """
        16 03 03 00 66 02 00 00  62 03 03 ae 60 94 de ee |....f...b...`...|
        f8 d2 56 b7 3b 0f df ba  75 7e a2 5b b3 4d 58 f8 |..V.;...u~.[.MX.|
        27 bb 46 44 4f 57 4e 47  52 44 01 20 35 b0 7e b2 |'.FDOWNGRD. 5.~.|
        a3 ef b7 c9 b9 3e 46 b7  5e e5 ef 48 40 36 e9 11 |.....>F.^..H@6..|
        12 04 19 2e 83 d0 dd fc  f7 8d 1b 50 c0 30 00 00 |...........P.0..|
        1a ff 01 00 01 00 00 0b  00 04 03 00 01 02 00 10 |................|
        00 05 00 03 02 68 32 00  17 00 00                |.....h2....|
        """)
}

/// Parses a hexdump: on each line, the text before the first '|' is hex byte pairs; after it is comment.
private func tlsHexBytes(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let data = line.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let digits = data.filter { !$0.isWhitespace }
        precondition(digits.count % 2 == 0, "odd hex digit count in line: \(line)")
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else { preconditionFailure("bad hex: \(line)") }
            out.append(byte)
            index = next
        }
    }
    return out
}

private func u16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
private func u24(_ v: Int) -> [UInt8] { [UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

/// Builds a ClientHello from parts (RFC 8446 §4.1.2), for fingerprint vectors given as lists.
private struct TLSHelloBuilder {
    var version: UInt16 = 0x0303
    var sessionID: [UInt8] = []
    var ciphers: [UInt16] = []
    var compression: [UInt8] = [0]
    var extensions: [(type: UInt16, data: [UInt8])]? = []

    var body: [UInt8] {
        var b = u16(Int(version)) + [UInt8](repeating: 0x5A, count: 32)
        b += [UInt8(sessionID.count)] + sessionID
        b += u16(ciphers.count * 2) + ciphers.flatMap { u16(Int($0)) }
        b += [UInt8(compression.count)] + compression
        if let extensions {
            let block = extensions.flatMap { u16(Int($0.type)) + u16($0.data.count) + $0.data }
            b += u16(block.count) + block
        }
        return b
    }
    var handshake: [UInt8] { [1] + u24(body.count) + body }
    var record: [UInt8] { [0x16, 0x03, 0x01] + u16(handshake.count) + handshake }

    func parse() throws -> TLSClientHello {
        try body.withUnsafeBytes { try TLSClientHello(parsing: $0) }
    }
}

/// Extension bodies.
private enum TLSExt {
    static func sni(_ host: String) -> (type: UInt16, data: [UInt8]) {
        let name = Array(host.utf8)
        let entry = [0] + u16(name.count) + name
        return (0x0000, u16(entry.count) + entry)
    }
    static func alpn(_ names: [[UInt8]]) -> (type: UInt16, data: [UInt8]) {
        let list = names.flatMap { [UInt8($0.count)] + $0 }
        return (0x0010, u16(list.count) + list)
    }
    static func alpn(_ names: String...) -> (type: UInt16, data: [UInt8]) { alpn(names.map { Array($0.utf8) }) }
    static func u16List(_ type: UInt16, _ values: [UInt16]) -> (type: UInt16, data: [UInt8]) {
        (type, u16(values.count * 2) + values.flatMap { u16(Int($0)) })
    }
    static func groups(_ v: [UInt16]) -> (type: UInt16, data: [UInt8]) { u16List(0x000A, v) }
    static func sigAlgs(_ v: [UInt16]) -> (type: UInt16, data: [UInt8]) { u16List(0x000D, v) }
    static func pointFormats(_ v: [UInt8]) -> (type: UInt16, data: [UInt8]) { (0x000B, [UInt8(v.count)] + v) }
    static func versions(_ v: [UInt16]) -> (type: UInt16, data: [UInt8]) {
        (0x002B, [UInt8(v.count * 2)] + v.flatMap { u16(Int($0)) })
    }
    static func opaque(_ type: UInt16, _ data: [UInt8] = []) -> (type: UInt16, data: [UInt8]) { (type, data) }

    /// Builds the extension list for `types` in that order, filling the ones JA4 reads.
    static func list(
        _ types: [UInt16], sni: String = "example.com", alpn: [String] = ["h2", "http/1.1"],
        sigAlgs: [UInt16] = [], versions: [UInt16] = [0x0304, 0x0303]
    ) -> [(type: UInt16, data: [UInt8])] {
        types.map { type in
            switch type {
            case 0x0000: return TLSExt.sni(sni)
            case 0x0010: return TLSExt.alpn(alpn.map { Array($0.utf8) })
            case 0x000A: return TLSExt.groups([0x001D, 0x0017, 0x0018])
            case 0x000B: return TLSExt.pointFormats([0])
            case 0x000D: return TLSExt.sigAlgs(sigAlgs)
            case 0x002B: return TLSExt.versions(versions)
            default: return TLSExt.opaque(type, [0x00])
            }
        }
    }
}

private func tlsFeed(_ scanner: inout TLSStreamScanner, _ bytes: [UInt8]) -> TLSStreamScanner.Result {
    bytes.withUnsafeBytes { scanner.feed($0) }
}

private func tlsScanOnce(_ bytes: [UInt8]) -> (TLSStreamScanner.Result, TLSStreamScanner) {
    var scanner = TLSStreamScanner()
    let result = tlsFeed(&scanner, bytes)
    return (result, scanner)
}

private func tlsClientHello(_ result: TLSStreamScanner.Result) -> TLSClientHello? {
    if case .clientHello(let hello) = result { return hello }
    return nil
}

private func tlsServerHello(_ result: TLSStreamScanner.Result) -> TLSServerHello? {
    if case .serverHello(let hello) = result { return hello }
    return nil
}

/// Deterministic xorshift64* generator so that the fuzz tests are repeatable.
private struct TLSSeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }
}

// MARK: - Real captures

/// Hellos captured from OpenSSL and curl, checked against tshark.
@Suite("TLS real captures")
struct TLSCaptureTests {
    @Test func opensslClientHelloMatchesTshark() throws {
        let (result, _) = tlsScanOnce(TLSFixtures.opensslClientHello)
        let hello = try #require(tlsClientHello(result))
        #expect(hello.serverName == "test.example")
        #expect(hello.alpn == ["h2", "http/1.1"])
        #expect(hello.legacyVersion == 0x0303)
        #expect(hello.supportedVersions == [0x0304, 0x0303, 0x0302, 0x0301])
        #expect(TLSVersionName.name(hello.ja4Version) == "TLSv13")
        #expect(hello.extensions == [0, 11, 10, 35, 16, 22, 23, 13, 43, 45, 51])
        #expect(hello.supportedGroups == [29, 23, 30, 25, 24, 256, 257, 258, 259, 260])
        #expect(hello.ecPointFormats == [0, 1, 2])
        #expect(hello.signatureAlgorithms.count == 20)
        #expect(hello.cipherSuites.count == 31)
        #expect(hello.sessionIDLength == 32)
        #expect(
            hello.ja3String
                == "771,4866-4867-4865-49196-49200-159-52393-52392-52394-49195-49199-158-49188-49192-107-49187-49191-103-49162-49172-57-49161-49171-51-157-156-61-60-53-47-255,0-11-10-35-16-22-23-13-43-45-51,29-23-30-25-24-256-257-258-259-260,0-1-2"
        )
        #expect(hello.ja3 == "5a1edc7f170af1014fc65c994878e63c")
        // Section b equals the one ja4plus-go publishes for curl 7.81.0 on OpenSSL 3 (same suite list).
        #expect(hello.ja4() == "t13d3111h2_e8f1e7e78f70_1f22a2ca17c4")
        #expect(hello.ja4(transport: .quic) == "q13d3111h2_e8f1e7e78f70_1f22a2ca17c4")
    }

    @Test func curlTLS12ClientHelloMatchesTshark() throws {
        let (result, _) = tlsScanOnce(TLSFixtures.curlTLS12ClientHello)
        let hello = try #require(tlsClientHello(result))
        #expect(hello.serverName == "test.example")
        #expect(hello.alpn == ["h2", "http/1.1"])
        #expect(hello.supportedVersions.isEmpty)
        #expect(
            hello.ja3String
                == "771,49196-49200-159-52393-52392-52394-49195-49199-158-49188-49192-107-49187-49191-103-49162-49172-57-49161-49171-51-157-156-61-60-53-47-255,0-11-10-16-22-23-13,29-23-30-25-24,0-1-2"
        )
        #expect(hello.ja3 == "87b9bfc7da97115ed2276737b09f8d74")
        #expect(hello.ja4() == "t12d2807h2_d943125447b4_a44c6288192a")
    }

    @Test func tls13ServerHello() throws {
        let (result, _) = tlsScanOnce(TLSFixtures.tls13ServerHello)
        let hello = try #require(tlsServerHello(result))
        #expect(hello.legacyVersion == 0x0303)
        #expect(hello.selectedVersion == 0x0304)
        #expect(TLSVersionName.name(hello.selectedVersion) == "TLSv13")
        #expect(hello.cipherSuite == 0x1302)
        #expect(hello.extensions == [43, 51])
        #expect(hello.alpn == nil)
        #expect(!hello.isHelloRetryRequest)
        #expect(hello.ja3sString == "771,4866,43-51")
        #expect(hello.ja3s == "15af977ce25de452b96affa2addb1036")
    }

    @Test func tls12ServerHelloWithALPN() throws {
        let (result, _) = tlsScanOnce(TLSFixtures.tls12ServerHello)
        let hello = try #require(tlsServerHello(result))
        #expect(hello.selectedVersion == 0x0303)
        #expect(hello.cipherSuite == 0xC030)
        #expect(hello.alpn == "h2")
        #expect(hello.extensions == [65281, 11, 16, 23])
        #expect(hello.ja3s == "6aea764ee67f71caf3dc723118906199")
    }

    @Test func serverHelloIsFoundBeforeTheRestOfTheFlight() throws {
        // The whole first server segment: ServerHello, then ChangeCipherSpec and encrypted records
        // (TLS 1.3). The scanner answers from the first record and ignores what follows.
        var bytes = TLSFixtures.tls13ServerHello
        bytes += [0x14, 0x03, 0x03, 0x00, 0x01, 0x01]  // change_cipher_spec
        bytes += [0x17, 0x03, 0x03, 0x00, 0x03, 0xAA, 0xBB, 0xCC]  // application_data
        let (result, _) = tlsScanOnce(bytes)
        #expect(tlsServerHello(result)?.cipherSuite == 0x1302)
    }
}

// MARK: - Fingerprint vectors

/// JA3/JA4 against the published Salesforce and FoxIO vectors and JA4.md edge cases.
@Suite("JA3 and JA4 vectors")
struct TLSFingerprintTests {
    /// FoxIO technical_details/JA4.md "Example": the Chromium hello used throughout the spec.
    private static let specExample = TLSHelloBuilder(
        ciphers: [
            0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014,
            0x009C, 0x009D, 0x002F, 0x0035,
        ],
        extensions: TLSExt.list(
            [
                0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005, 0x0023, 0x0012,
                0x002B, 0xFF01, 0x000B, 0x000A, 0x0015,
            ],
            sigAlgs: [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]))

    @Test func ja4SpecExample() throws {
        let hello = try Self.specExample.parse()
        #expect(hello.ja4() == "t13d1516h2_8daaf6152771_e5627efa2ab1")
        #expect(
            hello.ja4Raw()
                == "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
        )
    }

    @Test func ja4IgnoresGREASEEverywhere() throws {
        var builder = Self.specExample
        builder.ciphers.insert(0x0A0A, at: 0)
        builder.ciphers.append(0xFAFA)
        builder.extensions = TLSExt.list(
            [
                0x1A1A, 0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005, 0x0023, 0x0012,
                0x002B, 0xFF01, 0x000B, 0x000A, 0x0015, 0x2A2A,
            ],
            sigAlgs: [0x3A3A, 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601],
            versions: [0x4A4A, 0x0304, 0x0303])
        let hello = try builder.parse()
        #expect(hello.cipherSuites.count == 17)
        #expect(hello.extensions.count == 18)
        #expect(hello.ja4() == "t13d1516h2_8daaf6152771_e5627efa2ab1")
        let plain = try Self.specExample.parse()
        #expect(hello.ja3String == plain.ja3String)
        #expect(!hello.ja3String.contains("2570"))  // 0x0A0A
    }

    @Test func ja4WithoutSignatureAlgorithms() throws {
        // JA4.md: with no signature algorithms the string ends without '_' and hashes to 6d807ffa2a79.
        // (An empty signature_algorithms list is malformed on the wire, so the parsed value is edited.)
        var hello = try Self.specExample.parse()
        hello.signatureAlgorithms = []
        #expect(hello.ja4() == "t13d1516h2_8daaf6152771_6d807ffa2a79")
        #expect(hello.ja4Raw().hasSuffix(",0033,4469,ff01"))
    }

    /// FoxIO pcap/sigalg-grease.pcapng (Chrome, GREASE first among its signature algorithms);
    /// expected value from FoxIO's python/test/testdata/sigalg-grease.pcapng.json and zeek baseline.
    @Test func ja4FoxIOSigalgGreaseCapture() throws {
        let builder = TLSHelloBuilder(
            ciphers: [
                0x4A4A, 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013,
                0xC014, 0x009C, 0x009D, 0x002F, 0x0035,
            ],
            extensions: TLSExt.list(
                [
                    0x7A7A, 0xFE0D, 0x0010, 0x0017, 0x0033, 0x44CD, 0xFF01, 0x000A, 0x000D, 0x0023, 0x002B,
                    0x000B, 0xCA34, 0x002D, 0x0000, 0x0005, 0x001B, 0x0012, 0x6A6A,
                ],
                sni: "optimizationguide-pa.googleapis.com",
                sigAlgs: [
                    0x0A0A, 0x0904, 0x0905, 0x0906, 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501,
                    0x0806, 0x0601,
                ],
                versions: [0xFAFA, 0x0304, 0x0303]))
        let hello = try builder.parse()
        #expect(hello.serverName == "optimizationguide-pa.googleapis.com")
        #expect(hello.ja4() == "t13d1517h2_8daaf6152771_cb7bf5808d99")
    }

    /// Salesforce JA3 README example: "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0".
    @Test func ja3ReadmeExample() throws {
        let builder = TLSHelloBuilder(
            version: 0x0301,
            ciphers: [47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4],
            extensions: [TLSExt.sni("example.com"), TLSExt.groups([23, 24, 25]), TLSExt.pointFormats([0])])
        let hello = try builder.parse()
        #expect(hello.ja3String == "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0")
        #expect(hello.ja3 == "ada70206e40642a3e4461f35503241d5")
        #expect(hello.ja4().hasPrefix("t10d1203"))
    }

    @Test func ja3DropsGREASEFromGroupsButKeepsEmptyFields() throws {
        let builder = TLSHelloBuilder(
            version: 0x0303, ciphers: [0x2A2A, 0x002F],
            extensions: [TLSExt.groups([0x3A3A, 0x001D])])
        let hello = try builder.parse()
        #expect(hello.ja3String == "771,47,10,29,")
    }

    /// A TLS 1.0 hello with no extensions block at all (RFC 5246 §7.4.1.2 allows it).
    static let bareHello = tlsHexBytes(
        """
        16 03 01 00 2d                                   | record: handshake, TLS 1.0, 45 bytes
        01 00 00 29                                      | client_hello, 41 bytes
        03 01                                            | legacy_version TLS 1.0
        00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f | random
        10 11 12 13 14 15 16 17  18 19 1a 1b 1c 1d 1e 1f |
        00                                               | legacy_session_id: empty
        00 02 00 2f                                      | cipher_suites: TLS_RSA_WITH_AES_128_CBC_SHA
        01 00                                            | compression_methods: null
        """)

    @Test func ja4OfHelloWithoutExtensions() throws {
        let (result, _) = tlsScanOnce(Self.bareHello)
        let hello = try #require(tlsClientHello(result))
        #expect(hello.extensions.isEmpty)
        #expect(hello.serverName == nil)
        #expect(hello.ja3String == "769,47,,,")
        #expect(hello.ja4() == "t10i010000_ba72b8082249_000000000000")
    }

    @Test func ja4EmptyCipherListHashesToZeros() throws {
        let hello = try TLSHelloBuilder(ciphers: [0x0A0A], extensions: TLSExt.list([0x002B])).parse()
        #expect(hello.ja4() == "t13i000100_000000000000_b9a491fefe05")
    }

    @Test func ja4CountsCapAt99() throws {
        let ciphers = (0..<120).map { UInt16(0x1000 + $0) }
        let hello = try TLSHelloBuilder(ciphers: ciphers, extensions: TLSExt.list([0x0000])).parse()
        #expect(hello.ja4().hasPrefix("t12d990100_"))
    }

    @Test func ja4VersionFallsBackWhenSupportedVersionsHasOnlyGREASE() throws {
        let hello = try TLSHelloBuilder(
            version: 0x0303, ciphers: [0x002F], extensions: TLSExt.list([0x002B], versions: [0x1A1A])
        ).parse()
        #expect(hello.ja4Version == 0x0303)
        #expect(hello.ja4().hasPrefix("t12i0101"))
    }

    @Test(
        arguments: [
            ([UInt8]("h2".utf8), "h2"),
            ([UInt8]("http/1.1".utf8), "h1"),
            ([UInt8]("a".utf8), "aa"),
            ([0xAB], "ab"),
            ([0xAB, 0xCD], "ad"),
            ([0x30, 0xAB], "3b"),
            ([0x30, 0x31, 0xAB, 0xCD], "3d"),
            ([0x30, 0xAB, 0xCD, 0x31], "01"),
            ([], "00"),
        ] as [([UInt8], String)])
    func ja4ALPNCharacters(alpn: [UInt8], expected: String) throws {
        // Vectors from JA4.md "ALPN Extension Value".
        let hello = try TLSHelloBuilder(ciphers: [0x002F], extensions: [TLSExt.alpn([alpn, Array("x".utf8)])]).parse()
        let a = try #require(hello.ja4().split(separator: "_").first)
        #expect(a.suffix(2) == Substring(expected))
    }

    @Test(
        arguments: [
            (UInt16(0x0304), "TLSv13"), (0x0303, "TLSv12"), (0x0302, "TLSv11"), (0x0301, "TLSv10"),
            (0x0300, "SSLv3"), (0x0002, "SSLv2"), (0xFEFD, "DTLSv12"), (0xFEFF, "DTLSv10"), (0xFEFC, "DTLSv13"),
            (0x7F12, "TLSv13-draft18"), (0x1234, "unknown-4660"), (0x0000, "unknown-0"),
        ] as [(UInt16, String)])
    func versionNames(version: UInt16, expected: String) {
        #expect(TLSVersionName.name(version) == expected)
    }

    @Test func greaseValues() {
        let grease = (0...0xFFFF).filter { TLSConstant.isGREASE(UInt16($0)) }
        #expect(grease == (0..<16).map { 0x0A0A + 0x1010 * $0 })
    }
}

// MARK: - Scanner

/// The stream scanner: reassembly, prefixes, fuzzed input, rejection and limits.
@Suite("TLS stream scanner")
struct TLSScannerTests {
    @Test func oneByteFeeds() throws {
        let bytes = TLSFixtures.opensslClientHello
        var scanner = TLSStreamScanner()
        for (index, byte) in bytes.enumerated() {
            let result = tlsFeed(&scanner, [byte])
            if index < bytes.count - 1 {
                #expect(result == .needMore, "byte \(index)")
            } else {
                let hello = try #require(tlsClientHello(result))
                #expect(hello.ja3 == "5a1edc7f170af1014fc65c994878e63c")
            }
        }
        #expect(scanner.isFinished)
        #expect(scanner.failure == nil)
    }

    /// Re-frames a record's handshake bytes into records cut at `cuts` (RFC 8446 §5.1 allows a
    /// handshake message to span records).
    static func reframe(_ record: [UInt8], cuts: [Int]) -> [UInt8] {
        let payload = Array(record[5...])
        var out: [UInt8] = []
        var start = 0
        for end in cuts + [payload.count] {
            let piece = payload[start..<end]
            out += [0x16, 0x03, 0x01] + u16(piece.count) + piece
            start = end
        }
        return out
    }

    @Test func helloAcrossTwoRecords() throws {
        let twoRecords = Self.reframe(TLSFixtures.opensslClientHello, cuts: [100])
        #expect(twoRecords.count == TLSFixtures.opensslClientHello.count + 5)
        let (result, _) = tlsScanOnce(twoRecords)
        let hello = try #require(tlsClientHello(result))
        #expect(hello.serverName == "test.example")
        #expect(hello.ja3 == "5a1edc7f170af1014fc65c994878e63c")
    }

    @Test func handshakeHeaderSplitAcrossRecordsAndSegments() throws {
        // Records of 2, 1, 200 and the rest bytes: the 4-byte handshake header itself is split.
        let framed = Self.reframe(TLSFixtures.opensslClientHello, cuts: [2, 3, 203])
        var generator = TLSSeededGenerator(state: 0x5EED)
        for _ in 0..<50 {
            var scanner = TLSStreamScanner()
            var offset = 0
            var last = TLSStreamScanner.Result.needMore
            while offset < framed.count {
                let size = Int.random(in: 1...40, using: &generator)
                let end = min(framed.count, offset + size)
                last = tlsFeed(&scanner, Array(framed[offset..<end]))
                if end < framed.count { #expect(last == .needMore) }
                offset = end
            }
            #expect(tlsClientHello(last)?.alpn == ["h2", "http/1.1"])
        }
    }

    @Test func everyPrefixNeedsMoreAndNeverTraps() throws {
        let bytes = TLSFixtures.opensslClientHello
        for length in 0..<bytes.count {
            let (result, scanner) = tlsScanOnce(Array(bytes[..<length]))
            #expect(result == .needMore, "prefix \(length)")
            #expect(scanner.failure == nil)
        }
    }

    @Test func everyPrefixOfTheBodyThrowsOrParsesWithoutTrapping() throws {
        let body = Array(TLSFixtures.opensslClientHello[9...])
        // The only proper prefix that is itself a valid hello ends just before the extensions
        // block (a hello without extensions, RFC 5246 §7.4.1.2).
        let beforeExtensions = 2 + 32 + 1 + 32 + 2 + 62 + 1 + 1
        var parsed: [Int] = []
        for length in 0...body.count {
            let prefix = Array(body[..<length])
            if (try? prefix.withUnsafeBytes({ try TLSClientHello(parsing: $0) })) != nil { parsed.append(length) }
        }
        #expect(parsed == [beforeExtensions, body.count])
    }

    @Test func mutatedHellosNeverTrap() {
        var generator = TLSSeededGenerator(state: 0xC0FFEE)
        let original = TLSFixtures.opensslClientHello
        var outcomes: [String: Int] = [:]
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[index] = UInt8.random(in: 0...255, using: &generator)
            }
            let (result, scanner) = tlsScanOnce(bytes)
            switch result {
            case .clientHello(let hello):
                _ = hello.ja3
                _ = hello.ja4()
                outcomes["hello", default: 0] += 1
            case .notTLS: outcomes[scanner.failure?.counterName ?? "not_tls", default: 0] += 1
            case .needMore: outcomes["need_more", default: 0] += 1
            case .serverHello: outcomes["server_hello", default: 0] += 1
            }
        }
        // Mutations in the random or in list values still parse; length damage is caught.
        #expect((outcomes["hello"] ?? 0) > 100)
        #expect(outcomes.keys.contains { $0.hasPrefix("tls.") })
    }

    @Test func randomBytesAfterAValidHeaderNeverTrap() {
        var generator = TLSSeededGenerator(state: 42)
        for _ in 0..<2000 {
            let length = Int.random(in: 0...300, using: &generator)
            let random = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let handshakeType = UInt8.random(in: 1...2, using: &generator)
            let bytes = [0x16, 0x03, 0x03] + u16(length + 4) + [handshakeType] + u24(length) + random
            let (result, _) = tlsScanOnce(bytes)
            #expect(result != .needMore)
        }
    }

    @Test func garbageIsNotTLS() {
        let (result, scanner) = tlsScanOnce([0x00, 0xFF, 0x13, 0x37])
        #expect(result == .notTLS)
        #expect(scanner.failure == nil)
    }

    @Test func httpRequestIsNotTLS() {
        let (result, scanner) = tlsScanOnce(Array("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".utf8))
        #expect(result == .notTLS)
        #expect(scanner.failure == nil)
        #expect(scanner.isFinished)
    }

    @Test func sslv2CompatibleHelloIsNotTLS() {
        // SSLv2 record header (RFC 6101 Appendix E.2): high bit set, then CLIENT-HELLO (1).
        let (result, _) = tlsScanOnce([0x80, 0x2E, 0x01, 0x03, 0x01])
        #expect(result == .notTLS)
    }

    @Test(
        arguments: [
            ([0x16, 0x02], "tls.record_version"),  // major version 2
            ([0x16, 0x03, 0x05], "tls.record_version"),  // 0x0305
            ([0x16, 0x03, 0x01, 0x00, 0x00], "tls.record_length"),  // empty handshake record
            ([0x16, 0x03, 0x01, 0x40, 0x01], "tls.record_length"),  // 2^14 + 1
            ([0x16, 0x03, 0x01, 0x00, 0x04, 0x0B], "tls.handshake_type"),  // certificate first
            ([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xFF, 0xFF, 0xFF], "tls.handshake_length"),
            ([0x16, 0x03, 0x01, 0x00, 0x02, 0x01, 0x00, 0x15, 0x03, 0x01], "tls.record_type"),  // alert mid-handshake
        ] as [([UInt8], String)])
    func badRecordsAreNotTLS(bytes: [UInt8], counter: String) {
        let (result, scanner) = tlsScanOnce(bytes)
        #expect(result == .notTLS)
        #expect(scanner.failure?.counterName == counter)
    }

    @Test func givesUpAtTheScanLimit() {
        // A handshake header announcing 65532 bytes (the most the cap allows), then full records.
        var scanner = TLSStreamScanner()
        var result = tlsFeed(&scanner, [0x16, 0x03, 0x01, 0x00, 0x04, 0x01] + u24(65_532))
        #expect(result == .needMore)
        var fed = 9
        while result == .needMore, fed < 2 * TLSLimits.maxScannedBytes {
            let record =
                [0x16, 0x03, 0x01] + u16(TLSLimits.maxPlaintextRecordLength)
                + [UInt8](repeating: 0, count: TLSLimits.maxPlaintextRecordLength)
            result = tlsFeed(&scanner, record)
            fed += record.count
        }
        #expect(result == .notTLS)
        #expect(scanner.failure?.counterName == "tls.scan_limit")
        #expect(fed <= TLSLimits.maxScannedBytes + TLSLimits.maxPlaintextRecordLength + 5)
    }

    @Test func resultIsStickyAfterFinishing() throws {
        var scanner = TLSStreamScanner()
        let first = tlsFeed(&scanner, TLSFixtures.curlTLS12ClientHello)
        #expect(tlsClientHello(first) != nil)
        #expect(tlsFeed(&scanner, Array("garbage".utf8)) == first)
        var other = TLSStreamScanner()
        #expect(tlsFeed(&other, [0x47]) == .notTLS)
        #expect(tlsFeed(&other, TLSFixtures.curlTLS12ClientHello) == .notTLS)
    }

    @Test func helloRetryRequestIsFlagged() throws {
        var body: [UInt8] = [0x03, 0x03] + TLSConstant.helloRetryRequestRandom
        body += [0x00, 0x13, 0x01, 0x00]  // no session id, TLS_AES_128_GCM_SHA256, null
        body += [0x00, 0x06, 0x00, 0x2B, 0x00, 0x02, 0x03, 0x04]  // supported_versions: TLS 1.3
        let record = [0x16, 0x03, 0x03] + u16(body.count + 4) + [0x02] + u24(body.count) + body
        let (result, _) = tlsScanOnce(record)
        let hello = try #require(tlsServerHello(result))
        #expect(hello.isHelloRetryRequest)
        #expect(hello.selectedVersion == 0x0304)
    }
}

// MARK: - Malformed hello bodies

/// ClientHello bodies with one length field wrong each.
@Suite("TLS malformed hellos")
struct TLSMalformedTests {
    static func parse(_ hex: String) -> DecodeError? {
        let body = tlsHexBytes(hex)
        let result: Result<TLSClientHello, DecodeError> = body.withUnsafeBytes { raw in
            Result { () throws(DecodeError) in try TLSClientHello(parsing: raw) }
        }
        if case .failure(let error) = result { return error }
        return nil
    }

    static let prefix = """
        03 03                                            | legacy_version TLS 1.2
        00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00 | random
        00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00 |
        """

    @Test(
        arguments: [
            (
                """
                21                                               | legacy_session_id length 33 > 32
                \(String(repeating: "00 ", count: 33))
                00 02 00 2f 01 00
                """, "tls.session_id_length"
            ),
            (
                """
                00                                               | no session id
                00 03 00 2f 00                                   | cipher_suites length 3: odd
                01 00
                """, "tls.cipher_suites_length"
            ),
            (
                """
                00 00 02 00 2f
                00                                               | compression_methods: empty
                """, "tls.compression_methods_length"
            ),
            (
                """
                00 00 02 00 2f 01 00
                00 05 00 17 00 00                                | extensions block says 5, 4 follow
                """, "tls.extensions_length"
            ),
            (
                """
                00 00 02 00 2f 01 00
                00 08 00 00 00 04                                | server_name, 4 bytes
                00 05 00 00                                      | server_name_list says 5, 2 follow
                """, "tls.sni_list_length"
            ),
            (
                """
                00 00 02 00 2f 01 00
                00 08 00 10 00 04                                | ALPN, 4 bytes
                00 02 05 61                                      | list of 2 bytes: name length 5 overflows
                """, "tls.truncated"
            ),
            (
                """
                00 00 02 00 2f 01 00
                00 08 00 0a 00 04                                | supported_groups, 4 bytes
                00 03 00 1d                                      | list length 3: odd and short
                """, "tls.supported_groups_length"
            ),
            (
                """
                00 00 02 00 2f 01 00
                00 06 00 2b 00 02                                | supported_versions, 2 bytes
                01 03                                            | list length 1: odd
                """, "tls.supported_versions_length"
            ),
            (
                """
                00 00 02 00 2f 01 00
                00 07 00 0b 00 03                                | ec_point_formats, 3 bytes
                01 00 00                                         | 1 format then a stray byte
                """, "tls.extension_length"
            ),
            (
                """
                00 00 02 00 2f 01 00
                00 04 00 17 00 09                                | extension length 9 overruns the block
                """, "tls.truncated"
            ),
        ] as [(String, String)])
    func malformedBodies(rest: String, counter: String) {
        #expect(Self.parse(Self.prefix + "\n" + rest)?.counterName == counter)
    }

    @Test func wellFormedBodyFromTheSameParts() {
        // Control for the cases above: the same prefix with valid lists parses.
        let ok = """
            00 00 02 00 2f 01 00
            00 10                                            | extensions: 16 bytes
            00 00 00 08 00 06 00 00  03 61 62 63             | server_name "abc"
            00 17 00 00                                      | extended_master_secret
            """
        #expect(Self.parse(Self.prefix + "\n" + ok) == nil)
    }
}
