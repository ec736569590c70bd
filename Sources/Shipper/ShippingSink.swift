import Flows
import Sensor
import Spool
import SwiftProtobuf
import Wire

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How records are cut into batches.
public struct BatchingOptions: Sendable {
    /// A batch is sealed at this many records...
    public var maxRecords = 4096
    /// ...or when its oldest record has waited this long (checked on every record and by the capture loop's
    /// once-a-second flush).
    public var maxDelay: Double = 1
    /// Encoded batches above this are split in halves; keeps every frame far below any collector's maximum.
    public var maxBytes = 1 << 20

    public init() {}
}

/// The sensor's record sink when a collector is given: cuts records into batches on the capture thread, writes
/// each batch to the spool (disk, never the network) and wakes the network client. The capture loop never waits
/// for the collector; what a full spool has to drop is counted in the `stats` records it patches on the way.
public final class ShippingSink: RecordSink {
    private let spool: Spool
    private let options: BatchingOptions
    private let onBatch: @Sendable () -> Void
    private var builder = BatchBuilder()
    private var oldest: Double = 0
    /// Records that could not even be written to the spool (disk errors); counted with the spool's own drops.
    private var failedRecords: UInt64 = 0
    private var lastFailure: String?

    /// `onBatch` is called (on the capture thread) after each batch reached the spool.
    public init(spool: Spool, options: BatchingOptions = BatchingOptions(), onBatch: @escaping @Sendable () -> Void) {
        self.spool = spool
        self.options = options
        self.onBatch = onBatch
    }

    /// Records lost before reaching the collector: dropped by a full spool or by a failed spool write.
    public var droppedRecords: UInt64 { UInt64(spool.droppedRecords) + failedRecords }

    public func write(_ record: Record) {
        var record = record
        if case .stats(var stats) = record {
            stats.recordsDropped = droppedRecords
            stats.spoolBytes = UInt64(spool.pendingBytes)
            record = .stats(stats)
        }
        if builder.count == 0 { oldest = Self.now() }
        builder.append(record)
        if builder.count >= options.maxRecords { seal() }
    }

    public func flush() {
        if builder.count > 0 && Self.now() - oldest >= options.maxDelay { seal() }
    }

    /// Seals the last batch and makes the spool durable; the caller then waits for the acknowledgements.
    public func finish() throws {
        seal()
        try spool.sync()
        if let lastFailure { throw ShippingError.spoolWrite(lastFailure) }
    }

    private func seal() {
        guard builder.count > 0 else { return }
        let batch = builder.take(sequence: 0)
        for part in Self.split(batch, maxBytes: options.maxBytes) {
            do {
                _ = try spool.append(recordCount: part.count, payload: part.bytes)
            } catch {
                failedRecords += UInt64(part.count)
                if lastFailure == nil { printWarning("spool write failed, records dropped: \(error)") }
                lastFailure = "\(error)"
            }
        }
        onBatch()
    }

    /// The batch's encoding (sequence 0 encodes as nothing), halved until each part fits `maxBytes`.
    static func split(_ batch: Wirewatch_V1_RecordBatch, maxBytes: Int) -> [(count: Int, bytes: [UInt8])] {
        let count = batch.recordCount
        guard let bytes: [UInt8] = try? batch.serializedBytes() else { return [] }
        if bytes.count <= maxBytes || count <= 1 { return [(count, bytes)] }
        let (first, second) = batch.halves()
        return split(first, maxBytes: maxBytes) + split(second, maxBytes: maxBytes)
    }

    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

public enum ShippingError: Error, CustomStringConvertible {
    case spoolWrite(String)
    public var description: String {
        switch self {
        case .spoolWrite(let reason): return "records were dropped because the spool could not be written: \(reason)"
        }
    }
}

func printWarning(_ message: String) {
    var line = "wirewatch-sensor: warning: " + message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

extension Wirewatch_V1_RecordBatch {
    var recordCount: Int { flows.count + dns.count + http.count + tls.count + series.count + stats.count }

    /// Two batches with half of the records each (in list order), so halving always makes progress.
    func halves() -> (Wirewatch_V1_RecordBatch, Wirewatch_V1_RecordBatch) {
        var first = Wirewatch_V1_RecordBatch()
        var second = Wirewatch_V1_RecordBatch()
        var room = recordCount / 2
        func cut<T>(_ list: [T], _ a: inout [T], _ b: inout [T]) {
            let take = min(room, list.count)
            room -= take
            a = Array(list[..<take])
            b = Array(list[take...])
        }
        cut(flows, &first.flows, &second.flows)
        cut(dns, &first.dns, &second.dns)
        cut(http, &first.http, &second.http)
        cut(tls, &first.tls, &second.tls)
        cut(series, &first.series, &second.series)
        cut(stats, &first.stats, &second.stats)
        return (first, second)
    }
}
