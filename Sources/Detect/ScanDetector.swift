import Config
import Flows
import Packets

/// The port-scan detector (`[scan]`): reads flow records from every sensor, classifies each as a probe (SYN,
/// connect, FIN, NULL, Xmas, ACK, UDP) or a real exchange, and raises one `port-scan` alert per episode.
///
/// A source is a scanner when its Threshold Random Walk over first contacts crosses η1 (slow scans, after
/// `min-probes` contacts) or when it sends `threshold` distinct probes within `window` seconds (aggressive scans).
/// Successful exchanges push the walk down, so the clients of a busy server are never scanners. Probes are keyed by
/// (target, port, protocol), so interim and final records of one flow, or one flow seen by two sensors, count once,
/// and probes through different sensors add up to one scan. Sources probing one target with the same ports at the
/// same time are one decoy alert; several sources each probing a few ports of one target are one distributed alert.
public final class ScanDetector: Detector {
    public let name = "scan"
    public var config: ScanConfig

    /// The `threshold` of `config` (the CLI's `--scan-threshold`).
    public var threshold: Int {
        get { config.threshold }
        set { config.threshold = max(2, newValue) }
    }

    private var sources: [IPAddress: ScanSource] = [:]
    private var targets: [IPAddress: ScanTarget] = [:]
    private var evicted: UInt64 = 0
    private var nextSweep = -Double.infinity

    public init(config: ScanConfig = ScanConfig()) {
        self.config = config
    }

    public var usage: DetectorUsage {
        var bytes = 0
        for source in sources.values { bytes += source.approximateBytes + 64 }
        for target in targets.values { bytes += target.approximateBytes + 64 }
        return DetectorUsage(
            name: name, entries: sources.count + targets.count, approximateBytes: bytes, evicted: evicted)
    }

    // MARK: Records

    public func observe(_ record: Record, clock: DetectionClock) -> [AlertRecord] {
        guard case .flow(let flow) = record else { return [] }
        let prober = flow.id.origHost
        if config.allowSources.contains(prober) { return [] }
        let verdict = ScanVerdict.classify(flow)
        if isEchoRequest(flow) {
            // A ping: evidence that this source is the real one behind decoys, nothing for the walk.
            noteEvidence(source(prober, ts: flow.ts), target: flow.id.respHost)
            return []
        }
        let key = ScanProbeKey(host: flow.id.respHost, port: flow.id.respPort, proto: flow.proto)
        switch verdict {
        case .ignore: return []
        case .success, .probe:
            if isAllowed(key) { return [] }
        }
        let source = source(prober, ts: flow.ts)
        source.lastSeen = max(source.lastSeen, flow.ts)

        let outcome: ScanOutcome?
        if case .probe(_, let probeOutcome) = verdict { outcome = probeOutcome } else { outcome = nil }
        if !source.contacted.contains(key) {
            if source.contacted.count < config.maxPortsPerSource {
                source.contacted.insert(key)
            } else {
                evicted += 1  // forgotten contacts: a repeat of one of them counts as a first contact again
            }
            step(source, success: outcome == nil || outcome == .open)
        }
        guard case .probe(let technique, let probeOutcome) = verdict else {
            noteEvidence(source, target: flow.id.respHost)
            source.noteSuccess(at: flow.ts)
            return []
        }
        let entry = ScanProbeEntry(
            ts: flow.ts, uid: ScanProbeUID(flow.uid), technique: technique, outcome: probeOutcome)
        var alerts: [AlertRecord] = []
        if let episode = episode(of: source, family: technique.family, ts: flow.ts, ended: &alerts) {
            let added = episode.add(
                key: key, target: key.host, entry: entry, sensor: flow.sensor, cap: config.maxPortsPerSource)
            if added.overCap { evicted += 1 }  // counted and its port kept, the probe itself not remembered
            episode.group?.note(key: key, sensor: flow.sensor, remembered: episode.targets.contains(key.host))
            if let alert = evaluate(episode, source: source) { alerts.append(alert) }
        }
        alerts += noteTargetProbe(flow: flow, family: technique.family, entry: entry)
        return alerts
    }

    public func advance(to clock: DetectionClock) -> [AlertRecord] {
        guard clock.event >= nextSweep else { return [] }
        nextSweep = clock.event + max(1, min(config.window, config.episodeGap) / 10)
        let episodeHorizon = clock.event - config.episodeGap
        let horizon = clock.event - max(config.window, config.episodeGap)
        var alerts: [AlertRecord] = []
        // Sorted, so that the final versions come out in the same order on every run.
        for address in sources.keys.sorted() {
            guard let source = sources[address] else { continue }
            for family in ScanFamily.allCases {
                guard let episode = source.episodes[family], episode.lastTS < episodeHorizon else { continue }
                // An episode that ended with more probes than its last alert said: its final version.
                if episode.id != nil, let alert = episodeAlert(episode, source: source, final: true) {
                    alerts.append(alert)
                }
                source.episodes[family] = nil
            }
            if source.lastSeen < horizon && source.episodes.isEmpty { sources[address] = nil }
        }
        let windowHorizon = clock.event - config.window
        for address in targets.keys.sorted() {
            guard let target = targets[address] else { continue }
            for (key, probe) in target.probes where probe.ts < windowHorizon { target.remove(key) }
            if let episode = target.episode, episode.lastTS < episodeHorizon {
                if let alert = distributedAlert(episode, final: true) { alerts.append(alert) }
                target.episode = nil
            }
            // The window moved on: the distributed test runs again at the target's next probe.
            target.failedCheck = nil
            if target.probes.isEmpty && target.episode == nil { targets[address] = nil }
        }
        return alerts
    }

    // MARK: Sources and the random walk

    private func source(_ address: IPAddress, ts: Double) -> ScanSource {
        if let known = sources[address] { return known }
        if sources.count >= config.maxSources {
            evictOldest(&sources, keep: config.maxSources - 1) { $0.lastSeen }
        }
        let made = ScanSource(address: address, ts: ts)
        sources[address] = made
        return made
    }

    /// Drops the least recently seen entries down to `keep` (at least one, and a sixteenth of the map at once so
    /// that a full map is not sorted on every new entry).
    private func evictOldest<Value>(
        _ map: inout [IPAddress: Value], keep: Int, lastSeen: (Value) -> Double
    ) {
        let excess = map.count - keep
        guard excess > 0 else { return }
        let batch = min(map.count, max(excess, map.count / 16))
        // (time, key) pairs only: selecting over the entries themselves copied and retained every value.
        var times: [(time: Double, key: IPAddress)] = []
        times.reserveCapacity(map.count)
        for (key, value) in map { times.append((lastSeen(value), key)) }
        for (_, address) in PartialSelection.smallest(batch, of: times, by: <) { map[address] = nil }
        evicted += UInt64(batch)
    }

    /// One step of the Threshold Random Walk: Λ *= θ1/θ0 on a success, (1-θ1)/(1-θ0) on a failure; Λ ≥ η1 (after
    /// `min-probes` steps) is a scanner, Λ ≤ η0 a benign source whose walk starts again.
    private func step(_ source: ScanSource, success: Bool) {
        guard !source.scanner else { return }
        let c = config
        source.walk *= success ? c.theta1 / c.theta0 : (1 - c.theta1) / (1 - c.theta0)
        source.walkSteps += 1
        if source.walk >= c.eta1 {
            source.walk = c.eta1
            if source.walkSteps >= c.minProbes { source.scanner = true }
        } else if source.walk <= c.eta0 {
            source.walk = 1
            source.walkSteps = 0
        }
    }

    private func noteEvidence(_ source: ScanSource, target: IPAddress) {
        guard source.evidence.count < ScanSource.maxEvidence else { return }
        source.evidence.insert(target)
    }

    private func isEchoRequest(_ flow: FlowRecord) -> Bool {
        (flow.proto == IPProtocol.icmp && flow.icmpType == 8)
            || (flow.proto == IPProtocol.icmpv6 && flow.icmpType == 128)
    }

    private func isAllowed(_ key: ScanProbeKey) -> Bool {
        config.allowPorts.contains(key.port) || config.allowTargets.contains(key.host)
            || config.allowServices.contains(ScanService(address: key.host, port: key.port))
    }

    // MARK: Episodes

    /// The source's open episode of this family, a new one after `episode-gap`, or nil for a straggler older than
    /// the open episode by more than the gap. An open episode replaced by a new one before the sweep ended it adds
    /// its final version to `ended`.
    private func episode(
        of source: ScanSource, family: ScanFamily, ts: Double, ended: inout [AlertRecord]
    ) -> ScanEpisode? {
        if let open = source.episodes[family] {
            if ts <= open.lastTS + config.episodeGap && ts >= open.firstTS - config.episodeGap { return open }
            if ts < open.firstTS { return nil }
            if open.id != nil, let alert = episodeAlert(open, source: source, final: true) { ended.append(alert) }
        }
        let made = ScanEpisode(family: family, source: source.address, ts: ts)
        source.episodes[family] = made
        return made
    }

    /// Raises the episode when the walk or the window says scan, then returns its alert when it is new or grew.
    private func evaluate(_ episode: ScanEpisode, source: ScanSource) -> AlertRecord? {
        if episode.id == nil {
            let byWalk = source.scanner && episode.count >= config.minProbes
            // The window's count, unless the source's real exchanges in that window outnumber its probes (a busy
            // client that also meets a few closed ports).
            let inWindow = episode.countInWindow(config.window)
            let byCount =
                inWindow >= config.threshold
                && source.successes(since: episode.lastTS - config.window) < inWindow
            guard byWalk || byCount else { return nil }
            raise(episode, by: byCount ? "threshold" : "random-walk")
            episode.id = AlertID.make(
                kind: .portScan, key: "\(source.address)|\(episode.family.name)", start: episode.firstTS)
            if episode.group == nil { joinDecoys(episode) }
        }
        return episodeAlert(episode, source: source, final: false)
    }

    /// The episode's (or its decoy group's) alert when it grew; `final` also when only its probe count grew.
    private func episodeAlert(_ episode: ScanEpisode, source: ScanSource, final: Bool) -> AlertRecord? {
        if let group = episode.group { return groupAlert(group, final: final) }
        let growth = ScanGrowth(
            ports: episode.ports.count, targets: episode.targets.count, sensors: episode.sensors.count, sources: 1,
            count: episode.count)
        guard grew(growth, from: episode.emitted, final: final) else { return nil }
        episode.emitted = growth
        return alert(
            id: episode.id ?? "", src: source.address.description, episodes: [episode], raisedFrom: episode,
            extra: [:])
    }

    private func raise(_ episode: ScanEpisode, by: String) {
        episode.raisedTS = episode.lastTS
        episode.detectedAfterProbes = episode.count
        episode.detectedAfterSeconds = episode.lastTS - episode.firstTS
        episode.detectedBy = by
    }

    /// Whether an alert is worth returning again: a new sensor or source, or ports or targets grown by an eighth (at
    /// least one), so a 65 535-port scan is a few dozen updates, not one per probe. `final` (the episode ended):
    /// any growth, the probe count included.
    private func grew(_ now: ScanGrowth, from before: ScanGrowth, final: Bool) -> Bool {
        if now.sensors > before.sensors || now.sources > before.sources { return true }
        if final {
            return now.ports > before.ports || now.targets > before.targets || now.count > before.count
        }
        return now.ports >= before.ports + max(1, before.ports / 8)
            || now.targets >= before.targets + max(1, before.targets / 8)
    }

    // MARK: Decoys

    /// Puts a newly raised episode into a decoy group with the other sources' episodes of the same family that probe
    /// the same targets with (nearly) the same ports at the same time.
    private func joinDecoys(_ episode: ScanEpisode) {
        guard let first = episode.targets.min(), let target = targets[first] else { return }
        var partners: [ScanEpisode] = []
        for address in target.perSource.keys.sorted() where address != episode.source {
            guard let other = sources[address]?.episodes[episode.family], isDecoy(other, of: episode) else { continue }
            partners.append(other)
        }
        guard !partners.isEmpty else { return }
        if let group = partners.lazy.compactMap(\.group).first {
            group.join(episode)
            episode.group = group
            return
        }
        // The group takes the id of a member already raised (so its alert is replaced, not doubled), else this one's.
        let id = partners.compactMap(\.id).first ?? episode.id ?? ""
        let group = ScanDecoyGroup(id: id, members: [])
        for member in [episode] + partners {
            group.join(member)
            member.group = group
        }
    }

    private func isDecoy(_ other: ScanEpisode, of episode: ScanEpisode) -> Bool {
        guard abs(other.firstTS - episode.firstTS) <= config.window else { return false }
        // Nearly the same ports and targets: 80 % of the smaller set shared (the others' probes may lag a little).
        func similar<T: Hashable>(_ a: Set<T>, _ b: Set<T>) -> Bool {
            let smaller = min(a.count, b.count)
            return smaller > 0 && Double(a.intersection(b).count) >= 0.8 * Double(smaller)
        }
        guard other.ports.count + other.targets.count >= 3 else { return false }
        return similar(other.ports, episode.ports) && similar(other.targets, episode.targets)
    }

    private func groupAlert(_ group: ScanDecoyGroup, final: Bool) -> AlertRecord? {
        // The group keeps its members' unions up to date (`ScanDecoyGroup.note`): no union per probe.
        var count = 0
        for member in group.members { count += member.count }
        let targets = group.targets
        let growth = ScanGrowth(
            ports: group.ports.count, targets: targets.count, sensors: group.sensors.count,
            sources: group.members.count, count: count)
        guard grew(growth, from: group.emitted, final: final) else { return nil }
        group.emitted = growth

        // The real source: the one that also talked to or pinged a target (decoys only send forged probes); else a
        // guess, the one whose probes came first.
        let members = group.members.sorted {
            ($0.firstTS, $0.source?.description ?? "") < ($1.firstTS, $1.source?.description ?? "")
        }
        let withEvidence = members.filter { member in
            guard let address = member.source, let source = sources[address] else { return false }
            return !source.evidence.isDisjoint(with: targets)
        }
        let real = withEvidence.first ?? members[0]
        let certain = withEvidence.count == 1
        let decoys = members.compactMap(\.source).filter { $0 != real.source }.sorted()
        let raisedFrom = members.filter { $0.id != nil }.min { $0.raisedTS < $1.raisedTS } ?? real
        return alert(
            id: group.id, src: real.source?.description ?? "multiple", episodes: members, raisedFrom: raisedFrom,
            extra: [
                "decoys": .int(Int64(decoys.count)),
                "decoy_sources": .string(decoys.map(\.description).joined(separator: ",")),
                "real_source_certain": .bool(certain),
            ])
    }

    // MARK: Distributed scans

    /// Remembers the probe for its target and raises or grows a distributed episode: at least `distributed-sources`
    /// sources, each below `threshold` ports, probing `threshold` distinct ports of the target within `window`,
    /// mostly different ports (decoys probe the same ones).
    private func noteTargetProbe(flow: FlowRecord, family: ScanFamily, entry: ScanProbeEntry) -> [AlertRecord] {
        let address = flow.id.respHost
        let target: ScanTarget
        if let known = targets[address] {
            target = known
        } else {
            if targets.count >= config.maxSources {
                evictOldest(&targets, keep: config.maxSources - 1) { $0.lastSeen }
            }
            target = ScanTarget(address: address, ts: flow.ts)
            targets[address] = target
        }
        target.lastSeen = max(target.lastSeen, flow.ts)
        let key = ScanProbeKey(host: flow.id.origHost, port: flow.id.respPort, proto: flow.proto)
        let probe = ScanTargetProbe(ts: flow.ts, family: family, entry: entry, sensor: flow.sensor)
        if let known = target.probes.index(forKey: key) {
            // A probe the target already has (the same source and port again): replaced where it is, one lookup.
            target.probes.values[known] = probe
        } else {
            if target.probes.count >= config.maxPortsPerSource {
                // Full: forget the oldest sixteenth of this target's probes at once (not one sort per probe).
                let batch = max(1, target.probes.count / 16)
                var times: [(time: Double, key: ScanProbeKey)] = []
                times.reserveCapacity(target.probes.count)
                for (key, probe) in target.probes { times.append((probe.ts, key)) }
                let oldest = PartialSelection.smallest(batch, of: times) { a, b in
                    (a.time, a.key.host, a.key.port, a.key.proto) < (b.time, b.key.host, b.key.port, b.key.proto)
                }
                for (_, old) in oldest { target.remove(old) }
                evicted += UInt64(batch)
            }
            target.insert(key, probe)
        }

        var alerts: [AlertRecord] = []
        if let episode = target.episode {
            if flow.ts <= episode.lastTS + config.episodeGap {
                addToDistributed(episode, key: key, probe: target.probes[key], target: address)
                return distributedAlert(episode, final: false).map { [$0] } ?? []
            }
            // Ended before the sweep saw it: its final version, then perhaps a new episode.
            if let alert = distributedAlert(episode, final: true) { alerts.append(alert) }
            target.episode = nil
        }
        guard target.perSource.count >= config.distributedSources, target.perPort.count >= config.threshold else {
            return alerts
        }
        // The full test walks all the target's probes: not again until its sources or ports change (or a sweep).
        let shape = ScanTargetShape(sources: target.perSource.count, ports: target.perPort.count)
        guard target.failedCheck != shape else { return alerts }
        target.failedCheck = shape
        let from = flow.ts - config.window
        var ports: [UInt16: Int] = [:]
        var perSource: [IPAddress: Set<UInt16>] = [:]
        for (probeKey, probe) in target.probes where probe.ts >= from && probe.ts <= flow.ts + config.window {
            ports[probeKey.port, default: 0] += 1
            perSource[probeKey.host, default: []].insert(probeKey.port)
        }
        guard ports.count >= config.threshold, perSource.count >= config.distributedSources,
            perSource.values.allSatisfy({ $0.count < config.threshold })
        else { return alerts }
        let shared = ports.values.filter { $0 > 1 }.count
        guard Double(shared) <= 0.5 * Double(ports.count) else { return alerts }
        target.failedCheck = nil

        let episode = ScanEpisode(family: family, source: nil, ts: flow.ts)
        // In time order, so that the probes remembered under the cap are the same on every run.
        for (probeKey, probe) in Self.byTime(target.probes) where probe.ts >= from {
            addToDistributed(episode, key: probeKey, probe: probe, target: address)
        }
        raise(episode, by: "threshold")
        episode.id = AlertID.make(kind: .portScan, key: "distributed|\(address)", start: episode.firstTS)
        target.episode = episode
        if let alert = distributedAlert(episode, final: false) { alerts.append(alert) }
        return alerts
    }

    private func addToDistributed(_ episode: ScanEpisode, key: ScanProbeKey, probe: ScanTargetProbe?, target: IPAddress)
    {
        guard let probe else { return }
        episode.sources.insert(key.host)
        episode.add(key: key, target: target, entry: probe.entry, sensor: probe.sensor, cap: config.maxPortsPerSource)
    }

    private func distributedAlert(_ episode: ScanEpisode, final: Bool) -> AlertRecord? {
        let growth = ScanGrowth(
            ports: episode.ports.count, targets: episode.targets.count, sensors: episode.sensors.count,
            sources: episode.sources.count, count: episode.count)
        guard grew(growth, from: episode.emitted, final: final) else { return nil }
        episode.emitted = growth
        let list = episode.sources.sorted().map(\.description)
        return alert(
            id: episode.id ?? "", src: "multiple", episodes: [episode], raisedFrom: episode,
            extra: [
                "scope": "distributed", "sources": .string(list.joined(separator: ",")),
                "source_count": .int(Int64(list.count)),
            ])
    }

    /// A target's probes oldest first (ties broken by prober and port: the same order on every run).
    private static func byTime(_ probes: [ScanProbeKey: ScanTargetProbe]) -> [(
        key: ScanProbeKey, value: ScanTargetProbe
    )] {
        probes.sorted(by: earlier)
    }

    /// Probe order by time, then host and port (a total order, so choices are deterministic).
    private static func earlier(
        _ a: (key: ScanProbeKey, value: ScanTargetProbe), _ b: (key: ScanProbeKey, value: ScanTargetProbe)
    ) -> Bool {
        (a.value.ts, a.key.host, a.key.port, a.key.proto) < (b.value.ts, b.key.host, b.key.port, b.key.proto)
    }

    // MARK: Alerts

    private func alert(
        id: String, src: String, episodes: [ScanEpisode], raisedFrom: ScanEpisode, extra: [String: AlertValue]
    ) -> AlertRecord {
        var ports: Set<UInt16> = []
        var targetSet: Set<IPAddress> = []
        var sensors: Set<String> = []
        var count = 0
        var rejected = 0
        var filtered = 0
        var open = 0
        var halfOpen = 0
        var connect = 0
        var firstTS = Double.infinity
        var lastTS = -Double.infinity
        for episode in episodes {
            ports.formUnion(episode.ports)
            targetSet.formUnion(episode.targets)
            sensors.formUnion(episode.sensors)
            count += episode.count
            rejected += episode.rejected
            filtered += episode.filtered
            open += episode.open
            halfOpen += episode.halfOpen
            connect += episode.connect
            firstTS = min(firstTS, episode.firstTS)
            lastTS = max(lastTS, episode.lastTS)
        }
        let family = raisedFrom.family
        let subtype: String
        if family == .tcpOpen {
            subtype = connect > halfOpen ? "tcp-connect" : "tcp-syn"
        } else {
            subtype = family.name
        }
        let span = max(0, lastTS - firstTS)
        let rate = Double(count) / max(span, 0.001)
        let meanGap = count > 1 ? span / Double(count - 1) : .infinity
        let aggressive =
            count > 1 && meanGap < config.stealthyGap
            && rate >= Double(config.threshold) / config.aggressiveSeconds
        let targets = targetSet.sorted()
        let scope: String
        if targets.count <= 1 {
            scope = "vertical"
        } else if ports.count == 1 || targets.count >= 5 * ports.count {
            scope = "horizontal"
        } else if ports.count >= 5 * targets.count {
            scope = "vertical"
        } else {
            scope = "block"
        }
        let severity: AlertSeverity
        if count >= 10 * config.threshold || (aggressive && count >= config.threshold) {
            severity = .high
        } else if aggressive || count >= config.threshold {
            severity = .medium
        } else {
            severity = .low
        }
        var detail: [String: AlertValue] = [
            "scope": .string(scope),
            "speed": .string(aggressive ? "aggressive" : "stealthy"),
            "rate": .double((rate * 100).rounded() / 100),
            "rejected": .int(Int64(rejected)),
            "filtered": .int(Int64(filtered)),
            "open": .int(Int64(open)),
            "detected_after_probes": .int(Int64(raisedFrom.detectedAfterProbes)),
            "detected_after_seconds": .double(raisedFrom.detectedAfterSeconds),
            "detected_by": .string(raisedFrom.detectedBy),
        ]
        detail.merge(extra) { _, new in new }
        let shown = targets.prefix(5).map(\.description).joined(separator: ", ")
        let more = targets.count > 5 ? " and \(targets.count - 5) more" : ""
        let message =
            "Port scan detected! Source: \(src) Targets: \(shown)\(more) Ports scanned: \(ports.count) "
            + "(\(Self.portRanges(ports.sorted()))) Time window: \(Self.oneDecimal(span)) seconds"
        return AlertRecord(
            ts: raisedFrom.raisedTS, id: id, kind: .portScan, subtype: subtype, severity: severity, src: src,
            targets: targets.map(\.description), ports: ports.sorted(), firstTS: firstTS, lastTS: lastTS,
            sensors: sensors.sorted(), count: count, message: message, detail: detail)
    }

    /// `20-30, 8080`: runs of consecutive ports; after 20 runs, `...`.
    static func portRanges(_ ports: [UInt16]) -> String {
        var runs: [String] = []
        var index = 0
        while index < ports.count {
            var end = index
            while end + 1 < ports.count && ports[end + 1] == ports[end] &+ 1 { end += 1 }
            if runs.count == 20 {
                runs.append("...")
                break
            }
            runs.append(end == index ? "\(ports[index])" : "\(ports[index])-\(ports[end])")
            index = end + 1
        }
        return runs.joined(separator: ", ")
    }

    /// `2.3`: seconds with one decimal, without Foundation's formatter.
    static func oneDecimal(_ value: Double) -> String {
        guard value.isFinite else { return "0.0" }
        let tenths = Int64((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
