/// Timeouts, caps and identities of the flow table. Times are seconds of packet time.
public struct FlowConfig: Sendable {
    /// The sensor's name, written into every record.
    public var sensor: String
    public var tcpIdleTimeout: Double = 300
    /// Idle timeout of a TCP flow once a FIN or RST was seen.
    public var tcpClosedTimeout: Double = 5
    public var udpIdleTimeout: Double = 60
    public var icmpIdleTimeout: Double = 60
    public var otherIdleTimeout: Double = 60
    /// A flow alive this long emits an interim record (`final: false`), then again every interval.
    public var activeTimeout: Double = 60
    /// The most flows held at once; beyond it the longest-idle flows are evicted (counted, and emitted).
    public var maxFlows: Int = 500_000
    /// Length of a `series` interval.
    public var seriesInterval: Double = 60
    /// UDP and TCP ports whose payload is decoded as DNS.
    public var dnsPorts: Set<UInt16> = [53, 5353, 5355]
    /// The Community ID seed (0 unless operators chose another for their domain).
    public var communityIDSeed: UInt16 = 0
    /// Seed of the uid generator; nil draws one at random (tests set it for reproducible uids).
    public var uidSeed: UInt64?
    /// Outstanding DNS queries remembered per flow, oldest dropped beyond it.
    public var maxPendingDNSQueries: Int = 64

    public init(sensor: String) { self.sensor = sensor }
}
