import Flows
import Packets
import Store
import TestSupport

/// Synthetic records of every kind over about ten minutes: flows with zero to two interim records before their final
/// one (some never finish), counters that grow (and a retransmission count that once shrinks), hosts, ports and
/// states drawn from small sets so keys collide, and DNS, HTTP, TLS, series and stats records between them.
enum Traffic {
    static let base = 1_700_000_000.0
    static let hosts = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.10", "192.168.1.1", "192.168.1.2", "2001:db8::5"]
    static let ports: [UInt16] = [22, 53, 80, 443, 8080]
    static let states = ["S0", "SF", "REJ", "RSTO", "OTH", "S1"]
    static let names = ["example.com", "a.example", "b.example", "x.y.z.example"]

    /// The records of one sensor, in the order the sensor emits them (by the time of their last packet).
    static func records(sensor: String, seed: UInt64, flows: Int = 120) -> [Record] {
        var rng = SplitMix64(state: seed)
        var timed: [(at: Double, record: Record)] = []
        for n in 0..<flows {
            let start = base + Double(Int.random(in: 0..<600, using: &rng)) + 0.25
            let proto: UInt8 = [6, 6, 17, 17, 1].randomElement(using: &rng) ?? 6
            let orig = hosts.randomElement(using: &rng) ?? hosts[0]
            var resp = hosts.randomElement(using: &rng) ?? hosts[1]
            if resp == orig { resp = orig == hosts[0] ? hosts[1] : hosts[0] }
            let port = proto == 1 ? 0 : ports.randomElement(using: &rng) ?? 80
            let interims = Int.random(in: 0...2, using: &rng)
            let finishes = Int.random(in: 0..<10, using: &rng) != 0
            var counters = (op: UInt64(0), rp: UInt64(0), ob: UInt64(0), rb: UInt64(0), re: UInt64(0))
            var duration = 0.0
            for step in 0...interims {
                let final = step == interims
                if final && !finishes { break }
                counters.op += UInt64.random(in: 0...20, using: &rng)
                counters.rp += UInt64.random(in: 0...20, using: &rng)
                counters.ob += counters.op * UInt64.random(in: 40...1400, using: &rng)
                counters.rb += counters.rp * UInt64.random(in: 40...1400, using: &rng)
                counters.re += UInt64.random(in: 0...3, using: &rng)
                if final && n % 17 == 0 { counters.re = 0 }  // a counter that shrinks counts as no increase
                duration += Double(Int.random(in: 0...90, using: &rng)) + 0.5
                let record = FlowRecord(
                    ts: start, uid: "C\(sensor)\(n)", sensor: sensor,
                    id: ConnID(
                        origHost: Sample.address(orig), origPort: 40_000, respHost: Sample.address(resp),
                        respPort: port),
                    proto: proto, service: nil, duration: duration, origBytes: counters.ob / 2,
                    respBytes: counters.rb / 2, origPackets: counters.op, respPackets: counters.rp,
                    origIPBytes: counters.ob, respIPBytes: counters.rb,
                    connState: states.randomElement(using: &rng) ?? "SF", history: "ShADadFf",
                    tcpFlagsOrig: proto == 6 ? TCPFlags(rawValue: UInt16.random(in: 0...0x1FF, using: &rng)) : nil,
                    tcpFlagsResp: proto == 6 ? TCPFlags(rawValue: UInt16.random(in: 0...0x1FF, using: &rng)) : nil,
                    retransPackets: counters.re, icmpType: nil, icmpCode: nil, vlan: nil, innerVlan: nil,
                    communityID: "1:x", final: final, reason: final ? "fin" : "active", truncated: false)
                timed.append((start + duration, .flow(record)))
            }
        }
        for n in 0..<40 {
            let ts = base + Double(Int.random(in: 0..<600, using: &rng)) + 0.5
            let name = names.randomElement(using: &rng)
            let rcode = ["NOERROR", "NXDOMAIN", nil].randomElement(using: &rng) ?? nil
            timed.append(
                (
                    ts,
                    .dns(
                        DNSRecord(
                            ts: ts, uid: "D\(sensor)\(n)", sensor: sensor, id: Sample.conn(port: 53), proto: 17,
                            transID: 1, query: n % 9 == 0 ? nil : name, qtype: 1,
                            qtypeName: ["A", "AAAA", "TXT"].randomElement(using: &rng), rcode: 0, rcodeName: rcode,
                            answers: [], ttls: [], rtt: nil, rejected: false))
                ))
            let transaction = HTTPTransaction(
                method: ["GET", "POST", nil].randomElement(using: &rng) ?? nil,
                host: names.randomElement(using: &rng),
                userAgent: ["curl/8", "Mozilla/5.0"].randomElement(using: &rng),
                statusCode: [200, 404, nil].randomElement(using: &rng) ?? nil)
            timed.append(
                (
                    ts + 1,
                    .http(
                        HTTPRecord(
                            ts: ts + 1, uid: "H\(sensor)\(n)", sensor: sensor, id: Sample.conn(port: 80),
                            transDepth: 1, transaction: transaction))
                ))
            timed.append(
                (
                    ts + 2,
                    .tls(
                        TLSRecord(
                            ts: ts + 2, uid: "T\(sensor)\(n)", sensor: sensor, id: Sample.conn(),
                            version: ["TLSv13", "TLSv12"].randomElement(using: &rng), cipher: nil,
                            serverName: n % 5 == 0 ? nil : names.randomElement(using: &rng), alpn: [], ja3: nil,
                            ja4: nil))
                ))
        }
        for minute in 0..<10 {
            let ts = base - base.truncatingRemainder(dividingBy: 60) + Double(minute * 60)
            var tcp = ProtocolCounters()
            tcp.packets = UInt64(100 + minute)
            tcp.bytes = UInt64(10_000 * (minute + 1))
            tcp.flows = UInt64(minute)
            var udp = ProtocolCounters()
            udp.packets = 7
            udp.bytes = 700
            udp.flows = 1
            timed.append(
                (
                    ts + 59,
                    .series(
                        SeriesRecord(
                            ts: ts, interval: 60, sensor: sensor, packets: tcp.packets + udp.packets,
                            bytes: tcp.bytes + udp.bytes, flows: tcp.flows + udp.flows,
                            perProtocol: minute % 3 == 0 ? ["tcp": tcp] : ["tcp": tcp, "udp": udp]))
                ))
            timed.append(
                (
                    ts + 59.5,
                    .stats(
                        StatsRecord(
                            ts: ts + 59.5, sensor: sensor, source: "eth\(minute)",
                            packetsReceived: UInt64(1_000 * (minute + 1)), packetsDroppedKernel: UInt64(minute),
                            packetsDroppedInterface: nil, bytesReceived: 5, nonIPPackets: 0, truncatedPackets: 0,
                            decodeErrors: 1, fragments: 0, fragmentsReassembled: 0, fragmentsExpired: 0,
                            flowTableSize: minute, flowsCreated: 0, flowsEvicted: 0, recordsDropped: UInt64(minute / 2),
                            spoolBytes: 4_096, weird: [:], final: minute == 9))
                ))
        }
        return timed.sorted { $0.at < $1.at }.map(\.record)
    }

    /// The records cut into batches of 1 to 40, numbered from 1.
    static func batches(_ records: [Record], sensor: String, seed: UInt64) -> [StoredBatch] {
        var rng = SplitMix64(state: seed)
        var batches: [StoredBatch] = []
        var start = 0
        while start < records.count {
            let end = min(records.count, start + Int.random(in: 1...40, using: &rng))
            batches.append(Sample.batch(UInt64(batches.count + 1), Array(records[start..<end]), sensor: sensor))
            start = end
        }
        return batches
    }
}

/// The rollups worked out from records by the rule `Rollups` documents, written independently of it, as the rows each
/// table should hold (every value in SQLite's text form).
struct ExpectedRollups {
    static let buckets: [Int64] = [0, 64, 128, 256, 512, 1024, 1500]
    static let flagOrder: [(UInt16, String)] = [
        (0x002, "SYN"), (0x010, "ACK"), (0x001, "FIN"), (0x004, "RST"), (0x008, "PSH"), (0x020, "URG"),
        (0x040, "ECE"), (0x080, "CWR"), (0x100, "NS"),
    ]

    /// Last counters of each (sensor, uid) whose latest record was interim: packets, packets, bytes, bytes, retrans.
    var progress: [String: (counters: [UInt64], end: Double)] = [:]
    var hosts: [[String]: [Int64]] = [:]
    var ports: [[String]: [Int64]] = [:]
    var sizes: [[String]: [Int64]] = [:]
    var states: [[String]: [Int64]] = [:]
    var flags: [[String]: [Int64]] = [:]
    var dns: [[String]: [Int64]] = [:]
    var http: [[String]: [Int64]] = [:]
    var tls: [[String]: [Int64]] = [:]
    var stats: [String: StatsRecord] = [:]

    init(_ records: [Record] = []) {
        for record in records { add(record) }
    }

    static func minute(_ ts: Double) -> String { String(Int64((ts / 60).rounded(.down)) * 60) }

    static func bucket(_ bytes: Int64, _ packets: Int64) -> String {
        let mean = bytes / packets
        return String(buckets.last { $0 <= mean } ?? 0)
    }

    private static func add(_ table: inout [[String]: [Int64]], _ key: [String], _ values: [Int64]) {
        let held = table[key] ?? [Int64](repeating: 0, count: values.count)
        table[key] = zip(held, values).map { $0 + $1 }
    }

    mutating func add(_ record: Record) {
        switch record {
        case .flow(let r):
            let key = r.sensor + "/" + r.uid
            let now = [r.origPackets, r.respPackets, r.origIPBytes, r.respIPBytes, r.retransPackets]
            let before = progress[key]?.counters
            if r.final { progress[key] = nil } else { progress[key] = (now, r.ts + r.duration) }
            let d = (0..<5).map { i in Int64(now[i] > (before?[i] ?? 0) ? now[i] - (before?[i] ?? 0) : 0) }
            let first: Int64 = before == nil ? 1 : 0
            let minute = Self.minute(r.ts + r.duration)
            let proto = String(r.proto)
            let packets = d[0] + d[1]
            let bytes = d[2] + d[3]
            if first == 1 || packets > 0 || bytes > 0 {
                Self.add(
                    &hosts, [minute, r.sensor, r.id.origHost.description, proto], [first, 0, d[2], d[3], d[0], d[1]])
                Self.add(
                    &hosts, [minute, r.sensor, r.id.respHost.description, proto], [0, first, d[3], d[2], d[1], d[0]])
                let port = r.proto == 6 || r.proto == 17 ? r.id.respPort : 0
                Self.add(&ports, [minute, r.sensor, proto, String(port)], [first, packets, bytes])
            }
            if packets > 0 {
                Self.add(&sizes, [minute, r.sensor, proto, Self.bucket(bytes, packets)], [0, packets, bytes])
            }
            if r.final || d[4] > 0 {
                Self.add(&states, [minute, r.sensor, proto, r.connState], [r.final ? 1 : 0, d[4]])
            }
            if r.final {
                let totalPackets = Int64(now[0] + now[1])
                if totalPackets > 0 {
                    let bucket = Self.bucket(Int64(now[2] + now[3]), totalPackets)
                    Self.add(&sizes, [minute, r.sensor, proto, bucket], [1, 0, 0])
                }
                if r.proto == 6 {
                    for (bit, name) in Self.flagOrder {
                        let orig: Int64 = (r.tcpFlagsOrig?.rawValue ?? 0) & bit != 0 ? 1 : 0
                        let resp: Int64 = (r.tcpFlagsResp?.rawValue ?? 0) & bit != 0 ? 1 : 0
                        if orig + resp > 0 { Self.add(&flags, [minute, r.sensor, name], [orig, resp]) }
                    }
                }
            }
        case .dns(let r):
            Self.add(
                &dns, [Self.minute(r.ts), r.sensor, r.query ?? "", r.qtypeName ?? "", r.rcodeName ?? ""], [1])
        case .http(let r):
            let t = r.transaction
            Self.add(
                &http,
                [
                    Self.minute(r.ts), r.sensor, t.method ?? "", String(t.statusCode ?? 0), t.host ?? "",
                    t.userAgent ?? "",
                ], [1])
        case .tls(let r):
            Self.add(&tls, [Self.minute(r.ts), r.sensor, r.version ?? "", r.serverName ?? ""], [1])
        case .series:
            break
        case .stats(let r):
            if let held = stats[r.sensor], held.ts > r.ts { return }
            stats[r.sensor] = r
        }
    }

    /// Rows as `SQLiteStore.rows` gives them: key columns then counters.
    static func rows(_ table: [[String]: [Int64]]) -> Set<[String?]> {
        Set(table.map { key, values in key + values.map { String($0) } })
    }

    /// Each rollup table by name, with the SELECT that reads it in the same column order.
    var tables: [(sql: String, rows: Set<[String?]>)] {
        [
            (
                "SELECT minute, sensor, host, proto, orig_flows, resp_flows, sent_bytes, received_bytes, sent_pkts, "
                    + "received_pkts FROM rollup_hosts", Self.rows(hosts)
            ),
            ("SELECT minute, sensor, proto, port, flows, pkts, bytes FROM rollup_ports", Self.rows(ports)),
            ("SELECT minute, sensor, proto, bucket, flows, pkts, bytes FROM rollup_packet_sizes", Self.rows(sizes)),
            (
                "SELECT minute, sensor, proto, conn_state, flows, retrans_pkts FROM rollup_conn_states",
                Self.rows(states)
            ),
            ("SELECT minute, sensor, flag, orig_flows, resp_flows FROM rollup_tcp_flags", Self.rows(flags)),
            ("SELECT minute, sensor, query, qtype_name, rcode_name, count FROM rollup_dns", Self.rows(dns)),
            (
                "SELECT minute, sensor, method, status_code, host, user_agent, count FROM rollup_http",
                Self.rows(http)
            ),
            ("SELECT minute, sensor, version, server_name, count FROM rollup_tls", Self.rows(tls)),
        ]
    }

    /// `flow_progress` as (sensor/uid, counters).
    var progressRows: Set<[String?]> {
        Set(
            progress.map { key, value in
                let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
                return parts + value.counters.map { String($0) }
            })
    }
}
