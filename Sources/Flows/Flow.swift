import Packets

/// Zeek's TCP endpoint states (TCP_INACTIVE … TCP_RESET), which `conn_state` is computed from.
enum EndpointState: UInt8 {
    case inactive, synSent, synAckSent, partial, established, closed, reset
}

/// What one side of a flow sent.
struct Endpoint {
    var packets: UInt64 = 0
    var ipBytes: UInt64 = 0
    var payloadBytes: UInt64 = 0
    var flags = TCPFlags()
    var state = EndpointState.inactive
    /// The next sequence number expected from this side (TCP), for retransmission and reassembly.
    var nextSequence: UInt32?
}

/// The state of one flow. Owned by the `FlowTable` (and so by the pipeline's thread alone).
final class Flow {
    let key: FlowKey
    let uid: String
    let origAddress: IPAddress
    let origPort: UInt16
    let respAddress: IPAddress
    let respPort: UInt16
    let origIsLow: Bool
    let proto: UInt8
    let vlan: UInt16?
    let innerVlan: UInt16?
    let communityID: String
    let start: Double
    var last: Double
    var lastExport: Double
    var orig = Endpoint()
    var resp = Endpoint()
    var history: [UInt8] = []
    /// Bit per history letter and direction already recorded (each letter appears once per direction).
    var historySeen: UInt64 = 0
    var retransPackets: UInt64 = 0
    var icmpType: UInt8?
    var icmpCode: UInt8?
    var service: String?
    var closing = false
    /// The `FlowTimers` bucket holding this flow's entry, or `Flow.noTimer` once the flow is finished (or is being).
    var timerKey = Flow.noTimer
    static let noTimer = Int.min
    var truncated = false

    // Application layer state lives in a separate object, allocated only for flows that carry DNS, HTTP or
    // TLS: most flows (scans, bulk transfers) never need it, and a smaller Flow is cheaper to make and free.
    var appDecided = false
    /// nil until the flow turns out to carry DNS, HTTP or TLS.
    private(set) var app: FlowApplication?

    /// The flow's application state, created on first use.
    func application() -> FlowApplication {
        if let app { return app }
        let created = FlowApplication()
        app = created
        return created
    }

    init(
        key: FlowKey, uid: String, origAddress: IPAddress, origPort: UInt16, respAddress: IPAddress, respPort: UInt16,
        origIsLow: Bool, vlan: UInt16?, innerVlan: UInt16?, communityID: String, start: Double
    ) {
        self.key = key
        self.uid = uid
        self.origAddress = origAddress
        self.origPort = origPort
        self.respAddress = respAddress
        self.respPort = respPort
        self.origIsLow = origIsLow
        self.proto = key.proto
        self.vlan = vlan
        self.innerVlan = innerVlan
        self.communityID = communityID
        self.start = start
        self.last = start
        self.lastExport = start
    }

    var connID: ConnID { ConnID(origHost: origAddress, origPort: origPort, respHost: respAddress, respPort: respPort) }

    /// Adds a history letter (upper case for the originator, lower case for the responder) the first time it happens.
    @inline(__always)
    func addHistory(_ letter: UInt8, fromOriginator: Bool) {
        // Letters A…Z map to bits 0…25 for the originator and 32…57 for the responder.
        let index = UInt64(letter &- UInt8(ascii: "A")) + (fromOriginator ? 0 : 32)
        guard index < 64 else { return }
        let bit: UInt64 = 1 << index
        guard historySeen & bit == 0 else { return }
        historySeen |= bit
        history.append(fromOriginator ? letter : letter | 0x20)
    }

    /// Zeek's `conn_state` (base/protocols/conn/main.zeek).
    var connState: String {
        let os = orig.state
        let rs = resp.state
        switch proto {
        case IPProtocol.tcp:
            let oInactive = os == .inactive || os == .partial
            let rInactive = rs == .inactive || rs == .partial
            if rs == .reset {
                if os == .synSent || os == .synAckSent
                    || (os == .reset && orig.payloadBytes == 0 && resp.payloadBytes == 0)
                {
                    return "REJ"
                }
                return oInactive ? "RSTRH" : "RSTR"
            }
            if os == .reset {
                if rInactive {
                    return historyMatchesRSTOS0 ? "RSTOS0" : "OTH"
                }
                return "RSTO"
            }
            if rs == .closed && os == .closed { return "SF" }
            if os == .closed { return rInactive ? "SH" : "S2" }
            if rs == .closed { return oInactive ? "SHR" : "S3" }
            if os == .synSent && rs == .inactive { return "S0" }
            if os == .established && rs == .established { return "S1" }
            return "OTH"
        case IPProtocol.udp:
            let o = orig.packets > 0
            let r = resp.packets > 0
            if o { return r ? "SF" : "S0" }
            return r ? "SHR" : "OTH"
        default:
            return "OTH"
        }
    }

    /// `/^\^?S[^HAFGIQ]*R.*/`: a SYN, then a reset with no handshake or data in between.
    private var historyMatchesRSTOS0: Bool {
        var letters = history[...]
        if letters.first == UInt8(ascii: "^") { letters = letters.dropFirst() }
        guard letters.first == UInt8(ascii: "S") else { return false }
        for letter in letters.dropFirst() {
            if letter == UInt8(ascii: "R") { return true }
            if "HAFGIQ".utf8.contains(letter) { return false }
        }
        return false
    }

    func record(sensor: String, final: Bool, reason: String) -> FlowRecord {
        let isTCP = proto == IPProtocol.tcp
        return FlowRecord(
            ts: start, uid: uid, sensor: sensor, id: connID, proto: proto, service: service,
            duration: last - start, origBytes: orig.payloadBytes, respBytes: resp.payloadBytes,
            origPackets: orig.packets, respPackets: resp.packets, origIPBytes: orig.ipBytes, respIPBytes: resp.ipBytes,
            connState: connState, history: String(decoding: history, as: UTF8.self),
            tcpFlagsOrig: isTCP ? orig.flags : nil, tcpFlagsResp: isTCP ? resp.flags : nil,
            retransPackets: retransPackets, icmpType: icmpType, icmpCode: icmpCode, vlan: vlan, innerVlan: innerVlan,
            communityID: communityID, final: final, reason: reason, truncated: truncated)
    }
}

/// The application-layer parsers and pending state of one flow; at most one family is active.
final class FlowApplication {
    var http: HTTPConnectionParser? = nil
    var httpDepth: Int = 0
    var httpRequestTimes: [Double] = []
    var tlsOrig: TLSStreamScanner? = nil
    var tlsResp: TLSStreamScanner? = nil
    var clientHello: TLSClientHello? = nil
    var serverHello: TLSServerHello? = nil
    var tlsStart: Double = 0
    var tlsLogged: Bool = false
    var dnsOrig: DNSTCPFramer? = nil
    var dnsResp: DNSTCPFramer? = nil
    var dnsPending: [UInt16: PendingDNSQuery] = [:]
    var dnsPendingOrder: [UInt16] = []
}

/// A DNS query waiting for its response.
struct PendingDNSQuery {
    var ts: Double
    var message: DNSMessage
}
