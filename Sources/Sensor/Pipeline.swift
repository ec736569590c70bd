import Capture
import Flows
import Packets
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Set by SIGTERM/SIGINT; the capture loop checks it between reads and then flushes every open flow.
let stopRequested = Atomic<Bool>(false)

/// Asks a running pipeline to stop (what the signal handlers do).
public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

/// Installs SIGTERM and SIGINT handlers that make the capture loop stop and flush. The signals are also unblocked:
/// a process started from a thread that blocks them (Swift concurrency workers do) would otherwise never see them.
public func installStopSignalHandlers() {
    signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
    signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGTERM)
    sigaddset(&set, SIGINT)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

/// What to capture from and how.
public struct CaptureOptions: Sendable {
    public var files: [String] = []
    public var interface: String?
    public var filter: String?
    public var live = LiveOptions()
    /// Seconds of packet time between `stats` records (a final one is always written).
    public var statsInterval: Double = 60
    /// Live capture: handles in one `PACKET_FANOUT` group, each with its own decode and flow table
    /// (`FanoutPipeline`). Files are always read by one.
    public var workers = 1
    /// Seconds each fanout handle after the first waits between its activation and its join (tests: it widens
    /// the window in which the handle receives packets the group receives too).
    public var joinDelay: Double = 0
    public init() {}
}

/// A one-line warning about input that was still processed (a capture cut mid-packet, say).
public struct Warning: Sendable, Hashable, CustomStringConvertible {
    public var source: String
    public var message: String
    public var description: String { "\(source): warning: \(message)" }
}

/// Totals of one run.
public struct RunSummary: Sendable {
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    public var decodeErrors: UInt64 = 0
    public var flowsCreated: UInt64 = 0
    public var warnings: [Warning] = []
    public var seconds: Double = 0
    public var weird: [String: UInt64] = [:]

    public init() {}
}

/// capture → decode → flow table → sink: libpcap reads on a thread of the pipeline's own (`CaptureReader`), and
/// everything after it runs on the calling thread (which must not be a cooperative-pool thread: it waits for the
/// reader's batches).
public final class SensorPipeline {
    public let options: CaptureOptions
    public let table: FlowTable
    private let intake: PacketIntake
    private let sink: any RecordSink
    private var summary = RunSummary()
    private var truncatedPackets: UInt64 = 0
    private var nextStats: Double?
    private var source = ""
    /// The kernel's counters of the live handle, as last read.
    private(set) var liveCounters: CaptureCounters?
    /// A fanout worker's: packets stamped before this time (wall clock) reached its socket before it joined the
    /// group, and the group has them too; they are discarded (counted apart). Nil once none can follow.
    var discardBefore: Double?
    private(set) var discardedBeforeJoin: UInt64 = 0
    /// A fanout worker's: runs after each batch (and idle notice) is processed.
    var onBatch: (() -> Void)?
    /// What the capture reader polls to stop; a fanout worker's also stops when another worker failed.
    var shouldStop: @Sendable () -> Bool = SensorPipeline.stopFlag
    /// Runs once the capture is open (files opened, or the interface opened with its filter), before the first
    /// packet: where the sensor drops its privileges.
    public var onCaptureOpened: (() throws -> Void)?

    public init(options: CaptureOptions, flow: FlowConfig, sink: any RecordSink) {
        self.options = options
        self.sink = sink
        self.table = FlowTable(config: flow, emit: { sink.write($0) })
        self.intake = PacketIntake(table: table)
    }

    /// Opens every input first, so that a bad file or filter fails before any record is written.
    public func openFiles() throws(CaptureError) -> [(PcapHandle, LinkType)] {
        var handles: [(PcapHandle, LinkType)] = []
        for path in options.files {
            let handle = try PcapHandle.openOffline(path: path)
            if let filter = options.filter { try handle.setFilter(filter) }
            guard let linkType = LinkType(rawValue: handle.linkTypeValue) else {
                throw .unsupportedLinkType(source: path, linkType: handle.linkTypeValue, name: handle.linkTypeName)
            }
            handles.append((handle, linkType))
        }
        return handles
    }

    /// Reads the capture files in order as one stream of packet time, then flushes every flow.
    public func runFiles() throws -> RunSummary {
        let handles = try openFiles()
        try onCaptureOpened?()
        let started = CaptureClock.monotonicSeconds()
        source = options.files.joined(separator: ",")
        try consume(CaptureReader(handles: handles.map(\.0), live: false, shouldStop: shouldStop)) { index in
            handles[index].1
        }
        finish()
        summary.seconds = CaptureClock.monotonicSeconds() - started
        try sink.finish()
        return summary
    }

    /// Captures from a live interface until `requestStop()` (or SIGTERM/SIGINT), then flushes every open flow.
    public func runLive() throws -> RunSummary {
        guard let interface = options.interface else { return summary }
        let handle = try PcapHandle.openLive(interface: interface, options: options.live)
        if let filter = options.filter { try handle.setFilter(filter) }
        guard let linkType = LinkType(rawValue: handle.linkTypeValue) else {
            throw CaptureError.unsupportedLinkType(
                source: interface, linkType: handle.linkTypeValue, name: handle.linkTypeName)
        }
        try handle.setNonBlocking()
        try onCaptureOpened?()
        return try runLive(handle, linkType: linkType)
    }

    /// Captures from `handle`, opened and filtered, until a stop; then flushes every open flow.
    func runLive(_ handle: PcapHandle, linkType: LinkType) throws -> RunSummary {
        source = handle.source
        let started = CaptureClock.monotonicSeconds()
        let reader = CaptureReader(
            handles: [handle], live: true, idleMilliseconds: options.live.readTimeoutMilliseconds,
            shouldStop: shouldStop)
        try consume(reader) { _ in linkType }
        finish()
        summary.seconds = CaptureClock.monotonicSeconds() - started
        try sink.finish()
        return summary
    }

    static let stopFlag: @Sendable () -> Bool = { stopRequested.load(ordering: .relaxed) }

    /// Runs the packets `reader` reads (on its own thread) through the pipeline on this thread, until the reader's
    /// last batch. `linkType` gives the link type of each source.
    private func consume(_ reader: CaptureReader, linkType: (Int) -> LinkType) throws {
        reader.start()
        defer { reader.stop() }
        var lastFlush = CaptureClock.monotonicSeconds()
        while true {
            let batch = reader.next()
            if batch.count > 0 {
                let type = linkType(batch.source)
                if let cutoff = discardBefore {
                    handleAfterJoin(batch, linkType: type, cutoff: cutoff)
                } else {
                    for index in 0..<batch.count { handle(batch[index], linkType: type) }
                }
            }
            if let counters = batch.counters { liveCounters = counters }
            let event = batch.event
            let sourceIndex = batch.source
            reader.recycle(batch)
            switch event {
            case nil, .endOfSource:
                break
            case .truncatedSource(let reason):
                summary.warnings.append(
                    Warning(
                        source: options.files.indices.contains(sourceIndex) ? options.files[sourceIndex] : source,
                        message: "capture ends in the middle of a packet record (\(reason)); kept the packets before it"
                    ))
            case .idle(let wallClock):
                // No packet ready: wall-clock time expires idle flows meanwhile (live packet times are wall-clock).
                table.advance(to: wallClock)
                maybeEmitStats(now: table.now)
            case .end:
                return
            case .failed(let error):
                throw error
            }
            onBatch?()
            if options.interface != nil {
                // Buffered output once a second at most.
                let clock = CaptureClock.monotonicSeconds()
                if clock - lastFlush >= 1 {
                    lastFlush = clock
                    sink.flush()
                }
            }
        }
    }

    /// A fanout worker's first batches: packets stamped before `cutoff` are discarded. The kernel stamps a packet
    /// when it queues it to the socket, so what the socket received before it joined the group is stamped before
    /// `cutoff`; a packet stamped a second after it shows that the ring (filled in order) holds no more of those.
    private func handleAfterJoin(_ batch: PacketBatch, linkType: LinkType, cutoff: Double) {
        for index in 0..<batch.count {
            let packet = batch[index]
            let ts = packet.timestamp
            if ts < cutoff {
                discardedBeforeJoin += 1
                continue
            }
            if ts >= cutoff + 1 { discardBefore = nil }
            handle(packet, linkType: linkType)
        }
    }

    @inline(__always)
    private func handle(_ packet: CapturedPacket, linkType: LinkType) {
        summary.packets += 1
        summary.bytes += UInt64(packet.wireLength)
        if packet.capturedLength < packet.wireLength { truncatedPackets += 1 }
        let ts = packet.timestamp
        intake.ingest(packet.bytes, linkType: linkType, wireLength: packet.wireLength, timestamp: ts)
        maybeEmitStats(now: ts)
    }

    /// Writes a `stats` record when one is due; inlined into the per-packet loop, which it leaves at once until then.
    @inline(__always)
    private func maybeEmitStats(now: Double) {
        if let due = nextStats, now < due { return }
        emitStats(now: now)
    }

    private func emitStats(now: Double) {
        guard let due = nextStats else {
            nextStats = now + options.statsInterval
            return
        }
        if now >= due {
            nextStats = now + options.statsInterval
            sink.write(.stats(stats(ts: now, final: false)))
        }
    }

    private func finish() {
        table.flushAll()
        summary.flowsCreated = table.flowsCreated
        summary.decodeErrors = intake.decodeErrors
        summary.weird = table.weird
        sink.write(.stats(stats(ts: table.now, final: true)))
    }

    /// The current `stats` record.
    public func stats(ts: Double, final: Bool) -> StatsRecord {
        let reassembler = intake.reassembler
        let weird = table.weird
        return StatsRecord(
            ts: ts, sensor: table.config.sensor, source: source, packetsReceived: summary.packets,
            packetsDroppedKernel: liveCounters?.droppedByKernel,
            packetsDroppedInterface: liveCounters?.droppedByInterface,
            bytesReceived: summary.bytes, nonIPPackets: intake.nonIPPackets, truncatedPackets: truncatedPackets,
            decodeErrors: intake.decodeErrors, fragments: reassembler.fragmentsSeen,
            fragmentsReassembled: reassembler.reassembled, fragmentsExpired: reassembler.expired,
            flowTableSize: table.count, flowsCreated: table.flowsCreated, flowsEvicted: table.flowsEvicted,
            recordsDropped: 0, spoolBytes: 0, weird: weird, final: final)
    }
}
