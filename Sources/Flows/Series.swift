import Packets

/// Accumulates per-interval counters of packet time and yields a `SeriesRecord` when an interval ends.
struct SeriesAccumulator {
    let interval: Double
    let sensor: String
    private var start: Double?
    /// End of the current interval; packets before it need no arithmetic.
    private(set) var end = -Double.infinity
    private var packets: UInt64 = 0
    private var bytes: UInt64 = 0
    private var flows: UInt64 = 0
    /// Counters per protocol bucket, indexed by `bucket(_:)` (no hashing on the per-packet path).
    private var perProtocol = [ProtocolCounters](repeating: ProtocolCounters(), count: 5)
    private static let bucketNames = ["tcp", "udp", "icmp", "icmpv6", "other"]

    init(interval: Double, sensor: String) {
        self.interval = interval > 0 ? interval : 60
        self.sensor = sensor
    }

    @inline(__always)
    private static func bucket(_ proto: UInt8) -> Int {
        switch proto {
        case IPProtocol.tcp: return 0
        case IPProtocol.udp: return 1
        case IPProtocol.icmp: return 2
        case IPProtocol.icmpv6: return 3
        default: return 4
        }
    }

    mutating func add(proto: UInt8, bytes count: UInt64) {
        packets += 1
        bytes += count
        let index = Self.bucket(proto)
        perProtocol[index].packets += 1
        perProtocol[index].bytes += count
    }

    mutating func newFlow(proto: UInt8) {
        flows += 1
        perProtocol[Self.bucket(proto)].flows += 1
    }

    /// Called with each new packet time before its packet is counted; returns the interval that just ended.
    @inline(__always)
    mutating func roll(to ts: Double) -> SeriesRecord? {
        guard ts >= end else { return nil }
        let bucketStart = (ts / interval).rounded(.down) * interval
        end = bucketStart + interval
        guard let current = start else {
            start = bucketStart
            return nil
        }
        guard bucketStart > current else { return nil }
        let record = flush()
        start = bucketStart
        return record
    }

    /// The current interval's record, if it counted anything; counters restart.
    mutating func flush() -> SeriesRecord? {
        defer {
            packets = 0
            bytes = 0
            flows = 0
            perProtocol = [ProtocolCounters](repeating: ProtocolCounters(), count: 5)
        }
        guard let start, packets > 0 || flows > 0 else { return nil }
        var named: [String: ProtocolCounters] = [:]
        for (index, counters) in perProtocol.enumerated() where counters.packets > 0 || counters.flows > 0 {
            named[Self.bucketNames[index]] = counters
        }
        return SeriesRecord(
            ts: start, interval: interval, sensor: sensor, packets: packets, bytes: bytes, flows: flows,
            perProtocol: named)
    }
}
