import Config
import Flows
import Packets

/// Settings of the `[ports]` section (`UnusualPortDetector`).
public struct UnusualPortConfig: Hashable, Sendable {
    /// Seconds of event time, from the first flow, learning silently.
    public var warmUp = 3600.0
    /// Prefix lengths that group responders into networks.
    public var networkBitsV4 = 24
    public var networkBitsV6 = 64
    /// A port is rare when fewer than this fraction of all answered flows went to it.
    public var rareFraction = 0.001
    /// Ports never called rare (they can still be a new service in a network).
    public var commonPorts: Set<UInt16> = [
        20, 21, 22, 23, 25, 53, 67, 68, 80, 110, 123, 137, 138, 139, 143, 161, 389, 443, 445, 465, 587, 636, 853, 993,
        995, 1433, 3306, 3389, 5353, 5432, 8080, 8443,
    ]
    /// Also learn and alert on responder ports 32768 and above (ephemeral ports: mostly the answer side of
    /// peer-to-peer and client-to-client traffic, noise for a service baseline).
    public var includeEphemeral = false
    /// Services (network, protocol, port) held at most; beyond, the least recently seen are evicted.
    public var maxServices = 200_000
    /// A service not seen for this many seconds of event time is forgotten.
    public var expiry = 7 * 86_400.0
    /// Distinct clients remembered per service (the count saturates there).
    public var maxClients = 64
    /// Flow uids remembered to count a long flow's interim and final records once.
    public var maxTrackedFlows = 100_000

    public init() {}

    public init(section: ConfigSection) throws(ConfigError) {
        var section = section
        warmUp = try section.double("warm-up", default: warmUp, in: 0...(365 * 86_400))
        networkBitsV4 = try section.int("network-bits-v4", default: networkBitsV4, in: 0...32)
        networkBitsV6 = try section.int("network-bits-v6", default: networkBitsV6, in: 0...128)
        rareFraction = try section.double("rare-fraction", default: rareFraction, in: 0...1)
        commonPorts = try section.ports("common-ports", default: commonPorts)
        includeEphemeral = try section.bool("include-ephemeral", default: includeEphemeral)
        maxServices = try section.int("max-services", default: maxServices, in: 1...100_000_000)
        expiry = try section.double("expiry", default: expiry, in: 1...(3650 * 86_400))
        maxClients = try section.int("max-clients", default: maxClients, in: 1...1_000_000)
        maxTrackedFlows = try section.int("max-tracked-flows", default: maxTrackedFlows, in: 1...100_000_000)
        try section.checkUsed()
    }
}

/// Unusual ports (`unusual-port`: `new-service`, `rare-port`) from `flow` records, against a learned per-network
/// baseline of the services in use.
///
/// A service is (responder network — the responder's /24 or /64 —, protocol, responder port), with its answered
/// flows and distinct clients. The first `warm-up` seconds of event time only learn. Afterwards an answered flow
/// (TCP established: `S1`, `S2`, `S3`, `SF`, `RSTO`, `RSTR`; UDP: the responder sent packets and no ICMP error came
/// back) to a service never seen in its network raises one alert for that service: `rare-port` when its port is
/// rare over all networks (under `rare-fraction` of the answered flows and not in `common-ports`) — a new listener on
/// an odd port, the more suspicious case —, else `new-service` (a new server on an ordinary port). The service then
/// joins the baseline; its episode is updated when its flows or clients double. Unanswered flows (probes, scans: the
/// scan detector's job) neither alert nor teach. Only TCP and UDP have ports; other protocols are ignored, as are
/// responder ports >= 32768 unless `include-ephemeral`. A flow's interim and final records (same uid) count once.
public final class UnusualPortDetector: Detector {
    public let name = "ports"
    public let config: UnusualPortConfig

    struct ServiceKey: Hashable, Comparable {
        var network: NetworkPrefix
        var proto: UInt8
        var port: UInt16
        static func < (a: ServiceKey, b: ServiceKey) -> Bool {
            if a.network.network != b.network.network { return a.network.network < b.network.network }
            if a.proto != b.proto { return a.proto < b.proto }
            return a.port < b.port
        }
    }

    struct PortKey: Hashable {
        var proto: UInt8
        var port: UInt16
    }

    struct Episode {
        var id: String
        var subtype: String
        var raised: Double
        var reportedFlows: UInt64
        var reportedClients: Int
        var portShare: Double
        var src: String
        var servers: [String]
        var sensors: [String]
    }

    struct Service {
        var flows: UInt64 = 0
        var clients: Set<IPAddress> = []
        var firstTS: Double
        var lastTS: Double
        var episode: Episode?
    }

    private var services: [ServiceKey: Service] = [:]
    /// Answered flows per (protocol, port) over all networks, and in total: the "rare overall" measure.
    private var portFlows: [PortKey: UInt64] = [:]
    private var totalFlows: UInt64 = 0
    private var firstTS: Double?
    private var newest = -Double.infinity
    private var seenUIDs: Set<String> = []
    private var uidOrder: [String] = []
    private var uidHead = 0
    private var evicted: UInt64 = 0
    /// Services last seen before this are expired: forgotten by the next sweep, treated as gone until then.
    private var expiredBefore = -Double.infinity
    private var nextSweep = -Double.infinity

    public init(config: UnusualPortConfig = UnusualPortConfig()) { self.config = config }

    /// Services learned so far: (network, protocol name, port, answered flows, distinct clients), sorted.
    public var learnedServices: [(network: String, proto: String, port: UInt16, flows: UInt64, clients: Int)] {
        services.keys.sorted().compactMap { key in
            guard let service = services[key], service.lastTS >= expiredBefore else { return nil }
            return (
                key.network.description, FlowRecord.protoName(key.proto), key.port, service.flows,
                service.clients.count
            )
        }
    }

    /// Whether the flow was answered by its responder (a server exists there), as opposed to a probe.
    public static func isAnswered(_ flow: FlowRecord) -> Bool {
        switch flow.proto {
        case IPProtocol.tcp: return ["S1", "S2", "S3", "SF", "RSTO", "RSTR"].contains(flow.connState)
        case IPProtocol.udp: return flow.respPackets > 0 && flow.icmpType == nil
        default: return false
        }
    }

    public func observe(_ record: Record, clock: DetectionClock) -> [AlertRecord] {
        guard case .flow(let flow) = record, flow.proto == IPProtocol.tcp || flow.proto == IPProtocol.udp else {
            return []
        }
        guard Self.isAnswered(flow), config.includeEphemeral || flow.id.respPort < 32768 else { return [] }
        guard remember(uid: flow.uid) else { return [] }
        // Warm-up ends when event time (the newest flow start or watermark seen) passes the first flow + warm-up, so a
        // late, older flow arriving after that is judged, not learned.
        let start = min(firstTS ?? flow.ts, flow.ts)
        firstTS = start
        newest = max(newest, flow.ts, clock.event.isFinite ? clock.event : newest)
        let learning = newest < start + config.warmUp
        let bits = flow.id.respHost.isV4Address ? config.networkBitsV4 : config.networkBitsV6
        let key = ServiceKey(
            network: NetworkPrefix(flow.id.respHost, length: bits), proto: flow.proto, port: flow.id.respPort)
        let portKey = PortKey(proto: flow.proto, port: flow.id.respPort)
        // The port's share before this flow counts: how rare it was when it appeared.
        let share = totalFlows > 0 ? Double(portFlows[portKey] ?? 0) / Double(totalFlows) : 0
        portFlows[portKey, default: 0] += 1
        totalFlows += 1

        var service: Service
        let isNew: Bool
        if let existing = services[key], existing.lastTS >= expiredBefore {
            service = existing
            isNew = false
        } else {
            makeRoom()
            service = Service(firstTS: flow.ts, lastTS: flow.ts)
            isNew = true
        }
        service.flows += 1
        if service.clients.count < config.maxClients { service.clients.insert(flow.id.origHost) }
        service.firstTS = min(service.firstTS, flow.ts)
        service.lastTS = max(service.lastTS, flow.ts)
        var alerts: [AlertRecord] = []
        if isNew && !learning {
            let rare = share < config.rareFraction && !config.commonPorts.contains(flow.id.respPort)
            let subtype = rare ? "rare-port" : "new-service"
            let episode = Episode(
                id: AlertID.make(
                    kind: .unusualPort, key: "ports|\(key.network)|\(key.proto)|\(key.port)", start: flow.ts),
                subtype: subtype, raised: flow.ts, reportedFlows: service.flows, reportedClients: service.clients.count,
                portShare: share, src: flow.id.origHost.description, servers: [flow.id.respHost.description],
                sensors: [flow.sensor])
            service.episode = episode
            alerts.append(alert(key, service, episode))
        } else if var episode = service.episode {
            var grew = false
            let server = flow.id.respHost.description
            if !episode.servers.contains(server) && episode.servers.count < 16 {
                episode.servers.append(server)
                episode.servers.sort()
                grew = true
            }
            if !episode.sensors.contains(flow.sensor) && episode.sensors.count < 16 {
                episode.sensors.append(flow.sensor)
                episode.sensors.sort()
                grew = true
            }
            if service.flows >= episode.reportedFlows * 2 || service.clients.count >= episode.reportedClients * 2 {
                grew = true
            }
            if grew {
                episode.reportedFlows = service.flows
                episode.reportedClients = service.clients.count
                alerts.append(alert(key, service, episode))
            }
            service.episode = episode
        }
        services[key] = service
        return alerts
    }

    public func advance(to clock: DetectionClock) -> [AlertRecord] {
        guard clock.event.isFinite else { return [] }
        // Expiry is exact at once (`expiredBefore`); the walk that frees the expired services runs only every tenth
        // of `expiry` (at most an hour) of event time, not after every batch.
        expiredBefore = max(expiredBefore, clock.event - config.expiry)
        guard clock.event >= nextSweep else { return [] }
        nextSweep = clock.event + max(1, min(config.expiry / 10, 3600))
        var expired: [ServiceKey] = []
        for (key, service) in services where service.lastTS < expiredBefore { expired.append(key) }
        for key in expired { services[key] = nil }
        return []
    }

    public var usage: DetectorUsage {
        let serviceBytes = services.values.reduce(0) { total, service in
            total + 160 + service.clients.count * 40 + (service.episode == nil ? 0 : 200)
        }
        let uidBytes = seenUIDs.reduce(0) { $0 + 48 + $1.utf8.count } + uidOrder.count * 16
        return DetectorUsage(
            name: name, entries: services.count + portFlows.count + seenUIDs.count,
            approximateBytes: serviceBytes + portFlows.count * 32 + uidBytes, evicted: evicted)
    }

    /// True the first time a uid is seen (bounded FIFO of uids; a forgotten uid's next record counts again), and
    /// always for an empty uid.
    private func remember(uid: String) -> Bool {
        guard !uid.isEmpty else { return true }  // no uid: nothing to tell its records apart by, count each
        guard !seenUIDs.contains(uid) else { return false }
        seenUIDs.insert(uid)
        if uidOrder.count < config.maxTrackedFlows {
            uidOrder.append(uid)
        } else {
            seenUIDs.remove(uidOrder[uidHead])
            uidOrder[uidHead] = uid
            uidHead = (uidHead + 1) % uidOrder.count
            evicted += 1
        }
        return true
    }

    /// Evicts the least recently seen eighth of the services when the cap is reached (a partial selection once per
    /// batch keeps eviction cheap; ties go by key so runs are deterministic).
    private func makeRoom() {
        guard services.count >= config.maxServices else { return }
        let batch = max(1, config.maxServices / 8)
        let victims = PartialSelection.smallest(batch, of: Array(services)) { a, b in
            a.value.lastTS != b.value.lastTS ? a.value.lastTS < b.value.lastTS : a.key < b.key
        }
        for victim in victims { services[victim.key] = nil }
        evicted += UInt64(victims.count)
    }

    private func alert(_ key: ServiceKey, _ service: Service, _ episode: Episode) -> AlertRecord {
        let proto = FlowRecord.protoName(key.proto)
        let what =
            episode.subtype == "rare-port"
            ? "rare port \(key.port)/\(proto) answered in \(key.network)"
            : "new service \(key.port)/\(proto) in \(key.network)"
        let message =
            "\(what): \(service.flows) answered flow\(service.flows == 1 ? "" : "s") from \(service.clients.count) "
            + "client\(service.clients.count == 1 ? "" : "s"), first server \(episode.servers.first ?? "?")"
        let detail: [String: AlertValue] = [
            "network": .string(key.network.description),
            "port": .int(Int64(key.port)),
            "proto": .string(proto),
            "flows_seen": .int(Int64(clamping: service.flows)),
            "clients": .int(Int64(service.clients.count)),
            "port_share": .double(episode.portShare),
            "common_port": .bool(config.commonPorts.contains(key.port)),
        ]
        return AlertRecord(
            ts: episode.raised, id: episode.id, kind: .unusualPort, subtype: episode.subtype,
            severity: episode.subtype == "rare-port" ? .high : .medium, src: episode.src, targets: episode.servers,
            ports: [key.port], firstTS: service.firstTS, lastTS: service.lastTS, sensors: episode.sensors,
            count: Int(clamping: service.flows), message: message, detail: detail)
    }
}

extension IPAddress {
    var isV4Address: Bool {
        if case .v4 = self { return true }
        return false
    }
}
