import Flows
import Foundation
import Packets
import Testing

@testable import Store

/// Report answers worked out in the test from `ExpectedRollups` and the records, independently of the store's SQL.
private struct ExpectedReports {
    let rollups: ExpectedRollups
    let records: [Record]
    let query: ReportQuery

    /// The rollup rows of the query's minutes and sensor: keys start (minute, sensor).
    func rows(_ table: [[String]: [Int64]]) -> [(key: [String], values: [Int64])] {
        let low = query.from.map { (($0 / 60).rounded(.down)) * 60 } ?? -.infinity
        let high = query.to ?? .infinity
        return table.compactMap { key, values in
            guard let minute = Double(key[0]), minute >= low, minute < high else { return nil }
            if let sensor = query.sensor, key[1] != sensor { return nil }
            return (key, values)
        }
    }

    /// Values of one key column by the sum of one counter, the most first, ties by value.
    func ranked(
        _ table: [[String]: [Int64]], column: Int, counter: Int = 0, nonZero: Bool = false,
        where keep: ([String]) -> Bool = { _ in true }
    ) -> [NamedCount] {
        var sums: [String: Int64] = [:]
        for row in rows(table) where keep(row.key) { sums[row.key[column], default: 0] += row.values[counter] }
        return sums.map { NamedCount(name: $0.key, count: UInt64($0.value)) }.filter { !nonZero || $0.count > 0 }
            .sorted { ($1.count, $0.name) < ($0.count, $1.name) }.prefix(query.limit).map { $0 }
    }

    func total(_ table: [[String]: [Int64]], counter: Int, where keep: ([String]) -> Bool = { _ in true }) -> UInt64 {
        UInt64(rows(table).filter { keep($0.key) }.reduce(0) { $0 + $1.values[counter] })
    }

    var topTalkers: [TopTalker] {
        var sums: [String: [Int64]] = [:]
        for row in rows(rollups.hosts) {
            if let host = query.host, row.key[2] != host.description { continue }
            if let proto = query.proto, row.key[3] != String(proto) { continue }
            sums[row.key[2]] = zip(sums[row.key[2]] ?? [0, 0, 0, 0, 0, 0], row.values).map { $0 + $1 }
        }
        return sums.map { host, v in
            TopTalker(
                host: host, sentBytes: UInt64(v[2]), receivedBytes: UInt64(v[3]), sentPackets: UInt64(v[4]),
                receivedPackets: UInt64(v[5]), origFlows: UInt64(v[0]), respFlows: UInt64(v[1]))
        }.sorted { ($1.bytes, $0.host) < ($0.bytes, $1.host) }.prefix(query.limit).map { $0 }
    }

    func ports(proto: UInt8?) -> [PortTotals] {
        var sums: [[String]: [Int64]] = [:]
        for row in rows(rollups.ports) {
            if let proto, row.key[2] != String(proto) { continue }
            sums[[row.key[2], row.key[3]]] = zip(sums[[row.key[2], row.key[3]]] ?? [0, 0, 0], row.values).map {
                $0 + $1
            }
        }
        let ordered = sums.map { key, v in (proto: UInt8(key[0]) ?? 0, port: UInt16(key[1]) ?? 0, v: v) }.sorted {
            ($1.v[0], $1.v[2], $0.proto, $0.port) < ($0.v[0], $0.v[2], $1.proto, $1.port)
        }
        return ordered.prefix(query.limit).map { p in
            PortTotals(
                proto: FlowRecord.protoName(p.proto), port: p.port, flows: UInt64(p.v[0]), packets: UInt64(p.v[1]),
                bytes: UInt64(p.v[2]))
        }
    }

    var series: [SeriesRecord] {
        records.compactMap { record in
            guard case .series(let s) = record else { return nil }
            if let from = query.from, s.ts < from { return nil }
            if let to = query.to, s.ts >= to { return nil }
            if let sensor = query.sensor, s.sensor != sensor { return nil }
            return s
        }
    }
}

@Suite("Reports from rollups and series records, against independent computation")
struct ReportTests {
    static let one = Traffic.records(sensor: "s1", seed: 51)
    static let two = Traffic.records(sensor: "s2", seed: 52)

    /// A store holding both sensors' traffic, with a session for s1 only.
    static func store(_ dir: String, delay: Duration = .zero) throws -> SQLiteStore {
        let store = try SQLiteStore(path: dir + "/w.sqlite", synchronous: .normal, clock: { 5_000 }, rollupDelay: delay)
        _ = try store.openSession(SensorSession(name: "s1", bootID: Sample.boot, source: "eth0", softwareVersion: "9"))
        for batch in Traffic.batches(one, sensor: "s1", seed: 53) + Traffic.batches(two, sensor: "s2", seed: 54) {
            _ = try store.commit(batch)
        }
        return store
    }

    static let queries = [
        ReportQuery(),
        ReportQuery(limit: 3),
        ReportQuery(from: Traffic.base + 100.5, to: Traffic.base + 400, sensor: "s2", limit: 5),
        ReportQuery(from: Traffic.base + 250),
    ]

    @Test("top talkers and ports, with sensor, host, protocol and time filters", arguments: queries)
    func talkersAndPorts(query: ReportQuery) throws {
        try withTemporaryDirectory { dir in
            let store = try Self.store(dir, delay: .seconds(3600))
            defer { store.close() }
            let rollups = ExpectedRollups(Self.one + Self.two)
            for variant in [
                query, ReportQuery(from: query.from, to: query.to, sensor: query.sensor, proto: 17, limit: query.limit),
                ReportQuery(
                    from: query.from, to: query.to, sensor: query.sensor, host: Sample.address("2001:db8::5"),
                    limit: query.limit),
            ] {
                let expected = ExpectedReports(rollups: rollups, records: Self.one + Self.two, query: variant)
                let talkers = try store.topTalkers(variant)
                #expect(!talkers.isEmpty)
                #expect(talkers == expected.topTalkers)
                #expect(try store.ports(variant.host == nil ? variant : query) == expected.ports(proto: variant.proto))
            }
        }
    }

    @Test("DNS, HTTP and TLS summaries", arguments: queries)
    func applicationSummaries(query: ReportQuery) throws {
        try withTemporaryDirectory { dir in
            let store = try Self.store(dir)
            defer { store.close() }
            let e = ExpectedReports(rollups: ExpectedRollups(Self.one + Self.two), records: [], query: query)
            let dns = try store.dnsSummary(query)
            #expect(dns.requests > 0)
            #expect(
                dns
                    == DNSSummary(
                        requests: e.total(e.rollups.dns, counter: 0),
                        topQueries: e.ranked(e.rollups.dns, column: 2), qtypes: e.ranked(e.rollups.dns, column: 3),
                        rcodes: e.ranked(e.rollups.dns, column: 4)))
            var statuses: [String: Int64] = [:]
            for row in e.rows(e.rollups.http) { statuses[row.key[3], default: 0] += row.values[0] }
            let statusCounts = statuses.map {
                StatusCount(code: $0.key == "0" ? nil : Int($0.key), count: UInt64($0.value))
            }
            .sorted { ($1.count, $0.code ?? 0) < ($0.count, $1.code ?? 0) }.prefix(query.limit)
            #expect(
                try store.httpSummary(query)
                    == HTTPSummary(
                        requests: e.total(e.rollups.http, counter: 0), methods: e.ranked(e.rollups.http, column: 2),
                        statusCodes: Array(statusCounts), hosts: e.ranked(e.rollups.http, column: 4),
                        userAgents: e.ranked(e.rollups.http, column: 5)))
            #expect(
                try store.tlsSummary(query)
                    == TLSSummary(
                        handshakes: e.total(e.rollups.tls, counter: 0), versions: e.ranked(e.rollups.tls, column: 2),
                        serverNames: e.ranked(e.rollups.tls, column: 3)))
        }
    }

    @Test("TCP and UDP summaries", arguments: queries)
    func transportSummaries(query: ReportQuery) throws {
        try withTemporaryDirectory { dir in
            let store = try Self.store(dir)
            defer { store.close() }
            let e = ExpectedReports(rollups: ExpectedRollups(Self.one + Self.two), records: [], query: query)
            let tcp: ([String]) -> Bool = { $0[2] == "6" }
            let udp: ([String]) -> Bool = { $0[2] == "17" }
            var flags: [String: [Int64]] = [:]
            for row in e.rows(e.rollups.flags) {
                flags[row.key[2]] = zip(flags[row.key[2]] ?? [0, 0], row.values).map { $0 + $1 }
            }
            let summary = try store.tcpSummary(query)
            #expect(summary.flows > 0 && summary.retransmittedPackets > 0 && summary.flags.count > 3)
            #expect(
                summary
                    == TCPSummary(
                        flows: e.total(e.rollups.states, counter: 0, where: tcp),
                        states: e.ranked(e.rollups.states, column: 3, nonZero: true, where: tcp),
                        retransmittedPackets: e.total(e.rollups.states, counter: 1, where: tcp),
                        flags: ExpectedRollups.flagOrder.compactMap { _, name in
                            flags[name].map {
                                FlagCount(flag: name, origFlows: UInt64($0[0]), respFlows: UInt64($0[1]))
                            }
                        },
                        topPorts: e.ports(proto: 6)))
            var sizes: [String: [Int64]] = [:]
            for row in e.rows(e.rollups.sizes) where udp(row.key) {
                sizes[row.key[3]] = zip(sizes[row.key[3]] ?? [0, 0, 0], row.values).map { $0 + $1 }
            }
            let bounds = ExpectedRollups.buckets
            let udpSummary = try store.udpSummary(query)
            #expect(udpSummary.packetSizes.count == 7)
            #expect(
                udpSummary
                    == UDPSummary(
                        flows: e.total(e.rollups.ports, counter: 0, where: udp),
                        packets: e.total(e.rollups.ports, counter: 1, where: udp),
                        bytes: e.total(e.rollups.ports, counter: 2, where: udp), topPorts: e.ports(proto: 17),
                        packetSizes: bounds.indices.map { i in
                            let v = sizes[String(bounds[i])] ?? [0, 0, 0]
                            return SizeBucket(
                                lowerBound: Int(bounds[i]), upperBound: i + 1 < bounds.count ? Int(bounds[i + 1]) : nil,
                                flows: UInt64(v[0]), packets: UInt64(v[1]), bytes: UInt64(v[2]))
                        }))
        }
    }

    @Test("protocols and traffic over time from series records", arguments: queries)
    func seriesReports(query: ReportQuery) throws {
        try withTemporaryDirectory { dir in
            let store = try Self.store(dir)
            defer { store.close() }
            let e = ExpectedReports(rollups: ExpectedRollups(), records: Self.one + Self.two, query: query)
            var protocols: [String: [UInt64]] = [:]
            for s in e.series {
                for (name, c) in s.perProtocol {
                    protocols[name] = zip(protocols[name] ?? [0, 0, 0], [c.packets, c.bytes, c.flows]).map { $0 + $1 }
                }
            }
            let expectedProtocols = protocols.map {
                ProtocolTotals(proto: $0.key, packets: $0.value[0], bytes: $0.value[1], flows: $0.value[2])
            }
            .sorted { ($1.bytes, $0.proto) < ($0.bytes, $1.proto) }
            #expect(!expectedProtocols.isEmpty)
            #expect(try store.protocols(query) == expectedProtocols)

            var buckets: [Double: [SeriesRecord]] = [:]
            for s in e.series { buckets[(s.ts / 120).rounded(.down) * 120, default: []].append(s) }
            let expectedTraffic = buckets.keys.sorted().map { start in
                let group = buckets[start] ?? []
                var perProtocol: [String: ProtocolTotals] = [:]
                for s in group {
                    for (name, c) in s.perProtocol {
                        let held = perProtocol[name] ?? ProtocolTotals(proto: name, packets: 0, bytes: 0, flows: 0)
                        perProtocol[name] = ProtocolTotals(
                            proto: name, packets: held.packets + c.packets, bytes: held.bytes + c.bytes,
                            flows: held.flows + c.flows)
                    }
                }
                return TrafficBucket(
                    start: start, packets: group.reduce(0) { $0 + $1.packets },
                    bytes: group.reduce(0) { $0 + $1.bytes },
                    flows: group.reduce(0) { $0 + $1.flows },
                    protocols: perProtocol.values.sorted { $0.proto < $1.proto })
            }
            #expect(try store.traffic(query, bucket: 120) == expectedTraffic)
        }
    }

    @Test("sensor health: each sensor's session and latest stats record")
    func sensorHealth() throws {
        try withTemporaryDirectory { dir in
            let store = try Self.store(dir)
            defer { store.close() }
            let health = try store.sensorHealth()
            #expect(health.map(\.name) == ["s1", "s2"])
            #expect(
                health.first?.source == "eth0" && health.first?.lastSeen == 5_000
                    && health.first?.softwareVersion == "9")
            #expect(health.last?.lastSeen == nil)
            let latest = Self.two.compactMap { if case .stats(let s) = $0 { s } else { nil } }.max { $0.ts < $1.ts }
            let snapshot = try #require(health.last?.stats)
            #expect(snapshot.ts == latest?.ts && snapshot.source == "eth9" && snapshot.final)
            #expect(snapshot.packetsReceived == 10_000 && snapshot.packetsDroppedKernel == 9)
            #expect(
                snapshot.packetsDroppedInterface == nil && snapshot.recordsDropped == 4 && snapshot.spoolBytes == 4_096)
            // The JSON the query tool prints.
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = .sortedKeys
            let json = String(decoding: try encoder.encode(snapshot), as: UTF8.self)
            #expect(json.contains(#""packets_dropped_kernel":9"#) && json.contains(#""records_dropped":4"#))
        }
    }

    @Test("reports refuse filters they cannot answer and work with an empty store")
    func refusals() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite", synchronous: .normal)
            defer { store.close() }
            let host = ReportQuery(host: Sample.address("10.0.0.1"))
            for call in [
                { _ = try store.dnsSummary(host) }, { _ = try store.ports(host) }, { _ = try store.protocols(host) },
                { _ = try store.tcpSummary(ReportQuery(proto: 17)) },
                { _ = try store.traffic(ReportQuery(), bucket: 0) },
                { _ = try store.topTalkers(ReportQuery(limit: -1)) },
                { _ = try store.httpSummary(ReportQuery(from: .nan)) },
            ] as [() throws -> Void] {
                let error = #expect(throws: StoreError.self) { try call() }
                #expect(error?.code == .invalidArgument)
            }
            #expect(try store.topTalkers(ReportQuery()).isEmpty)
            // A summary of one protocol takes that protocol as a filter.
            #expect(try store.udpSummary(ReportQuery(proto: 17)).flows == 0)
            #expect(throws: StoreError.self) { try store.udpSummary(ReportQuery(proto: 6)) }
            #expect(
                try store.dnsSummary(ReportQuery()) == DNSSummary(requests: 0, topQueries: [], qtypes: [], rcodes: []))
            #expect(try store.udpSummary(ReportQuery()).packetSizes.map(\.packets) == [0, 0, 0, 0, 0, 0, 0])
            #expect(try store.traffic(ReportQuery(), bucket: 60).isEmpty)
            #expect(try store.sensorHealth().isEmpty)
        }
    }
}
