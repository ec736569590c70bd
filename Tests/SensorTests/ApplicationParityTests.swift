import Foundation
import TestSupport
import Testing

// dns, http and tls records of `wirewatch-sensor --read F --emit jsonl` against tshark's dissection of F, run at
// test time. The tshark commands are spelled out above each test.

/// DNS type and rcode mnemonics as IANA's registry and Zeek's dns.log spell them, kept here rather than
/// taken from the sensor so that its naming is checked too.
enum DNSMnemonics {
    static let types: [Int: String] = [
        1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 35: "NAPTR",
        39: "DNAME", 41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 64: "SVCB", 65: "HTTPS", 99: "SPF",
        252: "AXFR", 255: "*", 257: "CAA",
    ]
    static let rcodes: [Int: String] = [
        0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
    ]
}

/// One DNS answer set, comparable between the tools.
struct DNSExchange: Hashable, Comparable, CustomStringConvertible {
    var client: Endpoint
    var server: Endpoint
    var transID: Int
    var query: String
    var qtypeName: String
    var rcodeName: String
    var answers: [String]
    static func < (a: DNSExchange, b: DNSExchange) -> Bool { a.description < b.description }
    var description: String {
        "\(client)->\(server) id \(transID) \(query) \(qtypeName) \(rcodeName) \(answers)"
    }
}

/// One HTTP request/response pair.
struct HTTPExchange: Hashable, Comparable, CustomStringConvertible {
    var client: Endpoint
    var server: Endpoint
    var depth: Int
    var method: String
    var host: String
    var uri: String
    var userAgent: String
    var statusCode: Int?
    static func < (a: HTTPExchange, b: HTTPExchange) -> Bool { a.description < b.description }
    var description: String {
        "\(client)->\(server) #\(depth) \(method) \(host) \(uri) UA=\(userAgent) -> \(statusCode.map(String.init) ?? "none")"
    }
}

/// One TLS handshake.
struct TLSHandshake: Hashable, Comparable, CustomStringConvertible {
    var client: Endpoint
    var server: Endpoint
    var serverName: String?
    var ja3: String?
    var version: String?
    var alpn: [String]
    static func < (a: TLSHandshake, b: TLSHandshake) -> Bool { a.description < b.description }
    var description: String {
        "\(client)->\(server) sni=\(serverName ?? "-") ja3=\(ja3 ?? "-") \(version ?? "-") alpn=\(alpn)"
    }
}

private func endpoint(_ row: TsharkRow, _ side: String, _ proto: String) -> Endpoint {
    let host = row["ip.\(side)"].isEmpty ? row["ipv6.\(side)"] : row["ip.\(side)"]
    let port = row.int("\(proto).\(side)port") ?? 0
    return Endpoint(host: host, port: port)
}

private func originator(_ r: JSONRecord) -> Endpoint {
    Endpoint(host: r.string("id.orig_h") ?? "", port: r.int("id.orig_p") ?? -1)
}

private func responder(_ r: JSONRecord) -> Endpoint {
    Endpoint(host: r.string("id.resp_h") ?? "", port: r.int("id.resp_p") ?? -1)
}

/// Captures with DNS over UDP and TCP (dns.pcap, its nanosecond twin, mixed.pcap and its link-type variants).
let dnsCaptures = [
    "dns.pcap", "dns-nano.pcap", "mixed.pcap", "sll.pcap", "sll2.pcap", "vlan.pcap", "qinq.pcap", "rawip.pcap",
    "null.pcap",
]
/// Captures with HTTP/1.1 over IPv4 and IPv6 (a cut file keeps the complete packets' HTTP).
let httpCaptures = [
    "http.pcap", "http.pcapng", "http-cut.pcap", "ipv6-tcp.pcap", "sll.pcap", "sll2.pcap", "mixed.pcap",
    "qinq.pcap",
]

/// dns, http and tls records compared with tshark's dissection of the same capture.
@Suite("DNS, HTTP and TLS records against tshark")
struct ApplicationParityTests {
    // tshark -r F -Y 'dns.flags.response == 1 && !icmp && !icmpv6' -T fields -E separator=/t -E occurrence=a
    //   -E aggregator=<US> -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst -e udp.srcport -e udp.dstport
    //   -e tcp.srcport -e tcp.dstport -e dns.id -e dns.qry.name -e dns.qry.type -e dns.flags.rcode
    //   -e dns.count.answers -e dns.resp.type -e dns.resp.len -e dns.a -e dns.aaaa -e dns.cname -e dns.ns
    //   -e dns.ptr.domain_name -e dns.mx.mail_exchange -e dns.soa.mname -e dns.srv.target -e dns.txt
    //   -e dns.txt.length
    // Captures: every file in `dnsCaptures`.
    @Test("each DNS response's query, qtype, rcode and answers equal tshark's", arguments: dnsCaptures)
    func dnsMatchesTshark(capture: String) async throws {
        let rdataFields = [
            "dns.a", "dns.aaaa", "dns.cname", "dns.ns", "dns.ptr.domain_name", "dns.mx.mail_exchange",
            "dns.soa.mname", "dns.srv.target",
        ]
        let fields =
            [
                "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "udp.srcport", "udp.dstport", "tcp.srcport", "tcp.dstport",
                "dns.id", "dns.qry.name", "dns.qry.type", "dns.flags.rcode", "dns.count.answers", "dns.resp.type",
                "dns.resp.len", "dns.txt", "dns.txt.length",
            ] + rdataFields
        let rows = try await Tshark.fields(
            Harness.fixture(capture), fields, filter: "dns.flags.response == 1 && !icmp && !icmpv6",
            allOccurrences: true)
        try #require(!rows.isEmpty, "\(capture): tshark shows no DNS responses")

        var expected: [DNSExchange] = []
        for row in rows {
            try #require(row.all("dns.id").count == 1, "\(capture): several DNS messages in one frame: \(row.values)")
            let proto = row["udp.srcport"].isEmpty ? "tcp" : "udp"
            let qtype = row.int("dns.qry.type") ?? -1
            let rcode = row.int("dns.flags.rcode") ?? -1
            // The answer section is the first `dns.count.answers` resource records; each type's rdata field
            // lists that type's values in message order, so take them one by one.
            var cursors: [String: Int] = [:]
            func next(_ field: String) -> String? {
                let values = row.all(field)
                let index = cursors[field, default: 0]
                cursors[field] = index + 1
                return index < values.count ? values[index] : nil
            }
            let types = row.all("dns.resp.type").compactMap { Int($0) }
            let lengths = row.all("dns.resp.len").compactMap { Int($0) }
            var answers: [String] = []
            for index in 0..<min(row.int("dns.count.answers") ?? 0, types.count) {
                let field: String
                switch types[index] {
                case 1: field = "dns.a"
                case 28: field = "dns.aaaa"
                case 5: field = "dns.cname"
                case 2: field = "dns.ns"
                case 12: field = "dns.ptr.domain_name"
                case 15: field = "dns.mx.mail_exchange"
                case 6: field = "dns.soa.mname"
                case 33: field = "dns.srv.target"
                case 16:
                    // Zeek: "TXT <length> <text>" per character-string of the RR, joined by spaces. The RR's
                    // strings are those whose 1+length bytes add up to its rdlength.
                    var remaining = index < lengths.count ? lengths[index] : 0
                    var parts: [String] = []
                    while remaining > 0, let length = next("dns.txt.length").flatMap({ Int($0) }) {
                        parts.append("TXT \(length) \(next("dns.txt") ?? "")")
                        remaining -= 1 + length
                    }
                    answers.append(parts.joined(separator: " "))
                    continue
                default:
                    Issue.record("\(capture): answer type \(types[index]) not handled by this test; extend it")
                    continue
                }
                let value = next(field) ?? "(tshark gave no \(field))"
                if value != "<Root>" && !value.isEmpty { answers.append(value) }  // Zeek drops empty names
            }
            expected.append(
                DNSExchange(
                    client: endpoint(row, "dst", proto), server: endpoint(row, "src", proto),
                    transID: row.int("dns.id") ?? -1, query: row["dns.qry.name"],
                    qtypeName: DNSMnemonics.types[qtype] ?? "query-\(qtype)",
                    rcodeName: DNSMnemonics.rcodes[rcode] ?? "rcode-\(rcode)", answers: answers))
        }

        let run = try await Sensor.jsonl(fixture: capture)
        let actual = run.records(ofType: "dns").filter { $0.int("rcode") != nil }.map { r in
            DNSExchange(
                client: originator(r), server: responder(r), transID: r.int("trans_id") ?? -1,
                query: r.string("query") ?? "", qtypeName: r.string("qtype_name") ?? "",
                rcodeName: r.string("rcode_name") ?? "", answers: r.stringLists["answers"] ?? [])
        }
        #expect(actual.sorted() == expected.sorted(), "\(capture): sensor dns records vs tshark's responses")
    }

    // tshark -r F -Y 'http.request || http.response' -T fields -E separator=/t -E occurrence=f
    //   -e frame.number -e tcp.stream -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst -e tcp.srcport -e tcp.dstport
    //   -e http.request.method -e http.host -e http.request.uri -e http.user_agent -e http.response.code
    //   -e http.request_in
    // Requests are numbered per tcp.stream in frame order (Zeek's trans_depth); a response belongs to the
    // request in its http.request_in. Captures: every file in `httpCaptures`.
    @Test("each HTTP transaction's method, host, URI, user agent and status equal tshark's", arguments: httpCaptures)
    func httpMatchesTshark(capture: String) async throws {
        let rows = try await Tshark.fields(
            Harness.fixture(capture),
            [
                "frame.number", "tcp.stream", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "tcp.dstport",
                "http.request.method", "http.host", "http.request.uri", "http.user_agent", "http.response.code",
                "http.request_in",
            ],
            filter: "http.request || http.response")
        var requests: [Int: HTTPExchange] = [:]  // frame -> request
        var depth: [String: Int] = [:]
        for row in rows.sorted(by: { ($0.int("frame.number") ?? 0) < ($1.int("frame.number") ?? 0) })
        where !row["http.request.method"].isEmpty {
            depth[row["tcp.stream"], default: 0] += 1
            requests[row.int("frame.number") ?? 0] = HTTPExchange(
                client: endpoint(row, "src", "tcp"), server: endpoint(row, "dst", "tcp"),
                depth: depth[row["tcp.stream"], default: 0], method: row["http.request.method"],
                host: row["http.host"], uri: row["http.request.uri"], userAgent: row["http.user_agent"],
                statusCode: nil)
        }
        for row in rows where !row["http.response.code"].isEmpty {
            if let request = row.int("http.request_in"), requests[request] != nil {
                requests[request]?.statusCode = row.int("http.response.code")
            } else {
                Issue.record("\(capture): tshark response without a request: \(row.values)")
            }
        }
        let expected = requests.values.sorted()
        try #require(!expected.isEmpty, "\(capture): tshark shows no HTTP requests")

        let run = try await Sensor.jsonl(fixture: capture)
        let actual = run.records(ofType: "http").map { r in
            HTTPExchange(
                client: originator(r), server: responder(r), depth: r.int("trans_depth") ?? -1,
                method: r.string("method") ?? "", host: r.string("host") ?? "", uri: r.string("uri") ?? "",
                userAgent: r.string("user_agent") ?? "", statusCode: r.int("status_code"))
        }
        #expect(actual.sorted() == expected, "\(capture): sensor http records vs tshark")
    }

    // tshark -r tls.pcap -Y 'tls.handshake.type == 1 || tls.handshake.type == 2' -T fields -E separator=/t
    //   -E occurrence=a -E aggregator=<US> -e tcp.stream -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst
    //   -e tcp.srcport -e tcp.dstport -e tls.handshake.type -e tls.handshake.extensions_server_name
    //   -e tls.handshake.ja3 -e tls.handshake.extensions_alpn_str -e tls.handshake.version
    //   -e tls.handshake.extensions.supported_version
    // Expected per connection: SNI and JA3 of the ClientHello; version from the ServerHello (supported_versions
    // if present, else its legacy version); ALPN as the sensor documents it: the protocol the ServerHello
    // selected if it is visible (TLS 1.2), else the ClientHello's offer (TLS 1.3 hides the choice).
    // Capture: tls.pcap.
    @Test("each TLS handshake's server_name and ja3 (and version, alpn) equal tshark's")
    func tlsMatchesTshark() async throws {
        let rows = try await Tshark.fields(
            Harness.fixture("tls.pcap"),
            [
                "tcp.stream", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "tcp.dstport",
                "tls.handshake.type", "tls.handshake.extensions_server_name", "tls.handshake.ja3",
                "tls.handshake.extensions_alpn_str", "tls.handshake.version",
                "tls.handshake.extensions.supported_version",
            ],
            filter: "tls.handshake.type == 1 || tls.handshake.type == 2", allOccurrences: true)
        let versionNames = [0x0300: "SSLv3", 0x0301: "TLSv10", 0x0302: "TLSv11", 0x0303: "TLSv12", 0x0304: "TLSv13"]
        var hellos: [String: TLSHandshake] = [:]  // tcp.stream -> handshake
        var serverHellos: [String: TsharkRow] = [:]
        for row in rows {
            let types = row.all("tls.handshake.type")
            if types.contains("1") {
                hellos[row["tcp.stream"]] = TLSHandshake(
                    client: endpoint(row, "src", "tcp"), server: endpoint(row, "dst", "tcp"),
                    serverName: row.all("tls.handshake.extensions_server_name").first,
                    ja3: row.all("tls.handshake.ja3").first, version: nil,
                    alpn: row.all("tls.handshake.extensions_alpn_str"))
            } else if types.contains("2") {
                serverHellos[row["tcp.stream"]] = row
            }
        }
        for (stream, server) in serverHellos {
            let selected =
                server.all("tls.handshake.extensions.supported_version").first
                ?? server.all("tls.handshake.version").first
            let code = selected.flatMap { $0.hasPrefix("0x") ? Int($0.dropFirst(2), radix: 16) : Int($0) }
            hellos[stream]?.version = code.flatMap { versionNames[$0] }
            let alpn = server.all("tls.handshake.extensions_alpn_str")
            if !alpn.isEmpty { hellos[stream]?.alpn = alpn }
        }
        let expected = hellos.values.sorted()
        try #require(expected.count >= 3, "tls.pcap: tshark shows \(expected.count) ClientHellos")
        #expect(expected.allSatisfy { $0.ja3 != nil }, "this tshark computes no tls.handshake.ja3")

        let run = try await Sensor.jsonl(fixture: "tls.pcap")
        let actual = run.records(ofType: "tls").map { r in
            TLSHandshake(
                client: originator(r), server: responder(r), serverName: r.string("server_name"), ja3: r.string("ja3"),
                version: r.string("version"), alpn: r.stringLists["alpn"] ?? [])
        }
        #expect(actual.sorted() == expected, "tls.pcap: sensor tls records vs tshark")
        // JA4 is not in tshark 4.0; check at least its shape (FoxIO JA4: a_b_c, 10 + 12 + 12 characters).
        for record in run.records(ofType: "tls") {
            let parts = (record.string("ja4") ?? "").split(separator: "_").map(\.count)
            #expect(parts == [10, 12, 12], "ja4 shape: \(record)")
        }
    }
}
