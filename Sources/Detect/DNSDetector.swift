import Config
import Flows
import Packets

/// The suspicious-DNS detector (`[dns]`, alerts of kind `dns-suspicious`). It follows each client (the query's
/// `id.orig_h`, whichever sensor saw it, so one client seen by two sensors is one set of counters and one alert) and
/// raises four subtypes:
///
/// - `high-entropy`: the client looked up at least `dga-min-names` distinct registered domains whose label scores
///   at least `dga-score` (`DNSDetector.dgaScore`) within `window`: the pattern of malware trying the domains of a
///   domain-generation algorithm, most answered NXDOMAIN. Reverse lookups are never scored.
/// - `tunneling`: per (client, registered domain) within `window`: at least `tunnel-unique-subdomains` distinct
///   names under the domain AND one sign of data in them: a label of `tunnel-label-length` or more, subdomains of
///   `tunnel-mean-length` on average, `tunnel-txt-queries` data-carrying queries (TXT, NULL, CNAME, ...), or
///   `tunnel-bytes` of subdomain text. Many distinct names alone are a CDN or a blocklist lookup; many long,
///   unique names under one domain are data.
/// - `nxdomain-burst`: `nxdomain-threshold` NXDOMAIN answers to the client within `nxdomain-window` (reverse
///   lookups excluded: failing PTR lookups are routine).
/// - `long-name`: a name longer than `long-name-length` or with a label over 63 characters (malformed, RFC 1035).
///
/// Each (client, subtype[, domain]) is one episode and one alert id (`AlertID.make` over that key and the episode's
/// start); the alert is returned when raised and again only when it grows enough: its count doubles, a new sensor
/// sees it, or its severity rises (a new example name alone does not: for a DGA every query is one). Growth short of
/// that is returned by `advance(to:)` once `update-interval` has passed, and when the episode ends after
/// `episode-gap` seconds without evidence, so the stored alert ends up complete.
///
/// Bounded state: at most `max-clients` clients (the least recently seen evicted, second-chance order), and per
/// client at most `max-names-per-client` entries in each list; every eviction is counted in `usage.evicted`.
public final class DNSDetector: Detector {
    public let name = "dns"
    public let config: DNSConfig

    private var clients: [String: DNSClientState] = [:]
    /// Clients in the order they were (re)queued, for second-chance eviction of the least recently seen.
    private var order = DNSWindow<DNSTimedKey>()
    private var evicted: UInt64 = 0
    /// Clients with an update held back by the rate limit: `advance` returns the due ones on every call, while it
    /// walks every client (expiry, ended episodes) only once per `sweepInterval` of event time.
    private var pendingClients: Set<String> = []
    private var nextSweep = -Double.infinity

    public init(config: DNSConfig = DNSConfig()) {
        self.config = config
    }

    /// How algorithmically generated the registered-domain label of `name` looks (see `DGAScore`).
    public static func dgaScore(_ name: String) -> DGAScore { DGAScore.of(name) }

    /// DNS record types that carry data in their answers, the ones tunnels use (iodine, dnscat2, dns2tcp): CNAME 5,
    /// NULL 10, MX 15, TXT 16, SRV 33, ANY 255, and iodine's PRIVATE 65399.
    static let dataTypes: Set<UInt16> = [5, 10, 15, 16, 33, 255, 65399]

    // MARK: - observe

    public func observe(_ record: Record, clock: DetectionClock) -> [AlertRecord] {
        guard case .dns(let dns) = record, let query = dns.query, !query.isEmpty else { return [] }
        let client = dns.id.origHost
        if config.allowClients.contains(client) { return [] }
        let name = DNSName(query)
        if config.allowDomains.contains(where: { name.isUnder($0) }) { return [] }

        let ts = dns.ts
        let state = clientState(client.description, at: ts)
        state.lastSeen = max(state.lastSeen, ts)
        state.sensors[dns.sensor] = max(state.sensors[dns.sensor] ?? ts, ts)
        expireWindows(of: state, now: state.lastSeen, allDomains: false)
        var alerts = endEpisodes(of: state, now: ts)

        // The same query seen by two sensors on its path, or twice by one, counts once; its sensor still joins
        // the episodes it belongs to.
        let duplicateKey = "\(dns.transID)|\(dns.qtype ?? 0)|\(dns.rcode ?? 999)|\(name.full)"
        let duplicate = state.recent.keys[duplicateKey] != nil
        if !duplicate {
            state.recent.append(DNSTimedKey(ts: ts, key: duplicateKey))
            capped(&state.recent)
        }

        let context = Context(ts: ts, sensor: dns.sensor, duplicate: duplicate)
        if let alert = longName(name, state: state, context) { alerts.append(alert) }
        if !name.isReverseLookup {
            if let alert = nxdomain(name, rcode: dns.rcode, state: state, context) { alerts.append(alert) }
            if let alert = generated(name, rcode: dns.rcode, state: state, context) { alerts.append(alert) }
            if let alert = tunnel(name, qtype: dns.qtype, state: state, context) { alerts.append(alert) }
        }
        return alerts
    }

    /// What every subtype needs to know about the record being observed.
    private struct Context {
        var ts: Double
        var sensor: String
        var duplicate: Bool
    }

    // MARK: - subtypes

    private func longName(_ name: DNSName, state: DNSClientState, _ context: Context) -> AlertRecord? {
        let length = name.full.utf8.count
        let longestLabel = name.longestLabel
        let malformed = longestLabel > 63  // RFC 1035 §2.3.4: labels are 63 octets or less
        guard length > config.longNameLength || malformed else { return nil }
        let key = "long-name"
        if let episode = state.episodes[key] {
            episode.extend(ts: context.ts, sensor: context.sensor, target: name.full, maxTargets: config.maxExamples)
            if !context.duplicate { episode.count += 1 }
            episode.detail.raise("max_name_length", length)
            episode.detail.raise("max_label_length", longestLabel)
            if malformed { episode.detail["malformed"] = true }
            if malformed { episode.severity = max(episode.severity, .medium) }
            return store(episode, describe: longNameMessage, in: state)
        }
        guard !context.duplicate else { return nil }
        let episode = DNSEpisode(
            subtype: "long-name", domain: nil, client: state.address, start: context.ts, sensors: [context.sensor])
        episode.targets = [name.full]
        episode.count = 1
        episode.severity = malformed ? .medium : .low
        episode.detail = [
            "max_name_length": .int(Int64(length)), "max_label_length": .int(Int64(longestLabel)),
            "malformed": .bool(malformed), "length_threshold": .int(Int64(config.longNameLength)),
        ]
        return store(episode, describe: longNameMessage, in: state)
    }

    private func longNameMessage(_ e: DNSEpisode) -> String {
        let names = e.count == 1 ? "1 over-long name" : "\(e.count) over-long names"
        let longest = e.detail["max_name_length"].map(Self.text) ?? "?"
        let label = e.detail["max_label_length"].map(Self.text) ?? "?"
        return "Suspicious DNS (long-name): client \(e.client) queried \(names) (longest \(longest) characters, "
            + "longest label \(label))"
    }

    private func nxdomain(_ name: DNSName, rcode: UInt16?, state: DNSClientState, _ context: Context) -> AlertRecord? {
        guard rcode == 3 else { return nil }  // NXDOMAIN, RFC 1035 §4.1.1
        if !context.duplicate {
            state.nxdomains.append(DNSTimedKey(ts: context.ts, key: name.full))
            capped(&state.nxdomains)
        }
        let key = "nxdomain-burst"
        if let episode = state.episodes[key] {
            episode.extend(ts: context.ts, sensor: context.sensor, target: name.full, maxTargets: config.maxExamples)
            if !context.duplicate { episode.count += 1 }
            updateNXDetail(episode, state)
            return store(episode, describe: nxMessage, in: state)
        }
        guard !context.duplicate, state.nxdomains.count >= config.nxdomainThreshold,
            let first = state.nxdomains.first
        else { return nil }
        let episode = openEpisode("nxdomain-burst", domain: nil, state: state, since: first.ts, context)
        episode.count = state.nxdomains.count
        for entry in state.nxdomains.entries where episode.targets.count < config.maxExamples {
            if !episode.targets.contains(entry.key) { episode.targets.append(entry.key) }
        }
        updateNXDetail(episode, state)
        return store(episode, describe: nxMessage, in: state)
    }

    /// A new episode over the client's window from `start` (its sensors since then), raised by the record of
    /// `context`.
    private func openEpisode(
        _ subtype: String, domain: String?, state: DNSClientState, since start: Double, _ context: Context
    ) -> DNSEpisode {
        let episode = DNSEpisode(
            subtype: subtype, domain: domain, client: state.address, start: start, sensors: state.sensorsSince(start))
        episode.sensors.insert(context.sensor)
        episode.lastTS = context.ts
        episode.raisedTS = context.ts
        return episode
    }

    private func updateNXDetail(_ episode: DNSEpisode, _ state: DNSClientState) {
        let window = state.nxdomains
        episode.detail["nxdomain_in_window"] = .int(Int64(window.count))
        episode.detail["distinct_names"] = .int(Int64(window.distinct))
        episode.detail["window"] = .double(config.nxdomainWindow)
        episode.detail["threshold"] = .int(Int64(config.nxdomainThreshold))
        episode.severity = max(
            episode.severity, episode.count >= 3 * config.nxdomainThreshold ? .medium : .low)
    }

    private func nxMessage(_ e: DNSEpisode) -> String {
        let distinct = e.detail["distinct_names"].map(Self.text) ?? "?"
        return "Suspicious DNS (nxdomain-burst): client \(e.client) got \(e.count) NXDOMAIN answers "
            + "(\(distinct) distinct names in the last \(Self.seconds(config.nxdomainWindow))) "
            + "in \(Self.seconds(e.lastTS - e.firstTS))"
    }

    private func generated(_ name: DNSName, rcode: UInt16?, state: DNSClientState, _ context: Context) -> AlertRecord? {
        guard let domain = name.registeredDomain, let label = name.registeredLabel else { return nil }
        let score = DGAScore.of(label: label)
        guard score.total >= config.dgaScore else { return nil }
        if !context.duplicate {
            state.generated.append(
                DNSScoredEntry(ts: context.ts, key: domain, score: score.total, nxdomain: rcode == 3))
            capped(&state.generated)
        }
        let key = "high-entropy"
        if let episode = state.episodes[key] {
            episode.extend(ts: context.ts, sensor: context.sensor, target: domain, maxTargets: config.maxExamples)
            if !context.duplicate && episode.seen.insert(domain, cap: config.maxNamesPerClient) {
                episode.count += 1
                if rcode == 3 { episode.detail.add("nxdomain_names", 1) }
            }
            episode.detail.raise("max_score", score.total)
            updateDGADetail(episode, state)
            return store(episode, describe: dgaMessage, in: state)
        }
        guard !context.duplicate, state.generated.distinct >= config.dgaMinNames, let first = state.generated.first
        else { return nil }
        let episode = openEpisode("high-entropy", domain: nil, state: state, since: first.ts, context)
        var maxScore = 0.0
        var nxNames = 0
        for entry in state.generated.entries {
            maxScore = max(maxScore, entry.score)
            guard episode.seen.insert(entry.key, cap: config.maxNamesPerClient) else { continue }
            if episode.targets.count < config.maxExamples { episode.targets.append(entry.key) }
            if entry.nxdomain { nxNames += 1 }
        }
        episode.count = episode.seen.count
        episode.detail = [
            "max_score": .double(maxScore), "nxdomain_names": .int(Int64(nxNames)),
            "score_threshold": .double(config.dgaScore),
        ]
        updateDGADetail(episode, state)
        return store(episode, describe: dgaMessage, in: state)
    }

    private func updateDGADetail(_ episode: DNSEpisode, _ state: DNSClientState) {
        let window = state.generated
        episode.detail["names_in_window"] = .int(Int64(window.distinct))
        let scores = window.entries.map(\.score)
        if !scores.isEmpty {
            episode.detail["mean_score"] = .double(Self.rounded(scores.reduce(0, +) / Double(scores.count)))
        }
        if case .double(let m) = episode.detail["max_score"] { episode.detail["max_score"] = .double(Self.rounded(m)) }
        episode.severity = max(episode.severity, episode.count >= 4 * config.dgaMinNames ? .high : .medium)
    }

    private func dgaMessage(_ e: DNSEpisode) -> String {
        let nx = e.detail["nxdomain_names"].map(Self.text) ?? "0"
        let example = e.targets.first.map { ", e.g. \($0)" } ?? ""
        return "Suspicious DNS (high-entropy): client \(e.client) looked up \(e.count) algorithmic-looking domains "
            + "in \(Self.seconds(e.lastTS - e.firstTS)) (\(nx) NXDOMAIN)\(example)"
    }

    private func tunnel(_ name: DNSName, qtype: UInt16?, state: DNSClientState, _ context: Context) -> AlertRecord? {
        guard let domain = name.registeredDomain else { return nil }
        state.expireTunnel(domain, before: state.lastSeen - config.window)
        if !context.duplicate {
            let entry = DNSTunnelQuery(
                ts: context.ts, key: name.subdomain, longestLabel: name.longestSubdomainLabel,
                data: qtype.map { Self.dataTypes.contains($0) } ?? false)
            state.addTunnelQuery(entry, domain: domain, labels: name.labels)
            while state.tunnelEntries > config.maxNamesPerClient, state.evictOldestTunnelQuery() {
                evicted += 1
            }
            // References to queries expired one domain at a time pile up between `advance` calls: sweep them.
            if state.tunnelOrder.count > 2 * config.maxNamesPerClient + 64 {
                state.expireTunnel(before: state.lastSeen - config.window)
            }
        }
        let key = "tunneling|" + domain
        let window = state.domains[domain]
        if let episode = state.episodes[key] {
            episode.extend(ts: context.ts, sensor: context.sensor, target: nil, maxTargets: config.maxExamples)
            if !context.duplicate { episode.count += 1 }
            if let window { updateTunnelDetail(episode, window) }
            return store(episode, describe: tunnelMessage, in: state)
        }
        guard !context.duplicate, let window, window.queries.distinct >= config.tunnelUniqueSubdomains,
            let first = window.queries.first
        else { return nil }
        let stats = window.stats
        let carriesData =
            stats.longestLabel >= config.tunnelLabelLength || stats.meanLength >= Double(config.tunnelMeanLength)
            || stats.dataQueries >= config.tunnelTXTQueries || stats.bytes >= config.tunnelBytes
        guard carriesData else { return nil }
        if state.tunnelEpisodes >= config.maxNamesPerClient, state.evictOldestTunnelEpisode() { evicted += 1 }
        let episode = openEpisode("tunneling", domain: domain, state: state, since: first.ts, context)
        episode.targets = [domain]
        episode.count = window.queries.count
        updateTunnelDetail(episode, window)
        return store(episode, describe: tunnelMessage, in: state)
    }

    private func updateTunnelDetail(_ episode: DNSEpisode, _ window: DNSDomainWindow) {
        let stats = window.stats
        episode.detail["domain"] = .string(episode.domain ?? "")
        episode.detail["zone"] = .string(window.zone)
        episode.detail["unique_subdomains"] = .int(Int64(window.queries.distinct))
        episode.detail["query_bytes"] = .int(Int64(stats.bytes))
        episode.detail["txt_queries"] = .int(Int64(stats.dataQueries))
        episode.detail["max_label_length"] = .int(Int64(stats.longestLabel))
        episode.detail["mean_subdomain_length"] = .double(Self.rounded(stats.meanLength))
        episode.detail["window_seconds"] = .double(Self.rounded(stats.span))
        let heavy =
            window.queries.distinct >= 4 * config.tunnelUniqueSubdomains || stats.bytes >= 4 * config.tunnelBytes
        episode.severity = max(episode.severity, heavy ? .high : .medium)
    }

    private func tunnelMessage(_ e: DNSEpisode) -> String {
        let unique = e.detail["unique_subdomains"].map(Self.text) ?? "?"
        let zone = e.detail["zone"].map(Self.text) ?? (e.domain ?? "?")
        let bytes = e.detail["query_bytes"].map(Self.text) ?? "?"
        let data = e.detail["txt_queries"].map(Self.text) ?? "?"
        let span = e.detail["window_seconds"].flatMap { value -> Double? in
            if case .double(let d) = value { return d }
            return nil
        }
        return "Suspicious DNS (tunneling): client \(e.client) sent \(unique) unique subdomains of \(zone) "
            + "in \(Self.seconds(span ?? 0)) (\(bytes) bytes of names, \(data) TXT/NULL/CNAME-type queries)"
    }

    // MARK: - episodes

    /// Stores `episode` and returns its alert when it is new or grew since it was last returned.
    private func store(_ episode: DNSEpisode, describe: (DNSEpisode) -> String, in state: DNSClientState)
        -> AlertRecord?
    {
        let key = episode.key
        let isNew = state.episodes[key] == nil
        let grew =
            isNew || episode.count >= 2 * max(1, episode.reported.count)
            || episode.sensors.count > episode.reported.sensors || episode.severity > episode.reported.severity
        if isNew && episode.subtype == "tunneling" { state.tunnelEpisodes += 1 }
        episode.message = describe(episode)
        state.episodes[key] = episode
        guard grew else {
            episode.pending = true
            pendingClients.insert(state.address)
            return nil
        }
        return report(episode)
    }

    /// The episode's alert now, marked as returned.
    private func report(_ episode: DNSEpisode) -> AlertRecord {
        episode.reported = (episode.count, episode.sensors.count, episode.severity)
        episode.reportedAt = episode.lastTS
        episode.pending = false
        return AlertRecord(
            ts: episode.raisedTS, id: episode.id, kind: .dnsSuspicious, subtype: episode.subtype,
            severity: episode.severity, src: episode.client, targets: episode.targets, ports: [53],
            firstTS: episode.firstTS, lastTS: episode.lastTS, sensors: episode.sensors.sorted(),
            count: episode.count, message: episode.message, detail: episode.detail)
    }

    /// Returns the updates held back by the rate limit once `update-interval` has passed since the last one, and
    /// the last update of the episodes that end (quiet for `episode-gap`), which it then forgets.
    private func endEpisodes(of state: DNSClientState, now: Double) -> [AlertRecord] {
        // Most calls (one per query) find nothing due: sort only the episodes that are.
        var due: [String] = []
        for (key, episode) in state.episodes {
            let ended = now - episode.lastTS > config.episodeGap
            if ended || (episode.pending && now - episode.reportedAt >= config.updateInterval) { due.append(key) }
        }
        guard !due.isEmpty else { return [] }
        var alerts: [AlertRecord] = []
        for key in due.sorted() {
            guard let episode = state.episodes[key] else { continue }
            let ended = now - episode.lastTS > config.episodeGap
            if episode.pending && (ended || now - episode.reportedAt >= config.updateInterval) {
                alerts.append(report(episode))
            }
            if ended {
                state.episodes[key] = nil
                if episode.subtype == "tunneling" { state.tunnelEpisodes -= 1 }
            }
        }
        return alerts
    }

    // MARK: - state

    private func clientState(_ address: String, at ts: Double) -> DNSClientState {
        if let state = clients[address] { return state }
        while clients.count >= config.maxClients, evictLeastRecentClient() {}
        let state = DNSClientState(address: address, lastSeen: ts)
        clients[address] = state
        order.append(DNSTimedKey(ts: ts, key: address))
        return state
    }

    /// Second chance: a client queued before it was last seen goes to the back instead (requeued at its last-seen
    /// time); the first one not seen since it was queued is evicted.
    private func evictLeastRecentClient() -> Bool {
        while let entry = order.removeFirst() {
            guard let state = clients[entry.key] else { continue }
            if state.lastSeen > entry.ts {
                order.append(DNSTimedKey(ts: state.lastSeen, key: entry.key))
                continue
            }
            clients[entry.key] = nil
            evicted += 1
            return true
        }
        return false
    }

    private func capped<E>(_ window: inout DNSWindow<E>) {
        while window.count > config.maxNamesPerClient {
            window.removeFirst()
            evicted += 1
        }
    }

    /// Expires the client's windows at `now`; the per-domain tunnel windows only with `allDomains` (on
    /// `advance`), as `observe` expires the one domain it touches and should not walk a thousand of them per query.
    private func expireWindows(of state: DNSClientState, now: Double, allDomains: Bool) {
        if allDomains { state.expireTunnel(before: now - config.window) }
        _ = state.generated.expire(before: now - config.window)
        _ = state.nxdomains.expire(before: now - config.nxdomainWindow)
        _ = state.recent.expire(before: now - config.duplicateWindow)
    }

    // MARK: - advance

    /// Event time between two walks over every client: a tenth of the shortest window or gap, at least a second.
    private var sweepInterval: Double {
        max(1, min(config.window, config.nxdomainWindow, config.episodeGap, config.updateInterval) / 10)
    }

    public func advance(to clock: DetectionClock) -> [AlertRecord] {
        let now = clock.event
        var alerts: [AlertRecord] = []
        guard now >= nextSweep else {
            // Between sweeps only the held-back updates that are due (and those clients' ended episodes).
            for address in pendingClients {
                guard let state = clients[address] else { continue }
                alerts += endEpisodes(of: state, now: now)
            }
            prunePending()
            return alerts.sorted { ($0.lastTS, $0.id) < ($1.lastTS, $1.id) }
        }
        nextSweep = now + sweepInterval
        let keep = max(config.window, config.nxdomainWindow, config.episodeGap)
        for (address, state) in clients {
            expireWindows(of: state, now: now, allDomains: true)
            alerts += endEpisodes(of: state, now: now)
            if state.sensors.contains(where: { now - $0.value > keep }) {
                state.sensors = state.sensors.filter { now - $0.value <= keep }
            }
            if state.isEmpty && now - state.lastSeen > keep { clients[address] = nil }
        }
        prunePending()
        // Drop the order entries of clients that are gone or requeued, once they are most of the queue.
        if order.count > 2 * clients.count + 64 {
            var rebuilt = DNSWindow<DNSTimedKey>()
            for entry in order.entries where clients[entry.key].map({ $0.lastSeen <= entry.ts }) ?? false {
                rebuilt.append(entry)
            }
            var queued = Set(rebuilt.entries.map(\.key))
            for (address, state) in clients.sorted(by: { ($0.value.lastSeen, $0.key) < ($1.value.lastSeen, $1.key) })
            where queued.insert(address).inserted {
                rebuilt.append(DNSTimedKey(ts: state.lastSeen, key: address))
            }
            order = rebuilt
        }
        // Clients are visited in hash order; the alerts are returned in a fixed one.
        return alerts.sorted { ($0.lastTS, $0.id) < ($1.lastTS, $1.id) }
    }

    /// Forgets the pending clients that are gone or have no held-back update left.
    private func prunePending() {
        guard !pendingClients.isEmpty else { return }
        let done = pendingClients.filter { address in
            guard let state = clients[address] else { return true }
            return !state.episodes.values.contains(where: \.pending)
        }
        pendingClients.subtract(done)
    }

    public var usage: DetectorUsage {
        var bytes = order.approximateBytes
        for (address, state) in clients { bytes += 64 + address.utf8.count + state.approximateBytes }
        return DetectorUsage(name: name, entries: clients.count, approximateBytes: bytes, evicted: evicted)
    }

    // MARK: - formatting

    static func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

    static func seconds(_ value: Double) -> String {
        let tenths = Int64((max(0, value) * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) s"
    }

    static func text(_ value: AlertValue) -> String {
        switch value {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return b ? "true" : "false"
        }
    }
}

// MARK: - per-client state

/// One client's counters: its sliding windows, its open episodes and the sensors that saw it.
final class DNSClientState {
    let address: String
    var lastSeen: Double
    /// Sensor -> the newest record time it reported for this client.
    var sensors: [String: Double] = [:]
    /// Registered domain -> the queries under it within the window.
    var domains: [String: DNSDomainWindow] = [:]
    var tunnelEntries = 0
    /// Every tunnel query in arrival order over all domains, to evict the oldest in O(1).
    var tunnelOrder = DNSWindow<DNSTunnelRef>()
    var nextSeq: UInt64 = 0
    var tunnelEpisodes = 0
    var generated = DNSWindow<DNSScoredEntry>()
    var nxdomains = DNSWindow<DNSTimedKey>()
    var recent = DNSWindow<DNSTimedKey>()
    var episodes: [String: DNSEpisode] = [:]

    init(address: String, lastSeen: Double) {
        self.address = address
        self.lastSeen = lastSeen
    }

    var isEmpty: Bool {
        domains.isEmpty && generated.isEmpty && nxdomains.isEmpty && recent.isEmpty && episodes.isEmpty
    }

    func sensorsSince(_ ts: Double) -> Set<String> {
        Set(sensors.filter { $0.value >= ts }.keys)
    }

    func addTunnelQuery(_ entry: DNSTunnelQuery, domain: String, labels: [Substring]) {
        var entry = entry
        entry.seq = nextSeq
        nextSeq += 1
        let window: DNSDomainWindow
        if let existing = domains[domain] {
            window = existing
        } else {
            window = DNSDomainWindow(domain: domain)
            domains[domain] = window
        }
        window.add(entry, labels: labels)
        tunnelOrder.append(DNSTunnelRef(ts: entry.ts, key: domain, seq: entry.seq))
        tunnelEntries += 1
    }

    /// Evicts the oldest query over all domains (the cap is per client, not per domain), found through
    /// `tunnelOrder`; references to queries that have expired meanwhile are skipped. `false` when none is left.
    func evictOldestTunnelQuery() -> Bool {
        while let ref = tunnelOrder.removeFirst() {
            guard let window = domains[ref.key], window.queries.first?.seq == ref.seq else { continue }
            window.removeFirst()
            tunnelEntries -= 1
            if window.queries.isEmpty { domains[ref.key] = nil }
            return true
        }
        return false
    }

    func evictOldestTunnelEpisode() -> Bool {
        guard
            let oldest = episodes.filter({ $0.value.subtype == "tunneling" }).min(by: {
                ($0.value.lastTS, $0.key) < ($1.value.lastTS, $1.key)
            })
        else { return false }
        episodes[oldest.key] = nil
        tunnelEpisodes -= 1
        return true
    }

    /// Expires every domain's queries older than `cutoff`, and their references in `tunnelOrder`.
    func expireTunnel(before cutoff: Double) {
        for domain in domains.keys { expireTunnel(domain, before: cutoff) }
        _ = tunnelOrder.expire(before: cutoff)
    }

    /// Expires one domain's queries; their references in `tunnelOrder` stay until evicted or expired with all.
    func expireTunnel(_ domain: String, before cutoff: Double) {
        guard let window = domains[domain], let first = window.queries.first, first.ts < cutoff else { return }
        tunnelEntries -= window.expire(before: cutoff)
        if window.queries.isEmpty { domains[domain] = nil }
    }

    var approximateBytes: Int {
        var bytes = 256 + sensors.count * 64
        for (domain, window) in domains { bytes += 64 + domain.utf8.count + window.approximateBytes }
        bytes += tunnelOrder.approximateBytes
        bytes += generated.approximateBytes + nxdomains.approximateBytes + recent.approximateBytes
        for episode in episodes.values { bytes += episode.approximateBytes }
        return bytes
    }
}

/// The queries of one client under one registered domain within the window, with running sums. A class: it is
/// updated in place in its client's dictionary on every query (a struct would be copied there, queue and all).
final class DNSDomainWindow {
    let domain: String
    var queries = DNSWindow<DNSTunnelQuery>()
    var bytes = 0
    var dataQueries = 0
    /// The longest common label suffix of the names seen under the domain (`t.tunnel.test` for a tunnel delegated
    /// below `tunnel.test`), kept while the domain has queries.
    var zoneLabels: [String] = []
    private var seenAny = false

    init(domain: String) { self.domain = domain }

    var zone: String { zoneLabels.isEmpty ? domain : zoneLabels.joined(separator: ".") }

    func add(_ entry: DNSTunnelQuery, labels: [Substring]) {
        queries.append(entry)
        bytes += entry.key.utf8.count
        if entry.data { dataQueries += 1 }
        if !seenAny {
            zoneLabels = labels.map(String.init)
            seenAny = true
        } else {
            var common = 0
            while common < zoneLabels.count, common < labels.count,
                zoneLabels[zoneLabels.count - 1 - common] == labels[labels.count - 1 - common]
            {
                common += 1
            }
            zoneLabels = Array(zoneLabels.suffix(common))
        }
    }

    func removeFirst() {
        if let entry = queries.removeFirst() { forget(entry) }
    }

    func expire(before cutoff: Double) -> Int {
        let removed = queries.expire(before: cutoff)
        for entry in removed { forget(entry) }
        return removed.count
    }

    private func forget(_ entry: DNSTunnelQuery) {
        bytes -= entry.key.utf8.count
        if entry.data { dataQueries -= 1 }
    }

    /// The window's figures a tunnel decision and its alert use.
    struct Stats {
        var bytes: Int
        var dataQueries: Int
        var longestLabel: Int
        var meanLength: Double
        var span: Double
    }

    var stats: Stats {
        var longest = 0
        for entry in queries.entries { longest = max(longest, entry.longestLabel) }
        let n = queries.count
        let span = (queries.entries.last?.ts ?? 0) - (queries.first?.ts ?? 0)
        return Stats(
            bytes: bytes, dataQueries: dataQueries, longestLabel: longest,
            meanLength: n > 0 ? Double(bytes) / Double(n) : 0, span: span)
    }

    var approximateBytes: Int { 96 + queries.approximateBytes + zoneLabels.reduce(0) { $0 + 32 + $1.utf8.count } }
}

/// One query under a registered domain: its subdomain part (the key), its longest label, whether its type carries
/// data.
struct DNSTunnelQuery: DNSWindowEntry {
    var ts: Double
    var key: String
    var longestLabel: Int
    var data: Bool
    /// Its number among the client's tunnel queries, set when added.
    var seq: UInt64 = 0
}

/// A tunnel query's place in its client's arrival order: its domain (the key) and number.
struct DNSTunnelRef: DNSWindowEntry {
    var ts: Double
    var key: String
    var seq: UInt64
}

/// A suspicious (DGA-like) registered domain looked up, with its score and whether it was NXDOMAIN.
struct DNSScoredEntry: DNSWindowEntry {
    var ts: Double
    var key: String
    var score: Double
    var nxdomain: Bool
}

/// A key at a time: a name answered NXDOMAIN, a recently seen query (id, type, answer code, name) to count a query
/// seen twice once, a client in the eviction order.
struct DNSTimedKey: DNSWindowEntry {
    var ts: Double
    var key: String
}

/// One open episode of one client: what its alert says and what it said when last returned. A class, updated in
/// place in its client's dictionary (a struct would copy its name set on every query).
final class DNSEpisode {
    let subtype: String
    let domain: String?
    let client: String
    let start: Double
    let id: String
    /// When the episode was raised: the time of the record that crossed the threshold.
    var raisedTS: Double
    var firstTS: Double
    var lastTS: Double
    var count = 0
    var sensors: Set<String>
    var targets: [String] = []
    /// Distinct names counted (DGA), capped; beyond the cap new names are still counted, repeats may be too.
    var seen = DNSCappedSet()
    var severity = AlertSeverity.low
    var detail: [String: AlertValue] = [:]
    var reported: (count: Int, sensors: Int, severity: AlertSeverity) = (0, 0, .low)
    /// The event time of the last returned version.
    var reportedAt = 0.0
    /// Grew since the last returned version (held back by the rate limit).
    var pending = false
    var message = ""

    init(subtype: String, domain: String?, client: String, start: Double, sensors: Set<String>) {
        self.subtype = subtype
        self.domain = domain
        self.client = client
        self.start = start
        self.raisedTS = start
        self.firstTS = start
        self.lastTS = start
        self.sensors = sensors
        let key = ["dns", subtype, client, domain].compactMap { $0 }.joined(separator: "|")
        self.id = AlertID.make(kind: .dnsSuspicious, key: key, start: start)
    }

    var key: String { domain.map { subtype + "|" + $0 } ?? subtype }

    func extend(ts: Double, sensor: String, target: String?, maxTargets: Int) {
        firstTS = min(firstTS, ts)
        lastTS = max(lastTS, ts)
        sensors.insert(sensor)
        if let target, targets.count < maxTargets, !targets.contains(target) { targets.append(target) }
    }

    var approximateBytes: Int {
        var bytes = 512 + seen.approximateBytes + sensors.count * 32
        for target in targets { bytes += 32 + target.utf8.count }
        return bytes
    }
}

/// A set of names with a cap: once full, `insert` reports every name not in it as new (it cannot tell), so the
/// count it drives stays bounded in memory and errs towards counting more.
struct DNSCappedSet {
    private var names: Set<String> = []
    private var bytes = 0
    private(set) var overflow = 0

    var count: Int { names.count + overflow }

    /// `true` when `name` is new (or the set is full).
    mutating func insert(_ name: String, cap: Int) -> Bool {
        if names.contains(name) { return false }
        if names.count >= cap {
            overflow += 1
            return true
        }
        names.insert(name)
        bytes += name.utf8.count
        return true
    }

    var approximateBytes: Int { names.count * 48 + 2 * bytes }
}

extension [String: AlertValue] {
    /// Raises an integer or number field to `value` if it is higher.
    fileprivate mutating func raise(_ key: String, _ value: Int) {
        if case .int(let old) = self[key], old >= Int64(value) { return }
        self[key] = .int(Int64(value))
    }

    fileprivate mutating func raise(_ key: String, _ value: Double) {
        if case .double(let old) = self[key], old >= value { return }
        self[key] = .double(value)
    }

    fileprivate mutating func add(_ key: String, _ value: Int64) {
        if case .int(let old) = self[key] {
            self[key] = .int(old + value)
        } else {
            self[key] = .int(value)
        }
    }
}
