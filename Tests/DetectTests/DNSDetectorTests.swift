import Config
import Detect
import Flows
import Packets
import Testing

/// DNS records as the sensor makes them, for the detector's unit tests.
private func dnsRecord(
    _ query: String, ts: Double, client: String = "10.0.0.5", sensor: String = "s1", qtype: UInt16 = 1,
    rcode: UInt16? = 0, transID: UInt16? = nil
) -> Record {
    let names: [UInt16: String] = [1: "A", 5: "CNAME", 10: "NULL", 16: "TXT", 28: "AAAA", 12: "PTR", 15: "MX"]
    let id = ConnID(
        origHost: IPAddress(client) ?? .v4(0), origPort: 40000, respHost: IPAddress("10.0.0.53") ?? .v4(0),
        respPort: 53)
    return .dns(
        DNSRecord(
            ts: ts, uid: "C\(Int(ts * 1000))", sensor: sensor, id: id, proto: 17,
            transID: transID ?? UInt16(truncatingIfNeeded: Int(ts * 1000) &+ query.utf8.count), query: query,
            qtype: qtype, qtypeName: names[qtype], rcode: rcode, rcodeName: rcode == 3 ? "NXDOMAIN" : "NOERROR",
            answers: [], ttls: [], rtt: 0.001, rejected: false))
}

/// Feeds records in order with the clock at each record's time; returns every alert returned. With `flush`, then
/// advances the clock an hour past the last record, which returns the updates the rate limit held back.
private func feed(_ detector: DNSDetector, _ records: [Record], flush: Bool = false) -> [AlertRecord] {
    var alerts: [AlertRecord] = []
    var last = 0.0
    for record in records {
        if case .dns(let dns) = record { last = max(last, dns.ts) }
        alerts += detector.observe(record, clock: DetectionClock(event: last))
    }
    if flush { alerts += detector.advance(to: DetectionClock(event: last + 3600)) }
    return alerts
}

/// The last version of each alert id, in first-seen order (what the store keeps).
private func latest(_ alerts: [AlertRecord]) -> [AlertRecord] {
    var order: [String] = []
    var byID: [String: AlertRecord] = [:]
    for alert in alerts {
        if byID[alert.id] == nil { order.append(alert.id) }
        byID[alert.id] = alert
    }
    return order.compactMap { byID[$0] }
}

/// A tunnel-like sequence: `count` queries of 2 x 50-character hex labels under `zone`.
private func tunnelRecords(
    count: Int, zone: String = "t.tunnel.example", start: Double = 1000, step: Double = 0.5,
    client: String = "10.0.0.5",
    sensor: String = "s1", labelLength: Int = 50, qtypes: [UInt16] = [16, 10, 16, 5]
) -> [Record] {
    (0..<count).map { i in
        var label = ""
        var x = UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15
        while label.count < labelLength {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            label += String(x >> 60, radix: 16)
        }
        return dnsRecord(
            "\(i).\(label).\(String(label.reversed())).\(zone)", ts: start + Double(i) * step, client: client,
            sensor: sensor, qtype: qtypes[i % qtypes.count])
    }
}

/// Popular, real domain names (none may score as generated).
let popularDomains = [
    "google.com", "www.debian.org", "cdn-123.cloudfront.net", "s3.amazonaws.com", "login.microsoftonline.com",
    "fonts.gstatic.com", "en.wikipedia.org", "1e100.net", "github.com", "www.youtube.com", "facebook.com",
    "baidu.com", "amazon.com", "twitter.com", "instagram.com", "yahoo.co.jp", "linkedin.com", "netflix.com",
    "office.com", "bing.com", "icloud.com", "raw.githubusercontent.com", "stackoverflow.com", "reddit.com",
    "twitch.tv", "whatsapp.net", "cloudflare.com", "e123.akamaiedge.net", "googleapis.com", "doubleclick.net",
    "pagead2.googlesyndication.com", "ubuntu.com", "mozilla.org", "dropbox.com", "spotify.com", "pinterest.com",
    "www.bbc.co.uk", "www.abc.net.au", "nytimes.com", "wordpress.com", "static.xx.fbcdn.net",
    "www.msftconnecttest.com", "windowsupdate.com", "letsencrypt.org", "office365.com", "theguardian.com",
    "salesforce.com", "atlassian.net", "duckduckgo.com", "steampowered.com", "speedtest.net", "kaspersky.com",
    "washingtonpost.com", "openstreetmap.org", "stackexchange.com",
]

/// Names in the styles of known DGA families: consonant-heavy random labels, hex strings (MD5-like), uniform random
/// letters, random letters and digits. Generated once with a seeded generator, not picked.
let generatedDomains = [
    "gqcdwfpxcvjcdrrdk.com", "d1371c17149d4395.net", "ssugldrwcsbt.info", "wnskkinmdoi.org", "50ce9uvw53efr4.biz",
    "cmxsmqpbsphzf.ru", "16947ccf25ec84d8dbc7.com", "cfehvhapsfija.net", "pnvcwqtcefc.info", "aj8gxbenyjqwx.org",
    "fftsttmdgfnlthvbjvp.biz", "0928b5b7a767c76f.ru", "xaazipigwtlozx.com", "pajtztpdfjhn.net", "z3zfkkibj3j4w.info",
    "wwgbbfvgrjjblj.org", "7a8d41bed440e50454f3.biz", "bkvqqrpzydrbhgib.ru", "odzzlwvvljgqdrig.com",
    "jqi3ogz5kok16zv0m.net", "ndpbnwssbqnvzmvdf.info", "32881584d8c4fa28.org", "zwfnciauczic.biz",
    "dfnrlckhhmvmhb.ru", "cab69m64p2g158z6.com", "jknjgqpcgbdlrhcd.net", "c9791e558e08baa7196b50ac2f867028.info",
    "cemsbmajjuhcsqyevw.org", "qtucvvuxbxkaiqwa.biz", "5qa3e68f7e4qeqp.ru", "kstqdtmczjdzgnl.com",
    "940f1f836f99eee3692f09e2e8c66224.net", "qiletuqidwlhppmaf.info", "sgqnifjmdx.org", "x1rdrgdsjpr16.biz",
    "jprbqwwjdcrszgmtc.ru", "45fda9988c79fc35526f7eaed46725a2.com", "hlizsgaxnmnxqg.net", "cxgvjesmbotto.info",
    "2pgojj7g3f9caioctiq.org", "rffdmvxjqlkzbbwmslnk.biz", "770d9106fd287db7f1ad.ru", "vmgazjxqcgpgjy.com",
    "omuhtcgczahndnuc.net", "yxv2kgafrfw0h9ny.info", "mrdctjpwsjnptbrkq.org", "c1e21862ab8a18a8.biz",
    "axytzucahdpwoy.ru", "rghignszehdtn.com", "1geqfng052loi0.net",
]

@Suite struct DNSScoreTests {
    let threshold = DNSConfig().dgaScore

    @Test func popularDomainsAreNotGenerated() {
        #expect(popularDomains.count >= 50)
        for name in popularDomains {
            let score = DNSDetector.dgaScore(name)
            #expect(score.total < threshold, "\(name) scored \(score.total): \(score)")
        }
    }

    @Test func generatedNamesMostlyScoreAsGenerated() {
        #expect(generatedDomains.count == 50)
        let flagged = generatedDomains.filter { DNSDetector.dgaScore($0).total >= threshold }
        #expect(flagged.count * 10 >= generatedDomains.count * 9, "flagged \(flagged.count) of 50")
    }

    @Test func reverseLookupsAndShortLabelsScoreZero() {
        #expect(DNSDetector.dgaScore("4.3.2.1.in-addr.arpa").total == 0)
        #expect(
            DNSDetector.dgaScore("b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa").total == 0)
        #expect(DNSDetector.dgaScore("xkqzj.com").total == 0)  // shorter than the minimum length
        #expect(DNSDetector.dgaScore("localhost").total == 0)  // no registered domain
    }

    @Test func componentsAddUpToTheTotal() {
        let s = DNSDetector.dgaScore("www.qxzvbnmlkjhgtr.co.uk")
        #expect(s.label == "qxzvbnmlkjhgtr")  // the label left of the two-part suffix, not "co"
        let w = DGAScore.weights
        let sum =
            w.entropy * s.entropy + w.length * s.length + w.digits * s.digits + w.consonants * s.consonants + w.vowels
            * s.vowels + w.bigrams * s.bigrams
        #expect(abs(sum - s.total) < 1e-9)
        #expect(s.longestConsonantRun == 14)
        #expect(s.consonants == 1)
        #expect(s.total >= threshold)
    }

    @Test func registeredDomains() {
        #expect(DNSName("a.b.example.co.uk.").registeredDomain == "example.co.uk")
        #expect(DNSName("a.b.example.co.uk").subdomain == "a.b")
        #expect(DNSName("WWW.Example.COM").registeredDomain == "example.com")
        #expect(DNSName("co.uk").registeredDomain == "co.uk")
        #expect(DNSName("localhost").registeredDomain == nil)
        #expect(DNSName("x.badexample.com").isUnder("example.com") == false)
        #expect(DNSName("x.example.com").isUnder("example.com"))
    }
}

@Suite struct DNSDetectorTests {
    @Test func heldBackUpdatesAreReturnedBetweenSweeps() {
        let detector = DNSDetector()
        let returned = feed(detector, tunnelRecords(count: 40))
        #expect(returned.map(\.count) == [30])  // raised at the 30th query (t = 1014.5)
        // A sweep before the update is due; the next call, due but before the next sweep, still returns it.
        #expect(detector.advance(to: DetectionClock(event: 1070)).isEmpty)
        #expect(detector.advance(to: DetectionClock(event: 1075)).map(\.count) == [40])
        #expect(detector.advance(to: DetectionClock(event: 1076)).isEmpty)
        // Nothing more after the episode ends: its last version was already returned.
        #expect(detector.finish(at: DetectionClock(event: 1100)).isEmpty)
    }

    @Test func tunnelingFiresWithItsDetail() throws {
        let detector = DNSDetector()
        let returned = feed(detector, tunnelRecords(count: 40))
        // Raised at the 30th query; the 10 after it are held back (the count has not doubled)...
        #expect(returned.map(\.count) == [30])
        // ...until the update interval passes.
        let held = detector.advance(to: DetectionClock(event: 1000 + 19.5 + 61))
        #expect(held.map(\.count) == [40])
        #expect(detector.advance(to: DetectionClock(event: 1000 + 19.5 + 200)).isEmpty)
        let alerts = latest(returned + held)
        #expect(alerts.count == 1)
        let alert = try #require(alerts.first)
        #expect(alert.kind == .dnsSuspicious)
        #expect(alert.subtype == "tunneling")
        #expect(alert.src == "10.0.0.5")
        #expect(alert.targets == ["tunnel.example"])
        #expect(alert.ports == [53])
        #expect(alert.count == 40)
        #expect(alert.detail["domain"] == "tunnel.example")
        #expect(alert.detail["zone"] == "t.tunnel.example")
        #expect(alert.detail["unique_subdomains"] == 40)
        #expect(alert.detail["max_label_length"] == 50)
        #expect(alert.detail["txt_queries"] == 40)  // TXT, NULL and CNAME only
        #expect(alert.firstTS == 1000)
        #expect(alert.lastTS == 1000 + 39 * 0.5)
        #expect(alert.ts == 1000 + 29 * 0.5)  // raised by the 30th query
        #expect(alert.severity == .medium)
        #expect(alert.message.hasPrefix("Suspicious DNS (tunneling): client 10.0.0.5 sent 40 unique subdomains of"))
    }

    @Test func tunnelingNeedsUniqueSubdomainsAndData() {
        // 29 unique long names: one short of the threshold.
        #expect(feed(DNSDetector(), tunnelRecords(count: 29)).isEmpty)
        // 60 unique but short, A-type subdomains of a CDN (a page's assets): no sign of data.
        let cdn = (0..<60).map { dnsRecord("img\($0).cdn.example.net", ts: 1000 + Double($0)) }
        #expect(feed(DNSDetector(), cdn).isEmpty)
        // The same names, TXT: the data-type count is the second condition.
        let txt = (0..<60).map { dnsRecord("img\($0).cdn.example.net", ts: 1000 + Double($0), qtype: 16) }
        #expect(latest(feed(DNSDetector(), txt)).map(\.subtype) == ["tunneling"])
        // Spread wider than the window: never 30 in 300 s.
        #expect(feed(DNSDetector(), tunnelRecords(count: 60, step: 11)).isEmpty)
    }

    @Test func alertReturnedOnlyWhenItGrows() throws {
        let detector = DNSDetector()
        let all = feed(detector, tunnelRecords(count: 200, step: 0.1))
        let ids = Set(all.map(\.id))
        #expect(ids.count == 1)
        // Raised at 30 queries, then returned again only when the count doubled or the severity rose: a handful of
        // returns for 200 queries, each one larger than the one before.
        #expect(all.count <= 5)
        #expect(all.first?.count == 30)
        for (a, b) in zip(all, all.dropFirst()) {
            #expect(b.count >= 2 * a.count || b.severity > a.severity)
        }
        let last = try #require(all.last)
        #expect(last.severity == .high)  // 4 x the subdomain or byte threshold
    }

    @Test func episodeIDStableAndNewAfterGap() throws {
        let detector = DNSDetector()
        let first = feed(detector, tunnelRecords(count: 40, start: 1000))
        let firstIDs = Set(first.map(\.id))
        #expect(firstIDs.count == 1)
        // Quiet for more than episode-gap (600 s): the next burst is a new episode with a new id.
        _ = detector.advance(to: DetectionClock(event: 1000 + 20 + 601))
        let second = feed(detector, tunnelRecords(count: 40, start: 1700))
        let secondIDs = Set(second.map(\.id))
        #expect(secondIDs.count == 1)
        #expect(firstIDs.isDisjoint(with: secondIDs))
        // Same input, same ids.
        let again = feed(DNSDetector(), tunnelRecords(count: 40, start: 1000))
        #expect(Set(again.map(\.id)) == firstIDs)
        let alert = try #require(second.first)
        #expect(alert.firstTS == 1700)
    }

    @Test func generatedNamesFireHighEntropy() throws {
        let detector = DNSDetector()
        let records = generatedDomains.prefix(12).enumerated().map { i, name in
            dnsRecord(name, ts: 2000 + Double(i), rcode: 3)
        }
        let flagged = generatedDomains.prefix(12).filter { DNSDetector.dgaScore($0).total >= DNSConfig().dgaScore }
        let returned = feed(detector, records)
        // Raised at the 5th name, returned again at the 10th (doubled), not for each new name in between.
        #expect(returned.map(\.count) == Array([5, 10].prefix(flagged.count >= 10 ? 2 : 1)))
        let alerts = latest(returned + detector.advance(to: DetectionClock(event: 5000)))
        let dga = try #require(alerts.first { $0.subtype == "high-entropy" })
        #expect(dga.count == flagged.count)
        #expect(dga.targets == flagged.map { DNSName($0).registeredDomain ?? "" })
        #expect(dga.detail["nxdomain_names"] == .int(Int64(flagged.count)))
        #expect(dga.message.contains("client 10.0.0.5 looked up \(flagged.count) algorithmic-looking domains"))
        // 12 NXDOMAIN answers: under the burst threshold of 20.
        #expect(!alerts.contains { $0.subtype == "nxdomain-burst" })
    }

    @Test func fewGeneratedNamesOrPopularNamesDoNotFire() {
        let four = generatedDomains.prefix(4).enumerated().map { dnsRecord($1, ts: 2000 + Double($0), rcode: 3) }
        #expect(feed(DNSDetector(), four).isEmpty)
        let popular = popularDomains.enumerated().map { dnsRecord($1, ts: 2000 + Double($0) * 0.1) }
        #expect(feed(DNSDetector(), popular).isEmpty)
    }

    @Test func nxdomainBurstThreshold() throws {
        let typos = (0..<19).map { dnsRecord("typo\($0).example.org", ts: 3000 + Double($0), rcode: 3) }
        #expect(feed(DNSDetector(), typos).isEmpty)
        let detector = DNSDetector()
        let burst = (0..<25).map { dnsRecord("missing\($0 % 10).example.org", ts: 3000 + Double($0), rcode: 3) }
        let returned = feed(detector, burst)
        #expect(returned.map(\.count) == [20])  // raised at the 20th; 21-25 neither double it nor add a name
        let alerts = latest(returned + detector.advance(to: DetectionClock(event: 4000)))
        let alert = try #require(alerts.first)
        #expect(alerts.count == 1)
        #expect(alert.subtype == "nxdomain-burst")
        #expect(alert.count == 25)
        #expect(alert.detail["distinct_names"] == 10)
        #expect(alert.targets.count == 10)
        #expect(alert.firstTS == 3000)
        // The same 25 spread over 10 minutes: never 20 within 60 s.
        let slow = (0..<25).map { dnsRecord("missing\($0).example.org", ts: 3000 + Double($0) * 25, rcode: 3) }
        #expect(feed(DNSDetector(), slow).isEmpty)
    }

    @Test func reverseLookupsNeverAlert() {
        // 40 failing PTR lookups of distinct IPv6 addresses in 20 s: long, many, NXDOMAIN, all under ip6.arpa.
        let records = (0..<40).map { i in
            let nibbles = (0..<32).map { String(($0 * 7 + i) % 16, radix: 16) }.joined(separator: ".")
            return dnsRecord(nibbles + ".ip6.arpa", ts: 100 + Double(i) * 0.5, qtype: 12, rcode: 3)
        }
        #expect(feed(DNSDetector(), records, flush: true).isEmpty)
    }

    @Test func longNames() throws {
        let detector = DNSDetector()
        let long = String(repeating: "abcdefghij.", count: 18) + "example.com"  // 209 characters
        let malformed = String(repeating: "x", count: 64) + ".example.com"
        var alerts = feed(detector, [dnsRecord(long, ts: 10), dnsRecord(long, ts: 11), dnsRecord(long, ts: 11.5)])
        #expect(alerts.map(\.count) == [1, 2])  // raised, then doubled; the third is held back
        alerts += feed(detector, [dnsRecord(malformed, ts: 12)])
        let last = try #require(latest(alerts).first)
        #expect(Set(alerts.map(\.id)).count == 1)
        #expect(last.subtype == "long-name")
        #expect(last.count == 4)
        #expect(last.targets == [long, malformed])
        #expect(last.severity == .medium)
        #expect(last.detail["malformed"] == true)
        #expect(last.detail["max_name_length"] == .int(Int64(long.utf8.count)))
        #expect(feed(DNSDetector(), [dnsRecord(String(repeating: "a.", count: 80) + "example.com", ts: 1)]).isEmpty)
    }

    @Test func allowLists() throws {
        var config = DNSConfig()
        config.allowClients = PrefixList([try #require(NetworkPrefix("10.0.0.0/24"))])
        #expect(feed(DNSDetector(config: config), tunnelRecords(count: 40)).isEmpty)
        config = DNSConfig()
        config.allowDomains = ["tunnel.example"]
        #expect(feed(DNSDetector(config: config), tunnelRecords(count: 40)).isEmpty)
        // A suffix on a label boundary only.
        config.allowDomains = ["nel.example"]
        #expect(!feed(DNSDetector(config: config), tunnelRecords(count: 40)).isEmpty)
    }

    @Test func crossSensorMergeCountsOnce() throws {
        let detector = DNSDetector()
        // Every query seen by sensor a and again by sensor b (same transaction id): one client, one alert.
        var records: [Record] = []
        for (i, record) in tunnelRecords(count: 40, sensor: "a").enumerated() {
            guard case .dns(var dns) = record else { continue }
            dns.transID = UInt16(i)
            records.append(.dns(dns))
            dns.sensor = "b"
            dns.ts += 0.0005
            records.append(.dns(dns))
        }
        let alerts = latest(feed(detector, records, flush: true))
        #expect(alerts.count == 1)
        let alert = try #require(alerts.first)
        #expect(alert.sensors == ["a", "b"])
        #expect(alert.count == 40)
        #expect(alert.detail["unique_subdomains"] == 40)
        // Different clients are different alerts.
        let two = latest(
            feed(
                DNSDetector(),
                tunnelRecords(count: 40, client: "10.0.0.5") + tunnelRecords(count: 40, client: "10.0.0.6")))
        #expect(two.map(\.src) == ["10.0.0.5", "10.0.0.6"])
    }

    @Test func capsEvictAndCount() {
        var config = DNSConfig()
        config.maxClients = 10
        config.maxNamesPerClient = 16
        let detector = DNSDetector(config: config)
        // 25 clients, one query each: 15 evicted.
        _ = feed(detector, (0..<25).map { dnsRecord("www.example.com", ts: 100 + Double($0), client: "10.1.0.\($0)") })
        #expect(detector.usage.entries == 10)
        #expect(detector.usage.evicted == 15)
        // One client, 40 queries in 20 s: its tunnel list keeps the newest 16 (the recent-query list, 2 s long,
        // holds 5 at 2 queries a second and does not hit the cap).
        var before = detector.usage.evicted
        _ = feed(detector, tunnelRecords(count: 40, start: 200, client: "10.2.0.1"))
        #expect(detector.usage.evicted - before == 1 + 24)  // one more client evicted, and 24 queries
        // 40 queries in 4 s: 20 in the recent-query list's 2 s, so it evicts too.
        before = detector.usage.evicted
        _ = feed(detector, tunnelRecords(count: 40, start: 300, step: 0.1, client: "10.2.0.2"))
        #expect(detector.usage.evicted - before == 1 + 24 + 24)
        #expect(detector.usage.approximateBytes > 0)
        // Expiry behind the watermark frees everything.
        _ = detector.advance(to: DetectionClock(event: 10_000))
        #expect(detector.usage.entries == 0)
    }

    @Test func usageGrowsWithState() {
        let detector = DNSDetector()
        let empty = detector.usage.approximateBytes
        _ = feed(detector, tunnelRecords(count: 20))
        let some = detector.usage.approximateBytes
        _ = feed(detector, tunnelRecords(count: 200, start: 1100, client: "10.0.0.9"))
        #expect(empty < some)
        #expect(some < detector.usage.approximateBytes)
        #expect(detector.usage.name == "dns")
        #expect(detector.name == "dns")
    }

    @Test func configParsing() throws {
        let text = """
            [dns]
            window = 120
            episode-gap = 900
            update-interval = 30
            dga-score = 0.6
            dga-min-names = 8
            tunnel-unique-subdomains = 50
            tunnel-label-length = 30
            tunnel-mean-length = 40
            tunnel-txt-queries = 10
            tunnel-bytes = 4096
            nxdomain-threshold = 30
            nxdomain-window = 30
            long-name-length = 150
            allow-clients = ["192.0.2.53", "10.0.0.0/8"]
            allow-domains = ["Sophosxl.net.", "spamhaus.org"]
            max-clients = 1000
            max-names-per-client = 256
            max-examples = 5
            duplicate-window = 1
            """
        let file = try ConfigFile(parsing: text, path: "w.conf")
        let config = try DNSConfig(section: file.section("dns"))
        #expect(config.window == 120)
        #expect(config.episodeGap == 900)
        #expect(config.updateInterval == 30)
        #expect(config.dgaScore == 0.6)
        #expect(config.dgaMinNames == 8)
        #expect(config.tunnelUniqueSubdomains == 50)
        #expect(config.tunnelLabelLength == 30)
        #expect(config.tunnelMeanLength == 40)
        #expect(config.tunnelTXTQueries == 10)
        #expect(config.tunnelBytes == 4096)
        #expect(config.nxdomainThreshold == 30)
        #expect(config.nxdomainWindow == 30)
        #expect(config.longNameLength == 150)
        #expect(config.allowClients.contains(try #require(IPAddress("10.9.9.9"))))
        #expect(config.allowClients.contains(try #require(IPAddress("192.0.2.53"))))
        #expect(config.allowDomains == ["sophosxl.net", "spamhaus.org"])
        #expect(config.maxClients == 1000)
        #expect(config.maxNamesPerClient == 256)
        #expect(config.maxExamples == 5)
        #expect(config.duplicateWindow == 1)
        // An empty section gives the defaults.
        #expect(try DNSConfig(section: ConfigFile(parsing: "", path: "e.conf").section("dns")) == DNSConfig())
        #expect(DNSConfig().window == 300)
        #expect(DNSConfig().nxdomainThreshold == 20)
        #expect(DNSConfig().longNameLength == 180)
    }

    @Test func configRefusesUnknownKeysAndBadValues() throws {
        let typo = try ConfigFile(parsing: "[dns]\nwindow = 60\ntunel-bytes = 10\n", path: "w.conf")
        #expect(throws: ConfigError.self) { try DNSConfig(section: typo.section("dns")) }
        do {
            _ = try DNSConfig(section: typo.section("dns"))
        } catch {
            #expect(error.line == 3)
            #expect(error.message.contains("tunel-bytes: unknown key"))
        }
        let range = try ConfigFile(parsing: "[dns]\ndga-score = 2\n", path: "w.conf")
        #expect(throws: ConfigError.self) { try DNSConfig(section: range.section("dns")) }
    }
}
