import Packets

/// Zeek's TCP endpoint states (TCP_INACTIVE … TCP_RESET), which `conn_state` is computed from.
enum EndpointState: UInt8 {
    case inactive, synSent, synAckSent, partial, established, closed, reset
}

/// What one side of a flow sent. The fields are in this order so that the struct packs into 32 bytes.
struct Endpoint {
    var packets: UInt64 = 0
    var ipBytes: UInt64 = 0
    var payloadBytes: UInt64 = 0
    /// The next sequence number expected from this side (TCP), for retransmission and reassembly.
    var nextSequence: UInt32?
    var state = EndpointState.inactive
    var flags = TCPFlags()
}

/// The state of one flow. Owned by the `FlowTable` (and so by the pipeline's thread alone).
///
/// A table holds up to half a million of these, so a flow stores only what its packets change and what cannot be
/// derived: addresses, ports and VLAN tags are read back from the key, the uid is kept as its serial number and the
/// Community ID is computed when a record is made, and the history letters are inline. The one-byte fields follow
/// the key, whose 42 bytes leave room for them before the next 8-byte boundary. A flow with no application state
/// is then one allocation of 256 bytes (248 requested; `bench/flow-cost.sh` measures what that costs).
final class Flow {
    let key: FlowKey
    /// Whether the originator is the key's low endpoint.
    let origIsLow: Bool
    /// An ICMP message with no counterpart type: its Community ID keeps the sender first.
    let oneWay: Bool
    var icmpType: UInt8?
    var icmpCode: UInt8?
    var service: FlowService?
    var closing = false
    var truncated = false
    var appDecided = false
    /// The uid's number in the table's `UIDGenerator`.
    let serial: UInt64
    let start: Double
    var last: Double
    var lastExport: Double
    var orig = Endpoint()
    var resp = Endpoint()
    var history = HistoryLetters()
    /// Bit per history letter and direction already recorded (each letter appears once per direction).
    var historySeen: UInt64 = 0
    var retransPackets: UInt64 = 0
    /// The `FlowTimers` bucket holding this flow, or `Flow.noTimer` while it is in none; and its neighbours there.
    var timerKey = Flow.noTimer
    var timerPrev: Unmanaged<Flow>?
    var timerNext: Unmanaged<Flow>?
    static let noTimer = Int.min

    // Application layer state lives in a separate object, allocated only for flows that carry DNS, HTTP or
    // TLS: most flows (scans, bulk transfers) never need it, and a smaller Flow is cheaper to make and free.
    /// nil until the flow turns out to carry DNS, HTTP or TLS.
    private(set) var app: FlowApplication?

    /// The flow's application state, created on first use.
    func application() -> FlowApplication {
        if let app { return app }
        let created = FlowApplication()
        app = created
        return created
    }

    init(key: FlowKey, serial: UInt64, origIsLow: Bool, oneWay: Bool, start: Double) {
        self.key = key
        self.serial = serial
        self.origIsLow = origIsLow
        self.oneWay = oneWay
        self.start = start
        self.last = start
        self.lastExport = start
    }

    var proto: UInt8 { key.proto }
    var origAddress: IPAddress { origIsLow ? key.lowAddress : key.highAddress }
    var respAddress: IPAddress { origIsLow ? key.highAddress : key.lowAddress }
    var origPort: UInt16 { origIsLow ? key.lowPort : key.highPort }
    var respPort: UInt16 { origIsLow ? key.highPort : key.lowPort }

    /// The Community ID of the flow's 5-tuple, originator first.
    func communityID(seed: UInt16) -> String {
        CommunityID.hash(
            source: origAddress, destination: respAddress, sourcePort: origPort, destinationPort: respPort,
            proto: proto, seed: seed, oneWay: oneWay)
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
        history.withLetters { all in
            var letters = all[...]
            if letters.first == UInt8(ascii: "^") { letters = letters.dropFirst() }
            guard letters.first == UInt8(ascii: "S") else { return false }
            for letter in letters.dropFirst() {
                if letter == UInt8(ascii: "R") { return true }
                if "HAFGIQ".utf8.contains(letter) { return false }
            }
            return false
        }
    }

    func record(uid: String, sensor: String, communityIDSeed: UInt16, final: Bool, reason: String) -> FlowRecord {
        let isTCP = proto == IPProtocol.tcp
        return FlowRecord(
            ts: start, uid: uid, sensor: sensor, id: connID, proto: proto, service: service?.rawValue,
            duration: last - start, origBytes: orig.payloadBytes, respBytes: resp.payloadBytes,
            origPackets: orig.packets, respPackets: resp.packets, origIPBytes: orig.ipBytes, respIPBytes: resp.ipBytes,
            connState: connState, history: history.text,
            tcpFlagsOrig: isTCP ? orig.flags : nil, tcpFlagsResp: isTCP ? resp.flags : nil,
            retransPackets: retransPackets, icmpType: icmpType, icmpCode: icmpCode, vlan: key.vlan,
            innerVlan: key.innerVlan, communityID: communityID(seed: communityIDSeed), final: final, reason: reason,
            truncated: truncated)
    }
}

/// A flow's history letters, inline. Each letter is recorded at most once per direction and the table records
/// twelve letters, so a history has at most 25 (with the leading `^`): 31 bytes always hold it, and the 32nd holds
/// the count.
struct HistoryLetters {
    private var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private static let capacity = 31

    var count: Int { withUnsafeBytes(of: storage) { Int($0[Self.capacity]) } }

    mutating func append(_ letter: UInt8) {
        withUnsafeMutableBytes(of: &storage) { bytes in
            let count = Int(bytes[Self.capacity])
            guard count < Self.capacity else { return }
            bytes[count] = letter
            bytes[Self.capacity] = UInt8(count + 1)
        }
    }

    func withLetters<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: storage) { body(UnsafeRawBufferPointer(rebasing: $0[..<Int($0[Self.capacity])])) }
    }

    var text: String { withLetters { String(decoding: $0, as: UTF8.self) } }
}

/// The application protocol a flow was recognised as, by Zeek's `service` names.
enum FlowService: String {
    case dns, http, ssl
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
