import Packets

/// The bidirectional flow table: packets in, records out. Time is packet time throughout, so a capture read
/// offline yields what the same traffic yields live. Not thread-safe: one thread (the sensor pipeline's) owns it.
public final class FlowTable {
    public let config: FlowConfig
    private let emit: (Record) -> Void
    /// The flows, each retained once by hand: the per-packet path borrows them without reference counting
    /// (`_withUnsafeGuaranteedRef`), which was a fifth of its time. `finish` releases; `deinit` releases the rest.
    private let flows: FlowIndex
    private var uids: UIDGenerator
    /// The latest packet time seen.
    public private(set) var now: Double = 0
    private var nextSweep: Double = 0
    /// Each flow's next idle or active deadline; a sweep looks only at flows whose deadline has come.
    private var timers = FlowTimers()
    /// The flows a sweep took from `timers`, kept between sweeps for its storage.
    private var due: [Unmanaged<Flow>] = []
    private var series: SeriesAccumulator
    /// Consecutive packets usually belong to one flow: the last one found skips the hash lookup.
    private var lastKey: FlowKey?
    private var lastFlow: Unmanaged<Flow>?
    /// `config.dnsPorts` as a bitmap, tested for every UDP packet.
    private let dnsPortBits: [UInt64]

    // Counters reported in `stats`.
    public private(set) var flowsCreated: UInt64 = 0
    public private(set) var flowsEvicted: UInt64 = 0
    public private(set) var weird: [String: UInt64] = [:]
    public var count: Int { flows.count }

    deinit {
        timers.removeAll()
        flows.forEach { $0.release() }
    }

    public init(config: FlowConfig, emit: @escaping (Record) -> Void) {
        self.config = config
        self.emit = emit
        self.uids = UIDGenerator(seed: config.uidSeed)
        self.series = SeriesAccumulator(interval: config.seriesInterval, sensor: config.sensor)
        // The index starts at 4,096 flows (512 KiB) and doubles as needed: starting at 32,768 made every run, even
        // of one packet, write 4 MiB of empty slots (2 ms), and made each sweep scan them. With a fixed uid seed the
        // index's order, and so the output, repeats from run to run; otherwise its hash is seeded at random, like a
        // Dictionary's, so crafted addresses cannot make probes long.
        var random = SystemRandomNumberGenerator()
        let seed = config.uidSeed.map { FlowKey.mix($0 ^ 0x5EED_F10E_1DE8_0000) } ?? random.next()
        self.flows = FlowIndex(minimumCapacity: min(config.maxFlows, 1 << 12), seed: seed)
        var bits = [UInt64](repeating: 0, count: 1024)
        for port in config.dnsPorts { bits[Int(port >> 6)] |= 1 << UInt64(port & 63) }
        self.dnsPortBits = bits
    }

    @inline(__always)
    private func isDNSPort(_ port: UInt16) -> Bool {
        dnsPortBits[Int(port >> 6)] & (1 << UInt64(port & 63)) != 0
    }

    /// Counts a problem under its stable name (a Zeek-style "weird").
    public func count(weird name: String) { weird[name, default: 0] += 1 }

    /// Processes one decoded IP packet. `bytes` is the buffer `packet`'s offsets refer to.
    public func process(_ packet: DecodedPacket, bytes: UnsafeRawBufferPointer, timestamp ts: Double) {
        advance(to: ts)
        let ip = packet.ip
        var sourcePort: UInt16 = 0
        var destinationPort: UInt16 = 0
        var source = ip.source
        var destination = ip.destination
        var reversed = false  // the packet travels from the key's "destination" side (an ICMP reply)
        var oneWay = false  // an ICMP type with no counterpart: its Community ID keeps the sender first
        switch packet.transport {
        case .tcp(let tcp):
            sourcePort = tcp.sourcePort
            destinationPort = tcp.destinationPort
        case .udp(let udp):
            sourcePort = udp.sourcePort
            destinationPort = udp.destinationPort
        case .icmp(let icmp), .icmpv6(let icmp):
            let v6 = ip.proto == IPProtocol.icmpv6
            let (a, b, unpaired) = CommunityID.icmpPorts(type: icmp.type, code: icmp.code, v6: v6)
            oneWay = unpaired
            let isReply = !oneWay && CommunityID.isICMPReply(type: icmp.type, v6: v6)
            if isReply {
                // Key the reply by its request: (requester, request type) -> (responder, reply type).
                swap(&source, &destination)
                sourcePort = b
                destinationPort = a
                reversed = true
            } else {
                sourcePort = a
                destinationPort = b
            }
            if let embedded = icmp.embedded { noteICMPError(icmp, embedded: embedded, packet: packet) }
        case .other:
            break
        }
        let (key, sourceIsLow) = FlowKey.make(
            source: source, sourcePort: sourcePort, destination: destination, destinationPort: destinationPort,
            proto: ip.proto, vlan: packet.vlan, innerVlan: packet.innerVlan)
        var found: Unmanaged<Flow>?
        if lastKey == key, let cached = lastFlow {
            found = cached
        } else {
            found = flows.find(key)
        }
        if let existing = found, case .tcp(let tcp) = packet.transport, tcp.flags.contains(.syn),
            !tcp.flags.contains(.ack), existing._withUnsafeGuaranteedRef({ $0.closing })
        {
            // A new SYN on a 5-tuple whose connection already closed (FIN or RST) starts a new connection, as in Zeek.
            let closed = existing.takeUnretainedValue()
            finish(closed, reason: closed.orig.state == .reset || closed.resp.state == .reset ? "rst" : "fin")
            found = nil
        }
        let handle: Unmanaged<Flow>
        if let existing = found {
            handle = existing
        } else {
            handle = makeFlow(key: key, packet: packet, sourceIsLow: sourceIsLow, oneWay: oneWay, ts: ts)
        }
        lastKey = key
        lastFlow = handle
        handle._withUnsafeGuaranteedRef { flow in
            update(flow, packet: packet, bytes: bytes, sourceIsLow: sourceIsLow, reversed: reversed, ts: ts)
        }
    }

    /// Counts one packet into its flow and runs the transport and application analysis.
    @inline(__always)
    private func update(
        _ flow: Flow, packet: DecodedPacket, bytes: UnsafeRawBufferPointer, sourceIsLow: Bool, reversed: Bool,
        ts: Double
    ) {
        let ip = packet.ip
        let fromOriginator = (sourceIsLow == flow.origIsLow) != reversed
        flow.last = max(flow.last, ts)
        if packet.isCut { flow.truncated = true }
        let ipBytes = UInt64(ip.totalLength)
        series.add(proto: ip.proto, bytes: ipBytes)
        if fromOriginator {
            flow.orig.packets += 1
            flow.orig.ipBytes += ipBytes
        } else {
            flow.resp.packets += 1
            flow.resp.ipBytes += ipBytes
        }
        switch packet.transport {
        case .tcp(let tcp):
            processTCP(flow, tcp, packet: packet, bytes: bytes, fromOriginator: fromOriginator, ts: ts)
        case .udp(let udp):
            let length = UInt64(packet.declaredPayloadLength)
            if fromOriginator { flow.orig.payloadBytes += length } else { flow.resp.payloadBytes += length }
            if length > 0 { flow.addHistory(UInt8(ascii: "D"), fromOriginator: fromOriginator) }
            if isDNSPort(udp.sourcePort) || isDNSPort(udp.destinationPort),
                packet.payloadLength > 0
            {
                let end = packet.payloadOffset + packet.payloadLength
                let payload = UnsafeRawBufferPointer(rebasing: bytes[packet.payloadOffset..<end])
                processDNS(flow, payload: payload, fromOriginator: fromOriginator, ts: ts)
            }
        case .icmp(let icmp), .icmpv6(let icmp):
            let length = UInt64(packet.declaredPayloadLength)
            if fromOriginator { flow.orig.payloadBytes += length } else { flow.resp.payloadBytes += length }
            if flow.icmpType == nil {
                flow.icmpType = icmp.type
                flow.icmpCode = icmp.code
            }
        case .other:
            let length = UInt64(packet.declaredPayloadLength)
            if fromOriginator { flow.orig.payloadBytes += length } else { flow.resp.payloadBytes += length }
        }
    }

    private func makeFlow(
        key: FlowKey, packet: DecodedPacket, sourceIsLow: Bool, oneWay: Bool, ts: Double
    ) -> Unmanaged<Flow> {
        if flows.count >= config.maxFlows { evictIdlest() }
        // The originator sent the first packet, except that a SYN-ACK seen first was answering the other side.
        var flipped = false
        if case .tcp(let tcp) = packet.transport, tcp.flags.contains(.syn), tcp.flags.contains(.ack) { flipped = true }
        let flow = Flow(
            key: key, serial: uids.next(), origIsLow: flipped ? !sourceIsLow : sourceIsLow, oneWay: oneWay, start: ts)
        if flipped { flow.history.append(UInt8(ascii: "^")) }
        let handle = Unmanaged.passRetained(flow)
        flows.insert(key, handle)
        schedule(flow, after: Int.min)
        flowsCreated += 1
        series.newFlow(proto: key.proto)
        return handle
    }

    // MARK: TCP

    private func processTCP(
        _ flow: Flow, _ tcp: TCPHeader, packet: DecodedPacket, bytes: UnsafeRawBufferPointer, fromOriginator: Bool,
        ts: Double
    ) {
        let flags = tcp.flags
        let syn = flags.contains(.syn)
        let ack = flags.contains(.ack)
        let fin = flags.contains(.fin)
        let rst = flags.contains(.rst)
        let length = packet.declaredPayloadLength

        // History letters (Zeek's conn.log "history").
        if syn && (fin || rst) { flow.addHistory(UInt8(ascii: "Q"), fromOriginator: fromOriginator) }
        if fin && rst { flow.addHistory(UInt8(ascii: "I"), fromOriginator: fromOriginator) }
        if syn { flow.addHistory(UInt8(ascii: ack ? "H" : "S"), fromOriginator: fromOriginator) }
        if fin { flow.addHistory(UInt8(ascii: "F"), fromOriginator: fromOriginator) }
        if rst { flow.addHistory(UInt8(ascii: "R"), fromOriginator: fromOriginator) }
        if ack && !syn && !fin && !rst && length == 0 {
            flow.addHistory(UInt8(ascii: "A"), fromOriginator: fromOriginator)
        }
        if length > 0 { flow.addHistory(UInt8(ascii: "D"), fromOriginator: fromOriginator) }
        if tcp.window == 0 && !syn && !rst { flow.addHistory(UInt8(ascii: "W"), fromOriginator: fromOriginator) }
        if (fin || rst) && !flow.closing {
            flow.closing = true
            // The closed timeout is shorter than the idle one: file the flow again if that brings its deadline on.
            if FlowTimers.key(of: nextDeadline(flow)) < flow.timerKey {
                timers.remove(flow)
                schedule(flow, after: Int.min)
            }
        }

        // Endpoint state and sequence tracking, in place (the two endpoints are distinct stored properties).
        let segment =
            fromOriginator
            ? Self.track(tcp, length: length, endpoint: &flow.orig, peer: &flow.resp)
            : Self.track(tcp, length: length, endpoint: &flow.resp, peer: &flow.orig)
        if segment.retransmission {
            flow.retransPackets += 1
            flow.addHistory(UInt8(ascii: "T"), fromOriginator: fromOriginator)
        }
        let deliverFrom = segment.deliverFrom
        let gap = segment.gap
        if gap { flow.addHistory(UInt8(ascii: "G"), fromOriginator: fromOriginator) }

        // Application layer.
        let captured = packet.payloadLength
        guard captured > 0 || (gap && length > 0) else { return }
        if gap {
            noteGap(flow, fromOriginator: fromOriginator)
        }
        guard deliverFrom < captured else { return }
        let start = packet.payloadOffset + deliverFrom
        let payload = UnsafeRawBufferPointer(rebasing: bytes[start..<(packet.payloadOffset + captured)])
        feedTCPApplication(flow, payload: payload, fromOriginator: fromOriginator, ts: ts)
        if captured < length {
            // Snaplen cut the segment: the rest of the stream cannot be parsed in order.
            noteGap(flow, fromOriginator: fromOriginator)
        }
    }

    /// What one TCP segment did to its sender's sequence space.
    struct SegmentEffect {
        /// Bytes of this segment's payload that were already seen (a retransmission overlap).
        var deliverFrom = 0
        /// The segment starts beyond the next expected byte: bytes were lost before it.
        var gap = false
        /// Every payload byte was seen before.
        var retransmission = false
    }

    /// Zeek's endpoint state machine (TCP_INACTIVE … TCP_RESET) and the sequence space of the sender: payload bytes
    /// counted once, retransmissions detected, in-order bytes located for the application parsers.
    @inline(__always)
    static func track(_ tcp: TCPHeader, length: Int, endpoint: inout Endpoint, peer: inout Endpoint) -> SegmentEffect {
        let flags = tcp.flags
        let syn = flags.contains(.syn)
        let ack = flags.contains(.ack)
        endpoint.flags.formUnion(flags)
        if flags.contains(.rst) {
            endpoint.state = .reset
        } else if flags.contains(.fin) {
            endpoint.state = .closed
        } else if syn {
            if endpoint.state == .inactive { endpoint.state = ack ? .synAckSent : .synSent }
        } else {
            switch endpoint.state {
            case .inactive:
                // Mid-stream pickup: no SYN seen from this side.
                endpoint.state = .partial
            case .synSent, .synAckSent:
                if ack { endpoint.state = .established }
            default:
                break
            }
            if ack && peer.state == .synAckSent && endpoint.state == .established { peer.state = .established }
        }

        var effect = SegmentEffect()
        var newBytes = length
        let sequence = syn ? tcp.sequence &+ 1 : tcp.sequence
        if let expected = endpoint.nextSequence {
            let delta = Int32(bitPattern: sequence &- expected)
            if delta < 0 {
                let overlap = Int(delta.magnitude)
                if length > 0 && overlap >= length {
                    effect.retransmission = true
                    newBytes = 0
                } else {
                    newBytes = max(0, length - overlap)
                }
                effect.deliverFrom = min(overlap, length)
            } else if delta > 0 && length > 0 {
                // Bytes before this segment were not seen (lost, or still to come out of order). Like Zeek, payload
                // bytes follow the sequence space, so the hole counts and a late segment filling it adds nothing.
                effect.gap = true
                newBytes = Int(delta) + length
            }
            let end = sequence &+ UInt32(truncatingIfNeeded: length)
            if Int32(bitPattern: end &- expected) > 0 { endpoint.nextSequence = end }
        } else if syn || length > 0 {
            endpoint.nextSequence = sequence &+ UInt32(truncatingIfNeeded: length)
        }
        endpoint.payloadBytes += UInt64(newBytes)
        return effect
    }

    private func noteGap(_ flow: Flow, fromOriginator: Bool) {
        guard let app = flow.app else { return }
        app.http?.noteGap(from: fromOriginator ? .originator : .responder)
        if fromOriginator {
            app.tlsOrig = nil
            app.dnsOrig = nil
        } else {
            app.tlsResp = nil
            app.dnsResp = nil
        }
    }

    private func feedTCPApplication(_ flow: Flow, payload: UnsafeRawBufferPointer, fromOriginator: Bool, ts: Double) {
        if !flow.appDecided {
            flow.appDecided = true
            if isDNSPort(flow.respPort) || isDNSPort(flow.origPort) {
                let app = flow.application()
                app.dnsOrig = DNSTCPFramer()
                app.dnsResp = DNSTCPFramer()
            } else if fromOriginator, let first = payload.first {
                if first == 0x16 {
                    let app = flow.application()
                    app.tlsOrig = TLSStreamScanner()
                    app.tlsResp = TLSStreamScanner()
                    app.tlsStart = ts
                } else if first >= UInt8(ascii: "A") && first <= UInt8(ascii: "Z") {
                    flow.application().http = HTTPConnectionParser()
                }
            }
        }
        guard let app = flow.app else { return }
        if app.http != nil {
            feedHTTP(flow, app, payload: payload, fromOriginator: fromOriginator, ts: ts)
        } else if app.tlsOrig != nil || app.tlsResp != nil {
            feedTLS(flow, app, payload: payload, fromOriginator: fromOriginator, ts: ts)
        } else if fromOriginator, app.dnsOrig != nil {
            let messages = app.dnsOrig?.feed(payload) ?? []
            for message in messages { processDNSMessageBytes(flow, message, fromOriginator: true, ts: ts) }
        } else if !fromOriginator, app.dnsResp != nil {
            let messages = app.dnsResp?.feed(payload) ?? []
            for message in messages { processDNSMessageBytes(flow, message, fromOriginator: false, ts: ts) }
        }
    }

    private func feedHTTP(
        _ flow: Flow, _ app: FlowApplication, payload: UnsafeRawBufferPointer, fromOriginator: Bool, ts: Double
    ) {
        guard var parser = app.http else { return }
        app.http = nil  // keep the parser's buffers uniquely referenced while it works
        let before = parser.requestsStarted
        let done = parser.feed(payload, from: fromOriginator ? .originator : .responder)
        if parser.requestsStarted > before {
            for _ in before..<parser.requestsStarted { app.httpRequestTimes.append(ts) }
        }
        if parser.isNotHTTP {
            app.http = nil
            return
        }
        if flow.service == nil && parser.requestsStarted > 0 { flow.service = .http }
        app.http = parser
        for transaction in done { emitHTTP(flow, app, transaction) }
    }

    private func emitHTTP(_ flow: Flow, _ app: FlowApplication, _ transaction: HTTPTransaction) {
        let ts = app.httpRequestTimes.isEmpty ? flow.last : app.httpRequestTimes.removeFirst()
        app.httpDepth += 1
        emit(
            .http(
                HTTPRecord(
                    ts: ts, uid: uids.uid(flow.serial), sensor: config.sensor, id: flow.connID,
                    transDepth: app.httpDepth, transaction: transaction)))
    }

    private func feedTLS(
        _ flow: Flow, _ app: FlowApplication, payload: UnsafeRawBufferPointer, fromOriginator: Bool, ts: Double
    ) {
        if fromOriginator {
            guard var scanner = app.tlsOrig else { return }
            app.tlsOrig = nil
            switch scanner.feed(payload) {
            case .needMore: app.tlsOrig = scanner
            case .clientHello(let hello):
                app.clientHello = hello
                flow.service = .ssl
                app.tlsStart = ts
            case .serverHello, .notTLS: break
            }
        } else {
            guard var scanner = app.tlsResp else { return }
            app.tlsResp = nil
            switch scanner.feed(payload) {
            case .needMore: app.tlsResp = scanner
            case .serverHello(let hello):
                app.serverHello = hello
                if app.clientHello != nil { emitTLS(flow, app) }
            case .clientHello, .notTLS: break
            }
        }
    }

    private func emitTLS(_ flow: Flow, _ app: FlowApplication) {
        guard !app.tlsLogged, let client = app.clientHello else { return }
        app.tlsLogged = true
        let server = app.serverHello
        let version = server.map { TLSVersionName.name($0.selectedVersion) }
        let alpn = server?.alpn.map { [$0] } ?? client.alpn
        emit(
            .tls(
                TLSRecord(
                    ts: app.tlsStart, uid: uids.uid(flow.serial), sensor: config.sensor, id: flow.connID,
                    version: version,
                    cipher: server?.cipherSuite, serverName: client.serverName, alpn: alpn, ja3: client.ja3,
                    ja4: client.ja4(transport: .tcp))))
    }

    // MARK: DNS

    private func processDNS(_ flow: Flow, payload: UnsafeRawBufferPointer, fromOriginator: Bool, ts: Double) {
        do {
            let message = try DNSMessage(parsing: payload)
            if flow.service == nil { flow.service = .dns }
            handleDNS(flow, message, fromOriginator: fromOriginator, ts: ts)
        } catch {
            count(weird: error.counterName)
        }
    }

    private func processDNSMessageBytes(_ flow: Flow, _ bytes: [UInt8], fromOriginator: Bool, ts: Double) {
        bytes.withUnsafeBytes { processDNS(flow, payload: $0, fromOriginator: fromOriginator, ts: ts) }
    }

    private func handleDNS(_ flow: Flow, _ message: DNSMessage, fromOriginator: Bool, ts: Double) {
        let app = flow.application()
        if !message.isResponse {
            if app.dnsPending[message.id] == nil {
                if app.dnsPending.count >= config.maxPendingDNSQueries, !app.dnsPendingOrder.isEmpty {
                    let oldest = app.dnsPendingOrder.removeFirst()
                    if let query = app.dnsPending.removeValue(forKey: oldest) {
                        emitDNS(flow, query: query, response: nil, ts: query.ts)
                    }
                }
                app.dnsPendingOrder.append(message.id)
            }
            app.dnsPending[message.id] = PendingDNSQuery(ts: ts, message: message)
            return
        }
        if let query = app.dnsPending.removeValue(forKey: message.id) {
            if let index = app.dnsPendingOrder.firstIndex(of: message.id) { app.dnsPendingOrder.remove(at: index) }
            emitDNS(flow, query: query, response: message, ts: ts)
        } else {
            emitDNS(flow, query: nil, response: message, ts: ts)
        }
    }

    private func emitDNS(_ flow: Flow, query: PendingDNSQuery?, response: DNSMessage?, ts: Double) {
        let question = query?.message.questions.first ?? response?.questions.first
        let rcode = response?.rcode
        // Zeek leaves out answers with empty data (a root MX or SRV target).
        let answers = response?.answers.filter { !$0.data.isEmpty } ?? []
        emit(
            .dns(
                DNSRecord(
                    ts: query?.ts ?? ts, uid: uids.uid(flow.serial), sensor: config.sensor, id: flow.connID,
                    proto: flow.proto,
                    transID: query?.message.id ?? response?.id ?? 0, query: question?.name,
                    qtype: question?.type, qtypeName: question.map { DNSNames.typeName($0.type) },
                    rcode: rcode, rcodeName: rcode.map { DNSNames.rcodeName($0) },
                    answers: answers.map(\.data), ttls: answers.map { Double($0.ttl) },
                    rtt: query.flatMap { q in response.map { _ in ts - q.ts } },
                    rejected: rcode.map { $0 == 5 } ?? false)))
    }

    // MARK: ICMP errors

    /// Ties an ICMP error to the flow whose packet it quotes (a port unreachable to the UDP probe that caused it).
    private func noteICMPError(_ icmp: ICMPHeader, embedded: EmbeddedPacket, packet: DecodedPacket) {
        let (key, _) = FlowKey.make(
            source: embedded.source, sourcePort: embedded.sourcePort ?? 0, destination: embedded.destination,
            destinationPort: embedded.destinationPort ?? 0, proto: embedded.proto, vlan: packet.vlan,
            innerVlan: packet.innerVlan)
        guard let flow = flows.find(key)?.takeUnretainedValue() else { return }
        flow.icmpType = icmp.type
        flow.icmpCode = icmp.code
    }

    // MARK: Timers

    /// Moves packet time forward: closes the series interval and expires idle flows, at most once a second.
    /// Inlined into the per-packet path, which it leaves after two comparisons until either is due.
    @inline(__always)
    public func advance(to ts: Double) {
        guard ts > now else { return }
        now = ts
        if ts >= series.end || ts >= nextSweep { advanceTimers(to: ts) }
    }

    private func advanceTimers(to ts: Double) {
        if let record = series.roll(to: ts) { emit(.series(record)) }
        guard ts >= nextSweep else { return }
        nextSweep = ts + 1
        sweep(now: ts)
    }

    private func idleTimeout(_ flow: Flow) -> Double {
        switch flow.proto {
        case IPProtocol.tcp: return flow.closing ? config.tcpClosedTimeout : config.tcpIdleTimeout
        case IPProtocol.udp: return config.udpIdleTimeout
        case IPProtocol.icmp, IPProtocol.icmpv6: return config.icmpIdleTimeout
        default: return config.otherIdleTimeout
        }
    }

    private func record(_ flow: Flow, final: Bool, reason: String) -> FlowRecord {
        flow.record(
            uid: uids.uid(flow.serial), sensor: config.sensor, communityIDSeed: config.communityIDSeed, final: final,
            reason: reason)
    }

    /// The earlier of `flow`'s idle and active deadlines.
    @inline(__always)
    private func nextDeadline(_ flow: Flow) -> Double {
        min(flow.last + idleTimeout(flow), flow.lastExport + config.activeTimeout)
    }

    /// Files `flow` under its next deadline, or under the first bucket after `after` if that is later (a sweep
    /// files the flows it looked at too early after the buckets it takes).
    private func schedule(_ flow: Flow, after: Int) {
        timers.file(flow, under: max(FlowTimers.key(of: nextDeadline(flow)), after &+ 1))
    }

    /// Expires what is due at `now`, deciding each flow as a walk over the whole table would: idle flows end, the
    /// others alive for `activeTimeout` since their last record emit an interim record. Interim records come first,
    /// in the index's slot order; then the ended flows, in start order (ties in slot order).
    private func sweep(now: Double) {
        let nowKey = FlowTimers.key(ofNow: now)
        timers.takeDue(upTo: nowKey, into: &due)
        guard !due.isEmpty else { return }
        var expired: [(start: Double, position: Int, flow: Flow)] = []
        var interims: [(position: Int, flow: Flow)] = []
        for handle in due {
            let flow = handle.takeUnretainedValue()
            if now - flow.last >= idleTimeout(flow) {
                expired.append((flow.start, 0, flow))
            } else if now - flow.lastExport >= config.activeTimeout {
                interims.append((flows.position(of: flow.key) ?? 0, flow))
            } else {
                schedule(flow, after: nowKey)
            }
        }
        due.removeAll(keepingCapacity: true)
        interims.sort { $0.position < $1.position }
        for entry in interims {
            let flow = entry.flow
            flow.lastExport = now
            emit(.flow(record(flow, final: false, reason: "active")))
            schedule(flow, after: nowKey)
        }
        expired.sort { $0.start < $1.start }
        // Flows that started at the same time go in slot order; a slot costs a probe of the index, so it is looked
        // up only for them.
        var run = 0
        while run < expired.count {
            var end = run + 1
            while end < expired.count && expired[end].start == expired[run].start { end += 1 }
            if end - run > 1 {
                for index in run..<end { expired[index].position = flows.position(of: expired[index].flow.key) ?? 0 }
                expired[run..<end].sort { $0.position < $1.position }
            }
            run = end
        }
        for entry in expired {
            let flow = entry.flow
            let reason: String
            if flow.closing {
                reason = flow.orig.state == .reset || flow.resp.state == .reset ? "rst" : "fin"
            } else {
                reason = "idle"
            }
            finish(flow, reason: reason)
        }
    }

    private func finish(_ flow: Flow, reason: String) {
        timers.remove(flow)
        // The caller holds its own reference to `flow`, so releasing the table's one here is safe.
        flows.remove(flow.key)?.release()
        if let last = lastFlow, last.toOpaque() == Unmanaged.passUnretained(flow).toOpaque() {
            lastFlow = nil
            lastKey = nil
        }
        emitFinal(flow, reason: reason)
    }

    /// Emits what a finished flow still holds (pending HTTP, TLS and DNS records), then its final flow record.
    private func emitFinal(_ flow: Flow, reason: String) {
        if let app = flow.app {
            if var parser = app.http {
                app.http = nil
                for transaction in parser.finish() { emitHTTP(flow, app, transaction) }
            }
            if app.clientHello != nil { emitTLS(flow, app) }
            for id in app.dnsPendingOrder {
                if let query = app.dnsPending[id] { emitDNS(flow, query: query, response: nil, ts: query.ts) }
            }
            app.dnsPending.removeAll()
            app.dnsPendingOrder.removeAll()
        }
        emit(.flow(record(flow, final: true, reason: reason)))
    }

    /// Evicts the longest-idle hundredth of the table (at least one flow), emitting each as a final record, idlest
    /// first (ties in index order). The victims are picked by partial selection, linear on average, not by sorting
    /// the whole table: under a flood of new flows the table is full all the time and a sort per eviction made
    /// every new flow cost microseconds.
    private func evictIdlest() {
        var candidates: [EvictionCandidate] = []
        candidates.reserveCapacity(flows.count)
        flows.forEach { handle in
            let last = handle._withUnsafeGuaranteedRef { $0.last }
            candidates.append(EvictionCandidate(last: last, position: candidates.count, flow: handle))
        }
        let victims = max(1, candidates.count / 100)
        PartialSelection.selectSmallest(victims, in: &candidates, by: EvictionCandidate.idler)
        let ordered = candidates[..<min(victims, candidates.count)].sorted(by: EvictionCandidate.idler)
        for candidate in ordered {
            flowsEvicted += 1
            finish(candidate.flow.takeUnretainedValue(), reason: "evicted")
        }
    }

    /// Ends every flow (end of capture, shutdown) and the current series interval.
    public func flushAll() {
        var remaining = flows.flows.map { handle in (start: handle._withUnsafeGuaranteedRef { $0.start }, flow: handle)
        }
        // Every flow ends, so the index and the timers are emptied in one pass instead of a removal per flow.
        flows.removeAll()
        timers.removeAll()
        lastFlow = nil
        lastKey = nil
        remaining.sort { $0.start < $1.start }
        for entry in remaining {
            emitFinal(entry.flow.takeUnretainedValue(), reason: "end")
            entry.flow.release()  // the table's reference
        }
        if let record = series.flush() { emit(.series(record)) }
    }
}

/// A flow considered for eviction: its last packet time and its place in the index (the tie-break, so the choice
/// is deterministic and equals a stable sort by idleness).
struct EvictionCandidate {
    var last: Double
    var position: Int
    var flow: Unmanaged<Flow>

    static func idler(_ a: EvictionCandidate, _ b: EvictionCandidate) -> Bool {
        a.last != b.last ? a.last < b.last : a.position < b.position
    }
}
