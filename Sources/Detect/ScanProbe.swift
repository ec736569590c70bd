import Flows
import Packets

/// How a scanner probed one port, read from the flow record of the probe (the originator is the prober).
public enum ScanTechnique: String, Hashable, Sendable, CaseIterable {
    /// A SYN left unanswered or answered by RST: a SYN scan and a connect scan look the same on the wire here.
    case synAttempt
    /// SYN, SYN/ACK, then the prober's RST instead of the ACK: a half-open (SYN) scan of an open port.
    case halfOpen
    /// A completed handshake closed at once without a byte from the prober: a connect scan.
    case connect
    case fin, null, xmas, ack, udp

    /// The episode a probe of this technique belongs to (SYN and connect probes share one).
    var family: ScanFamily {
        switch self {
        case .synAttempt, .halfOpen, .connect: return .tcpOpen
        case .fin: return .fin
        case .null: return .null
        case .xmas: return .xmas
        case .ack: return .ack
        case .udp: return .udp
        }
    }
}

/// The episodes of one source: one per scan family (DESIGN.md's subtypes, SYN and connect together).
enum ScanFamily: Int, Hashable, Sendable, CaseIterable {
    case tcpOpen, fin, null, xmas, ack, udp

    var name: String {
        switch self {
        case .tcpOpen: return "tcp"
        case .fin: return "tcp-fin"
        case .null: return "tcp-null"
        case .xmas: return "tcp-xmas"
        case .ack: return "tcp-ack"
        case .udp: return "udp"
        }
    }
}

/// What the probed port answered.
public enum ScanOutcome: String, Hashable, Sendable {
    /// Answered positively (SYN/ACK, a completed handshake).
    case open
    /// Answered by RST or an ICMP port unreachable.
    case rejected
    /// No answer at all (or an ICMP error other than port unreachable).
    case filtered
}

/// What one flow record says about its originator.
public enum ScanVerdict: Hashable, Sendable {
    /// A probe: the technique and the answer.
    case probe(ScanTechnique, ScanOutcome)
    /// A real exchange (data or a reply): a success for the random walk, never a probe.
    case success
    /// Nothing to learn (ICMP, other protocols, a responder-only fragment of a flow, multicast).
    case ignore

    /// Classifies a flow record (Zeek's `conn_state`/`history`, the originator's and responder's TCP flags).
    public static func classify(_ flow: FlowRecord) -> ScanVerdict {
        // Multicast and broadcast destinations have no ports to scan; unanswered traffic to them is normal.
        if isGroupAddress(flow.id.respHost) { return .ignore }
        switch flow.proto {
        case IPProtocol.tcp: return classifyTCP(flow)
        case IPProtocol.udp: return classifyUDP(flow)
        default: return .ignore
        }
    }

    private static func classifyTCP(_ flow: FlowRecord) -> ScanVerdict {
        guard flow.origPackets > 0 else { return .ignore }
        // Records without flag unions (an older sensor) fall back on the history letters; with neither, a NULL probe
        // cannot be told from a missing field, so nothing is concluded.
        guard let orig = flow.tcpFlagsOrig ?? flags(fromHistory: flow.history, originator: true) else { return .ignore }
        let resp = flow.tcpFlagsResp ?? flags(fromHistory: flow.history, originator: false) ?? TCPFlags()
        let respSynAck = resp.contains(.syn) && resp.contains(.ack)
        let respReset = resp.contains(.rst) || flow.history.contains("r")
        let answered = flow.respPackets > 0
        if orig.contains(.syn) {
            if flow.origBytes > 0 { return .success }
            if respSynAck {
                // The prober's ACK completed the handshake (connect) or it reset instead (half-open).
                let completed = orig.contains(.ack) || flow.history.contains("A")
                if completed && flow.respBytes > 0 { return .success }  // a banner read: a real connection
                return .probe(completed ? .connect : .halfOpen, .open)
            }
            if respReset { return .probe(.synAttempt, .rejected) }
            if !answered { return .probe(.synAttempt, .filtered) }
            return .success
        }
        // No SYN from the originator: a stealth probe, or the middle of a connection whose start was not seen.
        if flow.origBytes > 0 || flow.respBytes > 0 { return .success }
        let probeFlags: TCPFlags = [.fin, .syn, .rst, .psh, .ack, .urg]
        let sent = orig.intersection(probeFlags)
        let technique: ScanTechnique
        if sent.isEmpty {
            technique = .null
        } else if sent == [.fin] {
            technique = .fin
        } else if sent == [.fin, .psh, .urg] {
            technique = .xmas
        } else if sent == [.ack] {
            technique = .ack
        } else {
            return .ignore  // a lone RST, a FIN/ACK of a connection already gone: not a probe
        }
        if respReset { return .probe(technique, .rejected) }
        if !answered { return .probe(technique, .filtered) }
        return .success
    }

    /// Zeek's history letters as flags: S SYN, H SYN/ACK, A ACK, F FIN, R RST (upper case from the originator).
    private static func flags(fromHistory history: String, originator: Bool) -> TCPFlags? {
        var flags = TCPFlags()
        var seen = false
        for letter in history.unicodeScalars {
            guard letter.properties.isUppercase == originator, letter.properties.isAlphabetic else { continue }
            seen = true
            switch Character(letter).uppercased() {
            case "S": flags.insert(.syn)
            case "H": flags.formUnion([.syn, .ack])
            case "A": flags.insert(.ack)
            case "F": flags.insert(.fin)
            case "R": flags.insert(.rst)
            default: break
            }
        }
        return seen ? flags : nil
    }

    private static func classifyUDP(_ flow: FlowRecord) -> ScanVerdict {
        guard flow.origPackets > 0 else { return .ignore }
        // A reply is a success even if an ICMP error is tied to the flow: that error may answer the reply (nmap's raw
        // socket has no UDP socket behind it, so the prober's host rejects the service's answer).
        if flow.respPackets > 0 { return .success }
        if let type = flow.icmpType {
            let code = flow.icmpCode ?? 0
            // ICMP port unreachable (3/3, ICMPv6 1/4) is a closed port; other unreachables are a filter's answer.
            let isV4 = flow.id.respHost.isV4
            if (isV4 && type == 3 && code == 3) || (!isV4 && type == 1 && code == 4) {
                return .probe(.udp, .rejected)
            }
            if (isV4 && type == 3) || (!isV4 && type == 1) { return .probe(.udp, .filtered) }
        }
        return .probe(.udp, .filtered)
    }

    private static func isGroupAddress(_ address: IPAddress) -> Bool {
        switch address {
        case .v4(let value): return value >> 28 == 0xE || value == 0xFFFF_FFFF
        case .v6(let high, _): return high >> 56 == 0xFF
        }
    }
}
