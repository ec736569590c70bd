import Config
import Packets
import Testing

@Suite struct ConfigFileTests {
    @Test func readsTypedValuesWithDefaults() throws {
        let text = """
            # detectors
            [scan]
            threshold = 12   # probes
            window = 30.5
            enabled = false
            name = "a # not a comment"
            allow-sources = ["10.0.0.0/8", "192.0.2.7"]
            ports = [53, 123]
            """
        let file = try ConfigFile(parsing: text, path: "w.conf")
        var scan = file.section("scan")
        #expect(try scan.int("threshold", default: 10, in: 1...1000) == 12)
        #expect(try scan.double("window", default: 60, in: 1...3600) == 30.5)
        #expect(try scan.bool("enabled", default: true) == false)
        #expect(try scan.string("name", default: "") == "a # not a comment")
        let allow = try scan.prefixes("allow-sources")
        #expect(allow.contains(IPAddress("10.9.8.7")!))
        #expect(allow.contains(IPAddress("192.0.2.7")!))
        #expect(!allow.contains(IPAddress("192.0.2.8")!))
        #expect(try scan.ports("ports") == [53, 123])
        #expect(try scan.int("missing", default: 7, in: 0...10) == 7)
        try scan.checkUsed()
        var other = file.section("dns")
        #expect(other.isEmpty)
        #expect(try other.double("x", default: 1.5, in: 0...2) == 1.5)
    }

    @Test(arguments: [
        ("threshold = 3", "w.conf:1: key 'threshold' is outside any [section]"),
        ("[scan\nx = 1", "w.conf:1: malformed section header '[scan'"),
        ("[scan]\nx 1", "w.conf:2: expected 'key = value', found 'x 1'"),
        ("[scan]\nx = \"open", "w.conf:2: key 'x': unterminated string in '\"open'"),
        ("[scan]\nx = [1, 2", "w.conf:2: key 'x': unterminated list in '[1, 2'"),
        ("[scan]\nx = 1\nx = 2", "w.conf:3: key 'x' appears twice in [scan]"),
        ("[scan]\nx = tru", "w.conf:2: key 'x': 'tru' is not a number, true/false or a \"string\" in 'tru'"),
    ])
    func refusesMalformedLines(text: String, message: String) {
        #expect(throws: ConfigError.self) { try ConfigFile(parsing: text, path: "w.conf") }
        do {
            _ = try ConfigFile(parsing: text, path: "w.conf")
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func refusesWrongTypesRangesAndUnknownKeys() throws {
        let file = try ConfigFile(parsing: "[scan]\nthreshold = \"ten\"\nwindow = 0\ntypo = 1\n", path: "w.conf")
        var scan = file.section("scan")
        #expect(throws: ConfigError(path: "w.conf", line: 2, "[scan] threshold: expected an integer, found a string")) {
            try scan.int("threshold", default: 10, in: 1...100)
        }
        #expect(throws: ConfigError(path: "w.conf", line: 3, "[scan] window: 0.0 is outside 1.0...60.0")) {
            try scan.double("window", default: 10, in: 1...60)
        }
        #expect(throws: ConfigError(path: "w.conf", line: 4, "[scan] typo: unknown key (known: threshold, window)")) {
            try scan.checkUsed()
        }
        #expect(throws: ConfigError(path: "w.conf", line: 2, "unknown section [scan] (known: [dns])")) {
            try file.checkSections(known: ["dns"])
        }
    }

    @Test func refusesBadPrefixesAndPorts() throws {
        let file = try ConfigFile(parsing: "[a]\np = [\"10.0.0.0/33\"]\nq = [70000]\n", path: "c")
        var a = file.section("a")
        #expect(
            throws: ConfigError(path: "c", line: 2, "[a] p: '10.0.0.0/33' is not an address or ADDRESS/LENGTH prefix")
        ) {
            try a.prefixes("p")
        }
        #expect(throws: ConfigError(path: "c", line: 3, "[a] q: expected port numbers 0...65535, found int(70000)")) {
            try a.ports("q")
        }
    }

    @Test func prefixesMatchTheirBlockOnly() {
        let v4 = NetworkPrefix("192.168.1.77/24")
        #expect(v4?.description == "192.168.1.0/24")
        #expect(v4?.contains(IPAddress("192.168.1.200")!) == true)
        #expect(v4?.contains(IPAddress("192.168.2.1")!) == false)
        #expect(v4?.contains(IPAddress("::1")!) == false)
        let v6 = NetworkPrefix("2001:db8::/32")
        #expect(v6?.contains(IPAddress("2001:db8:ffff::1")!) == true)
        #expect(v6?.contains(IPAddress("2001:db9::1")!) == false)
        #expect(NetworkPrefix("0.0.0.0/0")?.contains(IPAddress("8.8.8.8")!) == true)
        #expect(NetworkPrefix("nonsense") == nil)
        #expect(NetworkPrefix("10.0.0.1/x") == nil)
    }
}

@Suite struct ConfigOverrideTests {
    @Test func optionalGettersMarkKeysUsed() throws {
        let file = try ConfigFile(parsing: "[c]\nlisten = \"a:1\"\nn = 3\nflag = true\nlist = [\"x\"]\n", path: "f")
        var section = file.section("c")
        var listen: String? = nil
        listen = try listen ?? section.string("listen")
        #expect(listen == "a:1")
        #expect(try section.int("n", in: 1...5) == 3)
        #expect(try section.bool("flag") == true)
        #expect(try section.strings("list") == ["x"])
        #expect(try section.string("absent") == nil)
        try section.checkUsed()
    }
}
