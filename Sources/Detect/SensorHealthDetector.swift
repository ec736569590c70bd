import Config
import Flows

/// Settings of the `[health]` section (`SensorHealthDetector`).
public struct SensorHealthConfig: Hashable, Sendable {
    /// Fraction of packets dropped (kernel + interface) above which capture is lossy.
    public var lossThreshold = 0.01
    /// Packets (received + dropped) that stats intervals are summed over before the loss is judged.
    public var minPackets = 1000
    /// Seconds a live sensor's stats timestamps may differ from the collector's clock.
    public var maxSkew = 30.0
    /// Stats samples of which the least delayed one is the skew estimate (transit delay only makes a sample look
    /// further behind, so the largest `ts − wall` of the last few is the truest).
    public var skewSamples = 3
    /// Seconds without a record after which a sensor is silent (wall clock live, event time offline).
    public var silence = 120.0
    /// Sensors tracked at most; beyond, the one heard from least recently is evicted.
    public var maxSensors = 10_000
    /// Seconds after which a sensor not heard from is forgotten.
    public var forgetAfter = 7 * 86_400.0

    public init() {}

    public init(section: ConfigSection) throws(ConfigError) {
        var section = section
        lossThreshold = try section.double("loss-threshold", default: lossThreshold, in: 0...1)
        minPackets = try section.int("min-packets", default: minPackets, in: 1...Int.max)
        maxSkew = try section.double("max-skew", default: maxSkew, in: 0.001...86_400)
        skewSamples = try section.int("skew-samples", default: skewSamples, in: 1...100)
        silence = try section.double("silence", default: silence, in: 1...(30 * 86_400))
        maxSensors = try section.int("max-sensors", default: maxSensors, in: 1...1_000_000)
        forgetAfter = try section.double("forget-after", default: forgetAfter, in: 1...(365 * 86_400))
        try section.checkUsed()
        guard forgetAfter > silence else {
            throw ConfigError(
                path: section.path, line: nil, "[health] forget-after (\(forgetAfter)) must exceed silence (\(silence))"
            )
        }
    }
}

/// Sensor health (`sensor-health`: `capture-loss`, `silent`, `spool-drops`, `clock-skew`) from `stats` records and
/// the liveness of every record.
///
/// Stats counters are cumulative since the sensor started; the detector works on differences between consecutive
/// stats of a sensor, and a counter that went down means the sensor restarted (the new values are then counts since
/// that restart). A sensor's first stats record is only a reference: its counters may cover days before the
/// collector started. Loss is `dropped / (received + dropped)` over stats intervals summed until they hold
/// `min-packets`. Clock skew is judged only live (`clock.wall` given): stats are emitted in real time, so their `ts`
/// should be near the collector's clock; samples that arrive faster than their timestamps advance (a spool being
/// replayed after a network cut) are skipped. Silence is judged on `advance(to:)`: live against the wall-clock
/// arrival of the sensor's last record, offline against event time (the sensor's newest record versus the
/// watermark). One episode per (sensor, subtype); when the problem clears the alert is returned once more with
/// `resolved = true`, which ends the episode (a later problem is a new episode with a new id).
public final class SensorHealthDetector: Detector, SensorPresenceObserver {
    public let name = "health"
    public let config: SensorHealthConfig

    private struct Counters {
        var received: UInt64
        var kernel: UInt64
        var interface: UInt64
        var records: UInt64
    }

    private struct Episode {
        var id: String
        var subtype: String
        var raised: Double
        var firstTS: Double
        var lastTS: Double
        var count: Int
        var severity: AlertSeverity
        var message: String
        var detail: [String: AlertValue]
        /// The measure whose growth re-reports the episode (dropped packets, records, |skew|, silent seconds).
        var reported: Double
    }

    private struct SensorState {
        var lastTS: Double
        var lastWall: Double?
        var disconnectedAt: Double?
        var previous: Counters?
        var previousStatsTS: Double?
        var previousStatsWall: Double?
        var lossReceived: UInt64 = 0
        var lossKernel: UInt64 = 0
        var lossInterface: UInt64 = 0
        var restarts = 0
        var skews: [Double] = []
        var episodes: [String: Episode] = [:]
    }

    private var sensors: [String: SensorState] = [:]
    private var evicted: UInt64 = 0

    public init(config: SensorHealthConfig = SensorHealthConfig()) { self.config = config }

    /// Counter resets (sensor restarts) seen for a sensor.
    public func restarts(of sensor: String) -> Int { sensors[sensor]?.restarts ?? 0 }

    /// A sensor's connection closed (live): shown in a later `silent` alert's detail.
    public func sensorDisconnected(_ name: String, at wall: Double) {
        sensors[name]?.disconnectedAt = wall
    }

    /// A sign of life without a record (a heartbeat on the connection): it counts as an arrival for silence.
    public func sensorSeen(_ name: String, at wall: Double) {
        guard var state = sensors[name] else { return }
        state.lastWall = max(state.lastWall ?? wall, wall)
        state.disconnectedAt = nil
        sensors[name] = state
    }

    public func observe(_ record: Record, clock: DetectionClock) -> [AlertRecord] {
        let (sensor, ts) = Self.origin(record)
        guard ts.isFinite else { return [] }
        // Most records: a known sensor, not silent, not stats: its times move on in place (one lookup, no copy; reading
        // `sensors.values[index]` to test for silence copied the state, retaining its arrays, per record).
        if !Self.isStats(record), let index = sensors.index(forKey: sensor),
            Self.moveOn(&sensors.values[index], ts: ts, wall: clock.wall)
        {
            return []
        }
        var state: SensorState
        if let existing = sensors[sensor] {
            state = existing
        } else {
            makeRoom()
            state = SensorState(lastTS: ts)
        }
        var alerts: [AlertRecord] = []
        state.lastTS = max(state.lastTS, ts)
        if let wall = clock.wall { state.lastWall = max(state.lastWall ?? wall, wall) }
        state.disconnectedAt = nil
        if var silent = state.episodes["silent"] {
            silent.lastTS = ts
            alerts.append(resolve(&silent, sensor: sensor))
            state.episodes["silent"] = nil
        }
        if case .stats(let stats) = record {
            alerts += statsAlerts(stats, clock: clock, state: &state)
        }
        sensors[sensor] = state
        return alerts
    }

    /// A record's arrival for a sensor that is not silent, in place; false (nothing changed) when it is silent.
    private static func moveOn(_ state: inout SensorState, ts: Double, wall: Double?) -> Bool {
        guard state.episodes["silent"] == nil else { return false }
        state.lastTS = max(state.lastTS, ts)
        if let wall { state.lastWall = max(state.lastWall ?? wall, wall) }
        state.disconnectedAt = nil
        return true
    }

    /// At the end of the input only the time the records reached has passed: running the clock on (the default)
    /// would make every sensor look silent.
    public func finish(at clock: DetectionClock) -> [AlertRecord] { advance(to: clock) }

    public func advance(to clock: DetectionClock) -> [AlertRecord] {
        var alerts: [AlertRecord] = []
        for name in sensors.keys.sorted() {
            guard var state = sensors[name] else { continue }
            let silentFor: Double
            let mode: String
            if let wall = clock.wall, let lastWall = state.lastWall {
                silentFor = wall - lastWall
                mode = "wall"
            } else if clock.event.isFinite {
                silentFor = clock.event - state.lastTS
                mode = "event"
            } else {
                continue
            }
            if silentFor > config.forgetAfter {
                sensors[name] = nil
                continue
            }
            guard silentFor > config.silence else { continue }
            let now = clock.event.isFinite ? max(clock.event, state.lastTS) : state.lastTS
            var detail: [String: AlertValue] = [
                "silent_for": .double(silentFor), "silence": .double(config.silence),
                "last_seen": .double(state.lastTS),
                "clock": .string(mode), "disconnected": .bool(state.disconnectedAt != nil),
            ]
            if let at = state.disconnectedAt { detail["disconnected_at"] = .double(at) }
            let message =
                "sensor \(name) silent for \(compact(silentFor.rounded())) s (no record for more than "
                + "\(compact(config.silence)) s\(mode == "event" ? " of event time" : ""))"
                + (state.disconnectedAt != nil ? "; its connection closed" : "")
            if var open = state.episodes["silent"] {
                if silentFor >= open.reported * 2 {
                    open.reported = silentFor
                    open.message = message
                    open.detail = detail
                    alerts.append(alert(open, sensor: name))
                    state.episodes["silent"] = open
                }
            } else {
                let episode = Episode(
                    id: AlertID.make(kind: .sensorHealth, key: "health|\(name)|silent", start: state.lastTS),
                    subtype: "silent", raised: now, firstTS: state.lastTS, lastTS: state.lastTS, count: 1,
                    severity: .high, message: message, detail: detail, reported: silentFor)
                state.episodes["silent"] = episode
                alerts.append(alert(episode, sensor: name))
            }
            sensors[name] = state
        }
        return alerts
    }

    public var usage: DetectorUsage {
        let bytes = sensors.reduce(0) { total, entry in
            total + 256 + entry.key.utf8.count + entry.value.skews.count * 8 + entry.value.episodes.count * 512
        }
        return DetectorUsage(name: name, entries: sensors.count, approximateBytes: bytes, evicted: evicted)
    }

    private static func isStats(_ record: Record) -> Bool {
        if case .stats = record { return true }
        return false
    }

    private static func origin(_ record: Record) -> (String, Double) {
        switch record {
        case .flow(let r): return (r.sensor, r.ts)
        case .dns(let r): return (r.sensor, r.ts)
        case .http(let r): return (r.sensor, r.ts)
        case .tls(let r): return (r.sensor, r.ts)
        case .series(let r): return (r.sensor, r.ts)
        case .stats(let r): return (r.sensor, r.ts)
        }
    }

    private func statsAlerts(_ stats: StatsRecord, clock: DetectionClock, state: inout SensorState) -> [AlertRecord] {
        var alerts: [AlertRecord] = []
        let current = Counters(
            received: stats.packetsReceived, kernel: stats.packetsDroppedKernel ?? 0,
            interface: stats.packetsDroppedInterface ?? 0, records: stats.recordsDropped)
        let previousTS = state.previousStatsTS
        let previousWall = state.previousStatsWall
        defer {
            state.previous = current
            state.previousStatsTS = stats.ts
            state.previousStatsWall = clock.wall
        }
        if let previous = state.previous {
            let reset =
                current.received < previous.received || current.kernel < previous.kernel
                || current.interface < previous.interface || current.records < previous.records
            if reset { state.restarts += 1 }
            let base = reset ? Counters(received: 0, kernel: 0, interface: 0, records: 0) : previous
            state.lossReceived = state.lossReceived.saturatingAdd(current.received - base.received)
            state.lossKernel = state.lossKernel.saturatingAdd(current.kernel - base.kernel)
            state.lossInterface = state.lossInterface.saturatingAdd(current.interface - base.interface)
            alerts += captureLoss(stats, &state)
            alerts += spoolDrops(stats, current.records - base.records, total: current.records, &state)
        }
        if let wall = clock.wall {
            // A backlog being replayed arrives much faster than its timestamps advance: its lag is not skew.
            var replayed = false
            if let previousTS, let previousWall, stats.ts > previousTS {
                replayed = wall - previousWall < 0.5 * (stats.ts - previousTS)
            }
            if !replayed {
                state.skews.append(stats.ts - wall)
                if state.skews.count > config.skewSamples {
                    state.skews.removeFirst(state.skews.count - config.skewSamples)
                }
                if state.skews.count >= config.skewSamples, let skew = state.skews.max() {
                    alerts += clockSkew(stats, skew: skew, &state)
                }
            }
        }
        return alerts
    }

    private func captureLoss(_ stats: StatsRecord, _ state: inout SensorState) -> [AlertRecord] {
        let dropped = state.lossKernel.saturatingAdd(state.lossInterface)
        let total = state.lossReceived.saturatingAdd(dropped)
        guard total >= UInt64(config.minPackets) else { return [] }
        let received = state.lossReceived
        let (kernel, interface) = (state.lossKernel, state.lossInterface)
        state.lossReceived = 0
        state.lossKernel = 0
        state.lossInterface = 0
        let loss = Double(dropped) / Double(total)
        guard loss > config.lossThreshold else { return resolveOpen("capture-loss", stats, &state) }
        let percent = fixed(loss * 100, digits: 2)
        let message =
            "sensor \(stats.sensor) capture loss \(percent)%: \(compact(Double(dropped))) of "
            + "\(compact(Double(total))) packets dropped (kernel \(kernel), interface \(interface))"
        let detail: [String: AlertValue] = [
            "loss": .double(loss), "dropped": .int(Int64(clamping: dropped)),
            "received": .int(Int64(clamping: received)),
            "dropped_kernel": .int(Int64(clamping: kernel)), "dropped_interface": .int(Int64(clamping: interface)),
            "threshold": .double(config.lossThreshold),
        ]
        return raiseOrGrow(
            "capture-loss", stats, &state, amount: Int(clamping: dropped), measure: loss,
            severity: loss >= 0.1 ? .high : .medium, message: message, detail: detail)
    }

    private func spoolDrops(_ stats: StatsRecord, _ increase: UInt64, total: UInt64, _ state: inout SensorState)
        -> [AlertRecord]
    {
        guard increase > 0 else { return resolveOpen("spool-drops", stats, &state) }
        let episodeTotal = UInt64(max(0, state.episodes["spool-drops"]?.count ?? 0)).saturatingAdd(increase)
        let message =
            "sensor \(stats.sensor) spool full: \(compact(Double(increase))) records dropped since its last stats "
            + "(\(compact(Double(episodeTotal))) in this episode)"
        let detail: [String: AlertValue] = [
            "records_dropped": .int(Int64(clamping: episodeTotal)), "last_increase": .int(Int64(clamping: increase)),
            "records_dropped_total": .int(Int64(clamping: total)),
        ]
        return raiseOrGrow(
            "spool-drops", stats, &state, amount: Int(clamping: increase), measure: Double(episodeTotal),
            severity: episodeTotal >= 1000 ? .high : .medium, message: message, detail: detail)
    }

    private func clockSkew(_ stats: StatsRecord, skew: Double, _ state: inout SensorState) -> [AlertRecord] {
        guard abs(skew) > config.maxSkew else { return resolveOpen("clock-skew", stats, &state) }
        let direction = skew > 0 ? "ahead of" : "behind"
        let message =
            "sensor \(stats.sensor) clock is \(fixed(abs(skew), digits: 1)) s \(direction) the collector's "
            + "(more than \(fixed(config.maxSkew, digits: 1)) s)"
        let detail: [String: AlertValue] = ["skew": .double(skew), "max_skew": .double(config.maxSkew)]
        return raiseOrGrow(
            "clock-skew", stats, &state, amount: 1, measure: abs(skew),
            severity: abs(skew) > 10 * config.maxSkew ? .high : .medium, message: message, detail: detail)
    }

    /// Opens an episode, or grows the open one and returns it when `measure` reached twice the reported value.
    private func raiseOrGrow(
        _ subtype: String, _ stats: StatsRecord, _ state: inout SensorState, amount: Int, measure: Double,
        severity: AlertSeverity, message: String, detail: [String: AlertValue]
    ) -> [AlertRecord] {
        if var open = state.episodes[subtype] {
            open.count = open.count.saturatingAdd(amount)
            open.lastTS = max(open.lastTS, stats.ts)
            open.severity = max(open.severity, severity)
            let grew = subtype == "spool-drops" || subtype == "capture-loss" ? Double(open.count) : measure
            open.message = message
            open.detail = detail
            var alerts: [AlertRecord] = []
            if grew >= open.reported * 2 {
                open.reported = grew
                alerts.append(alert(open, sensor: stats.sensor))
            }
            state.episodes[subtype] = open
            return alerts
        }
        let episode = Episode(
            id: AlertID.make(kind: .sensorHealth, key: "health|\(stats.sensor)|\(subtype)", start: stats.ts),
            subtype: subtype, raised: stats.ts, firstTS: stats.ts, lastTS: stats.ts, count: amount,
            severity: severity, message: message, detail: detail,
            reported: subtype == "spool-drops" || subtype == "capture-loss" ? Double(amount) : measure)
        state.episodes[subtype] = episode
        return [alert(episode, sensor: stats.sensor)]
    }

    private func resolveOpen(_ subtype: String, _ stats: StatsRecord, _ state: inout SensorState) -> [AlertRecord] {
        guard var open = state.episodes[subtype] else { return [] }
        open.lastTS = max(open.lastTS, stats.ts)
        state.episodes[subtype] = nil
        return [resolve(&open, sensor: stats.sensor)]
    }

    private func resolve(_ episode: inout Episode, sensor: String) -> AlertRecord {
        episode.detail["resolved"] = .bool(true)
        episode.message += " (resolved)"
        return alert(episode, sensor: sensor)
    }

    private func makeRoom() {
        guard sensors.count >= config.maxSensors else { return }
        let victim = sensors.min { a, b in
            a.value.lastTS != b.value.lastTS ? a.value.lastTS < b.value.lastTS : a.key < b.key
        }
        if let victim {
            sensors[victim.key] = nil
            evicted += 1
        }
    }

    private func alert(_ episode: Episode, sensor: String) -> AlertRecord {
        var detail = episode.detail
        if detail["resolved"] == nil { detail["resolved"] = .bool(false) }
        return AlertRecord(
            ts: episode.raised, id: episode.id, kind: .sensorHealth, subtype: episode.subtype,
            severity: episode.severity, src: nil, targets: [sensor], ports: [], firstTS: episode.firstTS,
            lastTS: episode.lastTS, sensors: [sensor], count: episode.count, message: episode.message, detail: detail)
    }
}
