import Packets

/// The endpoints of a connection from the originator's point of view (Zeek's `conn_id`).
public struct ConnID: Hashable, Sendable {
    public var origHost: IPAddress
    public var origPort: UInt16
    public var respHost: IPAddress
    public var respPort: UInt16

    func write(to json: inout JSONObjectWriter) {
        json.string("id.orig_h", origHost.description)
        json.int("id.orig_p", origPort)
        json.string("id.resp_h", respHost.description)
        json.int("id.resp_p", respPort)
    }

    public init(
        origHost: IPAddress,
        origPort: UInt16,
        respHost: IPAddress,
        respPort: UInt16
    ) {
        self.origHost = origHost
        self.origPort = origPort
        self.respHost = respHost
        self.respPort = respPort
    }
}

/// A flow (Zeek conn.log) record; interim when `final` is false (active timeout), with cumulative counters
/// under the same `uid`, so the last record of a uid supersedes the earlier ones.
public struct FlowRecord: Hashable, Sendable {
    public var ts: Double
    public var uid: String
    public var sensor: String
    public var id: ConnID
    public var proto: UInt8
    public var service: String?
    public var duration: Double
    public var origBytes: UInt64
    public var respBytes: UInt64
    public var origPackets: UInt64
    public var respPackets: UInt64
    public var origIPBytes: UInt64
    public var respIPBytes: UInt64
    public var connState: String
    public var history: String
    public var tcpFlagsOrig: TCPFlags?
    public var tcpFlagsResp: TCPFlags?
    public var retransPackets: UInt64
    public var icmpType: UInt8?
    public var icmpCode: UInt8?
    public var vlan: UInt16?
    public var innerVlan: UInt16?
    public var communityID: String
    public var final: Bool
    /// Why the flow ended: "fin", "rst", "idle", "active" (interim), "evicted", "end" (end of capture or shutdown).
    public var reason: String
    /// The capture held fewer bytes than the packets declared (snaplen) somewhere in this flow.
    public var truncated: Bool

    /// `tcp`, `udp`, `icmp`, `icmpv6`, or the protocol number.
    public var protoName: String { FlowRecord.protoName(proto) }

    public static func protoName(_ proto: UInt8) -> String {
        switch proto {
        case IPProtocol.tcp: return "tcp"
        case IPProtocol.udp: return "udp"
        case IPProtocol.icmp: return "icmp"
        case IPProtocol.icmpv6: return "icmpv6"
        default: return String(proto)
        }
    }

    public init(
        ts: Double,
        uid: String,
        sensor: String,
        id: ConnID,
        proto: UInt8,
        service: String?,
        duration: Double,
        origBytes: UInt64,
        respBytes: UInt64,
        origPackets: UInt64,
        respPackets: UInt64,
        origIPBytes: UInt64,
        respIPBytes: UInt64,
        connState: String,
        history: String,
        tcpFlagsOrig: TCPFlags?,
        tcpFlagsResp: TCPFlags?,
        retransPackets: UInt64,
        icmpType: UInt8?,
        icmpCode: UInt8?,
        vlan: UInt16?,
        innerVlan: UInt16?,
        communityID: String,
        final: Bool,
        reason: String,
        truncated: Bool
    ) {
        self.ts = ts
        self.uid = uid
        self.sensor = sensor
        self.id = id
        self.proto = proto
        self.service = service
        self.duration = duration
        self.origBytes = origBytes
        self.respBytes = respBytes
        self.origPackets = origPackets
        self.respPackets = respPackets
        self.origIPBytes = origIPBytes
        self.respIPBytes = respIPBytes
        self.connState = connState
        self.history = history
        self.tcpFlagsOrig = tcpFlagsOrig
        self.tcpFlagsResp = tcpFlagsResp
        self.retransPackets = retransPackets
        self.icmpType = icmpType
        self.icmpCode = icmpCode
        self.vlan = vlan
        self.innerVlan = innerVlan
        self.communityID = communityID
        self.final = final
        self.reason = reason
        self.truncated = truncated
    }
}

/// A DNS request/response pair (Zeek dns.log).
public struct DNSRecord: Hashable, Sendable {
    public var ts: Double
    public var uid: String
    public var sensor: String
    public var id: ConnID
    public var proto: UInt8
    public var transID: UInt16
    public var query: String?
    public var qtype: UInt16?
    public var qtypeName: String?
    public var rcode: UInt16?
    public var rcodeName: String?
    public var answers: [String]
    public var ttls: [Double]
    public var rtt: Double?
    public var rejected: Bool

    public init(
        ts: Double,
        uid: String,
        sensor: String,
        id: ConnID,
        proto: UInt8,
        transID: UInt16,
        query: String?,
        qtype: UInt16?,
        qtypeName: String?,
        rcode: UInt16?,
        rcodeName: String?,
        answers: [String],
        ttls: [Double],
        rtt: Double?,
        rejected: Bool
    ) {
        self.ts = ts
        self.uid = uid
        self.sensor = sensor
        self.id = id
        self.proto = proto
        self.transID = transID
        self.query = query
        self.qtype = qtype
        self.qtypeName = qtypeName
        self.rcode = rcode
        self.rcodeName = rcodeName
        self.answers = answers
        self.ttls = ttls
        self.rtt = rtt
        self.rejected = rejected
    }
}

/// An HTTP request/response pair (Zeek http.log).
public struct HTTPRecord: Hashable, Sendable {
    public var ts: Double
    public var uid: String
    public var sensor: String
    public var id: ConnID
    public var transDepth: Int
    public var transaction: HTTPTransaction

    public init(
        ts: Double,
        uid: String,
        sensor: String,
        id: ConnID,
        transDepth: Int,
        transaction: HTTPTransaction
    ) {
        self.ts = ts
        self.uid = uid
        self.sensor = sensor
        self.id = id
        self.transDepth = transDepth
        self.transaction = transaction
    }
}

/// A TLS handshake (Zeek ssl.log plus JA3/JA4).
public struct TLSRecord: Hashable, Sendable {
    public var ts: Double
    public var uid: String
    public var sensor: String
    public var id: ConnID
    public var version: String?
    public var cipher: UInt16?
    public var serverName: String?
    public var alpn: [String]
    public var ja3: String?
    public var ja4: String?

    public init(
        ts: Double,
        uid: String,
        sensor: String,
        id: ConnID,
        version: String?,
        cipher: UInt16?,
        serverName: String?,
        alpn: [String],
        ja3: String?,
        ja4: String?
    ) {
        self.ts = ts
        self.uid = uid
        self.sensor = sensor
        self.id = id
        self.version = version
        self.cipher = cipher
        self.serverName = serverName
        self.alpn = alpn
        self.ja3 = ja3
        self.ja4 = ja4
    }
}

/// Per-sensor counters for one interval of packet time, the input of volume-anomaly detection.
public struct SeriesRecord: Hashable, Sendable {
    public var ts: Double
    public var interval: Double
    public var sensor: String
    public var packets: UInt64
    public var bytes: UInt64
    public var flows: UInt64
    /// Per protocol name ("tcp", "udp", "icmp", "icmpv6", "other"): packets, bytes, new flows.
    public var perProtocol: [String: ProtocolCounters]

    public init(
        ts: Double,
        interval: Double,
        sensor: String,
        packets: UInt64,
        bytes: UInt64,
        flows: UInt64,
        perProtocol: [String: ProtocolCounters]
    ) {
        self.ts = ts
        self.interval = interval
        self.sensor = sensor
        self.packets = packets
        self.bytes = bytes
        self.flows = flows
        self.perProtocol = perProtocol
    }
}

/// Packets, IP bytes and new flows of one protocol.
public struct ProtocolCounters: Hashable, Sendable {
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    public var flows: UInt64 = 0
    public init() {}
}

/// Capture and sensor health.
public struct StatsRecord: Hashable, Sendable {
    public var ts: Double
    public var sensor: String
    public var source: String
    public var packetsReceived: UInt64
    public var packetsDroppedKernel: UInt64?
    public var packetsDroppedInterface: UInt64?
    public var bytesReceived: UInt64
    public var nonIPPackets: UInt64
    public var truncatedPackets: UInt64
    public var decodeErrors: UInt64
    public var fragments: UInt64
    public var fragmentsReassembled: UInt64
    public var fragmentsExpired: UInt64
    public var flowTableSize: Int
    public var flowsCreated: UInt64
    public var flowsEvicted: UInt64
    public var recordsDropped: UInt64
    public var spoolBytes: UInt64
    /// Problem counters by stable name (`ipv4.truncated`, `dns.pointer_loop`, …), like Zeek's weird.log.
    public var weird: [String: UInt64]
    public var final: Bool
    /// Each capture worker's counters when a live capture runs several (`--workers N`); the fields above are their
    /// sums. Empty with one worker. (JSON only: the wire and the store carry the sums.)
    public var workers: [WorkerStats] = []

    public init(
        ts: Double, sensor: String, source: String, packetsReceived: UInt64, packetsDroppedKernel: UInt64?,
        packetsDroppedInterface: UInt64?, bytesReceived: UInt64, nonIPPackets: UInt64, truncatedPackets: UInt64,
        decodeErrors: UInt64, fragments: UInt64, fragmentsReassembled: UInt64, fragmentsExpired: UInt64,
        flowTableSize: Int, flowsCreated: UInt64, flowsEvicted: UInt64, recordsDropped: UInt64, spoolBytes: UInt64,
        weird: [String: UInt64], final: Bool
    ) {
        self.ts = ts
        self.sensor = sensor
        self.source = source
        self.packetsReceived = packetsReceived
        self.packetsDroppedKernel = packetsDroppedKernel
        self.packetsDroppedInterface = packetsDroppedInterface
        self.bytesReceived = bytesReceived
        self.nonIPPackets = nonIPPackets
        self.truncatedPackets = truncatedPackets
        self.decodeErrors = decodeErrors
        self.fragments = fragments
        self.fragmentsReassembled = fragmentsReassembled
        self.fragmentsExpired = fragmentsExpired
        self.flowTableSize = flowTableSize
        self.flowsCreated = flowsCreated
        self.flowsEvicted = flowsEvicted
        self.recordsDropped = recordsDropped
        self.spoolBytes = spoolBytes
        self.weird = weird
        self.final = final
    }
}

/// One capture worker's counters: the packets it processed, and its socket's kernel counters since every worker
/// joined the fanout group.
public struct WorkerStats: Hashable, Sendable {
    public var worker: Int
    public var packetsReceived: UInt64
    /// What the kernel queued to this worker's socket, and dropped there (pcap_stats).
    public var kernelReceived: UInt64?
    public var packetsDroppedKernel: UInt64?
    public var packetsDroppedInterface: UInt64?
    /// Packets stamped before the group was complete, discarded (another worker's socket may have them too).
    public var discardedBeforeJoin: UInt64

    public init(
        worker: Int, packetsReceived: UInt64, kernelReceived: UInt64?, packetsDroppedKernel: UInt64?,
        packetsDroppedInterface: UInt64?, discardedBeforeJoin: UInt64
    ) {
        self.worker = worker
        self.packetsReceived = packetsReceived
        self.kernelReceived = kernelReceived
        self.packetsDroppedKernel = packetsDroppedKernel
        self.packetsDroppedInterface = packetsDroppedInterface
        self.discardedBeforeJoin = discardedBeforeJoin
    }
}

/// Everything the sensor ships or prints.
public enum Record: Hashable, Sendable {
    case flow(FlowRecord)
    case dns(DNSRecord)
    case http(HTTPRecord)
    case tls(TLSRecord)
    case series(SeriesRecord)
    case stats(StatsRecord)

    /// The sensor that made the record.
    public var sensor: String {
        switch self {
        case .flow(let r): return r.sensor
        case .dns(let r): return r.sensor
        case .http(let r): return r.sensor
        case .tls(let r): return r.sensor
        case .series(let r): return r.sensor
        case .stats(let r): return r.sensor
        }
    }

    public var typeName: String {
        switch self {
        case .flow: return "flow"
        case .dns: return "dns"
        case .http: return "http"
        case .tls: return "tls"
        case .series: return "series"
        case .stats: return "stats"
        }
    }
}
