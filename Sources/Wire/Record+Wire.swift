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
        guard let address = data.withUnsafeBytes({ WireAddressBytes($0).address }) else { return nil }
        self = address
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

    init(message id: Wirewatch_V1_ConnId, field: @autoclosure () -> String) throws(WireRecordError) {
        try self.init(wire: WireConnFields(message: id), field: field())
    }

    init(wire id: WireConnFields, field: @autoclosure () -> String) throws(WireRecordError) {
        guard let orig = id.origH.address else {
            throw WireRecordError(field: field() + ".orig_h", reason: "\(id.origH.count) bytes, not 4 or 16")
        }
        guard let resp = id.respH.address else {
            throw WireRecordError(field: field() + ".resp_h", reason: "\(id.respH.count) bytes, not 4 or 16")
        }
        guard let origPort = UInt16(exactly: id.origP), let respPort = UInt16(exactly: id.respP) else {
            throw WireRecordError(field: field(), reason: "port above 65535")
        }
        self.init(origHost: orig, origPort: origPort, respHost: resp, respPort: respPort)
    }
}

/// The ranges a real sensor's values fall in, checked as records are decoded from the wire, so that no store holds a
/// value that cannot be real: a record out of range is dropped (`recordsAndRefusals(sensor:)`), and the collector
/// counts it and logs the record, field and value, while the rest of its batch is stored and acknowledged.
/// Dropped rather than clamped: a sensor that reports 2^64-1 bytes is broken or hostile, and a clamped value would
/// still be a lie in every total. Every limit is far beyond physics, so an honest sensor never meets one; queries
/// still saturate their sums (`saturating_sum`, `addingSaturated`) for what older versions stored.
public enum RecordLimits {
    /// Packets and bytes of one flow (cumulative over its life) or of one `series` interval, HTTP body lengths:
    /// 2^53, the largest integer every JSON reader (JavaScript, jq) and a chart's `Double` hold exactly. In bytes that
    /// is 8 PiB, a 100 Gbit/s link filled for 8.3 days by one flow; in packets, 700 days of minimum-size frames at
    /// 100 Gbit/s (148.8 Mpps).
    public static let maxCounter: UInt64 = 1 << 53
    /// Counters since a sensor started (`stats`): 2^62, a 100 Gbit/s link filled for 11.7 years. Below 2^63, so
    /// the 64-bit pattern a store keeps is never negative.
    public static let maxLifetimeCounter: UInt64 = 1 << 62
    /// Timestamps span what a classic pcap header's 32-bit seconds can say, signed or unsigned: from -2^31 s
    /// (1901-12-13) to 2^32 s (2106-02-07). Live captures carry the kernel's clock; only a crafted capture file
    /// (pcapng has 64-bit times) or a hostile sensor says more.
    public static let minTimestampMicros: Int64 = -(1 << 31) * 1_000_000
    public static let maxTimestampMicros: Int64 = (1 << 32) * 1_000_000
    /// Longest flow, and longest `series` interval: 10 years of 365.25 days (a flow lives only while packets keep
    /// coming within its idle timeout; the sensor's `--series-interval` has no upper bound of its own).
    public static let maxDurationMicros: Int64 = 315_576_000 * 1_000_000
    /// Longest DNS round trip either way: one day (a sensor pairs a query with its answer within seconds). Either
    /// way, because the answer of a capture merged from two interfaces can carry the earlier timestamp.
    public static let maxRTTMicros: Int64 = 86_400 * 1_000_000
    /// HTTP status codes are three digits (RFC 9110 §15).
    public static let maxStatusCode: UInt32 = 999
    /// Flow-table entries: 2^40, a trillion, beyond the memory of any host that could run a sensor.
    public static let maxFlowTableSize: UInt64 = 1 << 40
}

/// `value`, when it is at most `limit`; else an error naming the field.
func counter(
    _ value: UInt64, _ field: @autoclosure () -> String, limit: UInt64 = RecordLimits.maxCounter
) throws(WireRecordError) -> UInt64 {
    guard value <= limit else {
        throw WireRecordError(field: field(), reason: "\(value) is above \(limit), more than any sensor can count")
    }
    return value
}

/// Epoch seconds of a wire timestamp between `RecordLimits.minTimestampMicros` and `maxTimestampMicros`.
func timestamp(_ micros: Int64, _ field: @autoclosure () -> String) throws(WireRecordError) -> Double {
    guard micros >= RecordLimits.minTimestampMicros, micros <= RecordLimits.maxTimestampMicros else {
        throw WireRecordError(
            field: field(), reason: "\(micros) µs is outside 1901-12-13 ... 2106-02-07, no capture's time")
    }
    return Micros.seconds(micros)
}

/// Seconds of a wire duration within `range` microseconds.
func span(
    _ micros: Int64, _ field: @autoclosure () -> String, range: ClosedRange<Int64>
) throws(WireRecordError) -> Double {
    guard range.contains(micros) else {
        throw WireRecordError(
            field: field(), reason: "\(micros) µs is outside \(range.lowerBound) ... \(range.upperBound) µs")
    }
    return Micros.seconds(micros)
}

/// Narrows a wire integer to its record type, naming the field when it does not fit.
func narrow<T: FixedWidthInteger>(
    _ value: some BinaryInteger, _ field: @autoclosure () -> String
) throws(WireRecordError) -> T {
    guard let narrowed = T(exactly: value) else {
        throw WireRecordError(field: field(), reason: "\(value) out of range")
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
    /// The batch's records, attributed to `sensor` (the name the collector authenticated, not one the batch claims);
    /// throws for the first record that cannot be real (see `RecordLimits`).
    public func records(sensor: String) throws(WireRecordError) -> [Record] {
        let (records, refused) = recordsAndRefusals(sensor: sensor)
        if let first = refused.first { throw first }
        return records
    }

    /// The batch's records that can be real, and an error for each that cannot. The collector stores the first and
    /// counts the second: refusing the whole batch would make its sensor replay it for ever (a crafted capture file
    /// is enough to make an honest sensor produce one such record), so every later record of that sensor would be
    /// lost too.
    public func recordsAndRefusals(sensor: String) -> (records: [Record], refused: [WireRecordError]) {
        var refused: [WireRecordError] = []
        var out: [Record] = []
        out.reserveCapacity(flows.count + dns.count + http.count + tls.count + series.count + stats.count)
        for (i, m) in flows.enumerated() {
            do throws(WireRecordError) {
                out.append(.flow(try FlowRecord(wire: WireFlowFields(message: m), sensor: sensor, index: i)))
            } catch {
                refused.append(error)
            }
        }
        for (i, m) in dns.enumerated() {
            do throws(WireRecordError) {
                func field() -> String { "dns[\(i)]" }
                let qtype: UInt16? = m.hasQtype ? try narrow(m.qtype, field() + ".qtype") : nil
                let rcode: UInt16? = m.hasRcode ? try narrow(m.rcode, field() + ".rcode") : nil
                out.append(
                    .dns(
                        DNSRecord(
                            ts: try timestamp(m.tsMicros, field() + ".ts"), uid: m.uid, sensor: sensor,
                            id: try ConnID(message: m.id, field: field() + ".id"),
                            proto: try narrow(m.proto, field() + ".proto"),
                            transID: try narrow(m.transID, field() + ".trans_id"),
                            query: m.hasQuery ? m.query : nil, qtype: qtype,
                            qtypeName: qtype.map { DNSNames.typeName($0) },
                            rcode: rcode, rcodeName: rcode.map { DNSNames.rcodeName($0) }, answers: m.answers,
                            ttls: m.ttls.map { Double($0) },
                            rtt: m.hasRttMicros
                                ? try span(
                                    m.rttMicros, field() + ".rtt",
                                    range: -RecordLimits.maxRTTMicros...RecordLimits.maxRTTMicros) : nil,
                            rejected: m.rejected)))
            } catch {
                refused.append(error)
            }
        }
        for (i, m) in http.enumerated() {
            do throws(WireRecordError) {
                func field() -> String { "http[\(i)]" }
                let transaction = HTTPTransaction(
                    method: m.hasMethod ? m.method : nil, uri: m.hasUri ? m.uri : nil,
                    version: m.hasVersion ? m.version : nil, host: m.hasHost ? m.host : nil,
                    userAgent: m.hasUserAgent ? m.userAgent : nil, referrer: m.hasReferrer ? m.referrer : nil,
                    statusCode: m.hasStatusCode
                        ? try narrow(
                            counter(
                                UInt64(m.statusCode), field() + ".status_code",
                                limit: UInt64(RecordLimits.maxStatusCode)),
                            field() + ".status_code") : nil,
                    statusMessage: m.hasStatusMsg ? m.statusMsg : nil,
                    requestBodyLength: try narrow(
                        counter(m.requestBodyLen, field() + ".request_body_len"), field() + ".request_body_len"),
                    responseBodyLength: try narrow(
                        counter(m.responseBodyLen, field() + ".response_body_len"), field() + ".response_body_len"))
                out.append(
                    .http(
                        HTTPRecord(
                            ts: try timestamp(m.tsMicros, field() + ".ts"), uid: m.uid, sensor: sensor,
                            id: try ConnID(message: m.id, field: field() + ".id"),
                            transDepth: try narrow(m.transDepth, field() + ".trans_depth"), transaction: transaction)))
            } catch {
                refused.append(error)
            }
        }
        for (i, m) in tls.enumerated() {
            do throws(WireRecordError) {
                func field() -> String { "tls[\(i)]" }
                out.append(
                    .tls(
                        TLSRecord(
                            ts: try timestamp(m.tsMicros, field() + ".ts"), uid: m.uid, sensor: sensor,
                            id: try ConnID(message: m.id, field: field() + ".id"),
                            version: m.hasVersion ? m.version : nil,
                            cipher: m.hasCipher ? try narrow(m.cipher, field() + ".cipher") : nil,
                            serverName: m.hasServerName ? m.serverName : nil, alpn: m.alpn, ja3: m.hasJa3 ? m.ja3 : nil,
                            ja4: m.hasJa4 ? m.ja4 : nil)))
            } catch {
                refused.append(error)
            }
        }
        for (i, m) in series.enumerated() {
            do throws(WireRecordError) {
                func field() -> String { "series[\(i)]" }
                var perProtocol: [String: ProtocolCounters] = [:]
                for c in m.perProtocol {
                    // The name goes into an error the collector logs: its control characters are shown, not sent to a terminal.
                    let name = field() + ".per_protocol[\(DisplayText.escape(c.protocol))]"
                    var counters = ProtocolCounters()
                    counters.packets = try counter(c.packets, name + ".packets")
                    counters.bytes = try counter(c.bytes, name + ".bytes")
                    counters.flows = try counter(c.flows, name + ".flows")
                    perProtocol[c.protocol] = counters
                }
                out.append(
                    .series(
                        SeriesRecord(
                            ts: try timestamp(m.tsMicros, field() + ".ts"),
                            interval: try span(
                                m.intervalMicros, field() + ".interval", range: 0...RecordLimits.maxDurationMicros),
                            sensor: sensor, packets: try counter(m.packets, field() + ".packets"),
                            bytes: try counter(m.bytes, field() + ".bytes"),
                            flows: try counter(m.flows, field() + ".flows"),
                            perProtocol: perProtocol)))
            } catch {
                refused.append(error)
            }
        }
        for (i, m) in stats.enumerated() {
            do throws(WireRecordError) {
                func field() -> String { "stats[\(i)]" }
                func lifetime(_ value: UInt64, _ name: String) throws(WireRecordError) -> UInt64 {
                    try counter(value, field() + "." + name, limit: RecordLimits.maxLifetimeCounter)
                }
                var weird: [String: UInt64] = [:]
                for (name, value) in m.weird {
                    weird[name] = try lifetime(value, "weird[\(DisplayText.escape(name))]")
                }
                out.append(
                    .stats(
                        StatsRecord(
                            ts: try timestamp(m.tsMicros, field() + ".ts"), sensor: sensor, source: m.source,
                            packetsReceived: try lifetime(m.packetsReceived, "packets_received"),
                            packetsDroppedKernel: m.hasPacketsDroppedKernel
                                ? try lifetime(m.packetsDroppedKernel, "packets_dropped_kernel") : nil,
                            packetsDroppedInterface: m.hasPacketsDroppedInterface
                                ? try lifetime(m.packetsDroppedInterface, "packets_dropped_interface") : nil,
                            bytesReceived: try lifetime(m.bytesReceived, "bytes_received"),
                            nonIPPackets: try lifetime(m.nonIpPackets, "non_ip_packets"),
                            truncatedPackets: try lifetime(m.truncatedPackets, "truncated_packets"),
                            decodeErrors: try lifetime(m.decodeErrors, "decode_errors"),
                            fragments: try lifetime(m.fragments, "fragments"),
                            fragmentsReassembled: try lifetime(m.fragmentsReassembled, "fragments_reassembled"),
                            fragmentsExpired: try lifetime(m.fragmentsExpired, "fragments_expired"),
                            flowTableSize: try narrow(
                                counter(
                                    m.flowTableSize, field() + ".flow_table_size", limit: RecordLimits.maxFlowTableSize),
                                field() + ".flow_table_size"),
                            flowsCreated: try lifetime(m.flowsCreated, "flows_created"),
                            flowsEvicted: try lifetime(m.flowsEvicted, "flows_evicted"),
                            recordsDropped: try lifetime(m.recordsDropped, "records_dropped"),
                            spoolBytes: try lifetime(m.spoolBytes, "spool_bytes"), weird: weird, final: m.final)))
            } catch {
                refused.append(error)
            }
        }
        return (out, refused)
    }
}

extension FlowRecord {
    /// The record of a Flow message's fields, attributed to `sensor`; throws for the first field that cannot be real
    /// (see `RecordLimits`), naming it as `flows[index].field`. Names are only made for an error: this runs for
    /// every record the collector receives.
    init(wire m: WireFlowFields, sensor: String, index i: Int) throws(WireRecordError) {
        func field(_ name: StaticString) -> String { "flows[\(i)]\(name)" }
        func small<T: FixedWidthInteger>(_ value: UInt32?, _ name: StaticString) throws(WireRecordError) -> T? {
            guard let value else { return nil }
            return try narrow(value, field(name))
        }
        // In the order of the record's fields: the first that cannot be real is the one named.
        let ts = try timestamp(m.tsMicros, field(".ts"))
        let id = try ConnID(wire: m.id, field: field(".id"))
        let proto: UInt8 = try narrow(m.proto, field(".proto"))
        let duration = try span(m.durationMicros, field(".duration"), range: 0...RecordLimits.maxDurationMicros)
        let origBytes = try counter(m.origBytes, field(".orig_bytes"))
        let respBytes = try counter(m.respBytes, field(".resp_bytes"))
        let origPackets = try counter(m.origPkts, field(".orig_pkts"))
        let respPackets = try counter(m.respPkts, field(".resp_pkts"))
        let origIPBytes = try counter(m.origIPBytes, field(".orig_ip_bytes"))
        let respIPBytes = try counter(m.respIPBytes, field(".resp_ip_bytes"))
        let flagsOrig: UInt16? = try small(m.tcpFlagsOrig, ".tcp_flags_orig")
        let flagsResp: UInt16? = try small(m.tcpFlagsResp, ".tcp_flags_resp")
        let retransPackets = try counter(m.retransPkts, field(".retrans_pkts"))
        let icmpType: UInt8? = try small(m.icmpType, ".icmp_type")
        let icmpCode: UInt8? = try small(m.icmpCode, ".icmp_code")
        let vlan: UInt16? = try small(m.vlan, ".vlan")
        let innerVlan: UInt16? = try small(m.innerVlan, ".inner_vlan")
        self.init(
            ts: ts, uid: m.uid, sensor: sensor, id: id, proto: proto, service: m.service.isEmpty ? nil : m.service,
            duration: duration, origBytes: origBytes, respBytes: respBytes, origPackets: origPackets,
            respPackets: respPackets, origIPBytes: origIPBytes, respIPBytes: respIPBytes, connState: m.connState,
            history: m.history, tcpFlagsOrig: flagsOrig.map(TCPFlags.init(rawValue:)),
            tcpFlagsResp: flagsResp.map(TCPFlags.init(rawValue:)), retransPackets: retransPackets,
            icmpType: icmpType, icmpCode: icmpCode, vlan: vlan, innerVlan: innerVlan, communityID: m.communityID,
            final: m.final, reason: m.endReason, truncated: m.truncated)
    }
}
