import Capture
import Flows
import Packets
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A live capture on several cores (`--workers N`): N libpcap handles on the interface, joined into one Linux
/// `PACKET_FANOUT` group that spreads packets by a flow-symmetric hash, each read and decoded by a
/// `SensorPipeline` of its own (its own reading thread, decoding thread and flow table), and one record stream
/// out through `sink` (`FanoutSink`).
///
/// Packets are counted once: a handle receives every packet of the interface from its activation until it joins
/// the group, while the group (the handles that joined before it) receives them too. The handles are opened and
/// joined one after another, and each discards what it stamped before its own join (plus a margin for a delivery
/// still under way as the join returns, `joinMargin`); the first handle discards nothing, since no group existed
/// before it joined. Its socket's kernel counters start at its join as well. What was discarded is counted per
/// worker (`discarded_before_join`).
public final class FanoutPipeline {
    public let options: CaptureOptions
    private let flow: FlowConfig
    private let sink: any RecordSink
    /// Runs once every handle is open and in the group, before the first packet: where the sensor drops its
    /// privileges.
    public var onCaptureOpened: (() throws -> Void)?

    /// Seconds after a handle's join before which its packets are discarded: a packet the kernel was delivering
    /// to the socket through its own hook while the join replaced that hook may be stamped just after the join
    /// returns (the kernel does not wait for such deliveries).
    static let joinMargin = 0.002
    /// The most workers (`--workers`).
    public static let maxWorkers = 64

    public init(options: CaptureOptions, flow: FlowConfig, sink: any RecordSink) {
        self.options = options
        self.flow = flow
        self.sink = sink
    }

    /// The flow table settings of worker `index` of `count`: `--max-flows` shared out, and with a fixed uid seed
    /// (tests) a seed of its own per worker, so uids never repeat across workers (worker 0 keeps the seed, as one
    /// worker would). Without a seed every table draws its own at random.
    public static func workerConfig(_ flow: FlowConfig, worker index: Int, of count: Int) -> FlowConfig {
        var config = flow
        config.maxFlows = max(1, (flow.maxFlows + count - 1) / count)
        if let seed = flow.uidSeed, index > 0 {
            // SplitMix64's output function: seeds one apart give unrelated uid streams.
            var z = seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            config.uidSeed = z ^ (z >> 31)
        }
        return config
    }

    /// Opens the handles, joins them into one group, and captures until `requestStop()` (or SIGTERM/SIGINT); then
    /// every worker flushes its open flows and the merged stream ends with one final `stats` record.
    public func run() throws -> RunSummary {
        guard let interface = options.interface else { return RunSummary() }
        let count = max(1, options.workers)
        var handles: [(handle: PcapHandle, cutoff: Double?)] = []
        var linkType = LinkType.ethernet
        var group: UInt16?
        for index in 0..<count {
            let handle = try PcapHandle.openLive(interface: interface, options: options.live)
            if let filter = options.filter { try handle.setFilter(filter) }
            guard let type = LinkType(rawValue: handle.linkTypeValue) else {
                throw CaptureError.unsupportedLinkType(
                    source: interface, linkType: handle.linkTypeValue, name: handle.linkTypeName)
            }
            linkType = type
            try handle.setNonBlocking()
            if index > 0 && options.joinDelay > 0 { usleep(UInt32(options.joinDelay * 1e6)) }
            group = try handle.joinFanout(group: group)
            handle.resetCounters()
            let cutoff = index == 0 ? nil : CaptureClock.wallClockSeconds() + Self.joinMargin
            handles.append((handle, cutoff))
        }
        try onCaptureOpened?()

        let merged = FanoutSink(
            sink: sink, workers: count, statsInterval: options.statsInterval, sensor: flow.sensor, source: interface)
        var workerOptions = options
        // Each worker's own stats records would be partial: the merged sink writes the sums.
        workerOptions.statsInterval = .infinity
        let workers = handles.indices.map { index in
            let output = WorkerSink()
            let pipeline = SensorPipeline(
                options: workerOptions, flow: Self.workerConfig(flow, worker: index, of: count), sink: output)
            pipeline.discardBefore = handles[index].cutoff
            pipeline.shouldStop = { [merged] in
                SensorPipeline.stopFlag() || merged.failed.load(ordering: .relaxed)
            }
            pipeline.onBatch = { [unowned pipeline, merged] in
                merged.deliver(
                    worker: index, records: output.take(), watermark: pipeline.table.now,
                    snapshot: WorkerSnapshot(pipeline, stats: pipeline.stats(ts: pipeline.table.now, final: false)))
            }
            return (pipeline: pipeline, output: output)
        }

        let started = CaptureClock.monotonicSeconds()
        let results = WorkerThreads.run(count: count, failed: { merged.failed.store(true, ordering: .relaxed) }) {
            index in
            let worker = workers[index]
            do {
                let summary = try worker.pipeline.runLive(handles[index].handle, linkType: linkType)
                let final =
                    worker.output.finalStats ?? worker.pipeline.stats(ts: worker.pipeline.table.now, final: true)
                merged.deliver(
                    worker: index, records: worker.output.take(), watermark: .infinity,
                    snapshot: WorkerSnapshot(worker.pipeline, stats: final))
                return .success(summary)
            } catch {
                merged.failed.store(true, ordering: .relaxed)
                return .failure(error)
            }
        }
        var summary = RunSummary()
        for result in results {
            let one = try result.get()
            summary.packets += one.packets
            summary.bytes += one.bytes
            summary.decodeErrors += one.decodeErrors
            summary.flowsCreated += one.flowsCreated
            summary.warnings += one.warnings
            for (name, value) in one.weird { summary.weird[name, default: 0] += value }
        }
        merged.finish()
        summary.seconds = CaptureClock.monotonicSeconds() - started
        try sink.finish()
        return summary
    }
}

/// What a worker reports besides its records: its `stats` counters and its socket's.
struct WorkerSnapshot {
    var stats: StatsRecord
    var kernel: CaptureCounters?
    var discardedBeforeJoin: UInt64

    init(stats: StatsRecord, kernel: CaptureCounters?, discardedBeforeJoin: UInt64) {
        self.stats = stats
        self.kernel = kernel
        self.discardedBeforeJoin = discardedBeforeJoin
    }

    init(_ pipeline: SensorPipeline, stats: StatsRecord) {
        self.stats = stats
        self.kernel = pipeline.liveCounters
        self.discardedBeforeJoin = pipeline.discardedBeforeJoin
    }
}

/// A worker's records between two deliveries to the `FanoutSink`; the worker's thread alone uses it.
final class WorkerSink: RecordSink {
    private var records: [Record] = []
    /// The worker's final `stats` record (its own counters, summed into the merged one).
    private(set) var finalStats: StatsRecord?

    func write(_ record: Record) {
        if case .stats(let stats) = record {
            if stats.final { finalStats = stats }
            return
        }
        records.append(record)
    }

    /// The records written since the last call.
    func take() -> [Record] {
        defer { records.removeAll(keepingCapacity: true) }
        return records
    }

    func finish() {}
}

/// Runs `count` bodies, each on a thread of its own (never a cooperative-pool thread: they block in libpcap and on
/// their readers), and returns their results in order once all have ended. A thread that cannot start is that
/// body's failure, and `failed` is called so that the others stop.
enum WorkerThreads {
    final class Slot: @unchecked Sendable {
        let index: Int
        let body: (Int) -> Result<RunSummary, any Error>
        var result: Result<RunSummary, any Error>?
        init(index: Int, body: @escaping (Int) -> Result<RunSummary, any Error>) {
            self.index = index
            self.body = body
        }
    }

    static func run(
        count: Int, failed: () -> Void, _ body: @escaping (Int) -> Result<RunSummary, any Error>
    ) -> [Result<RunSummary, any Error>] {
        let slots = (0..<count).map { Slot(index: $0, body: body) }
        var threads: [pthread_t] = []
        for slot in slots {
            #if canImport(Glibc)
                var thread = pthread_t()
            #else
                var thread: pthread_t?
            #endif
            let context = Unmanaged.passRetained(slot).toOpaque()
            let status = pthread_create(
                &thread, nil,
                { raw in
                    guard let raw else { return nil }
                    let slot = Unmanaged<Slot>.fromOpaque(raw).takeRetainedValue()
                    slot.result = slot.body(slot.index)
                    return nil
                }, context)
            if status == 0 {
                #if canImport(Glibc)
                    threads.append(thread)
                #else
                    if let thread { threads.append(thread) }
                #endif
            } else {
                // No thread: that worker fails, and the others are told to stop.
                Unmanaged<Slot>.fromOpaque(context).release()
                slot.result = .failure(
                    CaptureError.readFailed(
                        source: "worker \(slot.index)",
                        reason: "cannot start its thread: \(String(cString: strerror(status)))"))
                failed()
            }
        }
        for thread in threads { pthread_join(thread, nil) }
        return slots.map { $0.result ?? .failure(CaptureError.readFailed(source: "worker", reason: "did not run")) }
    }
}
