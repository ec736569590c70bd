import Config
import Flows

/// Settings of the `[volume]` section (`VolumeDetector`).
public struct VolumeConfig: Hashable, Sendable {
    /// Intervals in the rolling median/MAD window.
    public var history = 60
    /// Intervals learned before a scope may alert.
    public var warmUp = 10
    /// How many robust standard deviations (scaled MAD) above the median an interval must be.
    public var threshold = 6.0
    /// And how many times the median it must be at least.
    public var minRatio = 3.0
    /// Absolute floors per interval, so a quiet network's small blips never fire.
    public var minPackets = 1000
    public var minBytes = 1_000_000
    public var minFlows = 100
    /// Seconds after an interval's end before it is evaluated: the series records of sensors that emit late (an
    /// interval's record leaves a sensor with its first packet after the interval) still count in the total.
    public var lateness = 60.0
    /// Consecutive normal intervals that end an episode.
    public var episodeGap = 2
    /// Also keep a baseline per sensor (the overall one always exists).
    public var perSensor = true
    /// Sensors with a baseline at most; beyond, the least recently active one is evicted.
    public var maxSensors = 1000
    /// Intervals waiting for their lateness at most; beyond, the oldest is evaluated early.
    public var maxPending = 1000

    public init() {}

    public init(section: ConfigSection) throws(ConfigError) {
        var section = section
        history = try section.int("history", default: history, in: 3...100_000)
        warmUp = try section.int("warm-up", default: warmUp, in: 1...100_000)
        threshold = try section.double("threshold", default: threshold, in: 0...1000)
        minRatio = try section.double("min-ratio", default: minRatio, in: 1...1_000_000)
        minPackets = try section.int("min-packets", default: minPackets, in: 0...Int.max)
        minBytes = try section.int("min-bytes", default: minBytes, in: 0...Int.max)
        minFlows = try section.int("min-flows", default: minFlows, in: 0...Int.max)
        lateness = try section.double("lateness", default: lateness, in: 0...86_400)
        episodeGap = try section.int("episode-gap", default: episodeGap, in: 1...10_000)
        perSensor = try section.bool("per-sensor", default: perSensor)
        maxSensors = try section.int("max-sensors", default: maxSensors, in: 1...1_000_000)
        maxPending = try section.int("max-pending", default: maxPending, in: 1...1_000_000)
        try section.checkUsed()
        guard warmUp <= history else {
            throw ConfigError(
                path: section.path, line: nil, "[volume] warm-up (\(warmUp)) exceeds history (\(history))")
        }
    }
}

/// Traffic spikes (`traffic-spike`: `packets`, `bytes`, `flows`) per sensor and over all sensors, from `series`
/// records.
///
/// Baseline: the median and MAD of the last `history` intervals (`RobustBaseline`). Traffic volume is bursty and
/// heavy-tailed; a mean and standard deviation (or an EWMA) are dragged up by every burst and then hide the next
/// one, while the median and MAD ignore up to half the window being outliers. The spread used is the scaled MAD
/// but at least √median (the Poisson noise of a count) and 1, so a perfectly flat history does not make every small
/// rise infinitely significant. An interval alerts when it is above `median + threshold × spread`, at least
/// `min-ratio` × the median and at least the absolute floor; an alerted interval enters the history clipped to
/// `median + threshold × spread`, so a spike cannot poison the baseline, while a lasting level shift still raises the
/// median step by step and is eventually learned.
///
/// Intervals are evaluated once the watermark passes their end plus `lateness`. The overall total of an interval is
/// the sum over the sensors that reported that interval start (and length); a known sensor that sent nothing in an
/// interval that others reported counts 0 (sensors send no series record for an interval without packets). An
/// interval no sensor reported at all is skipped rather than learned as 0 (nothing was received, which is not the
/// same as a quiet network). A record for an interval already evaluated is late: counted in `lateRecords`, dropped.
public final class VolumeDetector: Detector {
    public let name = "volume"
    public let config: VolumeConfig
    /// Series records that arrived after their interval had been evaluated.
    public private(set) var lateRecords: UInt64 = 0

    private enum Metric: Int, CaseIterable {
        case packets, bytes, flows
        var name: String {
            switch self {
            case .packets: return "packets"
            case .bytes: return "bytes"
            case .flows: return "flows"
            }
        }
    }

    private struct IntervalKey: Hashable, Comparable {
        var start: Double
        var interval: Double
        static func < (a: IntervalKey, b: IntervalKey) -> Bool {
            let (endA, endB) = (a.start + a.interval, b.start + b.interval)
            return endA != endB ? endA < endB : a.interval < b.interval
        }
    }

    private struct ScopeKey: Hashable, Comparable {
        /// The sensor's name, or nil for the overall scope.
        var sensor: String?
        var interval: Double
        static func < (a: ScopeKey, b: ScopeKey) -> Bool {
            if a.interval != b.interval { return a.interval < b.interval }
            return (a.sensor ?? "") < (b.sensor ?? "")
        }
    }

    private struct Episode {
        var id: String
        var raised: Double
        var firstTS: Double
        var lastTS: Double
        var count: Int
        var peak: Double
        var baseline: Double
        var spread: Double
        var normalRun = 0
        var reportedPeak: Double
        var reportedCount: Int
    }

    private struct Scope {
        var baselines: [RobustBaseline]
        var episodes: [Episode?] = [nil, nil, nil]
        /// Start of the last interval this scope had traffic in.
        var lastActive: Double
    }

    private var pending: [IntervalKey: [String: [Double]]] = [:]
    private var pendingEntries = 0
    /// Per interval length, the start of the newest interval evaluated.
    private var evaluatedThrough: [Double: Double] = [:]
    private var scopes: [ScopeKey: Scope] = [:]
    private var evicted: UInt64 = 0

    public init(config: VolumeConfig = VolumeConfig()) { self.config = config }

    /// Distinct interval lengths followed at once.
    static let maximumLengths = 8

    public func observe(_ record: Record, clock: DetectionClock) -> [AlertRecord] {
        guard case .series(let series) = record else { return [] }
        var alerts: [AlertRecord] = []
        // Interval lengths are whole seconds up to a day, and a deployment uses a few: each length keeps an overall
        // baseline, so a sensor sending ever new lengths must not grow the state (those records are counted late).
        let knownLength =
            evaluatedThrough[series.interval] != nil || pending.keys.contains { $0.interval == series.interval }
        let acceptable =
            (1...86_400).contains(series.interval) && series.interval == series.interval.rounded()
            && (knownLength
                || Set(evaluatedThrough.keys).union(pending.keys.map(\.interval)).count < Self.maximumLengths)
        if !acceptable && series.interval.isFinite && series.interval > 0 { lateRecords += 1 }
        if acceptable, series.ts.isFinite {
            if let done = evaluatedThrough[series.interval], series.ts <= done {
                lateRecords += 1
            } else {
                let key = IntervalKey(start: series.ts, interval: series.interval)
                let values = [Double(series.packets), Double(series.bytes), Double(series.flows)]
                if let old = pending[key]?[series.sensor] {
                    pending[key]?[series.sensor] = zip(old, values).map { $0 + $1 }
                } else {
                    pending[key, default: [:]][series.sensor] = values
                    pendingEntries += 1
                }
                while pending.count > config.maxPending, let oldest = pending.keys.min() {
                    evicted += 1
                    alerts += evaluate(oldest)
                }
            }
        }
        return alerts + evaluate(through: clock.event)
    }

    public func advance(to clock: DetectionClock) -> [AlertRecord] { evaluate(through: clock.event) }

    public var usage: DetectorUsage {
        let scopeBytes = scopes.reduce(0) { total, entry in
            total + 160 + (entry.key.sensor?.utf8.count ?? 0)
                + entry.value.baselines.reduce(0) { $0 + $1.approximateBytes }
        }
        let pendingBytes = pending.reduce(0) { total, entry in
            total + 64 + entry.value.reduce(0) { $0 + 96 + $1.key.utf8.count }
        }
        return DetectorUsage(
            name: name, entries: scopes.count + pendingEntries, approximateBytes: scopeBytes + pendingBytes,
            evicted: evicted)
    }

    private func evaluate(through watermark: Double) -> [AlertRecord] {
        guard !watermark.isNaN else { return [] }
        let ready = pending.keys.filter { $0.start + $0.interval + config.lateness <= watermark }.sorted()
        return ready.flatMap { evaluate($0) }
    }

    /// Evaluates one interval: every known sensor of that interval length (0 when it sent nothing) and the total.
    private func evaluate(_ key: IntervalKey) -> [AlertRecord] {
        let reports = pending.removeValue(forKey: key) ?? [:]
        pendingEntries -= reports.count
        evaluatedThrough[key.interval] = max(evaluatedThrough[key.interval] ?? -.infinity, key.start)
        var alerts: [AlertRecord] = []
        var total = [0.0, 0.0, 0.0]
        for values in reports.values { total = zip(total, values).map { $0 + $1 } }
        if config.perSensor {
            let horizon = key.start - Double(config.history) * key.interval
            var names = Set(reports.keys)
            for scopeKey in scopes.keys where scopeKey.interval == key.interval {
                guard let sensor = scopeKey.sensor else { continue }
                // A sensor silent for a whole history window is forgotten (it learns afresh when it returns).
                if let scope = scopes[scopeKey], scope.lastActive < horizon, reports[sensor] == nil {
                    scopes[scopeKey] = nil
                } else {
                    names.insert(sensor)
                }
            }
            for sensor in names.sorted() {
                let values = reports[sensor] ?? [0, 0, 0]
                alerts += step(ScopeKey(sensor: sensor, interval: key.interval), key, values, sensors: [sensor])
            }
        }
        alerts += step(ScopeKey(sensor: nil, interval: key.interval), key, total, sensors: reports.keys.sorted())
        return alerts
    }

    private func step(_ scopeKey: ScopeKey, _ key: IntervalKey, _ values: [Double], sensors: [String])
        -> [AlertRecord]
    {
        let active = values.contains { $0 > 0 }
        var scope: Scope
        if let existing = scopes[scopeKey] {
            scope = existing
        } else {
            if scopeKey.sensor != nil { makeRoomForSensor() }
            let empty = RobustBaseline(capacity: config.history)
            scope = Scope(baselines: [empty, empty, empty], lastActive: key.start)
        }
        if active { scope.lastActive = key.start }
        var alerts: [AlertRecord] = []
        let floors = [Double(config.minPackets), Double(config.minBytes), Double(config.minFlows)]
        for metric in Metric.allCases {
            let index = metric.rawValue
            let observed = values[index]
            var baseline = scope.baselines[index]
            guard baseline.count >= config.warmUp else {
                baseline.append(observed)
                scope.baselines[index] = baseline
                continue
            }
            let median = baseline.median
            let spread = max(baseline.sigma, median.squareRoot(), 1)
            let limit = median + config.threshold * spread
            let anomalous = observed > limit && observed >= config.minRatio * median && observed >= floors[index]
            baseline.append(anomalous ? limit : observed)
            scope.baselines[index] = baseline
            if anomalous {
                let end = key.start + key.interval
                if var episode = scope.episodes[index] {
                    episode.lastTS = end
                    episode.count += 1
                    episode.normalRun = 0
                    if observed > episode.peak {
                        episode.peak = observed
                        episode.baseline = median
                        episode.spread = spread
                    }
                    if episode.peak >= episode.reportedPeak * 1.25 || episode.count >= episode.reportedCount * 2 {
                        episode.reportedPeak = episode.peak
                        episode.reportedCount = episode.count
                        alerts.append(alert(episode, metric, scopeKey, sensors: sensors))
                    }
                    scope.episodes[index] = episode
                } else {
                    let id = AlertID.make(
                        kind: .trafficSpike,
                        key: "volume|\(scopeKey.sensor.map { "sensor=" + $0 } ?? "all")|\(key.interval)|\(metric.name)",
                        start: key.start)
                    let episode = Episode(
                        id: id, raised: end, firstTS: key.start, lastTS: end, count: 1, peak: observed,
                        baseline: median, spread: spread, reportedPeak: observed, reportedCount: 1)
                    scope.episodes[index] = episode
                    alerts.append(alert(episode, metric, scopeKey, sensors: sensors))
                }
            } else if var episode = scope.episodes[index] {
                episode.normalRun += 1
                scope.episodes[index] = episode.normalRun >= config.episodeGap ? nil : episode
            }
        }
        scopes[scopeKey] = scope
        return alerts
    }

    private func makeRoomForSensor() {
        let sensorCount = scopes.keys.reduce(0) { $0 + ($1.sensor == nil ? 0 : 1) }
        guard sensorCount >= config.maxSensors else { return }
        let victim = scopes.filter { $0.key.sensor != nil }.min { a, b in
            a.value.lastActive != b.value.lastActive ? a.value.lastActive < b.value.lastActive : a.key < b.key
        }
        if let victim {
            scopes[victim.key] = nil
            evicted += 1
        }
    }

    private func alert(_ episode: Episode, _ metric: Metric, _ scopeKey: ScopeKey, sensors: [String]) -> AlertRecord {
        let ratio = episode.baseline > 0 ? episode.peak / episode.baseline : episode.peak
        let severity: AlertSeverity = ratio >= 10 ? .high : ratio >= 5 ? .medium : .low
        let whereText = scopeKey.sensor.map { "on sensor \($0)" } ?? "over all sensors"
        let ratioText = episode.baseline > 0 ? " (\(fixed(ratio, digits: 1))x)" : ""
        let message =
            "\(metric.name) spike \(whereText): \(compact(episode.peak)) \(metric.name) in a "
            + "\(compact(scopeKey.interval)) s interval, baseline \(compact(episode.baseline))\(ratioText)"
        let detail: [String: AlertValue] = [
            "scope": .string(scopeKey.sensor == nil ? "overall" : "sensor"),
            "metric": .string(metric.name),
            "baseline": .double(episode.baseline),
            "observed": .double(episode.peak),
            "spread": .double(episode.spread),
            "ratio": .double(ratio),
            "interval": .double(scopeKey.interval),
            "threshold": .double(config.threshold),
            "intervals": .int(Int64(episode.count)),
        ]
        return AlertRecord(
            ts: episode.raised, id: episode.id, kind: .trafficSpike, subtype: metric.name, severity: severity,
            src: nil, targets: [scopeKey.sensor ?? "all"], ports: [], firstTS: episode.firstTS, lastTS: episode.lastTS,
            sensors: scopeKey.sensor.map { [$0] } ?? sensors, count: episode.count, message: message, detail: detail)
    }
}
