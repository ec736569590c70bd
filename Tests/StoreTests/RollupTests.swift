import Flows
import Foundation
import Packets
import Testing

@testable import Store

/// Every rollup table and `flow_progress` equal what `ExpectedRollups` works out from the same records.
func expectRollups(_ store: SQLiteStore, _ expected: ExpectedRollups, sourceLocation: SourceLocation = #_sourceLocation)
    throws
{
    try store.flushRollups()
    for table in expected.tables {
        let stored = try store.rows(table.sql)
        #expect(stored.count == table.rows.count, "\(table.sql)", sourceLocation: sourceLocation)
        #expect(Set(stored) == table.rows, "\(table.sql)", sourceLocation: sourceLocation)
    }
    let progress = try store.rows(
        "SELECT sensor, uid, orig_pkts, resp_pkts, orig_ip_bytes, resp_ip_bytes, retrans_pkts FROM flow_progress")
    #expect(Set(progress) == expected.progressRows, sourceLocation: sourceLocation)
}

@Suite("Rollups: exactly-once per-minute counters")
struct RollupTests {
    @Test(
        "rollups equal an independent computation: interim records counted once, replays and group commits",
        arguments: [Duration.zero, .seconds(3600)])
    func matchIndependentComputation(delay: Duration) throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite", synchronous: .normal, rollupDelay: delay)
            defer { store.close() }
            let one = Traffic.records(sensor: "s1", seed: 1)
            let two = Traffic.records(sensor: "s2", seed: 2)
            let batchesOne = Traffic.batches(one, sensor: "s1", seed: 3)
            let batchesTwo = Traffic.batches(two, sensor: "s2", seed: 4)
            // Interleave the two streams, some as group commits, and replay every fifth batch after it was stored.
            var i = 0
            while i < max(batchesOne.count, batchesTwo.count) {
                var group: [StoredBatch] = []
                if i < batchesOne.count { group.append(batchesOne[i]) }
                if i < batchesTwo.count { group.append(batchesTwo[i]) }
                if i % 3 == 0 {
                    #expect(try store.commit(group).allSatisfy { if case .stored = $0 { true } else { false } })
                } else {
                    for batch in group { #expect(try store.commit(batch) == .stored(records: batch.records.count)) }
                }
                if i % 5 == 4, i < batchesOne.count {
                    #expect(try store.commit(batchesOne[i]) == .duplicate(committed: UInt64(i + 1)))
                }
                i += 1
            }
            let expected = ExpectedRollups(one + two)
            // The traffic has interim records, final ones after them, and flows that never finish.
            #expect(!expected.progress.isEmpty)
            #expect(
                one.contains { if case .flow(let r) = $0 { !r.final } else { false } }
                    && one.contains { if case .flow(let r) = $0 { r.final && r.uid.hasSuffix("0") } else { false } })
            try expectRollups(store, expected)
            let stats = try store.rows("SELECT sensor, ts, source FROM sensor_stats ORDER BY sensor")
            #expect(stats.map { $0.first ?? nil } == ["s1", "s2"])
            #expect(stats.map { $0[2] } == ["eth9", "eth9"])
        }
    }

    @Test("a flow's interim and final records add up to its final counters, each part in its own minute")
    func interimThenFinal() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite", synchronous: .normal)
            defer { store.close() }
            func flow(duration: Double, packets: UInt64, bytes: UInt64, final: Bool) -> Record {
                .flow(
                    FlowRecord(
                        ts: 600.5, uid: "Clong", sensor: "s1", id: Sample.conn("10.0.0.1", "10.0.0.2", port: 443),
                        proto: 6, service: nil, duration: duration, origBytes: 0, respBytes: 0,
                        origPackets: packets, respPackets: packets, origIPBytes: bytes, respIPBytes: 2 * bytes,
                        connState: "SF", history: "", tcpFlagsOrig: [.syn], tcpFlagsResp: [.syn, .ack],
                        retransPackets: 0, icmpType: nil, icmpCode: nil, vlan: nil, innerVlan: nil,
                        communityID: "", final: final, reason: final ? "fin" : "active", truncated: false))
            }
            _ = try store.commit(Sample.batch(1, [flow(duration: 70, packets: 10, bytes: 1_000, final: false)]))
            // The same batch again is a duplicate and adds nothing.
            _ = try store.commit(Sample.batch(1, [flow(duration: 70, packets: 10, bytes: 1_000, final: false)]))
            _ = try store.commit(
                Sample.batch(
                    2,
                    [
                        flow(duration: 130, packets: 25, bytes: 3_000, final: false),
                        flow(duration: 135, packets: 30, bytes: 4_000, final: true),
                    ]))
            #expect(
                try store.rows(
                    "SELECT minute, host, orig_flows, resp_flows, sent_bytes, received_bytes, sent_pkts "
                        + "FROM rollup_hosts ORDER BY minute, host")
                    == [
                        // 600.5 + 70 is in minute 660: the interim record's 1,000 and 2,000 bytes.
                        ["660", "10.0.0.1", "1", "0", "1000", "2000", "10"],
                        ["660", "10.0.0.2", "0", "1", "2000", "1000", "10"],
                        // 600.5 + 130 and + 135 are in minute 720: the rest, 3,000 and 6,000 bytes.
                        ["720", "10.0.0.1", "0", "0", "3000", "6000", "20"],
                        ["720", "10.0.0.2", "0", "0", "6000", "3000", "20"],
                    ])
            let talkers = try store.topTalkers(ReportQuery())
            #expect(talkers.map(\.host) == ["10.0.0.1", "10.0.0.2"])
            #expect(talkers.map(\.bytes) == [12_000, 12_000])
            #expect(talkers.map(\.flows) == [1, 1])
            #expect(talkers.first?.sentBytes == 4_000)
            #expect(try store.tcpSummary(ReportQuery()).states == [NamedCount(name: "SF", count: 1)])
            #expect(try store.rows("SELECT count(*) FROM flow_progress") == [["0"]])
        }
    }

    @Test("counters saturate at Int64.max instead of failing the commit")
    func saturation() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite", synchronous: .normal)
            defer { store.close() }
            // Sample flows carry resp_ip_bytes = Int64.max; two of them in one minute overflow any plain sum.
            let records = [Sample.flow(ts: 1, uid: "Ca"), Sample.flow(ts: 2, uid: "Cb")]
            _ = try store.commit(Sample.batch(1, records))
            _ = try store.commit(Sample.batch(2, [Sample.flow(ts: 3, uid: "Cc")]))
            let rows = try store.rows("SELECT sent_bytes FROM rollup_hosts WHERE host = '192.168.1.10'")
            #expect(rows == [[String(Int64.max)]])
        }
    }

    @Test("deferred rollups lost in a crash are added when the next delayed writer opens")
    func deferredRecovery() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/w.sqlite"
            let records = Traffic.records(sensor: "s1", seed: 7)
            let batches = Traffic.batches(records, sensor: "s1", seed: 8)
            let half = batches.count / 2
            do {
                let store = try SQLiteStore(path: path, synchronous: .normal, rollupDelay: .seconds(3600))
                for batch in batches[..<half] { _ = try store.commit(batch) }
                try store.flushRollups()
                for batch in batches[half...] { _ = try store.commit(batch) }
                // A crash: what is pending in memory is gone.
                store.shutDown(flush: false)
            }
            let flushed = ExpectedRollups(batches[..<half].flatMap(\.records))
            do {
                // A writer without a delay (the query tool, retention) leaves the pending blocks alone.
                let store = try SQLiteStore(path: path, synchronous: .normal)
                #expect(try store.rows("SELECT count(*) FROM rollup_pending") != [["0"]])
                try expectRollups(store, flushed)
                store.close()
            }
            let store = try SQLiteStore(path: path, synchronous: .normal, rollupDelay: .seconds(3600))
            defer { store.close() }
            #expect(try store.rows("SELECT count(*) FROM rollup_pending") == [["0"]])
            try expectRollups(store, ExpectedRollups(records))
            #expect(try store.counts()["flow"] == records.filter { $0.kind == .flow }.count)
        }
    }

    @Test("only one store defers rollups: a second one with a delay writes them in every commit")
    func oneDeferringWriter() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/w.sqlite"
            let first = try SQLiteStore(path: path, synchronous: .normal, rollupDelay: .seconds(3600))
            defer { first.close() }
            let second = try SQLiteStore(path: path, synchronous: .normal, rollupDelay: .seconds(3600))
            defer { second.close() }
            #expect(first.defersRollups && !second.defersRollups)
            _ = try first.commit(Sample.batch(1, [Sample.dns(ts: 60)]))
            _ = try second.commit(Sample.batch(1, [Sample.dns(ts: 120)], sensor: "s2"))
            // The second store's rollups are in the table at once; the first one's wait in memory.
            #expect(try second.rows("SELECT minute FROM rollup_dns") == [["120"]])
            #expect(try second.rows("SELECT count(*) FROM rollup_pending") == [["1"]])
            try first.flushRollups()
            #expect(try second.rows("SELECT minute FROM rollup_dns ORDER BY minute") == [["60"], ["120"]])
            #expect(try second.rows("SELECT count(*) FROM rollup_pending") == [["0"]])
        }
    }

    @Test("a failed commit while rollups are pending leaves them exact")
    func failureWhilePending() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite", synchronous: .normal, rollupDelay: .seconds(3600))
            defer { store.close() }
            let records = Traffic.records(sensor: "s1", seed: 11)
            let batches = Traffic.batches(records, sensor: "s1", seed: 12)
            for batch in batches.prefix(5) { _ = try store.commit(batch) }
            #expect(store.pending != nil)
            // ts is NOT NULL and NaN binds as NULL: the batch fails after its rollups were added to the pending ones.
            var bad = batches[5]
            bad.records.append(Sample.flow(ts: .nan, uid: "Cbad"))
            #expect(throws: StoreError.self) { try store.commit(bad) }
            for batch in batches.dropFirst(5) { _ = try store.commit(batch) }
            try expectRollups(store, ExpectedRollups(records))
        }
    }

    @Test("the writer reloads flow progress another connection changed")
    func progressReloadAfterOtherWriter() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/w.sqlite"
            func flow(_ bytes: UInt64, final: Bool) -> Record {
                .flow(
                    FlowRecord(
                        ts: 100, uid: "Cshared", sensor: "s1", id: Sample.conn("10.0.0.1", "10.0.0.2"), proto: 6,
                        service: nil, duration: 1, origBytes: 0, respBytes: 0, origPackets: bytes / 10,
                        respPackets: 0, origIPBytes: bytes, respIPBytes: 0, connState: "SF", history: "",
                        tcpFlagsOrig: nil, tcpFlagsResp: nil, retransPackets: 0, icmpType: nil, icmpCode: nil,
                        vlan: nil, innerVlan: nil, communityID: "", final: final, reason: "", truncated: false))
            }
            let a = try SQLiteStore(path: path, synchronous: .normal)
            defer { a.close() }
            _ = try a.commit(Sample.batch(1, [flow(100, final: false)]))
            let b = try SQLiteStore(path: path, synchronous: .normal)
            _ = try b.commit(Sample.batch(1, [flow(200, final: false)], sensor: "relay"))
            b.close()
            // Without reloading, `a` would take 100 as the previous counter and count 200 bytes instead of 100.
            _ = try a.commit(Sample.batch(2, [flow(300, final: true)]))
            #expect(try a.rows("SELECT sum(sent_bytes) FROM rollup_hosts WHERE host = '10.0.0.1'") == [["300"]])
            #expect(try a.rows("SELECT sum(orig_flows) FROM rollup_hosts WHERE host = '10.0.0.1'") == [["1"]])
        }
    }

    @Test("a version-1 file migrates: records kept, rollups and flow progress rebuilt, later records continue them")
    func migrationFromVersion1() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/w.sqlite"
            let records = Traffic.records(sensor: "s1", seed: 21)
            let batches = Traffic.batches(records, sensor: "s1", seed: 22)
            let early = batches.count * 2 / 3
            do {
                let old = try SQLiteStore(
                    path: path, synchronous: .normal, readOnly: false, busyTimeout: .seconds(5), clock: { 1_000 },
                    migratingTo: 1)
                #expect(old.fileVersion == 1)
                for batch in batches[..<early] { _ = try old.commit(batch) }
                #expect(try old.rows("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'rollup%'") == [["0"]])
                #expect(throws: StoreError.self) { try old.topTalkers(ReportQuery()) }
                old.close()
            }
            let header = [UInt8](contents(path).prefix(64))
            #expect(header[60..<64] == [0, 0, 0, 1])
            let before = ExpectedRollups(batches[..<early].flatMap(\.records))
            #expect(!before.progress.isEmpty)

            let store = try SQLiteStore(path: path, synchronous: .normal)
            defer { store.close() }
            #expect(store.fileVersion == Int64(SQLiteStore.schemaVersion))
            // Read back by ts, then insertion order.
            let stored = batches[..<early].flatMap(\.records).enumerated()
                .sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }.map(\.element)
            #expect(try store.records(RecordQuery()) == stored)
            try expectRollups(store, before)
            #expect(try store.committedSequence(sensor: "s1", bootID: Sample.boot) == UInt64(early))
            // Interim flows stored before the migration finish after it: only their increase is added.
            for batch in batches[early...] { _ = try store.commit(batch) }
            try expectRollups(store, ExpectedRollups(records))
        }
    }
}
