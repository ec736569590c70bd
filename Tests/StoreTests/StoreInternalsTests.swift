import Testing

@testable import Store

@Suite("Store internals: the JSON list columns and the block key filter")
struct StoreInternalsTests {
    @Test("JSON text round-trips strings, doubles and counters exactly")
    func jsonRoundTrip() throws {
        let strings = ["", "a\"b\\c", "\u{0}\u{1F}\n\t\r", "caf\u{E9}", "\u{1F600}", "/"]
        #expect(try JSONText.strings(JSONText.encode(strings)) == strings)
        let doubles: [Double] = [
            0, -0.0, 1e-300, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 0.1, 1_732_550_000.123456,
        ]
        #expect(try JSONText.doubles(JSONText.encode(doubles)) == doubles)
        let odd = try JSONText.doubles(JSONText.encode([.infinity, -.infinity, .nan]))
        #expect(odd.count == 3 && odd[0] == .infinity && odd[1] == -.infinity && odd[2].isNaN)
        let counters: [String: UInt64] = ["a": 0, "b.c": UInt64.max, "\"": 1]
        #expect(try JSONText.counters(JSONText.encode(counters)) == counters)
        #expect(JSONText.encode(["b": 1, "a": 2] as [String: UInt64]) == #"{"a":2,"b":1}"#)
    }

    @Test("JSON written by other tools (escapes, spaces, surrogate pairs) parses")
    func jsonFromElsewhere() throws {
        #expect(try JSONText.strings(#" [ "\u00e9\ud83d\ude00" , "\/" ] "#) == ["\u{E9}\u{1F600}", "/"])
        #expect(try JSONText.counters(#"{ "x" : 18446744073709551615 }"#) == ["x": UInt64.max])
    }

    @Test(
        "damaged JSON is an error, not a trap",
        arguments: ["", "[", "[1,]", "{\"a\":}", "[\"\\u12\"]", "[1] x", "\"s\""])
    func jsonDamaged(text: String) {
        #expect(throws: JSONText.DecodeFailure.self) { try JSONText.strings(text) }
        #expect(throws: JSONText.DecodeFailure.self) { try JSONText.counters(text) }
    }

    @Test("the key filter has no false negatives and few false positives")
    func blockFilter() throws {
        let keys = (0..<5_000).map { BlockFilter.hash(.host, "10.0.\($0 / 256).\($0 % 256)") }
        var filter = BlockFilter(capacity: keys.count)
        for key in keys { filter.insert(key) }
        #expect(keys.allSatisfy(filter.mayContain))
        let absent = (0..<10_000).map { BlockFilter.hash(.host, "172.16.\($0 / 256).\($0 % 256)") }
        let falsePositives = absent.filter(filter.mayContain).count
        #expect(falsePositives < 300)  // about 1% expected
        let stored = try #require(BlockFilter(bytes: filter.bytes))
        #expect(stored.words == filter.words)
        #expect(BlockFilter(bytes: [1, 2, 3]) == nil)
        #expect(BlockFilter(bytes: [UInt8](repeating: 0, count: 24)) == nil)
        // Namespaces keep a port from matching a host with the same bytes.
        #expect(BlockFilter.hash(port: 0x3130) != BlockFilter.hash(.host, "10"))
    }
}

@Suite("The stored columns")
struct StoredColumnsTests {
    @Test("columns hold each field under its Zeek name, lists and maps as JSON")
    func columnsByName() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite")
            defer { store.close() }
            _ = try store.commit(Sample.batch(1, Sample.everyKind(ts: 1_700_000_000.5)))
            #expect(
                try store.rows(
                    "SELECT ts, uid, sensor, orig_h, orig_p, resp_h, resp_p, proto, service, orig_bytes, "
                        + "tcp_flags_orig, vlan, final, end_reason FROM flows")
                    == [
                        [
                            "1700000000.5", "CflowA", "s1", "10.0.0.1", "51234", "192.168.1.10", "443", "6", "ssl",
                            "-1", "275", "4094", "0", "fin",
                        ]
                    ])
            #expect(
                try store.rows("SELECT orig_h, resp_h, query, qtype_name, answers, ttls, rtt FROM dns") == [
                    [
                        "2001:db8::1", "2001:4860:4860::8888", "ex\"am\\ple.\u{1}com\n", "A",
                        #"["93.184.216.34","","café.example","😀\u0000"]"#,
                        #"[300.0,0.5,1e-07,"inf",-0.0,86400.000001]"#,
                        "0.000123",
                    ]
                ])
            #expect(
                try store.rows("SELECT method, uri, version, host, status_code, info_msg, response_body_len FROM http")
                    == [["GET", "/a?b=c&d=\u{E9}", "1.1", "example.com", "200", "Continue", String(Int.max)]])
            #expect(
                try store.rows("SELECT version, cipher_code, server_name, alpn, ja4 FROM tls") == [
                    [
                        "TLSv13", "4865", "www.example.com", #"["h2","http/1.1"]"#,
                        "t13d1516h2_8daaf6152771_02713d6af862",
                    ]
                ])
            #expect(
                try store.rows("SELECT interval, packets, per_protocol FROM series") == [
                    [
                        "60.0", "10",
                        #"{"other":{"packets":0,"bytes":0,"flows":0},"tcp":{"packets":18446744073709551615,"bytes":1500,"flows":1}}"#,
                    ]
                ])
            #expect(
                try store.rows("SELECT source, packets_dropped_kernel, packets_dropped_interface, weird FROM stats")
                    == [
                        [
                            "eth0", "-1", "0",
                            #"{"dns.pointer_loop":3,"ipv4.truncated":18446744073709551615,"q\"uote":0}"#,
                        ]
                    ])
            #expect(
                try store.rows("SELECT kind, records, min_ts, max_ts, sensor, keys IS NULL FROM record_blocks") == [
                    ["flow", "1", "1700000000.5", "1700000000.5", "s1", "0"],
                    ["dns", "1", "1700000001.5", "1700000001.5", "s1", "0"],
                    ["http", "1", "1700000002.5", "1700000002.5", "s1", "0"],
                    ["tls", "1", "1700000003.5", "1700000003.5", "s1", "0"],
                    ["series", "1", "1700000004.5", "1700000004.5", "s1", "1"],
                    ["stats", "1", "1700000005.5", "1700000005.5", "s1", "1"],
                ])
        }
    }
}
