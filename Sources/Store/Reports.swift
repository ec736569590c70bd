import Flows
import Packets

// The questions the query tool and detectors ask of a store, and their answers. Answers are Codable with Swift's
// property names; the query tool encodes them with `JSONEncoder.KeyEncodingStrategy.convertToSnakeCase`
// (`sentBytes` -> `sent_bytes`).

/// The window and filters of a report.
///
/// Reports from rollups have minute resolution: they count the minutes that start in [`from` rounded down to its
/// minute, `to`). Reports from `series` records count the records with `ts` in [`from`, `to`). Each report says which
/// filters it honours and refuses (`StoreError.Code.invalidArgument`) the ones it cannot answer.
public struct ReportQuery: Hashable, Sendable {
    /// Epoch seconds; nil is unbounded.
    public var from: Double?
    public var to: Double?
    /// Only what this sensor (the records' `sensor` field) saw.
    public var sensor: String?
    /// Only this host (top talkers).
    public var host: IPAddress?
    /// Only this IP protocol number (top talkers, ports).
    public var proto: UInt8?
    /// The longest list of each top-N answer.
    public var limit: Int

    public init(
        from: Double? = nil, to: Double? = nil, sensor: String? = nil, host: IPAddress? = nil, proto: UInt8? = nil,
        limit: Int = 10
    ) {
        self.from = from
        self.to = to
        self.sensor = sensor
        self.host = host
        self.proto = proto
        self.limit = limit
    }
}

/// Which alerts to read: the newest first (by `last_ts`, then by when first stored).
public struct AlertQuery: Hashable, Sendable {
    /// Episodes that overlap [`from`, `to`): `last_ts >= from` and `first_ts < to`.
    public var from: Double?
    public var to: Double?
    public var kind: AlertKind?
    public var subtype: String?
    /// This severity or higher.
    public var minimumSeverity: AlertSeverity?
    /// Alerts whose `src` or one of whose `targets` is this text (an address, "multiple", a sensor name).
    public var host: String?
    /// Alerts seen by this sensor.
    public var sensor: String?
    public var limit: Int?

    public init(
        from: Double? = nil, to: Double? = nil, kind: AlertKind? = nil, subtype: String? = nil,
        minimumSeverity: AlertSeverity? = nil, host: String? = nil, sensor: String? = nil, limit: Int? = nil
    ) {
        self.from = from
        self.to = to
        self.kind = kind
        self.subtype = subtype
        self.minimumSeverity = minimumSeverity
        self.host = host
        self.sensor = sensor
        self.limit = limit
    }
}

/// A text value and how often it was counted; "" stands for an unset value (no query name, no user agent).
public struct NamedCount: Codable, Hashable, Sendable {
    public var name: String
    public var count: UInt64

    public init(name: String, count: UInt64) {
        self.name = name
        self.count = count
    }
}

/// One host's traffic: as originator and as responder of its flows, IP bytes and packets each way.
public struct TopTalker: Codable, Hashable, Sendable {
    public var host: String
    /// `sentBytes + receivedBytes`, the ranking key.
    public var bytes: UInt64
    public var sentBytes: UInt64
    public var receivedBytes: UInt64
    public var packets: UInt64
    public var sentPackets: UInt64
    public var receivedPackets: UInt64
    /// `origFlows + respFlows`.
    public var flows: UInt64
    public var origFlows: UInt64
    public var respFlows: UInt64

    public init(
        host: String, sentBytes: UInt64, receivedBytes: UInt64, sentPackets: UInt64, receivedPackets: UInt64,
        origFlows: UInt64, respFlows: UInt64
    ) {
        self.host = host
        self.sentBytes = sentBytes
        self.receivedBytes = receivedBytes
        self.bytes = sentBytes.addingSaturated(receivedBytes)
        self.sentPackets = sentPackets
        self.receivedPackets = receivedPackets
        self.packets = sentPackets.addingSaturated(receivedPackets)
        self.origFlows = origFlows
        self.respFlows = respFlows
        self.flows = origFlows.addingSaturated(respFlows)
    }
}

/// Packets, IP bytes and new flows of one protocol ("tcp", "udp", "icmp", "icmpv6", "other").
public struct ProtocolTotals: Codable, Hashable, Sendable {
    public var proto: String
    public var packets: UInt64
    public var bytes: UInt64
    public var flows: UInt64

    public init(proto: String, packets: UInt64, bytes: UInt64, flows: UInt64) {
        self.proto = proto
        self.packets = packets
        self.bytes = bytes
        self.flows = flows
    }
}

/// Traffic of one time bucket, from the `series` records whose `ts` falls in it.
public struct TrafficBucket: Codable, Hashable, Sendable {
    /// Epoch seconds of the bucket's start (a multiple of the bucket length).
    public var start: Double
    public var packets: UInt64
    public var bytes: UInt64
    public var flows: UInt64
    /// By protocol name, in name order.
    public var protocols: [ProtocolTotals]

    public init(start: Double, packets: UInt64, bytes: UInt64, flows: UInt64, protocols: [ProtocolTotals]) {
        self.start = start
        self.packets = packets
        self.bytes = bytes
        self.flows = flows
        self.protocols = protocols
    }
}

/// Traffic to one responder port of one protocol (port 0 for protocols without ports).
public struct PortTotals: Codable, Hashable, Sendable {
    /// "tcp", "udp", or the protocol's name or number as in flow records.
    public var proto: String
    public var port: UInt16
    public var flows: UInt64
    public var packets: UInt64
    public var bytes: UInt64

    public init(proto: String, port: UInt16, flows: UInt64, packets: UInt64, bytes: UInt64) {
        self.proto = proto
        self.port = port
        self.flows = flows
        self.packets = packets
        self.bytes = bytes
    }
}

/// DNS requests: how many, the most queried names, and query types and response codes by count.
public struct DNSSummary: Codable, Hashable, Sendable {
    public var requests: UInt64
    public var topQueries: [NamedCount]
    public var qtypes: [NamedCount]
    public var rcodes: [NamedCount]

    public init(requests: UInt64, topQueries: [NamedCount], qtypes: [NamedCount], rcodes: [NamedCount]) {
        self.requests = requests
        self.topQueries = topQueries
        self.qtypes = qtypes
        self.rcodes = rcodes
    }
}

/// An HTTP status code (nil: no response) and its count.
public struct StatusCount: Codable, Hashable, Sendable {
    public var code: Int?
    public var count: UInt64

    public init(code: Int?, count: UInt64) {
        self.code = code
        self.count = count
    }
}

/// HTTP transactions by method, status code, host and user agent.
public struct HTTPSummary: Codable, Hashable, Sendable {
    public var requests: UInt64
    public var methods: [NamedCount]
    public var statusCodes: [StatusCount]
    public var hosts: [NamedCount]
    public var userAgents: [NamedCount]

    public init(
        requests: UInt64, methods: [NamedCount], statusCodes: [StatusCount], hosts: [NamedCount],
        userAgents: [NamedCount]
    ) {
        self.requests = requests
        self.methods = methods
        self.statusCodes = statusCodes
        self.hosts = hosts
        self.userAgents = userAgents
    }
}

/// TLS handshakes by version and server name (SNI).
public struct TLSSummary: Codable, Hashable, Sendable {
    public var handshakes: UInt64
    public var versions: [NamedCount]
    public var serverNames: [NamedCount]

    public init(handshakes: UInt64, versions: [NamedCount], serverNames: [NamedCount]) {
        self.handshakes = handshakes
        self.versions = versions
        self.serverNames = serverNames
    }
}

/// How many final TCP flows had a flag set by the originator, and by the responder.
public struct FlagCount: Codable, Hashable, Sendable {
    /// "SYN", "ACK", "FIN", "RST", "PSH", "URG", "ECE", "CWR", "NS".
    public var flag: String
    public var origFlows: UInt64
    public var respFlows: UInt64

    public init(flag: String, origFlows: UInt64, respFlows: UInt64) {
        self.flag = flag
        self.origFlows = origFlows
        self.respFlows = respFlows
    }
}

/// TCP: final flows by Zeek `conn_state`, retransmitted packets, flags, and the busiest responder ports.
public struct TCPSummary: Codable, Hashable, Sendable {
    /// Final TCP flows (the sum of `states`).
    public var flows: UInt64
    public var states: [NamedCount]
    public var retransmittedPackets: UInt64
    public var flags: [FlagCount]
    public var topPorts: [PortTotals]

    public init(
        flows: UInt64, states: [NamedCount], retransmittedPackets: UInt64, flags: [FlagCount], topPorts: [PortTotals]
    ) {
        self.flows = flows
        self.states = states
        self.retransmittedPackets = retransmittedPackets
        self.flags = flags
        self.topPorts = topPorts
    }
}

/// One bucket of the packet-size histogram: mean packet sizes (IP bytes) in [`lowerBound`, `upperBound`).
public struct SizeBucket: Codable, Hashable, Sendable {
    public var lowerBound: Int
    /// nil for the last, open-ended bucket.
    public var upperBound: Int?
    /// Final flows whose mean packet size falls here.
    public var flows: UInt64
    /// Packets and IP bytes, each record's increase placed by its own mean packet size.
    public var packets: UInt64
    public var bytes: UInt64

    public init(lowerBound: Int, upperBound: Int?, flows: UInt64, packets: UInt64, bytes: UInt64) {
        self.lowerBound = lowerBound
        self.upperBound = upperBound
        self.flows = flows
        self.packets = packets
        self.bytes = bytes
    }
}

/// UDP: flows, packets and bytes, the busiest responder ports, and the packet-size histogram.
public struct UDPSummary: Codable, Hashable, Sendable {
    public var flows: UInt64
    public var packets: UInt64
    public var bytes: UInt64
    public var topPorts: [PortTotals]
    /// Every bucket, in size order, empty ones included.
    public var packetSizes: [SizeBucket]

    public init(flows: UInt64, packets: UInt64, bytes: UInt64, topPorts: [PortTotals], packetSizes: [SizeBucket]) {
        self.flows = flows
        self.packets = packets
        self.bytes = bytes
        self.topPorts = topPorts
        self.packetSizes = packetSizes
    }
}

/// A sensor's latest `stats` record (by `ts`): counters since its capture started.
public struct SensorStatsSnapshot: Codable, Hashable, Sendable {
    /// Packet time of the record.
    public var ts: Double
    public var source: String
    public var packetsReceived: UInt64
    public var packetsDroppedKernel: UInt64?
    public var packetsDroppedInterface: UInt64?
    public var bytesReceived: UInt64
    public var decodeErrors: UInt64
    public var flowTableSize: Int
    public var recordsDropped: UInt64
    public var spoolBytes: UInt64
    /// True when it was the sensor's last record before it stopped.
    public var final: Bool

    public init(
        ts: Double, source: String, packetsReceived: UInt64, packetsDroppedKernel: UInt64?,
        packetsDroppedInterface: UInt64?, bytesReceived: UInt64, decodeErrors: UInt64, flowTableSize: Int,
        recordsDropped: UInt64, spoolBytes: UInt64, final: Bool
    ) {
        self.ts = ts
        self.source = source
        self.packetsReceived = packetsReceived
        self.packetsDroppedKernel = packetsDroppedKernel
        self.packetsDroppedInterface = packetsDroppedInterface
        self.bytesReceived = bytesReceived
        self.decodeErrors = decodeErrors
        self.flowTableSize = flowTableSize
        self.recordsDropped = recordsDropped
        self.spoolBytes = spoolBytes
        self.final = final
    }
}

/// A sensor's health: its session (from `sensors`, when it ever connected) and its latest stats record (when one was
/// stored).
public struct SensorHealth: Codable, Hashable, Sendable {
    public var name: String
    /// The capture source of its latest session.
    public var source: String?
    public var softwareVersion: String?
    /// Wall-clock epoch seconds of its first session and of its latest session or batch.
    public var firstSeen: Double?
    public var lastSeen: Double?
    public var stats: SensorStatsSnapshot?

    public init(
        name: String, source: String?, softwareVersion: String?, firstSeen: Double?, lastSeen: Double?,
        stats: SensorStatsSnapshot?
    ) {
        self.name = name
        self.source = source
        self.softwareVersion = softwareVersion
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.stats = stats
    }
}
