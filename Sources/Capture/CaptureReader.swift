import CPcap

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a batch says beyond its packets, after them.
public enum BatchEvent: Sendable, Equatable {
    /// The source (a file) was read to its end; the next batch comes from the next source, if any.
    case endOfSource
    /// The source (a file) ends in the middle of a packet record: the packets before it were delivered.
    case truncatedSource(String)
    /// A live capture had nothing to read for a while; the wall clock (Unix seconds) when it said so.
    case idle(wallClock: Double)
    /// Nothing follows: every source was read, or a stop was requested.
    case end
    /// Reading failed; nothing follows.
    case failed(CaptureError)
}

/// Packets copied out of libpcap's buffer, in capture order, with their headers. Owned by one thread at a time:
/// the reading thread fills it, the consumer reads it and gives it back.
public final class PacketBatch: @unchecked Sendable {
    /// The index of the source (in the reader's list of handles) the packets came from.
    public internal(set) var source = 0
    /// Set on the last batch of a source, on the final batch, and on live idle notices.
    public internal(set) var event: BatchEvent?
    /// A live capture's kernel counters, when read since the last batch (about once a second).
    public internal(set) var counters: CaptureCounters?
    /// Packets in the batch.
    public private(set) var count = 0

    @usableFromInline let packets: UnsafeMutablePointer<CapturedPacket>
    let maxPackets: Int
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private var used = 0

    init(maxPackets: Int, bytes: Int) {
        self.maxPackets = maxPackets
        self.packets = .allocate(capacity: maxPackets)
        self.capacity = bytes
        self.storage = .allocate(byteCount: bytes, alignment: 64)
    }

    deinit {
        packets.deallocate()
        storage.deallocate()
    }

    /// The packet at `index`; its bytes stay valid until the batch is given back.
    @inlinable @inline(__always)
    public subscript(index: Int) -> CapturedPacket { packets[index] }

    public var isFull: Bool { count == maxPackets }

    /// Copies `packet` in; false when it does not fit (the batch has other packets and too few bytes left).
    @inline(__always)
    func append(_ packet: CapturedPacket) -> Bool {
        let length = packet.capturedLength
        if used + length > capacity {
            guard count == 0 else { return false }
            // A packet larger than the whole buffer (a very large snaplen): the empty buffer grows to hold it.
            storage.deallocate()
            capacity = length
            storage = .allocate(byteCount: length, alignment: 64)
        }
        let destination = storage + used
        if length > 0, let from = packet.bytes.baseAddress { destination.copyMemory(from: from, byteCount: length) }
        var copy = packet
        copy.bytes = UnsafeRawBufferPointer(start: destination, count: length)
        (packets + count).initialize(to: copy)
        count += 1
        // The next packet starts on an 8-byte boundary.
        used += (length + 7) & ~7
        return true
    }

    func reset() {
        count = 0
        used = 0
        event = nil
        counters = nil
    }
}

/// Reads capture sources one after another on a thread of its own and hands their packets over in batches, so that
/// libpcap's reading (system calls and copies, as much time as the fastest possible reader takes) runs beside the
/// consumer's decoding and flow tracking instead of before each packet's. The consumer takes batches with `next()`
/// and gives each back with `recycle(_:)`; a fixed set of batches circulates, so a consumer that falls behind holds
/// the reader back (a live capture's backlog then waits in the kernel's ring, where its drops are counted) and
/// memory stays bounded.
public final class CaptureReader: @unchecked Sendable {
    /// Packets per batch: a batch is handed over when it holds this many, or its bytes are used up, or (live) when
    /// nothing more is ready to read.
    public static let batchPackets = 4096
    /// Bytes per batch (at least one packet of libpcap's largest snaplen).
    public static let batchBytes = 1 << 20
    /// Batches in circulation.
    public static let batchCount = 4

    private let handles: [PcapHandle]
    private let live: Bool
    private let idleMilliseconds: Int32
    private let shouldStop: @Sendable () -> Bool

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let filled = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let freed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by `mutex`.
    private var ready: [PacketBatch] = []
    private var spare: [PacketBatch] = []
    /// Set by `stop()`; a reader waiting for a batch then gives up.
    private var cancelled = false
    private var thread: pthread_t?
    /// When the reading thread last read a live capture's counters (monotonic seconds); that thread's alone.
    private var countersRead = -Double.infinity

    /// A reader of `handles` in order. `live`: one live handle, in non-blocking mode; when nothing is ready it
    /// waits up to `idleMilliseconds` and sends an `.idle` notice. `shouldStop` is polled between packets.
    public init(
        handles: [PcapHandle], live: Bool, idleMilliseconds: Int32 = 200, shouldStop: @escaping @Sendable () -> Bool
    ) {
        self.handles = handles
        self.live = live
        self.idleMilliseconds = idleMilliseconds
        self.shouldStop = shouldStop
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(filled, nil)
        pthread_cond_init(freed, nil)
        spare = (0..<Self.batchCount).map { _ in
            PacketBatch(maxPackets: Self.batchPackets, bytes: Self.batchBytes)
        }
    }

    deinit {
        stop()
        pthread_cond_destroy(freed)
        pthread_cond_destroy(filled)
        pthread_mutex_destroy(mutex)
        freed.deallocate()
        filled.deallocate()
        mutex.deallocate()
    }

    /// Starts the reading thread.
    public func start() {
        let context = Unmanaged.passRetained(self).toOpaque()
        #if canImport(Glibc)
            var created = pthread_t()
        #else
            var created: pthread_t?
        #endif
        let status = pthread_create(
            &created, nil,
            { raw in
                guard let raw else { return nil }
                let reader = Unmanaged<CaptureReader>.fromOpaque(raw).takeRetainedValue()
                reader.read()
                return nil
            }, context)
        if status != 0 {
            // No thread: release the context and end the stream at once, naming the reason.
            Unmanaged<CaptureReader>.fromOpaque(context).release()
            let batch = PacketBatch(maxPackets: 1, bytes: 0)
            batch.event = .failed(
                .readFailed(
                    source: handles.first?.source ?? "capture",
                    reason: "cannot start the reading thread: \(String(cString: strerror(status)))"))
            locked { ready.append(batch) }
            return
        }
        locked { thread = created }
    }

    /// The next batch, waiting for it. After a batch whose event is `.end` or `.failed`, there is no other.
    public func next() -> PacketBatch {
        pthread_mutex_lock(mutex)
        while ready.isEmpty { pthread_cond_wait(filled, mutex) }
        let batch = ready.removeFirst()
        pthread_mutex_unlock(mutex)
        return batch
    }

    /// Gives a batch back to the reader once its packets are no longer needed.
    public func recycle(_ batch: PacketBatch) {
        batch.reset()
        pthread_mutex_lock(mutex)
        spare.append(batch)
        pthread_cond_signal(freed)
        pthread_mutex_unlock(mutex)
    }

    /// Stops the reading thread (if it still runs) and waits for it to end. Safe to call more than once.
    public func stop() {
        let running: pthread_t? = locked {
            cancelled = true
            pthread_cond_broadcast(freed)
            defer { thread = nil }
            return thread
        }
        if let running { pthread_join(running, nil) }
    }

    // MARK: The reading thread

    private func read() {
        guard var batch = takeSpare() else { return }
        var packet = CapturedPacket.none
        for (index, handle) in handles.enumerated() {
            batch.source = index
            reading: while !shouldStop() {
                let result: ReadResult
                do {
                    result = try handle.next(into: &packet)
                } catch {
                    finish(batch, .failed(error), handle: handle)
                    return
                }
                switch result {
                case .packet:
                    if !batch.append(packet) {
                        guard let fresh = handOver(batch, from: handle, source: index) else { return }
                        batch = fresh
                        _ = batch.append(packet)
                    }
                    if batch.isFull {
                        guard let fresh = handOver(batch, from: handle, source: index) else { return }
                        batch = fresh
                    }
                case .timeout:
                    // Live, and nothing ready: hand over what there is, wait, then say so with the wall clock.
                    if batch.count > 0 {
                        guard let fresh = handOver(batch, from: handle, source: index) else { return }
                        batch = fresh
                    }
                    handle.waitForPackets(milliseconds: idleMilliseconds)
                    batch.event = .idle(wallClock: CaptureClock.wallClockSeconds())
                    guard let fresh = handOver(batch, from: handle, source: index) else { return }
                    batch = fresh
                case .endOfFile, .truncatedFile:
                    if case .truncatedFile(let reason) = result {
                        batch.event = .truncatedSource(reason)
                    } else {
                        batch.event = .endOfSource
                    }
                    guard let fresh = handOver(batch, from: handle, source: index) else { return }
                    batch = fresh
                    break reading
                case .interrupted:
                    break reading
                }
            }
            if shouldStop() { break }
        }
        finish(batch, .end, handle: handles.last)
    }

    /// Hands `batch` over and returns the next one to fill; nil once the stage is stopped.
    private func handOver(_ batch: PacketBatch, from handle: PcapHandle, source: Int) -> PacketBatch? {
        if live {
            // The kernel's counters (a system call) at most once a second.
            let clock = CaptureClock.monotonicSeconds()
            if clock - countersRead >= 1 {
                countersRead = clock
                batch.counters = handle.counters()
            }
        }
        publish(batch)
        guard let fresh = takeSpare() else { return nil }
        fresh.source = source
        return fresh
    }

    /// Sends the last batch (with a live capture's final counters).
    private func finish(_ batch: PacketBatch, _ event: BatchEvent, handle: PcapHandle?) {
        if live { batch.counters = handle?.counters() }
        batch.event = event
        publish(batch)
    }

    private func publish(_ batch: PacketBatch) {
        pthread_mutex_lock(mutex)
        ready.append(batch)
        pthread_cond_signal(filled)
        pthread_mutex_unlock(mutex)
    }

    /// A batch to fill, waiting for the consumer to give one back; nil once the reader is stopped.
    private func takeSpare() -> PacketBatch? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while spare.isEmpty && !cancelled { pthread_cond_wait(freed, mutex) }
        if cancelled { return nil }
        return spare.removeLast()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}

/// The two clocks of a capture: monotonic for intervals, the wall clock for live packet time.
public enum CaptureClock {
    /// Seconds on the monotonic clock (intervals, rates).
    public static func monotonicSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// Unix seconds on the wall clock (the time a live packet is stamped with).
    public static func wallClockSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
