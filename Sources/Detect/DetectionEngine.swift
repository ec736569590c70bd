import Config
import Flows

/// Runs every detector over the records of every sensor on one event-time clock, as the collector's ingest and
/// `wirewatch analyze` do, and returns each episode's newest version of its alert.
///
/// Event time is the records' packet time. Records from several sensors interleave, and a flow record is emitted
/// when its flow ends although its `ts` is the start, so the engine keeps a watermark: the newest event time seen
/// (a flow's end, an interval's end) minus `lateness`. Detectors may treat anything older than the watermark as
/// complete. The watermark never moves backwards, so a sensor whose clock runs behind cannot rewind it.
///
/// Not thread-safe: one owner (the collector's detection queue, or the analyze loop) drives it.
public final class DetectionEngine {
    public let detectors: [any Detector]
    public let lateness: Double
    /// Live: how far ahead of the collector's clock a record's time may be and still move event time.
    public let maximumFuture: Double
    /// Records whose time was too far ahead of the collector's clock to move event time (observed all the same).
    public private(set) var futureRecords: UInt64 = 0
    private var newest = -Double.infinity
    private var watermark = -Double.infinity
    /// Records observed so far.
    public private(set) var records: UInt64 = 0
    /// Distinct episodes (alert ids) raised so far, by kind.
    public private(set) var episodesByKind: [AlertKind: Int] = [:]
    private var seenIDs: Set<String> = []
    /// The ids of the last call's alerts that were raised for the first time (the others are grown episodes).
    public private(set) var newIDs: Set<String> = []
    /// Ids remembered to tell a new episode from a grown one; past it they are forgotten at once, so a grown
    /// episode may count as new once more, nothing worse.
    static let maximumRememberedIDs = 100_000

    public init(
        detectors: [any Detector], lateness: Double = EngineConfig().lateness,
        maximumFuture: Double = EngineConfig().maximumFuture
    ) {
        self.detectors = detectors
        self.lateness = lateness
        self.maximumFuture = maximumFuture
    }

    /// The event-time watermark the detectors were last advanced to (-infinity before any record).
    public var eventWatermark: Double { watermark }

    /// Observes `batch` in order, then advances the detectors to the new watermark; `wall` is the collector's
    /// clock when the batch arrived (nil offline). Returns the alerts raised or grown, newest version of each.
    public func process(_ batch: [Record], wall: Double? = nil) -> [AlertRecord] {
        var raised: [AlertRecord] = []
        // One copy of each record, lent to every detector: an array element passed to each detector would be copied
        // (and every string in it retained) once per detector.
        for record in batch {
            records += 1
            let time = Self.eventTime(of: record)
            // The watermark never moves back, so one record from a clock far ahead (a sensor before NTP, a bogus
            // duration) would expire every detector's state for good: live, such a time does not move it.
            if let wall, time > wall + maximumFuture {
                futureRecords += 1
            } else if time.isFinite && time > newest {
                newest = time
            }
            let clock = DetectionClock(event: watermark, wall: wall)
            for detector in detectors { raised += detector.observe(record, clock: clock) }
        }
        if newest.isFinite && newest - lateness > watermark { watermark = newest - lateness }
        return collect(raised + advanceAll(wall: wall))
    }

    /// Time passed without records (the collector's periodic tick): wall-clock checks such as a silent sensor.
    public func tick(wall: Double) -> [AlertRecord] {
        collect(advanceAll(wall: wall))
    }

    /// The input ended (offline): every record has arrived, so the watermark moves to the newest event time.
    public func finish() -> [AlertRecord] {
        if newest.isFinite && newest > watermark { watermark = newest }
        guard watermark.isFinite else { return [] }
        let clock = DetectionClock(event: watermark)
        return collect(detectors.flatMap { $0.finish(at: clock) })
    }

    /// A sensor's connection closed (live): detectors that care note it (a later `silent` alert says so).
    public func sensorDisconnected(_ name: String, wall: Double) {
        for case let observer as any SensorPresenceObserver in detectors { observer.sensorDisconnected(name, at: wall) }
    }

    /// A sign of life without a record (a heartbeat): it counts as an arrival for silence.
    public func sensorSeen(_ name: String, wall: Double) {
        for case let observer as any SensorPresenceObserver in detectors { observer.sensorSeen(name, at: wall) }
    }

    /// Each detector's state, for metrics and the memory benchmark.
    public var usage: [DetectorUsage] { detectors.map(\.usage) }

    private func advanceAll(wall: Double?) -> [AlertRecord] {
        guard watermark.isFinite || wall != nil else { return [] }
        let clock = DetectionClock(event: watermark, wall: wall)
        return detectors.flatMap { $0.advance(to: clock) }
    }

    /// Keeps the last version of each id, in the order the ids first appeared, and counts new episodes.
    private func collect(_ raised: [AlertRecord]) -> [AlertRecord] {
        newIDs = []
        guard !raised.isEmpty else { return [] }
        var position: [String: Int] = [:]
        var out: [AlertRecord] = []
        for alert in raised {
            if let index = position[alert.id] {
                out[index] = alert
            } else {
                position[alert.id] = out.count
                out.append(alert)
            }
            if !seenIDs.contains(alert.id) && !newIDs.contains(alert.id) {
                episodesByKind[alert.kind, default: 0] += 1
                newIDs.insert(alert.id)
                if seenIDs.count >= Self.maximumRememberedIDs { seenIDs.removeAll() }
                seenIDs.insert(alert.id)
            }
        }
        return out
    }

    /// When the evidence in a record ends: a flow's last packet, the end of a series interval, else its `ts`.
    public static func eventTime(of record: Record) -> Double {
        switch record {
        // Durations and intervals are capped at a day: a bogus one must not throw event time far ahead.
        case .flow(let flow): return flow.ts + min(max(0, flow.duration), 86_400)
        case .series(let series): return series.ts + min(max(0, series.interval), 86_400)
        case .dns(let dns): return dns.ts
        case .http(let http): return http.ts
        case .tls(let tls): return tls.ts
        case .stats(let stats): return stats.ts
        }
    }
}

/// The engine's own parameters (section `[engine]`).
public struct EngineConfig: Hashable, Sendable {
    /// How far behind the newest event time records may still arrive (other sensors' clocks, flows emitted when
    /// they end): detectors treat time before `newest - lateness` as complete.
    public var lateness: Double = 60
    /// Live, a record more than this many seconds ahead of the collector's clock does not move event time.
    public var maximumFuture: Double = 300

    public init() {}

    public init(section: ConfigSection) throws(ConfigError) {
        var section = section
        lateness = try section.double("lateness", default: lateness, in: 0...3600)
        maximumFuture = try section.double("max-future", default: maximumFuture, in: 1...86_400 * 365)
        try section.checkUsed()
    }
}
