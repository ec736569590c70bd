import Flows
import Packets

/// A probed service: destination host, port and IP protocol. In a distributed episode `host` is the prober instead,
/// so that each (source, port) counts once.
struct ScanProbeKey: Hashable {
    var host: IPAddress
    var port: UInt16
    var proto: UInt8

    // One or two words instead of the synthesized fields and the address's case: the scan detector hashes a key
    // several times per flow record.
    func hash(into hasher: inout Hasher) {
        let portAndProto = UInt64(port) << 8 | UInt64(proto)
        switch host {
        case .v4(let address):
            hasher.combine(UInt64(address) << 24 | portAndProto)
        case .v6(let high, let low):
            hasher.combine(high)
            hasher.combine(low ^ portAndProto &* 0x9E37_79B9_7F4A_7C15)
        }
    }
}

/// One probe as an episode remembers it: when, which flow, how and what answered.
struct ScanProbeEntry {
    var ts: Double
    var uid: ScanProbeUID
    var technique: ScanTechnique
    var outcome: ScanOutcome
}

/// A probe's flow uid, only ever compared, kept without a reference to the record's string: up to 24 UTF-8 bytes in
/// three words (Wirewatch's and Zeek's uids are shorter), a longer one as its string. A probe replaced thousands of
/// flows later released the old record's uid, a cold cache line, and that release and the retain were ~5 % of the
/// collector's samples (bench/transport.sh, perf).
struct ScanProbeUID: Equatable {
    private var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
    /// The byte count of an inline uid; `Self.long` for one kept in `long`.
    private var count: UInt8 = 0
    private var long: String?
    private static let long: UInt8 = .max
    private static let inlineCapacity = 24

    init(_ uid: String) {
        let utf8 = uid.utf8
        guard utf8.count <= Self.inlineCapacity else {
            count = Self.long
            long = uid
            return
        }
        count = UInt8(utf8.count)
        withUnsafeMutableBytes(of: &words) { buffer in
            let copied: Void? = utf8.withContiguousStorageIfAvailable { bytes in
                buffer.copyMemory(from: UnsafeRawBufferPointer(bytes))
            }
            if copied == nil {
                for (offset, byte) in utf8.enumerated() { buffer[offset] = byte }
            }
        }
    }

    static func == (lhs: ScanProbeUID, rhs: ScanProbeUID) -> Bool {
        lhs.count == rhs.count && lhs.words == rhs.words && lhs.long == rhs.long
    }
}

/// One scan episode: a source's probes of one family (or, distributed, all sources' probes of one target) from its
/// first probe until `episode-gap` seconds pass without one. Raised once (`id` set), then re-emitted only when its
/// ports, targets, sensors or sources grow.
final class ScanEpisode {
    let family: ScanFamily
    /// The prober; nil for a distributed episode.
    let source: IPAddress?
    var firstTS: Double
    var lastTS: Double
    var probes: [ScanProbeKey: ScanProbeEntry] = [:]
    /// Distinct probes, also those beyond the per-source cap that `probes` no longer remembers.
    var count = 0
    var ports: Set<UInt16> = []
    var targets: Set<IPAddress> = []
    var sensors: Set<String> = []
    /// The sensor of the latest probe, known to be in `sensors` (most probes come from the sensor of the last one).
    private var lastSensor: String?
    /// Distributed episodes: the sources taking part.
    var sources: Set<IPAddress> = []
    var rejected = 0
    var filtered = 0
    var open = 0
    var halfOpen = 0
    var connect = 0
    var id: String?
    var raisedTS = 0.0
    var detectedAfterProbes = 0
    var detectedAfterSeconds = 0.0
    var detectedBy = ""
    var emitted = ScanGrowth()
    var group: ScanDecoyGroup?

    init(family: ScanFamily, source: IPAddress?, ts: Double) {
        self.family = family
        self.source = source
        self.firstTS = ts
        self.lastTS = ts
    }

    /// Adds a probe; a record of a probe already known (an interim and the final record of one uid, or the same flow
    /// seen by two sensors) only adds its sensor and, for the same uid, replaces the outcome. Returns whether the
    /// probe was new.
    @discardableResult
    func add(
        key: ScanProbeKey, target: IPAddress, entry: ScanProbeEntry, sensor: String, cap: Int
    ) -> (isNew: Bool, overCap: Bool) {
        if sensor != lastSensor {
            sensors.insert(sensor)
            lastSensor = sensor
        }
        firstTS = min(firstTS, entry.ts)
        lastTS = max(lastTS, entry.ts)
        if let old = probes[key] {
            // The outcome first: comparing uids (text) is the dearer test, and mostly the outcome is the same.
            if old.outcome != entry.outcome && old.uid == entry.uid {
                tally(old, -1)
                tally(entry, 1)
                probes[key] = ScanProbeEntry(
                    ts: old.ts, uid: old.uid, technique: entry.technique, outcome: entry.outcome)
            }
            return (false, false)
        }
        count += 1
        ports.insert(key.port)
        tally(entry, 1)
        guard probes.count < cap else { return (true, true) }
        probes[key] = entry
        targets.insert(target)
        return (true, false)
    }

    private func tally(_ entry: ScanProbeEntry, _ delta: Int) {
        switch entry.outcome {
        case .open: open += delta
        case .rejected: rejected += delta
        case .filtered: filtered += delta
        }
        switch entry.technique {
        case .halfOpen: halfOpen += delta
        case .connect: connect += delta
        default: break
        }
    }

    /// Distinct probes within `window` seconds before the newest one.
    func countInWindow(_ window: Double) -> Int {
        let from = lastTS - window
        var inWindow = 0
        for entry in probes.values where entry.ts >= from { inWindow += 1 }
        return inWindow
    }

    var approximateBytes: Int {
        // Object and sets' headers, then per element: a probe (key 24 + entry 48 + hash table slack), a port, an
        // address, a sensor name.
        256 + probes.count * 112 + ports.count * 4 + targets.count * 24 + sensors.count * 32 + sources.count * 24
    }
}

/// What an alert held when it was last returned: it is returned again only when one of these grows.
struct ScanGrowth: Hashable {
    var ports = 0
    var targets = 0
    var sensors = 0
    var sources = 0
    var count = 0
}

/// Sources probing the same target with the same ports at the same time (nmap `-D` decoys): their episodes are
/// reported as one alert under the id of the first one raised.
final class ScanDecoyGroup {
    let id: String
    private(set) var members: [ScanEpisode] = []
    /// The unions of the members' ports, targets and sensors, kept up to date as they grow (`note`), so that a
    /// member's probe does not rebuild them over every member (`nmap -D RND:20 -p-`).
    private(set) var ports: Set<UInt16> = []
    private(set) var targets: Set<IPAddress> = []
    private(set) var sensors: Set<String> = []
    var emitted = ScanGrowth()

    init(id: String, members: [ScanEpisode]) {
        self.id = id
        for member in members { join(member) }
    }

    /// Adds a member (once) and what it has probed so far.
    func join(_ episode: ScanEpisode) {
        guard !members.contains(where: { $0 === episode }) else { return }
        members.append(episode)
        ports.formUnion(episode.ports)
        targets.formUnion(episode.targets)
        sensors.formUnion(episode.sensors)
    }

    /// A member's probe just added (`ScanEpisode.add`): its port and sensor, its target when the member remembers
    /// it (a probe beyond the member's cap adds its port but not its target).
    func note(key: ScanProbeKey, sensor: String, remembered: Bool) {
        ports.insert(key.port)
        sensors.insert(sensor)
        if remembered { targets.insert(key.host) }
    }
}

/// Everything known about one source: its random walk over first contacts, the services it contacted, the targets it
/// really talked to or pinged (evidence that it is the real source behind decoys) and its open episodes.
final class ScanSource {
    let address: IPAddress
    var lastSeen: Double
    /// The likelihood ratio Λ of "scanner" over "benign", multiplied per first contact.
    var walk = 1.0
    var walkSteps = 0
    var scanner = false
    var contacted: Set<ScanProbeKey> = []
    var evidence: Set<IPAddress> = []
    var episodes: [ScanFamily: ScanEpisode] = [:]
    /// Times of the latest first-contact successes (at most `maxSuccesses`), for the window test.
    var successTimes: [Double] = []

    init(address: IPAddress, ts: Double) {
        self.address = address
        self.lastSeen = ts
    }

    static let maxEvidence = 64
    static let maxSuccesses = 256

    func noteSuccess(at ts: Double) {
        if successTimes.count >= Self.maxSuccesses { successTimes.removeFirst(successTimes.count / 4) }
        successTimes.append(ts)
    }

    func successes(since ts: Double) -> Int {
        var count = 0
        for time in successTimes where time >= ts { count += 1 }
        return count
    }

    var approximateBytes: Int {
        var bytes = 160 + contacted.count * 40 + evidence.count * 32 + successTimes.count * 8
        for episode in episodes.values { bytes += episode.approximateBytes }
        return bytes
    }
}

/// One probe of a target as the distributed-scan test remembers it.
struct ScanTargetProbe {
    var ts: Double
    var family: ScanFamily
    var entry: ScanProbeEntry
    var sensor: String
}

/// The recent probes of one target by any source (within `window`), for distributed scans and to find decoys.
final class ScanTarget {
    let address: IPAddress
    var lastSeen: Double
    /// Keyed by prober, port and protocol.
    var probes: [ScanProbeKey: ScanTargetProbe] = [:]
    var perSource: [IPAddress: Int] = [:]
    /// Probes per port, so that a target with few distinct ports skips the distributed test cheaply.
    var perPort: [UInt16: Int] = [:]
    var episode: ScanEpisode?
    /// The sources and ports the target had when the distributed test last failed: the test (a walk over all its
    /// probes) runs again only once they change, or after a sweep.
    var failedCheck: ScanTargetShape?

    init(address: IPAddress, ts: Double) {
        self.address = address
        self.lastSeen = ts
    }

    func insert(_ key: ScanProbeKey, _ probe: ScanTargetProbe) {
        if probes.updateValue(probe, forKey: key) == nil {
            perSource[key.host, default: 0] += 1
            perPort[key.port, default: 0] += 1
        }
    }

    func remove(_ key: ScanProbeKey) {
        guard probes.removeValue(forKey: key) != nil else { return }
        let left = (perSource[key.host] ?? 1) - 1
        perSource[key.host] = left > 0 ? left : nil
        let portLeft = (perPort[key.port] ?? 1) - 1
        perPort[key.port] = portLeft > 0 ? portLeft : nil
    }

    var approximateBytes: Int {
        128 + probes.count * 120 + perSource.count * 40 + perPort.count * 24 + (episode?.approximateBytes ?? 0)
    }
}

/// How many sources and distinct ports a target's probes have.
struct ScanTargetShape: Hashable {
    var sources: Int
    var ports: Int
}
