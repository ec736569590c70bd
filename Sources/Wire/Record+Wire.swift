import Flows
import Foundation
import Packets

/// A record message whose fields cannot form a record (an address of the wrong length, say).
public struct WireRecordError: Error, Hashable, Sendable, CustomStringConvertible {
    public var field: String
    public var reason: String
    public var description: String { "\(field): \(reason)" }

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
}

/// Epoch seconds <-> the integer microseconds the wire carries.
enum Micros {
    static func from(_ seconds: Double) -> Int64 {
        let micros = (seconds * 1_000_000).rounded()
        guard micros.isFinite, micros.magnitude < 9.0e18 else { return 0 }
        return Int64(micros)
    }

    static func seconds(_ micros: Int64) -> Double { Double(micros) / 1_000_000 }
}

extension IPAddress {
    /// An address from its 4 or 16 network-order bytes.
    init?(wireBytes data: Data) {
        let bytes = [UInt8](data)
        switch bytes.count {
        case 4:
            self = .v4(bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        case 16:
            let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            self = .v6(high, low)
        default:
            return nil
        }
    }
}

extension ConnID {
    var message: Wirewatch_V1_ConnId {
        var id = Wirewatch_V1_ConnId()
        id.origH = Data(origHost.bytes)
        id.origP = UInt32(origPort)
        id.respH = Data(respHost.bytes)
        id.respP = UInt32(respPort)
        return id
    }

    init(message id: Wirewatch_V1_ConnId, field: String) throws(WireRecordError) {
        guard let orig = IPAddress(wireBytes: id.origH) else {
            throw WireRecordError(field: field + ".orig_h", reason: "\(id.origH.count) bytes, not 4 or 16")
        }
        guard let resp = IPAddress(wireBytes: id.respH) else {
            throw WireRecordError(field: field + ".resp_h", reason: "\(id.respH.count) bytes, not 4 or 16")
        }
        guard let origPort = UInt16(exactly: id.origP), let respPort = UInt16(exactly: id.respP) else {
            throw WireRecordError(field: field, reason: "port above 65535")
        }
        self.init(origHost: orig, origPort: origPort, respHost: resp, respPort: respPort)
    }
}

/// Narrows a wire integer to its record type, naming the field when it does not fit.
func narrow<T: FixedWidthInteger>(_ value: some BinaryInteger, _ field: String) throws(WireRecordError) -> T {
    guard let narrowed = T(exactly: value) else {
        throw WireRecordError(field: field, reason: "\(value) out of range")
    }
    return narrowed
}

/// Records collected into one `RecordBatch` message.
public struct BatchBuilder: Sendable {
    public private(set) var batch = Wirewatch_V1_RecordBatch()
    public private(set) var count = 0

    public init() {}

    public mutating func append(_ record: Record) {
        count += 1
        switch record {
        case .flow(let r):
            var m = Wirewatch_V1_Flow()
            m.tsMicros = Micros.from(r.ts)
            m.uid = r.uid
            m.id = r.id.message
            m.proto = UInt32(r.proto)
            m.service = r.service ?? ""
            m.durationMicros = Micros.from(r.duration)
            m.origBytes = r.origBytes
            m.respBytes = r.respBytes
            m.origPkts = r.origPackets
            m.respPkts = r.respPackets
            m.origIpBytes = r.origIPBytes
            m.respIpBytes = r.respIPBytes
            m.connState = r.connState
            m.history = r.history
            if let flags = r.tcpFlagsOrig { m.tcpFlagsOrig = UInt32(flags.rawValue) }
            if let flags = r.tcpFlagsResp { m.tcpFlagsResp = UInt32(flags.rawValue) }
            m.retransPkts = r.retransPackets
            if let type = r.icmpType { m.icmpType = UInt32(type) }
            if let code = r.icmpCode { m.icmpCode = UInt32(code) }
            if let vlan = r.vlan { m.vlan = UInt32(vlan) }
            if let vlan = r.innerVlan { m.innerVlan = UInt32(vlan) }
            m.communityID = r.communityID
            m.final = r.final
            m.endReason = r.reason
            m.truncated = r.truncated
            batch.flows.append(m)
        case .dns(let r):
            var m = Wirewatch_V1_Dns()
            m.tsMicros = Micros.from(r.ts)
            m.uid = r.uid
            m.id = r.id.message
            m.proto = UInt32(r.proto)
            m.transID = UInt32(r.transID)
            if let query = r.query { m.query = query }
            if let qtype = r.qtype { m.qtype = UInt32(qtype) }
            if let rcode = r.rcode { m.rcode = UInt32(rcode) }
            m.answers = r.answers
            m.ttls = r.ttls.map { UInt32(clamping: Int64($0)) }
            if let rtt = r.rtt { m.rttMicros = Micros.from(rtt) }
            m.rejected = r.rejected
            batch.dns.append(m)
        case .http(let r):
            var m = Wirewatch_V1_Http()
            let t = r.transaction
            m.tsMicros = Micros.from(r.ts)
            m.uid = r.uid
            m.id = r.id.message
            m.transDepth = UInt32(clamping: r.transDepth)
            if let v = t.method { m.method = v }
            if let v = t.host { m.host = v }
            if let v = t.uri { m.uri = v }
            if let v = t.referrer { m.referrer = v }
            if let v = t.version { m.version = v }
            if let v = t.userAgent { m.userAgent = v }
            m.requestBodyLen = UInt64(clamping: t.requestBodyLength)
            m.responseBodyLen = UInt64(clamping: t.responseBodyLength)
            if let v = t.statusCode { m.statusCode = UInt32(clamping: v) }
            if let v = t.statusMessage { m.statusMsg = v }
            batch.http.append(m)
        case .tls(let r):
            var m = Wirewatch_V1_Tls()
            m.tsMicros = Micros.from(r.ts)
            m.uid = r.uid
            m.id = r.id.message
            if let v = r.version { m.version = v }
            if let v = r.cipher { m.cipher = UInt32(v) }
            if let v = r.serverName { m.serverName = v }
            m.alpn = r.alpn
            if let v = r.ja3 { m.ja3 = v }
            if let v = r.ja4 { m.ja4 = v }
            batch.tls.append(m)
        case .series(let r):
            var m = Wirewatch_V1_Series()
            m.tsMicros = Micros.from(r.ts)
            m.intervalMicros = Micros.from(r.interval)
            m.packets = r.packets
            m.bytes = r.bytes
            m.flows = r.flows
            m.perProtocol = r.perProtocol.keys.sorted().compactMap { name in
                guard let c = r.perProtocol[name] else { return nil }
                var counters = Wirewatch_V1_ProtocolCounters()
                counters.protocol = name
                counters.packets = c.packets
                counters.bytes = c.bytes
                counters.flows = c.flows
                return counters
            }
            batch.series.append(m)
        case .stats(let r):
            var m = Wirewatch_V1_Stats()
            m.tsMicros = Micros.from(r.ts)
            m.source = r.source
            m.packetsReceived = r.packetsReceived
            if let v = r.packetsDroppedKernel { m.packetsDroppedKernel = v }
            if let v = r.packetsDroppedInterface { m.packetsDroppedInterface = v }
            m.bytesReceived = r.bytesReceived
            m.nonIpPackets = r.nonIPPackets
            m.truncatedPackets = r.truncatedPackets
            m.decodeErrors = r.decodeErrors
            m.fragments = r.fragments
            m.fragmentsReassembled = r.fragmentsReassembled
            m.fragmentsExpired = r.fragmentsExpired
            m.flowTableSize = UInt64(clamping: r.flowTableSize)
            m.flowsCreated = r.flowsCreated
            m.flowsEvicted = r.flowsEvicted
            m.recordsDropped = r.recordsDropped
            m.spoolBytes = r.spoolBytes
            m.weird = r.weird
            m.final = r.final
            batch.stats.append(m)
        }
    }

    /// The batch message with its sequence number; the builder starts empty again.
    public mutating func take(sequence: UInt64) -> Wirewatch_V1_RecordBatch {
        var out = batch
        out.sequence = sequence
        batch = Wirewatch_V1_RecordBatch()
        count = 0
        return out
    }
}

extension Wirewatch_V1_RecordBatch {
    /// The batch's records, attributed to `sensor` (the name the collector authenticated, not one the batch claims).
    public func records(sensor: String) throws(WireRecordError) -> [Record] {
        var out: [Record] = []
        out.reserveCapacity(flows.count + dns.count + http.count + tls.count + series.count + stats.count)
        for (i, m) in flows.enumerated() {
            let field = "flows[\(i)]"
            out.append(
                .flow(
                    FlowRecord(
                        ts: Micros.seconds(m.tsMicros), uid: m.uid, sensor: sensor,
                        id: try ConnID(message: m.id, field: field + ".id"),
                        proto: try narrow(m.proto, field + ".proto"), service: m.service.isEmpty ? nil : m.service,
                        duration: Micros.seconds(m.durationMicros), origBytes: m.origBytes, respBytes: m.respBytes,
                        origPackets: m.origPkts, respPackets: m.respPkts, origIPBytes: m.origIpBytes,
                        respIPBytes: m.respIpBytes,
                        connState: m.connState, history: m.history,
                        tcpFlagsOrig: m.hasTcpFlagsOrig
                            ? TCPFlags(rawValue: try narrow(m.tcpFlagsOrig, field + ".tcp_flags_orig")) : nil,
                        tcpFlagsResp: m.hasTcpFlagsResp
                            ? TCPFlags(rawValue: try narrow(m.tcpFlagsResp, field + ".tcp_flags_resp")) : nil,
                        retransPackets: m.retransPkts,
                        icmpType: m.hasIcmpType ? try narrow(m.icmpType, field + ".icmp_type") : nil,
                        icmpCode: m.hasIcmpCode ? try narrow(m.icmpCode, field + ".icmp_code") : nil,
                        vlan: m.hasVlan ? try narrow(m.vlan, field + ".vlan") : nil,
                        innerVlan: m.hasInnerVlan ? try narrow(m.innerVlan, field + ".inner_vlan") : nil,
                        communityID: m.communityID, final: m.final, reason: m.endReason, truncated: m.truncated)))
        }
        for (i, m) in dns.enumerated() {
            let field = "dns[\(i)]"
            let qtype: UInt16? = m.hasQtype ? try narrow(m.qtype, field + ".qtype") : nil
            let rcode: UInt16? = m.hasRcode ? try narrow(m.rcode, field + ".rcode") : nil
            out.append(
                .dns(
                    DNSRecord(
                        ts: Micros.seconds(m.tsMicros), uid: m.uid, sensor: sensor,
                        id: try ConnID(message: m.id, field: field + ".id"),
                        proto: try narrow(m.proto, field + ".proto"),
                        transID: try narrow(m.transID, field + ".trans_id"),
                        query: m.hasQuery ? m.query : nil, qtype: qtype, qtypeName: qtype.map { DNSNames.typeName($0) },
                        rcode: rcode, rcodeName: rcode.map { DNSNames.rcodeName($0) }, answers: m.answers,
                        ttls: m.ttls.map { Double($0) }, rtt: m.hasRttMicros ? Micros.seconds(m.rttMicros) : nil,
                        rejected: m.rejected)))
        }
        for (i, m) in http.enumerated() {
            let field = "http[\(i)]"
            let transaction = HTTPTransaction(
                method: m.hasMethod ? m.method : nil, uri: m.hasUri ? m.uri : nil,
                version: m.hasVersion ? m.version : nil, host: m.hasHost ? m.host : nil,
                userAgent: m.hasUserAgent ? m.userAgent : nil, referrer: m.hasReferrer ? m.referrer : nil,
                statusCode: m.hasStatusCode ? try narrow(m.statusCode, field + ".status_code") : nil,
                statusMessage: m.hasStatusMsg ? m.statusMsg : nil,
                requestBodyLength: try narrow(m.requestBodyLen, field + ".request_body_len"),
                responseBodyLength: try narrow(m.responseBodyLen, field + ".response_body_len"))
            out.append(
                .http(
                    HTTPRecord(
                        ts: Micros.seconds(m.tsMicros), uid: m.uid, sensor: sensor,
                        id: try ConnID(message: m.id, field: field + ".id"),
                        transDepth: try narrow(m.transDepth, field + ".trans_depth"), transaction: transaction)))
        }
        for (i, m) in tls.enumerated() {
            let field = "tls[\(i)]"
            out.append(
                .tls(
                    TLSRecord(
                        ts: Micros.seconds(m.tsMicros), uid: m.uid, sensor: sensor,
                        id: try ConnID(message: m.id, field: field + ".id"),
                        version: m.hasVersion ? m.version : nil,
                        cipher: m.hasCipher ? try narrow(m.cipher, field + ".cipher") : nil,
                        serverName: m.hasServerName ? m.serverName : nil, alpn: m.alpn, ja3: m.hasJa3 ? m.ja3 : nil,
                        ja4: m.hasJa4 ? m.ja4 : nil)))
        }
        for m in series {
            var perProtocol: [String: ProtocolCounters] = [:]
            for c in m.perProtocol {
                var counters = ProtocolCounters()
                counters.packets = c.packets
                counters.bytes = c.bytes
                counters.flows = c.flows
                perProtocol[c.protocol] = counters
            }
            out.append(
                .series(
                    SeriesRecord(
                        ts: Micros.seconds(m.tsMicros), interval: Micros.seconds(m.intervalMicros), sensor: sensor,
                        packets: m.packets, bytes: m.bytes, flows: m.flows, perProtocol: perProtocol)))
        }
        for (i, m) in stats.enumerated() {
            out.append(
                .stats(
                    StatsRecord(
                        ts: Micros.seconds(m.tsMicros), sensor: sensor, source: m.source,
                        packetsReceived: m.packetsReceived,
                        packetsDroppedKernel: m.hasPacketsDroppedKernel ? m.packetsDroppedKernel : nil,
                        packetsDroppedInterface: m.hasPacketsDroppedInterface ? m.packetsDroppedInterface : nil,
                        bytesReceived: m.bytesReceived, nonIPPackets: m.nonIpPackets,
                        truncatedPackets: m.truncatedPackets,
                        decodeErrors: m.decodeErrors, fragments: m.fragments,
                        fragmentsReassembled: m.fragmentsReassembled,
                        fragmentsExpired: m.fragmentsExpired,
                        flowTableSize: try narrow(m.flowTableSize, "stats[\(i)].flow_table_size"),
                        flowsCreated: m.flowsCreated, flowsEvicted: m.flowsEvicted, recordsDropped: m.recordsDropped,
                        spoolBytes: m.spoolBytes, weird: m.weird, final: m.final)))
        }
        return out
    }
}
