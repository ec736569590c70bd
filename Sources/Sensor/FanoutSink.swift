import Capture
import Flows
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one record stream of a `FanoutPipeline`'s workers. Each worker hands over its records after every batch
/// (one lock per batch, not per record); they go to the real sink in the order each worker made them, so a
/// shipping sink numbers one gap-free sequence. Two kinds are merged rather than passed on:
///
/// - `series`: one record per interval, as with one worker. Worker records of the same interval are summed and
///   written once every worker's packet time has passed the interval's end (a worker rolls its interval over at
///   its first packet or idle notice after the end, so no worker can add to it later), or when all have ended.
/// - `stats`: the workers write none of their own; each reports its counters with its batches, and the sums are
///   written every `statsInterval` of packet time (once every worker has reached it) and once at the end, with
///   each worker's own counters under `workers`.
final class FanoutSink: @unchecked Sendable {
    private let sink: any RecordSink
    private let statsInterval: Double
    private let sensor: String
    private let source: String
    /// Set when a worker failed: the others stop.
    let failed = Atomic<Bool>(false)

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    // Guarded by `mutex`.
    /// Each worker's packet time (its flow table's clock); infinity once it ended.
    private var watermarks: [Double]
    private var snapshots: [WorkerSnapshot?]
    /// Series records waiting for every worker's part, by interval start.
    private var pendingSeries: [Double: SeriesRecord] = [:]
    private var nextStats: Double?
    private var lastFlush = CaptureClock.monotonicSeconds()

    init(sink: any RecordSink, workers: Int, statsInterval: Double, sensor: String, source: String) {
        self.sink = sink
        self.statsInterval = statsInterval
        self.sensor = sensor
        self.source = source
        watermarks = Array(repeating: 0, count: workers)
        snapshots = Array(repeating: nil, count: workers)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Worker `worker`'s records since its last delivery, its packet time (infinity when it has ended) and its
    /// counters.
    func deliver(worker: Int, records: [Record], watermark: Double, snapshot: WorkerSnapshot) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        for record in records {
            switch record {
            case .series(let series): merge(series)
            case .stats: break  // the workers' own are partial; see `WorkerSink`
            default: sink.write(record)
            }
        }
        watermarks[worker] = max(watermarks[worker], watermark)
        snapshots[worker] = snapshot
        let low = watermarks.min() ?? 0
        writeCompleteSeries(before: low)
        if nextStats == nil, watermark > 0, watermark.isFinite { nextStats = watermark + statsInterval }
        if let due = nextStats, low >= due, low.isFinite {
            nextStats = low + statsInterval
            sink.write(.stats(summedStats(ts: low, final: false)))
        }
        let clock = CaptureClock.monotonicSeconds()
        if clock - lastFlush >= 1 {
            lastFlush = clock
            sink.flush()
        }
    }

    /// After every worker ended: the remaining series intervals, then the final `stats` record.
    func finish() {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        writeCompleteSeries(before: .infinity)
        let ts = snapshots.compactMap { $0?.stats.ts }.max() ?? 0
        sink.write(.stats(summedStats(ts: ts, final: true)))
    }

    private func merge(_ record: SeriesRecord) {
        guard var sum = pendingSeries[record.ts] else {
            pendingSeries[record.ts] = record
            return
        }
        sum.packets &+= record.packets
        sum.bytes &+= record.bytes
        sum.flows &+= record.flows
        for (name, counters) in record.perProtocol {
            var total = sum.perProtocol[name] ?? counters
            if sum.perProtocol[name] != nil {
                total.packets &+= counters.packets
                total.bytes &+= counters.bytes
                total.flows &+= counters.flows
            }
            sum.perProtocol[name] = total
        }
        pendingSeries[record.ts] = sum
    }

    /// Writes, oldest first, the merged intervals that end at or before `time`.
    private func writeCompleteSeries(before time: Double) {
        guard !pendingSeries.isEmpty else { return }
        let complete = pendingSeries.keys.filter { start in
            guard let record = pendingSeries[start] else { return false }
            return start + record.interval <= time
        }
        for start in complete.sorted() {
            if let record = pendingSeries.removeValue(forKey: start) { sink.write(.series(record)) }
        }
    }

    /// The workers' counters summed, with each worker's own.
    private func summedStats(ts: Double, final: Bool) -> StatsRecord {
        var total = StatsRecord(
            ts: ts, sensor: sensor, source: source, packetsReceived: 0, packetsDroppedKernel: nil,
            packetsDroppedInterface: nil, bytesReceived: 0, nonIPPackets: 0, truncatedPackets: 0, decodeErrors: 0,
            fragments: 0, fragmentsReassembled: 0, fragmentsExpired: 0, flowTableSize: 0, flowsCreated: 0,
            flowsEvicted: 0, recordsDropped: 0, spoolBytes: 0, weird: [:], final: final)
        for (index, snapshot) in snapshots.enumerated() {
            guard let snapshot else {
                total.workers.append(
                    WorkerStats(
                        worker: index, packetsReceived: 0, kernelReceived: nil, packetsDroppedKernel: nil,
                        packetsDroppedInterface: nil, discardedBeforeJoin: 0))
                continue
            }
            let s = snapshot.stats
            total.packetsReceived &+= s.packetsReceived
            if let dropped = snapshot.kernel?.droppedByKernel {
                total.packetsDroppedKernel = (total.packetsDroppedKernel ?? 0) &+ dropped
            }
            if let dropped = snapshot.kernel?.droppedByInterface {
                total.packetsDroppedInterface = (total.packetsDroppedInterface ?? 0) &+ dropped
            }
            total.bytesReceived &+= s.bytesReceived
            total.nonIPPackets &+= s.nonIPPackets
            total.truncatedPackets &+= s.truncatedPackets
            total.decodeErrors &+= s.decodeErrors
            total.fragments &+= s.fragments
            total.fragmentsReassembled &+= s.fragmentsReassembled
            total.fragmentsExpired &+= s.fragmentsExpired
            total.flowTableSize &+= s.flowTableSize
            total.flowsCreated &+= s.flowsCreated
            total.flowsEvicted &+= s.flowsEvicted
            for (name, value) in s.weird { total.weird[name, default: 0] &+= value }
            total.workers.append(
                WorkerStats(
                    worker: index, packetsReceived: s.packetsReceived, kernelReceived: snapshot.kernel?.received,
                    packetsDroppedKernel: snapshot.kernel?.droppedByKernel,
                    packetsDroppedInterface: snapshot.kernel?.droppedByInterface,
                    discardedBeforeJoin: snapshot.discardedBeforeJoin))
        }
        return total
    }
}
