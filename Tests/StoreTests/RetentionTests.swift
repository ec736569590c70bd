import Flows
import Foundation
import Packets
import Testing

@testable import Store

@Suite("Retention: deleting what is older than a cut, in small transactions")
struct RetentionTests {
    @Test("exactly the records, rollup minutes, alerts and flow progress older than the cut go; the rest stays whole")
    func deletesOlderRows() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite", synchronous: .normal)
            defer { store.close() }
            let one = Traffic.records(sensor: "s1", seed: 31)
            let two = Traffic.records(sensor: "s2", seed: 32)
            for batch in Traffic.batches(one, sensor: "s1", seed: 33) + Traffic.batches(two, sensor: "s2", seed: 34) {
                _ = try store.commit(batch)
            }
            let alerts = [100.0, 300.0, 700.0].map { offset in
                AlertTests.scan(id: "a\(Int(offset))", first: Traffic.base, last: Traffic.base + offset)
            }
            try store.upsertAlerts(alerts)
            let all = one + two
            let expected = ExpectedRollups(all)
            let cut = Traffic.base + 300.5
            let older = all.filter { $0.timestamp < cut }
            #expect(older.count > 50 && older.count < all.count - 50)
            let cutMinute = Int64((cut / 60).rounded(.down)) * 60
            let keptProgress = expected.progress.filter { $0.value.end >= cut }
            #expect(keptProgress.count < expected.progress.count)

            var steps: [Int64] = []
            store.retentionStepObserver = { steps.append($0) }
            #expect(try store.deleteOlderThan(cut, batchRows: 7) == older.count)
            #expect(steps.allSatisfy { $0 <= 7 })
            #expect(steps.filter { $0 > 0 }.count >= older.count / 7)

            // Records: those at or after the cut, in the same order as before; the block index still finds them.
            let kept = try store.records(RecordQuery())
            let before = all.enumerated().sorted {
                ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset)
            }
            #expect(kept == before.map(\.element).filter { $0.timestamp >= cut })
            #expect(try store.counts().values.reduce(0, +) == all.count - older.count)
            let host = Sample.address("10.0.0.3")
            #expect(
                try store.records(RecordQuery(kinds: [.flow], host: host))
                    == kept.filter {
                        if case .flow(let r) = $0 { r.id.origHost == host || r.id.respHost == host } else { false }
                    })
            // Every block describes its rows exactly.
            for kind in RecordKind.allCases {
                let table = Schema.table(kind)
                let mismatched = try store.rows(
                    """
                    SELECT b.block_id FROM record_blocks AS b WHERE b.kind = '\(kind.rawValue)' AND (
                        b.records != (SELECT count(*) FROM \(table) WHERE record_id BETWEEN b.first_id AND b.last_id)
                        OR b.min_ts != (SELECT min(ts) FROM \(table) WHERE record_id BETWEEN b.first_id AND b.last_id)
                        OR b.first_id != (SELECT min(record_id) FROM \(table)
                            WHERE record_id BETWEEN b.first_id AND b.last_id)
                        OR b.min_ts < \(cut))
                    """)
                #expect(mismatched.isEmpty, "\(kind)")
            }
            // Rollups: the minutes before the cut's minute are gone, the others untouched.
            for table in expected.tables {
                let rows = table.rows.filter { row in Int64(row[0] ?? "") ?? 0 >= cutMinute }
                #expect(rows.count < table.rows.count || table.rows.isEmpty, "\(table.sql)")
                #expect(Set(try store.rows(table.sql)) == rows, "\(table.sql)")
            }
            #expect(try store.alerts(AlertQuery()).map(\.id) == ["a700"])
            #expect(
                Set(try store.rows("SELECT sensor || '/' || uid FROM flow_progress").compactMap { $0.first ?? nil })
                    == Set(keptProgress.keys))

            // Nothing older is left: a second pass deletes nothing.
            #expect(try store.deleteOlderThan(cut, batchRows: 1_000) == 0)
            let error = #expect(throws: StoreError.self) { try store.deleteOlderThan(cut, batchRows: 0) }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test(
        "ingest after retention (by this store or another connection) continues from the flow progress left",
        arguments: [true, false])
    func ingestAfterRetention(sameStore: Bool) throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/w.sqlite"
            let store = try SQLiteStore(path: path, synchronous: .normal)
            defer { store.close() }
            let records = Traffic.records(sensor: "s1", seed: 41)
            let batches = Traffic.batches(records, sensor: "s1", seed: 42)
            let half = batches.count / 2
            for batch in batches[..<half] { _ = try store.commit(batch) }
            // A cut between the flows still in progress: half of their progress goes.
            let ends = ExpectedRollups(batches[..<half].flatMap(\.records)).progress.values.map(\.end).sorted()
            try #require(ends.count >= 2)
            let cut = ends[ends.count / 2]
            if sameStore {
                _ = try store.deleteOlderThan(cut, batchRows: 5)
            } else {
                let other = try SQLiteStore(path: path, synchronous: .normal)
                _ = try other.deleteOlderThan(cut, batchRows: 5)
                other.close()
            }
            for batch in batches[half...] { _ = try store.commit(batch) }
            // Flows whose progress was deleted count as new when their later records come; nothing else changes.
            var expected = ExpectedRollups(batches[..<half].flatMap(\.records))
            let dropped = expected.progress.filter { $0.value.end < cut }
            #expect(!dropped.isEmpty)
            expected.progress = expected.progress.filter { $0.value.end >= cut }
            for record in batches[half...].flatMap(\.records) { expected.add(record) }
            let cutMinute = Int64((cut / 60).rounded(.down)) * 60
            for table in expected.tables {
                let rows = table.rows.filter { row in Int64(row[0] ?? "") ?? 0 >= cutMinute }
                #expect(Set(try store.rows(table.sql)) == rows, "\(table.sql)")
            }
            let progress = try store.rows(
                "SELECT sensor, uid, orig_pkts, resp_pkts, orig_ip_bytes, resp_ip_bytes, retrans_pkts "
                    + "FROM flow_progress")
            #expect(Set(progress) == expected.progressRows)
        }
    }
}
