import Flows
import Foundation
import Packets
import Store

/// Records with every field set to an awkward value, or with every optional field unset, and a temporary directory
/// per test.
enum Sample {
    static let boot: [UInt8] = Array(0..<16)
    static let otherBoot: [UInt8] = Array(16..<32)

    static func address(_ text: String) -> IPAddress {
        guard let address = IPAddress(text) else { preconditionFailure("bad test address \(text)") }
        return address
    }

    static func conn(_ orig: String = "10.0.0.1", _ resp: String = "192.168.1.10", port: UInt16 = 443) -> ConnID {
        ConnID(origHost: address(orig), origPort: 51_234, respHost: address(resp), respPort: port)
    }

    static func flow(
        ts: Double, sensor: String = "s1", uid: String = "CflowA", id: ConnID = conn(), full: Bool = true
    ) -> Record {
        .flow(
            FlowRecord(
                ts: ts, uid: uid, sensor: sensor, id: id, proto: full ? 6 : 17, service: full ? "ssl" : nil,
                duration: full ? 12.345678 : 0, origBytes: full ? UInt64.max : 0, respBytes: full ? 1 << 63 : 0,
                origPackets: 3, respPackets: 4, origIPBytes: 1_000, respIPBytes: UInt64(Int64.max),
                connState: full ? "SF" : "", history: full ? "ShADadFf" : "",
                tcpFlagsOrig: full ? [.syn, .ack, .fin, .ns] : nil, tcpFlagsResp: full ? TCPFlags(rawValue: 0) : nil,
                retransPackets: full ? 2 : 0, icmpType: full ? 255 : nil, icmpCode: full ? 0 : nil,
                vlan: full ? 4_094 : nil, innerVlan: full ? 0 : nil, communityID: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
                final: !full, reason: full ? "fin" : "", truncated: full))
    }

    static func dns(ts: Double, sensor: String = "s1", uid: String = "CdnsA", full: Bool = true) -> Record {
        .dns(
            DNSRecord(
                ts: ts, uid: uid, sensor: sensor, id: conn("2001:db8::1", "2001:4860:4860::8888", port: 53),
                proto: 17, transID: full ? 65_535 : 0, query: full ? "ex\"am\\ple.\u{1}com\n" : nil,
                qtype: full ? 1 : nil, qtypeName: full ? "A" : nil, rcode: full ? 0 : nil,
                rcodeName: full ? "NOERROR" : nil,
                answers: full ? ["93.184.216.34", "", "caf\u{E9}.example", "\u{1F600}\u{0}"] : [],
                ttls: full ? [300, 0.5, 1e-7, .infinity, -0.0, 86_400.000001] : [], rtt: full ? 0.000123 : nil,
                rejected: full))
    }

    static func http(ts: Double, sensor: String = "s1", uid: String = "ChttpA", full: Bool = true) -> Record {
        let transaction =
            full
            ? HTTPTransaction(
                method: "GET", uri: "/a?b=c&d=\u{E9}", version: "1.1", host: "example.com", userAgent: "curl/8.0",
                referrer: "", statusCode: 200, statusMessage: "OK", infoCode: 100, infoMessage: "Continue",
                requestBodyLength: 0, responseBodyLength: Int.max, requestContentType: "text/plain",
                responseContentType: "text/html; charset=utf-8")
            : HTTPTransaction()
        return .http(
            HTTPRecord(
                ts: ts, uid: uid, sensor: sensor, id: conn(port: 80), transDepth: full ? 3 : 0,
                transaction: transaction))
    }

    static func tls(ts: Double, sensor: String = "s1", uid: String = "CtlsA", full: Bool = true) -> Record {
        .tls(
            TLSRecord(
                ts: ts, uid: uid, sensor: sensor, id: conn(), version: full ? "TLSv13" : nil,
                cipher: full ? 0x1301 : nil, serverName: full ? "www.example.com" : nil,
                alpn: full ? ["h2", "http/1.1"] : [], ja3: full ? "771,4865-4866,0-23,29-23,0" : nil,
                ja4: full ? "t13d1516h2_8daaf6152771_02713d6af862" : nil))
    }

    static func series(ts: Double, sensor: String = "s1", full: Bool = true) -> Record {
        var tcp = ProtocolCounters()
        tcp.packets = UInt64.max
        tcp.bytes = 1_500
        tcp.flows = 1
        return .series(
            SeriesRecord(
                ts: ts, interval: 60, sensor: sensor, packets: full ? 10 : 0, bytes: full ? 2_000 : 0,
                flows: full ? 2 : 0, perProtocol: full ? ["tcp": tcp, "other": ProtocolCounters()] : [:]))
    }

    static func stats(ts: Double, sensor: String = "s1", full: Bool = true) -> Record {
        .stats(
            StatsRecord(
                ts: ts, sensor: sensor, source: full ? "eth0" : "", packetsReceived: 1_000,
                packetsDroppedKernel: full ? UInt64.max : nil, packetsDroppedInterface: full ? 0 : nil,
                bytesReceived: 123_456, nonIPPackets: 1, truncatedPackets: 2, decodeErrors: 3, fragments: 4,
                fragmentsReassembled: 5, fragmentsExpired: 6, flowTableSize: full ? Int.max : 0, flowsCreated: 7,
                flowsEvicted: 8, recordsDropped: 9, spoolBytes: 10,
                weird: full ? ["dns.pointer_loop": 3, "ipv4.truncated": UInt64.max, "q\"uote": 0] : [:],
                final: full))
    }

    /// One record of every kind, at `ts`, `ts + 1`, ...
    static func everyKind(ts: Double, sensor: String = "s1", full: Bool = true) -> [Record] {
        [
            flow(ts: ts, sensor: sensor, full: full), dns(ts: ts + 1, sensor: sensor, full: full),
            http(ts: ts + 2, sensor: sensor, full: full), tls(ts: ts + 3, sensor: sensor, full: full),
            series(ts: ts + 4, sensor: sensor, full: full), stats(ts: ts + 5, sensor: sensor, full: full),
        ]
    }

    static func batch(_ sequence: UInt64, _ records: [Record], sensor: String = "s1", boot: [UInt8] = boot)
        -> StoredBatch
    {
        StoredBatch(sensor: sensor, bootID: boot, sequence: sequence, records: records)
    }
}

/// A fresh directory under the system's temporary directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("wirewatch-store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path)
}

func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("wirewatch-store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url.path)
}

/// The bytes of a file, or empty when it does not exist.
func contents(_ path: String) -> Data {
    FileManager.default.contents(atPath: path) ?? Data()
}

/// Overwrites `bytes` at `offset` of a file.
func patch(_ path: String, at offset: UInt64, _ bytes: [UInt8]) throws {
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: offset)
    try handle.write(contentsOf: Data(bytes))
}
