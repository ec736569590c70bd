import Flows

/// One detector of the collector (and of `wirewatch analyze`): it consumes records in roughly event-time order and
/// returns the alerts it raised or grew. An episode keeps one `AlertRecord.id` for its whole life, so returning the
/// same id again means "this alert grew" and the store replaces it (DESIGN.md "Detection semantics").
///
/// Detectors run on event time (the records' packet timestamps). Records from several sensors whose clocks differ
/// slightly, and flow records that are emitted when a flow ends (their `ts` is its start), arrive out of order by up
/// to the engine's allowed lateness; `advance(to:)` is the watermark telling a detector that nothing older than
/// `clock.event` minus that lateness is still to come.
///
/// A detector's state is bounded: it expires state on `advance(to:)` and holds at most its configured number of
/// entries, evicting the oldest beyond that and counting the evictions in `usage` (never silently).
public protocol Detector: AnyObject {
    /// The detector's name in the config file's section, counters and docs (`scan`, `dns`, `volume`, ...).
    var name: String { get }
    /// Feeds one record; `clock.wall` is when the collector received it (nil offline).
    func observe(_ record: Record, clock: DetectionClock) -> [AlertRecord]
    /// Time moved on: close or raise what depends on time passing (a probe left unanswered, a silent sensor),
    /// expire state older than the detector's windows.
    func advance(to clock: DetectionClock) -> [AlertRecord]
    /// The input ended (offline: `wirewatch analyze`): nothing more will come, so every window may close and every
    /// held-back update of an episode is returned. `clock.event` is the newest event time seen.
    func finish(at clock: DetectionClock) -> [AlertRecord]
    /// State held now and evicted so far.
    var usage: DetectorUsage { get }
}

extension Detector {
    /// By default the end of the input is time running on far past the last record: every window closes.
    public func finish(at clock: DetectionClock) -> [AlertRecord] {
        advance(to: DetectionClock(event: clock.event + Self.finishHorizon, wall: clock.wall))
    }

    /// How far past the last record `finish(at:)` runs the clock by default: a year, longer than any window.
    public static var finishHorizon: Double { 365 * 86_400 }
}

/// A detector that also learns from the collector's connections, not only from records: a sensor whose connection
/// closed, or that showed a sign of life without a record (a heartbeat).
public protocol SensorPresenceObserver: AnyObject {
    func sensorDisconnected(_ name: String, at wall: Double)
    func sensorSeen(_ name: String, at wall: Double)
}

/// The times a detector may look at: event time (the watermark of packet timestamps: the newest record time seen,
/// minus the allowed lateness) and, live, the collector's wall clock (nil offline, where only event time exists).
public struct DetectionClock: Hashable, Sendable {
    public var event: Double
    public var wall: Double?

    public init(event: Double, wall: Double? = nil) {
        self.event = event
        self.wall = wall
    }
}

/// How much state a detector holds: entries (sources, clients, sensors, ...) now, an estimate of their bytes, and
/// entries evicted because a cap was reached.
public struct DetectorUsage: Hashable, Sendable {
    public var name: String
    public var entries: Int
    public var approximateBytes: Int
    public var evicted: UInt64

    public init(name: String, entries: Int, approximateBytes: Int, evicted: UInt64) {
        self.name = name
        self.entries = entries
        self.approximateBytes = approximateBytes
        self.evicted = evicted
    }
}

/// Alert ids: stable for an episode, short, and the same on every run over the same input (so `analyze` twice
/// gives the same ids, and a live collector's updates replace the stored alert).
public enum AlertID {
    /// `kind` prefix + 16 hex digits of FNV-1a over the episode key and its start time in microseconds.
    public static func make(kind: AlertKind, key: String, start: Double) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        for byte in key.utf8 { mix(byte) }
        mix(0)
        let micros = Int64(saturating: (start * 1_000_000).rounded())
        withUnsafeBytes(of: micros.littleEndian) { for byte in $0 { mix(byte) } }
        let hex = String(hash, radix: 16)
        return kind.rawValue + "-" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}

extension Int64 {
    /// `value` as an integer, clamped to the representable range (NaN gives 0): record fields come from sensors, and
    /// a conversion that traps on a huge or non-finite value would take the collector down.
    public init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 9_223_372_036_854_775_808.0 {  // 2^63: the first Double past Int64.max
            self = .max
        } else if value <= -9_223_372_036_854_775_808 {
            self = .min
        } else {
            self = Int64(value)
        }
    }
}

extension FixedWidthInteger {
    /// `self + other`, stopping at the type's maximum (counters a sensor sends may be anything).
    public func saturatingAdd(_ other: Self) -> Self {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other < 0 ? .min : .max) : sum
    }
}
