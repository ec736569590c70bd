import Flows
import Foundation
import Packets
import Store
import Testing

@Suite("SQLiteStore on real files")
struct SQLiteStoreTests {
    @Test("every kind round-trips exactly", arguments: [true, false])
    func roundTrip(full: Bool) throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite")
            defer { store.close() }
            let records = Sample.everyKind(ts: 1_732_550_000.123456, full: full)
            #expect(try store.commit(Sample.batch(1, records)) == .stored(records: records.count))
            let back = try store.records(RecordQuery())
            #expect(back == records)
            #expect(back.count == 6)
        }
    }

    @Test("settings are recorded, replaced and kept across reopen; an unknown key is nil")
    func settings() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/w.sqlite"
            do {
                let store = try SQLiteStore(path: path, synchronous: .normal)
                #expect(try store.setting("geoip") == nil)
                try store.setSetting("geoip", to: "/a.mmdb")
                try store.setSetting("geoip", to: "/a.mmdb\n/b.mmdb")
                store.close()
            }
            let store = try SQLiteStore(path: path, readOnly: true)
            defer { store.close() }
            #expect(try store.setting("geoip") == "/a.mmdb\n/b.mmdb")
            #expect(try store.setting("other") == nil)
        }
    }

    @Test("records read back after close and reopen are equal, in ts then insertion order")
    func roundTripAcrossReopen() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/w.sqlite"
            // Same ts across kinds and batches: insertion order decides.
            let first = [Sample.dns(ts: 10), Sample.flow(ts: 10), Sample.flow(ts: 5, uid: "Cearly")]
            let second = [Sample.tls(ts: 10), Sample.stats(ts: 1)]
            do {
                let store = try SQLiteStore(path: path, synchronous: .normal)
                _ = try store.commit(Sample.batch(1, first))
                _ = try store.commit(Sample.batch(2, second))
                store.close()
            }
            let store = try SQLiteStore(path: path)
            defer { store.close() }
            #expect(try store.records(RecordQuery()) == [second[1], first[2], first[0], first[1], second[0]])
        }
    }

    @Test("a record's sensor field is stored as given, whatever the batch's sensor")
    func sensorFieldAsGiven() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite")
            defer { store.close() }
            let records = [Sample.flow(ts: 1, sensor: "relay-a"), Sample.flow(ts: 2, sensor: "")]
            _ = try store.commit(Sample.batch(1, records, sensor: "collector-side-name"))
            #expect(try store.records(RecordQuery()) == records)
            #expect(try store.records(RecordQuery(sensor: "relay-a")) == [records[0]])
            #expect(try store.records(RecordQuery(sensor: "")) == [records[1]])
            #expect(try store.records(RecordQuery(sensor: "collector-side-name")).isEmpty)
        }
    }

    @Test("a replayed sequence is a duplicate and writes nothing; a gap is stored")
    func duplicates() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite")
            defer { store.close() }
            let records = Sample.everyKind(ts: 100)
            #expect(try store.commit(Sample.batch(1, records)) == .stored(records: 6))
            let replay = Sample.batch(1, [Sample.flow(ts: 999)])
            #expect(try store.commit(replay) == .duplicate(committed: 1))
            #expect(try store.commit(Sample.batch(0, [Sample.flow(ts: 998)])) == .duplicate(committed: 1))
            #expect(try store.records(RecordQuery()) == records)
            #expect(try store.counts()["flow"] == 1)

            // The spool may have dropped batches 2-4: 5 is stored, then 3 (late) is a duplicate.
            #expect(try store.commit(Sample.batch(5, [Sample.flow(ts: 200)])) == .stored(records: 1))
            #expect(try store.commit(Sample.batch(3, [Sample.flow(ts: 201)])) == .duplicate(committed: 5))
            #expect(try store.committedSequence(sensor: "s1", bootID: Sample.boot) == 5)

            // Another boot id, or another sensor, has its own sequence.
            #expect(try store.committedSequence(sensor: "s1", bootID: Sample.otherBoot) == 0)
            #expect(try store.commit(Sample.batch(1, [], boot: Sample.otherBoot)) == .stored(records: 0))
            #expect(try store.commit(Sample.batch(1, [Sample.flow(ts: 3)], sensor: "s2")) == .stored(records: 1))
            #expect(try store.counts()["flow"] == 3)
        }
    }

    @Test("the committed sequence and the sensor row survive close and reopen")
    func sequenceSurvivesReopen() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/w.sqlite"
            let session = SensorSession(name: "s1", bootID: Sample.boot, source: "eth0", softwareVersion: "1.0")
            do {
                let store = try SQLiteStore(path: path, clock: { 1_000 })
                #expect(try store.openSession(session) == 0)
                _ = try store.commit(Sample.batch(7, [Sample.flow(ts: 1)]))
                store.close()
            }
            let store = try SQLiteStore(path: path, clock: { 2_000 })
            defer { store.close() }
            #expect(try store.openSession(session) == 7)
            #expect(try store.commit(Sample.batch(7, [Sample.flow(ts: 2)])) == .duplicate(committed: 7))

            // A restarted sensor: new boot id, sequences from 1 again; the row keeps its first_seen.
            let reboot = SensorSession(name: "s1", bootID: Sample.otherBoot, source: "eth1", softwareVersion: "1.1")
            #expect(try store.openSession(reboot) == 0)
            #expect(
                try store.sensors() == [
                    SensorRow(
                        name: "s1", bootID: Sample.otherBoot, source: "eth1", softwareVersion: "1.1", firstSeen: 1_000,
                        lastSeen: 2_000)
                ])
            #expect(try store.committedSequence(sensor: "s1", bootID: Sample.boot) == 7)
        }
    }

    @Test("a batch that fails half-way leaves neither records nor sequence behind")
    func failedBatchRollsBack() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite")
            defer { store.close() }
            let first = Sample.everyKind(ts: 10)
            _ = try store.commit(Sample.batch(1, first))
            // `ts` is NOT NULL and SQLite binds NaN as NULL: the fourth insert of the batch fails.
            let bad = [Sample.flow(ts: 20), Sample.dns(ts: 21), Sample.tls(ts: 22), Sample.flow(ts: .nan)]
            let error = #expect(throws: StoreError.self) { try store.commit(Sample.batch(2, bad)) }
            #expect(error?.code == .constraint)
            #expect(error?.path == dir + "/w.sqlite")
            #expect(try store.committedSequence(sensor: "s1", bootID: Sample.boot) == 1)
            #expect(try store.records(RecordQuery()) == first)
            #expect(try store.counts() == ["flow": 1, "dns": 1, "http": 1, "tls": 1, "series": 1, "stats": 1])

            // The store is still usable, and the same sequence can be stored once the batch is good.
            let good = Array(bad.dropLast())
            #expect(try store.commit(Sample.batch(2, good)) == .stored(records: 3))
            #expect(try store.records(RecordQuery()) == first + good)
        }
    }

    @Test("a schema newer than this build is refused and the file left byte-identical")
    func newerSchemaRefused() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/w.sqlite"
            let store = try SQLiteStore(path: path)
            _ = try store.commit(Sample.batch(1, [Sample.flow(ts: 1)]))
            store.close()
            // user_version is the 4-byte big-endian integer at offset 60 of the database header.
            let newer = UInt32(SQLiteStore.schemaVersion + 1)
            try patch(path, at: 60, withUnsafeBytes(of: newer.bigEndian, Array.init))
            let before = contents(path)

            let error = #expect(throws: StoreError.self) { try SQLiteStore(path: path) }
            #expect(error?.code == .schemaTooNew)
            #expect(error?.description.hasPrefix(path + ": ") == true)
            #expect(error?.description.contains("newer") == true)
            #expect(error?.description.contains("\n") == false)
            #expect(contents(path) == before)
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
            #expect(throws: StoreError.self) { try SQLiteStore(path: path, readOnly: true) }
            #expect(contents(path) == before)
        }
    }

    @Test("a database of another program is refused and left alone")
    func foreignDatabaseRefused() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/w.sqlite"
            try SQLiteStore(path: path).close()
            // application_id: 4 bytes big-endian at offset 68.
            try patch(path, at: 68, [0x47, 0x50, 0x4B, 0x47])
            let before = contents(path)
            let error = #expect(throws: StoreError.self) { try SQLiteStore(path: path) }
            #expect(error?.code == .foreignDatabase)
            #expect(contents(path) == before)
        }
    }

    @Test("a file that is not SQLite gets a one-line error naming it")
    func notADatabase() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/notes.txt"
            let text = Data(String(repeating: "this is not a database\n", count: 50).utf8)
            #expect(FileManager.default.createFile(atPath: path, contents: text))
            let error = #expect(throws: StoreError.self) { try SQLiteStore(path: path) }
            #expect(error?.code == .notADatabase)
            #expect(error?.description.hasPrefix(path + ": ") == true)
            #expect(error?.description.contains("not an SQLite database") == true)
            #expect(error?.description.contains("\n") == false)
            #expect(contents(path) == text)
        }
    }

    @Test("a path that cannot be opened says so")
    func cannotOpen() throws {
        try withTemporaryDirectory { dir in
            let missing = dir + "/no/such/dir/w.sqlite"
            let error = #expect(throws: StoreError.self) { try SQLiteStore(path: missing) }
            #expect(error?.code == .cannotOpen)
            #expect(error?.description.hasPrefix(missing) == true)
            let readOnlyMissing = #expect(throws: StoreError.self) { try SQLiteStore(path: dir + "/x", readOnly: true) }
            #expect(readOnlyMissing?.code == .cannotOpen)
        }
    }

    @Test("the database is in WAL mode")
    func walMode() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/w.sqlite"
            let store = try SQLiteStore(path: path)
            _ = try store.commit(Sample.batch(1, [Sample.flow(ts: 1)]))
            // Header bytes 18 and 19 (file format write and read versions) are 2 in WAL mode, 1 in rollback mode.
            let header = [UInt8](contents(path).prefix(20))
            #expect(header.count == 20)
            #expect(header.dropFirst(18) == [2, 2])
            #expect(FileManager.default.fileExists(atPath: path + "-wal"))
            store.close()
            // The last connection to close copies the WAL back and removes it.
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        }
    }

    @Test("a second connection reads what the writer committed while the writer stays open")
    func readerSeesCommits() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/w.sqlite"
            let writer = try SQLiteStore(path: path, synchronous: .normal)
            defer { writer.close() }
            let reader = try SQLiteStore(path: path, readOnly: true)
            defer { reader.close() }
            #expect(try reader.counts()["flow"] == 0)
            let records = Sample.everyKind(ts: 50)
            _ = try writer.commit(Sample.batch(1, records))
            #expect(try reader.records(RecordQuery()) == records)
            #expect(try reader.committedSequence(sensor: "s1", bootID: Sample.boot) == 1)
            _ = try writer.commit(Sample.batch(2, [Sample.flow(ts: 60)]))
            #expect(try reader.counts()["flow"] == 2)
            #expect(throws: StoreError.self) { try reader.commit(Sample.batch(3, [Sample.flow(ts: 70)])) }
            #expect(try writer.counts()["flow"] == 2)
        }
    }

    @Test("reads from other threads while one thread commits")
    func concurrentReadsAndCommits() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite", synchronous: .normal)
            defer { store.close() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for sequence in 1...50 {
                        let records = (0..<20).map { Sample.flow(ts: Double(sequence * 100 + $0)) }
                        _ = try store.commit(Sample.batch(UInt64(sequence), records))
                    }
                }
                group.addTask {
                    var last = 0
                    for _ in 0..<50 {
                        let count = try store.counts()["flow"] ?? -1
                        // Whole batches only, never fewer than seen before.
                        #expect(count % 20 == 0 && count >= last)
                        last = count
                    }
                }
                try await group.waitForAll()
            }
            #expect(try store.counts()["flow"] == 1_000)
            #expect(try store.committedSequence(sensor: "s1", bootID: Sample.boot) == 50)
        }
    }

    @Test("counts and the kind, sensor, time, host, port, uid and limit filters")
    func queries() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite")
            defer { store.close() }
            let a = Sample.everyKind(ts: 100, sensor: "a")  // ts 100...105
            let b = Sample.everyKind(ts: 200, sensor: "b")  // ts 200...205
            let scan = Sample.flow(
                ts: 150, sensor: "a", uid: "Cscan", id: Sample.conn("203.0.113.9", "10.0.0.1", port: 22))
            _ = try store.commit(Sample.batch(1, a, sensor: "a"))
            _ = try store.commit(Sample.batch(1, b, sensor: "b"))
            _ = try store.commit(Sample.batch(2, [scan], sensor: "a"))
            // A later batch with the earliest record: a limited query must still find it first.
            let early = Sample.dns(ts: 1, sensor: "b", uid: "Cearly")
            _ = try store.commit(Sample.batch(2, [early], sensor: "b"))

            #expect(try store.counts() == ["flow": 3, "dns": 3, "http": 2, "tls": 2, "series": 2, "stats": 2])
            #expect(try store.records(RecordQuery()).count == 14)
            #expect(try store.records(RecordQuery(kinds: [.flow])) == [a[0], scan, b[0]])
            #expect(try store.records(RecordQuery(kinds: [.series, .stats])) == [a[4], a[5], b[4], b[5]])
            #expect(try store.records(RecordQuery(kinds: [])).isEmpty)
            #expect(try store.records(RecordQuery(sensor: "b")) == [early] + b)
            #expect(try store.records(RecordQuery(sensor: "nobody")).isEmpty)
            // [from, to): 101 included, 105 excluded.
            #expect(try store.records(RecordQuery(from: 101, to: 105)) == Array(a[1...4]))
            #expect(try store.records(RecordQuery(kinds: [.flow], from: 100.5, to: 200)) == [scan])
            #expect(try store.records(RecordQuery(from: 300)).isEmpty)
            #expect(try store.records(RecordQuery(limit: 2)) == [early, a[0]])
            #expect(try store.records(RecordQuery(sensor: "a", from: 101, limit: 3)) == [a[1], a[2], a[3]])
            #expect(try store.records(RecordQuery(limit: 0)).isEmpty)

            // Hosts match either end; series and stats have none.
            #expect(try store.records(RecordQuery(host: Sample.address("203.0.113.9"))) == [scan])
            let local = try store.records(RecordQuery(host: Sample.address("10.0.0.1")))
            #expect(local == [a[0], a[2], a[3], scan, b[0], b[2], b[3]])
            let v6 = try store.records(RecordQuery(host: Sample.address("2001:4860:4860:0::8888")))
            #expect(v6 == [early, a[1], b[1]])
            #expect(try store.records(RecordQuery(host: Sample.address("198.51.100.1"))).isEmpty)
            #expect(try store.records(RecordQuery(port: 22)) == [scan])
            #expect(try store.records(RecordQuery(kinds: [.http], port: 80)) == [a[2], b[2]])
            #expect(try store.records(RecordQuery(uid: "Cearly")) == [early])
            #expect(try store.records(RecordQuery(uid: "CflowA")) == [a[0], b[0]])
            #expect(try store.records(RecordQuery(sensor: "b", uid: "CflowA")) == [b[0]])
            #expect(try store.records(RecordQuery(host: Sample.address("10.0.0.1"), port: 22, uid: "Cscan")) == [scan])
        }
    }

    @Test("a boot id that is not 16 bytes is refused before anything is written")
    func bootIDLength() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite")
            defer { store.close() }
            let error = #expect(throws: StoreError.self) {
                try store.commit(Sample.batch(1, [Sample.flow(ts: 1)], boot: [1, 2, 3]))
            }
            #expect(error?.code == .invalidArgument)
            #expect(try store.counts()["flow"] == 0)
        }
    }

    @Test("a closed store throws closed")
    func closed() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite")
            store.close()
            store.close()
            let error = #expect(throws: StoreError.self) { try store.counts() }
            #expect(error?.code == .closed)
            #expect(throws: StoreError.self) { try store.commit(Sample.batch(1, [])) }
        }
    }

    @Test("reopening keeps the schema version and does not migrate again")
    func reopenKeepsSchema() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/w.sqlite"
            try SQLiteStore(path: path).close()
            let header = [UInt8](contents(path).prefix(72))
            // user_version at 60 and application_id ("WWST") at 68, both big-endian.
            #expect(
                Array(header[60..<64]) == withUnsafeBytes(of: UInt32(SQLiteStore.schemaVersion).bigEndian, Array.init))
            #expect(Array(header[68..<72]) == Array("WWST".utf8))
            let store = try SQLiteStore(path: path)
            _ = try store.commit(Sample.batch(1, [Sample.flow(ts: 1)]))
            store.close()
            #expect(try SQLiteStore(path: path, readOnly: true).counts()["flow"] == 1)
        }
    }
}
