import Config
import Flows

/// Settings of the `[protocols]` section (`ProtocolShiftDetector`).
public struct ProtocolShiftConfig: Hashable, Sendable {
    /// Intervals aggregated into the current distribution.
    public var window = 5
    /// Jensen–Shannon divergence (bits, 0...1) above which the mix has shifted.
    public var threshold = 0.1
    /// Intervals learned before alerting.
    public var warmUp = 10
    /// Packets the current window must hold to be judged (a few packets have no meaningful mix).
    public var minPackets = 1000
    /// Consecutive intervals below the threshold that end an episode.
    public var episodeGap = 3
    /// Weight of each interval in the baseline's moving average of shares (memory about 1 / alpha intervals).
    public var alpha = 0.05
    /// What is shared out: `packets` or `bytes`.
    public var measure = "packets"
    /// Added to every share before the divergence (then renormalised), so a protocol absent on one side counts.
    public var smoothing = 0.0001
    /// Seconds after an interval's end before it is evaluated (late sensors' series records still count).
    public var lateness = 60.0
    /// An episode lasting this many intervals is taken as the new normal: the baseline restarts from the window.
    public var relearn = 60
    /// Protocol names tracked at most; further names count as `other`.
    public var maxProtocols = 16
    /// Intervals waiting for their lateness at most; beyond, the oldest is evaluated early.
    public var maxPending = 1000

    public init() {}

    public init(section: ConfigSection) throws(ConfigError) {
        var section = section
        window = try section.int("window", default: window, in: 1...10_000)
        threshold = try section.double("threshold", default: threshold, in: 0.000_001...1)
        warmUp = try section.int("warm-up", default: warmUp, in: 1...1_000_000)
        minPackets = try section.int("min-packets", default: minPackets, in: 0...Int.max)
        episodeGap = try section.int("episode-gap", default: episodeGap, in: 1...10_000)
        alpha = try section.double("alpha", default: alpha, in: 0.000_001...1)
        measure = try section.string("measure", default: measure, oneOf: ["packets", "bytes"])
        smoothing = try section.double("smoothing", default: smoothing, in: 0...0.1)
        lateness = try section.double("lateness", default: lateness, in: 0...86_400)
        relearn = try section.int("relearn", default: relearn, in: 1...1_000_000)
        maxProtocols = try section.int("max-protocols", default: maxProtocols, in: 2...1000)
        maxPending = try section.int("max-pending", default: maxPending, in: 1...1_000_000)
        try section.checkUsed()
    }
}

/// Protocol-mix shifts (`protocol-shift`: `distribution`) over all sensors, from the per-protocol counters of
/// `series` records.
///
/// Baseline: an exponentially weighted moving average of each protocol's share per interval (weight `alpha`, the
/// plain mean during the first 1/alpha intervals). Current: the shares over the last `window` intervals. Measure:
/// the Jensen–Shannon divergence in bits — symmetric, bounded to 0...1 (so one threshold means the same whatever the
/// number of protocols) and finite when a protocol is absent on one side, unlike Kullback–Leibler. Intervals are
/// evaluated once the watermark passes their end plus `lateness`, summed over the sensors that reported them. An
/// interval teaches the baseline when it leaves the window, unless an episode was open while it was in the window
/// (the shift, including its first intervals, must not become its own baseline); an episode longer
/// than `relearn` intervals is accepted as the new normal (the baseline restarts from the current window) and ends
/// when the divergence has stayed below the threshold for `episode-gap` intervals.
public final class ProtocolShiftDetector: Detector {
    public let name = "protocols"
    public let config: ProtocolShiftConfig
    /// Series records that arrived after their interval had been evaluated.
    public private(set) var lateRecords: UInt64 = 0

    private struct Pending {
        var weights: [String: Double] = [:]
        var packets: Double = 0
        var sensors: Set<String> = []
    }

    private struct Interval {
        var weights: [String: Double]
        var packets: Double
        var sensors: Set<String>
        /// It was in the window while an episode was open: it never teaches the baseline.
        var tainted = false
    }

    private struct Episode {
        var id: String
        var raised: Double
        var firstTS: Double
        var lastTS: Double
        var count = 1
        var length = 0
        var divergence: Double
        var current: [String: Double]
        var baseline: [String: Double]
        var windowPackets: Double
        var sensors: Set<String>
        var belowRun = 0
        var reportedDivergence: Double
        var reportedCount = 1
    }

    private var pending: [Double: Pending] = [:]
    private var evaluatedThrough = -Double.infinity
    private var window: [Interval] = []
    private var baseline: [String: Double] = [:]
    private var learned = 0
    private var episode: Episode?
    private var evicted: UInt64 = 0

    public init(config: ProtocolShiftConfig = ProtocolShiftConfig()) { self.config = config }

    /// The baseline's shares now (normalised).
    public var baselineShares: [String: Double] {
        let sum = baseline.values.reduce(0, +)
        guard sum > 0 else { return [:] }
        return baseline.mapValues { $0 / sum }
    }

    public func observe(_ record: Record, clock: DetectionClock) -> [AlertRecord] {
        guard case .series(let series) = record else { return [] }
        var alerts: [AlertRecord] = []
        if series.ts.isFinite, series.interval > 0 {
            if series.ts <= evaluatedThrough {
                lateRecords += 1
            } else {
                var entry = pending[series.ts] ?? Pending()
                // In name order, so which names overflow into `other` does not depend on dictionary order.
                for name in series.perProtocol.keys.sorted() {
                    guard let counters = series.perProtocol[name] else { continue }
                    let value = Double(config.measure == "bytes" ? counters.bytes : counters.packets)
                    let key = entry.weights[name] != nil || entry.weights.count < config.maxProtocols ? name : "other"
                    entry.weights[key, default: 0] += value
                    entry.packets += Double(counters.packets)
                }
                entry.sensors.insert(series.sensor)
                pending[series.ts] = entry
                while pending.count > config.maxPending, let oldest = pending.keys.min() {
                    evicted += 1
                    alerts += evaluate(start: oldest, end: oldest + series.interval)
                }
            }
        }
        // Only a valid length sets the grid: a record with a zero or absurd interval must not move it.
        let valid = (1...86_400).contains(series.interval) ? series.interval : nil
        return alerts + evaluate(through: clock.event, interval: valid)
    }

    public func advance(to clock: DetectionClock) -> [AlertRecord] { evaluate(through: clock.event, interval: nil) }

    public var usage: DetectorUsage {
        let pendingBytes = pending.values.reduce(0) { $0 + 96 + $1.weights.count * 48 + $1.sensors.count * 40 }
        let windowBytes = window.reduce(0) { $0 + 64 + $1.weights.count * 48 + $1.sensors.count * 40 }
        return DetectorUsage(
            name: name, entries: pending.count + window.count + baseline.count,
            approximateBytes: pendingBytes + windowBytes + baseline.count * 48 + 256, evicted: evicted)
    }

    private func evaluate(through watermark: Double, interval: Double?) -> [AlertRecord] {
        guard !watermark.isNaN else { return [] }
        // An interval is ready when `start + length + lateness` has passed; the length is the newest record's (one
        // grid per deployment), 60 s until one is known.
        if let interval { lastInterval = interval }
        let length = lastInterval
        let ready = pending.keys.filter { $0 + length + config.lateness <= watermark }.sorted()
        return ready.flatMap { evaluate(start: $0, end: $0 + length) }
    }

    private var lastInterval = 60.0

    private func evaluate(start: Double, end: Double) -> [AlertRecord] {
        guard let entry = pending.removeValue(forKey: start) else { return [] }
        evaluatedThrough = max(evaluatedThrough, start)
        guard entry.weights.values.contains(where: { $0 > 0 }) else { return [] }
        window.append(Interval(weights: entry.weights, packets: entry.packets, sensors: entry.sensors))
        // An interval teaches the baseline only when it leaves the window untainted: the first intervals of a shift,
        // still below the threshold while the window fills, must not be learned before the episode opens.
        while window.count > config.window {
            let leaving = window.removeFirst()
            if !leaving.tainted { learn(leaving.weights) }
        }
        var alerts: [AlertRecord] = []
        var current: [String: Double] = [:]
        var windowPackets = 0.0
        var sensors: Set<String> = []
        for interval in window {
            for (name, value) in interval.weights { current[name, default: 0] += value }
            windowPackets += interval.packets
            sensors.formUnion(interval.sensors)
        }
        var shifted = false
        if learned >= config.warmUp, windowPackets >= Double(config.minPackets) {
            let divergence = Divergence.jensenShannon(current, baseline, smoothing: config.smoothing)
            shifted = divergence > config.threshold
            if shifted {
                if var open = episode {
                    open.lastTS = end
                    open.count += 1
                    open.belowRun = 0
                    open.sensors.formUnion(sensors)
                    if divergence > open.divergence {
                        open.divergence = divergence
                        open.current = current
                        open.baseline = baseline
                        open.windowPackets = windowPackets
                    }
                    if open.divergence >= open.reportedDivergence * 1.25 || open.count >= open.reportedCount * 2 {
                        open.reportedDivergence = open.divergence
                        open.reportedCount = open.count
                        alerts.append(alert(open))
                    }
                    episode = open
                } else {
                    let opened = Episode(
                        id: AlertID.make(kind: .protocolShift, key: "protocols|all|\(config.measure)", start: start),
                        raised: end, firstTS: start, lastTS: end, divergence: divergence, current: current,
                        baseline: baseline, windowPackets: windowPackets, sensors: sensors,
                        reportedDivergence: divergence)
                    episode = opened
                    alerts.append(alert(opened))
                }
            }
        }
        if var open = episode {
            if !shifted {
                open.belowRun += 1
            }
            open.length += 1
            if open.belowRun >= config.episodeGap {
                episode = nil
            } else {
                if open.length >= config.relearn {
                    // The shift lasted: it is the new normal.
                    let sum = current.values.reduce(0, +)
                    if sum > 0 { baseline = current.mapValues { $0 / sum } }
                    open.length = 0
                }
                episode = open
            }
        }
        if episode != nil {
            for index in window.indices { window[index].tainted = true }
        }
        return alerts
    }

    private func learn(_ weights: [String: Double]) {
        let sum = weights.values.reduce(0, +)
        guard sum > 0 else { return }
        learned += 1
        let weight = max(config.alpha, 1 / Double(learned))
        for name in Set(baseline.keys).union(weights.keys) {
            let share = (weights[name] ?? 0) / sum
            let updated = (1 - weight) * (baseline[name] ?? 0) + weight * share
            baseline[name] = updated
        }
        // Protocols whose share faded to nothing are dropped, keeping the baseline's names bounded.
        baseline = baseline.filter { $0.value >= 1e-9 }
        while baseline.count > config.maxProtocols,
            let smallest = baseline.min(by: { a, b in
                a.value != b.value ? a.value < b.value : a.key > b.key
            })
        {
            baseline[smallest.key] = nil
            baseline["other", default: 0] += smallest.value
        }
    }

    private func alert(_ episode: Episode) -> AlertRecord {
        let currentSum = max(episode.current.values.reduce(0, +), 1e-300)
        let baselineSum = max(episode.baseline.values.reduce(0, +), 1e-300)
        var grew = ""
        var grewBy = -Double.infinity
        for name in Set(episode.current.keys).union(episode.baseline.keys).sorted() {
            let change = (episode.current[name] ?? 0) / currentSum - (episode.baseline[name] ?? 0) / baselineSum
            if change > grewBy {
                grew = name
                grewBy = change
            }
        }
        let was = (episode.baseline[grew] ?? 0) / baselineSum
        let now = (episode.current[grew] ?? 0) / currentSum
        let severity: AlertSeverity = episode.divergence >= 0.3 ? .high : episode.divergence >= 0.2 ? .medium : .low
        let currentText = Divergence.sharesText(episode.current)
        let baselineText = Divergence.sharesText(episode.baseline)
        let message =
            "protocol mix (\(config.measure)) shifted: divergence \(fixed(episode.divergence, digits: 3)) > "
            + "\(fixed(config.threshold, digits: 3)); \(grew) grew from \(fixed(was, digits: 2)) to "
            + "\(fixed(now, digits: 2)); now \(currentText), baseline \(baselineText)"
        let detail: [String: AlertValue] = [
            "divergence": .double(episode.divergence),
            "threshold": .double(config.threshold),
            "baseline": .string(baselineText),
            "current": .string(currentText),
            "grew": .string(grew),
            "grew_by": .double(grewBy),
            "measure": .string(config.measure),
            "window_packets": .int(Int64(saturating: episode.windowPackets)),
            "intervals": .int(Int64(episode.count)),
        ]
        return AlertRecord(
            ts: episode.raised, id: episode.id, kind: .protocolShift, subtype: "distribution", severity: severity,
            src: nil, targets: ["all"], ports: [], firstTS: episode.firstTS, lastTS: episode.lastTS,
            sensors: episode.sensors.sorted(), count: episode.count, message: message, detail: detail)
    }
}
