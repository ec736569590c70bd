import Detect
import Flows
import Foundation
import Prometheus
import Synchronization

/// What the collector did, for logs, tests and the Prometheus endpoint. Counters are kept in a swift-prometheus
/// registry as things happen; gauges that describe the present (lag, database size, detector state) are set when
/// the endpoint is scraped.
public final class CollectorMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry = PrometheusCollectorRegistry()
    private let recordsStored = Atomic<Int>(0)
    private let batchesStored = Atomic<Int>(0)
    private let sensorsConnected = Atomic<Int>(0)
    private let connectionsRefused = Atomic<Int>(0)
    private let recordsImpossible = Atomic<Int>(0)
    private let frameBytes = Atomic<Int>(0)
    private let alertsNew = Mutex<[AlertKind: Int]>([:])
    /// The newest event time (packet time) of the records stored so far, as its bit pattern (-infinity: none).
    private let newestEvent = Atomic<UInt64>((-Double.infinity).bitPattern)

    private let recordsCounter: Counter
    private let batchesCounter: Counter
    private let bytesCounter: Counter
    private let refusedCounter: Counter
    private let impossibleCounter: Counter
    private let sensorsGauge: Gauge
    private let alertCounters: [AlertKind: Counter]
    private let alertUpdatesCounter: Counter

    public init() {
        recordsCounter = registry.makeCounter(
            descriptor: Self.name("records_ingested", "total", "Records stored (replays not counted)."))
        batchesCounter = registry.makeCounter(descriptor: Self.name("batches_ingested", "total", "Batches stored."))
        bytesCounter = registry.makeCounter(
            descriptor: Self.name("frame_received", "bytes_total", "Bytes of frames received after Hello."))
        refusedCounter = registry.makeCounter(
            descriptor: Self.name(
                "connections_refused", "total", "Connections refused or closed for a protocol error."))
        impossibleCounter = registry.makeCounter(
            descriptor: Self.name(
                "records_refused", "total", "Records dropped at ingest because no sensor can produce their values."))
        sensorsGauge = registry.makeGauge(descriptor: Self.name("sensors_connected", "", "Sensors connected now."))
        var counters: [AlertKind: Counter] = [:]
        for kind in AlertKind.allCases {
            counters[kind] = registry.makeCounter(
                descriptor: Self.name("alerts", "total", "Alert episodes raised, by kind."),
                labels: [("kind", kind.rawValue)])
        }
        alertCounters = counters
        alertUpdatesCounter = registry.makeCounter(
            descriptor: Self.name("alert_updates", "total", "Updates of alert episodes that grew."))
    }

    /// `wirewatch_NAME_UNIT` with its help text.
    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "wirewatch", metricName: metric, unitName: unit, helpText: help)
    }

    public var records: Int { recordsStored.load(ordering: .relaxed) }
    public var batches: Int { batchesStored.load(ordering: .relaxed) }
    public var connectedSensors: Int { sensorsConnected.load(ordering: .relaxed) }
    public var refusedConnections: Int { connectionsRefused.load(ordering: .relaxed) }
    /// Records dropped at ingest as impossible (`RecordLimits`); the rest of their batches were stored.
    public var refusedRecords: Int { recordsImpossible.load(ordering: .relaxed) }
    /// Bytes of every frame received after Hello (batches and heartbeats), length prefixes included.
    public var bytesReceived: Int { frameBytes.load(ordering: .relaxed) }
    /// Episodes announced so far, by kind (grown episodes are counted in `wirewatch_alert_updates_total`).
    public var alertsByKind: [AlertKind: Int] { alertsNew.withLock { $0 } }
    /// The newest packet time among the stored records; nil before any.
    public var newestEventTime: Double? {
        let value = Double(bitPattern: newestEvent.load(ordering: .relaxed))
        return value.isFinite ? value : nil
    }

    func stored(records count: Int) {
        recordsStored.add(count, ordering: .relaxed)
        batchesStored.add(1, ordering: .relaxed)
        recordsCounter.increment(by: Int64(count))
        batchesCounter.increment()
    }

    func received(frameBytes count: Int) {
        frameBytes.add(count, ordering: .relaxed)
        bytesCounter.increment(by: Int64(count))
    }

    func connected() { sensorsGauge.set(Double(sensorsConnected.add(1, ordering: .relaxed).newValue)) }
    func disconnected() { sensorsGauge.set(Double(sensorsConnected.subtract(1, ordering: .relaxed).newValue)) }

    func refused(records count: Int) {
        recordsImpossible.add(count, ordering: .relaxed)
        impossibleCounter.increment(by: Int64(count))
    }

    func refused() {
        connectionsRefused.add(1, ordering: .relaxed)
        refusedCounter.increment()
    }

    /// Notes the event times of a stored batch (for the ingest lag).
    func storedEvents(_ records: [Record]) {
        var newest = -Double.infinity
        for record in records { newest = max(newest, DetectionEngine.eventTime(of: record)) }
        guard newest.isFinite else { return }
        var current = newestEvent.load(ordering: .relaxed)
        while Double(bitPattern: current) < newest {
            let (exchanged, original) = newestEvent.compareExchange(
                expected: current, desired: newest.bitPattern, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
    }

    func alerted(_ published: [PublishedAlert]) {
        alertsNew.withLock { counts in
            for item in published where !item.updated { counts[item.alert.kind, default: 0] += 1 }
        }
        for item in published {
            if item.updated {
                alertUpdatesCounter.increment()
            } else {
                alertCounters[item.alert.kind]?.increment()
            }
        }
    }
}
