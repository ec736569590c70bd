// HTTP/1.x connection parser (RFC 9112 message syntax, RFC 9110 semantics), producing Zeek http.log-like
// transactions from the in-order payload bytes of both directions of one TCP connection.
// Bodies are counted, never stored; every buffer is bounded by a named limit; bad input never traps.

/// Which side of a TCP connection some bytes came from: the originator sent the first SYN (the HTTP client).
public enum StreamDirection: Sendable, Hashable {
    case originator, responder

    /// The slot of this direction in a two-element per-direction array.
    @inlinable var slot: Int {
        switch self {
        case .originator: return 0
        case .responder: return 1
        }
    }
}

/// One HTTP request/response pair with the fields Zeek writes to http.log.
///
/// A transaction returned by `HTTPConnectionParser.finish()` may be partial: a request whose response never came
/// (`statusCode == nil`), or a response seen without its request (`method == nil`, after a gap on the originator side).
public struct HTTPTransaction: Sendable, Hashable {
    public var method: String?
    public var uri: String?
    /// "1.1", "1.0" (the digits after `HTTP/`), from the request line, else from the status line.
    public var version: String?
    public var host: String?
    public var userAgent: String?
    public var referrer: String?
    /// The final status code (an interim 1xx other than 101 goes to `infoCode`).
    public var statusCode: Int?
    public var statusMessage: String?
    /// The last interim (1xx) status code seen before the final response, as Zeek's `info_code`.
    public var infoCode: Int?
    public var infoMessage: String?
    /// Bytes of request content after removing chunked transfer coding, as Zeek's `request_body_len`.
    public var requestBodyLength: Int
    /// Bytes of response content after removing chunked transfer coding, as Zeek's `response_body_len`.
    public var responseBodyLength: Int
    public var requestContentType: String?
    public var responseContentType: String?

    public init(
        method: String? = nil, uri: String? = nil, version: String? = nil, host: String? = nil,
        userAgent: String? = nil, referrer: String? = nil, statusCode: Int? = nil, statusMessage: String? = nil,
        infoCode: Int? = nil, infoMessage: String? = nil, requestBodyLength: Int = 0, responseBodyLength: Int = 0,
        requestContentType: String? = nil, responseContentType: String? = nil
    ) {
        self.method = method
        self.uri = uri
        self.version = version
        self.host = host
        self.userAgent = userAgent
        self.referrer = referrer
        self.statusCode = statusCode
        self.statusMessage = statusMessage
        self.infoCode = infoCode
        self.infoMessage = infoMessage
        self.requestBodyLength = requestBodyLength
        self.responseBodyLength = responseBodyLength
        self.requestContentType = requestContentType
        self.responseContentType = responseContentType
    }
}

/// A passive HTTP/1.x parser for both directions of one TCP connection.
///
/// Feed it the in-order bytes of each direction as they arrive (`feed`), report holes (`noteGap`) and the end of the
/// connection (`finish`). Requests and responses are paired in order (pipelining, keep-alive); the response framing
/// depends on the request method (HEAD) and status (1xx, 204, 304), as in RFC 9112 §6.3. A direction that breaks a
/// limit or the grammar stops being parsed (`failure(of:)` says why) while the other goes on. Memory is bounded by
/// `maxLineLength` per direction plus `maxPendingTransactions` transactions whose strings are bounded by the header
/// limits.
public struct HTTPConnectionParser: Sendable {
    /// Longest start line, header line or chunk-size line, CRLF included. RFC 9112 §2.3 recommends supporting request
    /// lines of at least 8000 octets; Zeek, nginx and Apache cap lines at about 8 KiB.
    public static let maxLineLength = 8 * 1024
    /// Most header (or trailer) field lines in one message; RFC 9112 §5 leaves the limit to the recipient
    /// (Apache `LimitRequestFields` defaults to 100).
    public static let maxHeaderCount = 100
    /// Most bytes in one message's header section (or trailer section); RFC 9112 §5 / RFC 9110 §5.4: a server that
    /// receives a larger header section answers 431.
    public static let maxHeaderBytes = 64 * 1024
    /// Longest method token. RFC 9110 §9.1 sets no limit; the longest registered method (IANA HTTP Method Registry,
    /// "BASELINE-CONTROL") has 16 characters, so a longer first token means the stream is not HTTP.
    public static let maxMethodLength = 32
    /// Most transactions waiting for their other half (a pipeline depth, or a one-sided capture). Past it the oldest is
    /// returned as it is, so memory stays bounded.
    public static let maxPendingTransactions = 64

    /// Methods registered with IANA (RFC 9110 §9, WebDAV, CalDAV, UPnP ...). A known method followed by a space at the
    /// start of a stream is evidence that the stream is HTTP; any other RFC 9110 token is accepted as a method too.
    public static let knownMethods: Set<String> = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT", "ACL",
        "BIND", "UNBIND", "REBIND", "LINK", "UNLINK", "MKCALENDAR", "MKACTIVITY", "MKWORKSPACE", "MKREDIRECTREF",
        "UPDATEREDIRECTREF", "ORDERPATCH", "CHECKIN", "CHECKOUT", "UNCHECKOUT", "MERGE", "LABEL", "UPDATE",
        "VERSION-CONTROL", "BASELINE-CONTROL", "QUERY", "PRI", "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE",
        "PURGE",
    ]

    private var streams = [MessageStream(), MessageStream()]
    /// Transactions in order; `pending[i]` is transaction number `firstPendingOrdinal + i` of the connection.
    private var pending: [PendingTransaction] = []
    private var firstPendingOrdinal = 0
    /// Transactions already complete (or evicted) but not yet returned.
    private var ready: [HTTPTransaction] = []
    private var finished = false

    /// True once the originator's first bytes were clearly not HTTP (or the responder spoke first, not in HTTP).
    public private(set) var isNotHTTP = false
    /// True once a whole valid request line or status line was parsed (Zeek would set `service` to "http").
    public private(set) var isConfirmedHTTP = false

    public init() {}

    /// Transactions begun so far on this connection (each request line starts one), for request timestamps.
    public var requestsStarted: Int { firstPendingOrdinal + pending.count }

    /// Why parsing of one direction stopped: a broken limit or grammar rule (`http.line_too_long`,
    /// `http.too_many_headers`, ...) or a gap (`http.content_gap`); nil while it is being parsed.
    public func failure(of direction: StreamDirection) -> DecodeError? {
        streams[direction.slot].failure
    }

    /// Feeds in-order bytes of one direction; returns transactions that completed (request and response both done),
    /// in order, and any made complete by an earlier `noteGap`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, from direction: StreamDirection) -> [HTTPTransaction] {
        guard !finished, !isNotHTTP else { return [] }
        if !bytes.isEmpty { streams[direction.slot].sawBytes = true }
        var cursor = Cursor(bytes, layer: .http)
        do {
            try consume(&cursor, from: direction)
        } catch {
            fail(direction, error)
        }
        if isNotHTTP {
            pending.removeAll()
            ready.removeAll()
            return []
        }
        return collectReady()
    }

    /// A hole in one direction's stream (lost segment): stop parsing that direction, keep what is known.
    /// Transactions this completes are returned by the next `feed` or by `finish`.
    public mutating func noteGap(from direction: StreamDirection) {
        guard !finished, !isNotHTTP else { return }
        stop(direction, .malformed(.http, "content_gap"))
    }

    /// End of connection: a close-delimited response body ends here; returns every transaction still open
    /// (partial ones too), in order.
    public mutating func finish() -> [HTTPTransaction] {
        guard !finished else { return [] }
        finished = true
        guard !isNotHTTP else { return [] }
        let responder = StreamDirection.responder.slot
        if streams[responder].phase == .untilClose {
            // RFC 9112 §6.3 rule 8: the response content ends when the server closes the connection.
            updateEntry(ordinal: streams[responder].ordinal) { $0.responseDone = true }
            streams[responder].phase = .stopped
        }
        var out = ready
        ready = []
        out.append(contentsOf: pending.map(\.transaction))
        pending = []
        return out
    }

    // MARK: - Byte loop

    private mutating func consume(_ cursor: inout Cursor, from direction: StreamDirection) throws(DecodeError) {
        let slot = direction.slot
        while !cursor.isAtEnd {
            switch streams[slot].phase {
            case .stopped, .tunnel:
                return
            case .untilClose:
                let count = cursor.remaining
                try cursor.skip(count)
                addBody(count, from: direction)
            case .body(let remaining):
                let count = min(remaining, cursor.remaining)
                try cursor.skip(count)
                addBody(count, from: direction)
                if count < remaining {
                    streams[slot].phase = .body(remaining: remaining - count)
                } else {
                    try endOfMessage(direction)
                }
            case .chunkData(let remaining):
                let count = min(remaining, cursor.remaining)
                try cursor.skip(count)
                addBody(count, from: direction)
                streams[slot].phase = count < remaining ? .chunkData(remaining: remaining - count) : .chunkDataEnd
            case .startLine, .headers, .chunkSize, .chunkDataEnd, .trailers:
                guard let line = try takeLine(&cursor, from: direction) else { return }
                try handleLine(line, from: direction)
            }
        }
    }

    /// Moves bytes up to and including the next LF into the direction's line buffer. Returns the complete line without
    /// its CRLF (or bare LF, RFC 9112 §2.2), or nil when the bytes ran out first (the partial line stays buffered).
    private mutating func takeLine(
        _ cursor: inout Cursor, from direction: StreamDirection
    ) throws(DecodeError) -> [UInt8]? {
        let slot = direction.slot
        let lineFeed = cursor.offsetOfFirst(0x0A)
        let take = lineFeed.map { $0 - cursor.offset + 1 } ?? cursor.remaining
        let buffered = streams[slot].line.count
        // `buffered <= maxLineLength` always holds, so the subtraction cannot go negative.
        guard take <= Self.maxLineLength - buffered else { throw .malformed(.http, "line_too_long") }
        streams[slot].line.append(contentsOf: try cursor.readBytes(take))
        guard lineFeed != nil else {
            try checkStreamStart(direction)
            return nil
        }
        var line: [UInt8] = []
        swap(&line, &streams[slot].line)
        if line.last == 0x0A { line.removeLast() }
        if line.last == 0x0D { line.removeLast() }
        return line
    }

    private mutating func handleLine(_ line: [UInt8], from direction: StreamDirection) throws(DecodeError) {
        let slot = direction.slot
        switch streams[slot].phase {
        case .startLine:
            // RFC 9112 §2.2: empty lines before a request line are ignored (and, leniently, before a status line).
            guard !line.isEmpty else { return }
            switch direction {
            case .originator: try startRequest(line)
            case .responder: try startResponse(line)
            }
        case .headers:
            if line.isEmpty {
                try endOfHeaders(direction)
            } else {
                try headerLine(line, from: direction)
            }
        case .chunkSize:
            let size = try Self.parseChunkSize(line)
            streams[slot].phase = size == 0 ? .trailers : .chunkData(remaining: size)
        case .chunkDataEnd:
            // RFC 9112 §7.1: chunk-data is followed by CRLF.
            guard line.isEmpty else { throw .malformed(.http, "bad_chunk_terminator") }
            streams[slot].phase = .chunkSize
        case .trailers:
            if line.isEmpty {
                try endOfMessage(direction)
            } else {
                // RFC 9112 §7.1.2: trailer fields are not used for framing; only count them against the limits.
                try countFieldLine(line, in: slot)
            }
        case .body, .chunkData, .untilClose, .tunnel, .stopped:
            return
        }
    }

    // MARK: - Start lines

    private mutating func startRequest(_ line: [UInt8]) throws(DecodeError) {
        guard let requestLine = Self.parseRequestLine(line[...]) else { throw .malformed(.http, "bad_request_line") }
        isConfirmedHTTP = true
        let slot = StreamDirection.originator.slot
        streams[slot].beginMessage()
        streams[slot].method = requestLine.method
        updateEntry(ordinal: streams[slot].ordinal, create: true) {
            $0.transaction.method = requestLine.method
            $0.transaction.uri = requestLine.target
            $0.transaction.version = requestLine.version
        }
    }

    private mutating func startResponse(_ line: [UInt8]) throws(DecodeError) {
        guard let statusLine = Self.parseStatusLine(line[...]) else { throw .malformed(.http, "bad_status_line") }
        isConfirmedHTTP = true
        let slot = StreamDirection.responder.slot
        streams[slot].beginMessage()
        streams[slot].statusCode = statusLine.code
        let interim = Self.isInterim(statusLine.code)
        updateEntry(ordinal: streams[slot].ordinal, create: true) {
            if interim {
                $0.transaction.infoCode = statusLine.code
                $0.transaction.infoMessage = statusLine.reason
            } else {
                $0.transaction.statusCode = statusLine.code
                $0.transaction.statusMessage = statusLine.reason
            }
            if $0.transaction.version == nil { $0.transaction.version = statusLine.version }
        }
    }

    /// Checks a first line that is still arriving, so that a stream that is not HTTP is recognised from its first
    /// bytes instead of after `maxLineLength` bytes.
    private mutating func checkStreamStart(_ direction: StreamDirection) throws(DecodeError) {
        let slot = direction.slot
        guard !isConfirmedHTTP, streams[slot].phase == .startLine, streams[slot].ordinal == 0 else { return }
        let line = streams[slot].line
        switch direction {
        case .originator:
            // method = token, then SP (RFC 9112 §3); empty lines are skipped, so look past leading CR/LF.
            let start = line.firstIndex { $0 != 0x0D && $0 != 0x0A } ?? line.endIndex
            let head = line[start...].prefix(Self.maxMethodLength + 1)
            if let space = head.firstIndex(of: 0x20) {
                let method = head[..<space]
                guard !method.isEmpty, method.allSatisfy(Self.isTokenByte) else {
                    throw .malformed(.http, "bad_request_line")
                }
                if Self.knownMethods.contains(String(decoding: method, as: UTF8.self)) {
                    streams[slot].methodEvidence = true
                }
            } else {
                guard head.allSatisfy(Self.isTokenByte), head.count <= Self.maxMethodLength else {
                    throw .malformed(.http, "bad_request_line")
                }
            }
        case .responder:
            // A server that speaks before the client does is not an HTTP server; a status line starts "HTTP/".
            guard !streams[StreamDirection.originator.slot].sawBytes else { return }
            let start = line.firstIndex { $0 != 0x0D && $0 != 0x0A } ?? line.endIndex
            let head = line[start...].prefix(Self.httpName.count)
            guard head.elementsEqual(Self.httpName.prefix(head.count)) else {
                throw .malformed(.http, "bad_status_line")
            }
        }
    }

    // MARK: - Header section

    private mutating func countFieldLine(_ line: [UInt8], in slot: Int) throws(DecodeError) {
        // Field line plus its CRLF; both operands are bounded by the limits, so no overflow.
        streams[slot].headerBytes += line.count + 2
        guard streams[slot].headerBytes <= Self.maxHeaderBytes else { throw .malformed(.http, "headers_too_large") }
        streams[slot].headerCount += 1
        guard streams[slot].headerCount <= Self.maxHeaderCount else { throw .malformed(.http, "too_many_headers") }
    }

    private mutating func headerLine(_ line: [UInt8], from direction: StreamDirection) throws(DecodeError) {
        let slot = direction.slot
        if line.first == 0x20 || line.first == 0x09 {
            // obs-fold (RFC 9112 §5.2): a continuation of the previous field's value, replaced by one SP.
            streams[slot].headerBytes += line.count + 2
            guard streams[slot].headerBytes <= Self.maxHeaderBytes else { throw .malformed(.http, "headers_too_large") }
            let more = String(decoding: Self.trimmed(line[...]), as: UTF8.self)
            switch streams[slot].lastField {
            case .none, .other:
                // Whitespace before the first field (RFC 9112 §2.2) or a field we do not keep: ignore the line.
                return
            case .contentLength, .transferEncoding:
                // A folded framing field is a request-smuggling shape; refuse rather than guess.
                throw .malformed(.http, "folded_framing_field")
            case .some(let field):
                updateField(field, from: direction) { value in value = (value ?? "") + " " + more }
            }
            return
        }
        try countFieldLine(line, in: slot)
        // field-line = field-name ":" OWS field-value OWS (RFC 9112 §5); a name with no colon or with whitespace
        // before the colon is invalid, and such a line is skipped.
        guard let colon = line.firstIndex(of: 0x3A) else {
            streams[slot].lastField = nil
            return
        }
        let name = line[..<colon]
        guard !name.isEmpty, name.allSatisfy(Self.isTokenByte) else {
            streams[slot].lastField = nil
            return
        }
        let valueBytes = Self.trimmed(line[(colon + 1)...])
        let field = HeaderField(name: name)
        streams[slot].lastField = field
        switch field {
        case .other:
            return
        case .contentLength:
            streams[slot].noteContentLength(valueBytes)
        case .transferEncoding:
            streams[slot].noteTransferEncoding(valueBytes)
        case .host, .userAgent, .referrer, .contentType:
            let value = String(decoding: valueBytes, as: UTF8.self)
            updateField(field, from: direction) { $0 = value }
        }
    }

    /// Applies `change` to the transaction property that `field` maps to for this direction
    /// (Zeek keeps the last value).
    private mutating func updateField(
        _ field: HeaderField, from direction: StreamDirection, _ change: (inout String?) -> Void
    ) {
        updateEntry(ordinal: streams[direction.slot].ordinal) { entry in
            switch (direction, field) {
            case (.originator, .host): change(&entry.transaction.host)
            case (.originator, .userAgent): change(&entry.transaction.userAgent)
            case (.originator, .referrer): change(&entry.transaction.referrer)
            case (.originator, .contentType): change(&entry.transaction.requestContentType)
            case (.responder, .contentType): change(&entry.transaction.responseContentType)
            default: return
            }
        }
    }

    /// Decides how the message content is framed (RFC 9112 §6.3).
    private mutating func endOfHeaders(_ direction: StreamDirection) throws(DecodeError) {
        let slot = direction.slot
        let stream = streams[slot]
        switch direction {
        case .originator:
            switch stream.transferCoding {
            case .chunked:
                streams[slot].phase = .chunkSize
                return
            case .other:
                // Rule 4: a request whose final transfer coding is not chunked cannot be framed.
                throw .malformed(.http, "bad_transfer_encoding")
            case .none:
                break
            }
        case .responder:
            let method = entry(ordinal: stream.ordinal)?.transaction.method
            let code = stream.statusCode
            // Rule 1: no content after HEAD, 1xx, 204, 304. Rule 2: a 2xx to CONNECT starts a tunnel.
            if code < 200 || code == 204 || code == 304 || method == "HEAD" || (method == "CONNECT" && code < 300) {
                try endOfMessage(direction)
                return
            }
            switch stream.transferCoding {
            case .chunked:
                streams[slot].phase = .chunkSize
                return
            case .other:
                // Rule 4: a response whose final coding is not chunked ends at connection close.
                streams[slot].phase = .untilClose
                return
            case .none:
                break
            }
        }
        // Rule 5: an invalid Content-Length is an unrecoverable framing error.
        guard stream.contentLengthIsValid else { throw .malformed(.http, "bad_content_length") }
        if let length = stream.contentLength {
            if length > 0 {
                streams[slot].phase = .body(remaining: length)
            } else {
                try endOfMessage(direction)
            }
        } else if direction == .originator {
            try endOfMessage(direction)  // Rule 7: a request without framing has no content.
        } else {
            streams[slot].phase = .untilClose  // Rule 8: a response without framing ends at close.
        }
    }

    private mutating func endOfMessage(_ direction: StreamDirection) throws(DecodeError) {
        let slot = direction.slot
        let ordinal = streams[slot].ordinal
        switch direction {
        case .originator:
            updateEntry(ordinal: ordinal) { $0.requestDone = true }
            streams[slot].ordinal = ordinal + 1
            // After CONNECT the client's bytes belong to the tunnel (RFC 9110 §9.3.6).
            streams[slot].phase = streams[slot].method == "CONNECT" ? .tunnel : .startLine
        case .responder:
            let code = streams[slot].statusCode
            if Self.isInterim(code) {
                // RFC 9110 §15.2: an interim response (100 Continue, 103 Early Hints) precedes the final one.
                streams[slot].phase = .startLine
                return
            }
            let method = entry(ordinal: ordinal)?.transaction.method
            updateEntry(ordinal: ordinal) { $0.responseDone = true }
            streams[slot].ordinal = ordinal + 1
            if code == 101 || (method == "CONNECT" && code >= 200 && code < 300) {
                // Switching Protocols / tunnel established: the rest of the connection is not HTTP/1.x.
                streams[slot].phase = .tunnel
                let originator = StreamDirection.originator.slot
                if streams[originator].phase != .stopped { streams[originator].phase = .tunnel }
            } else {
                streams[slot].phase = .startLine
            }
        }
    }

    // MARK: - Transactions

    private func entry(ordinal: Int) -> PendingTransaction? {
        let index = ordinal - firstPendingOrdinal
        guard index >= 0, index < pending.count else { return nil }
        return pending[index]
    }

    /// Applies `change` to transaction number `ordinal`; with `create`, opens it (and any skipped before it) if needed.
    /// A transaction already returned (evicted past `maxPendingTransactions`) is not changed any more.
    private mutating func updateEntry(
        ordinal: Int, create: Bool = false, _ change: (inout PendingTransaction) -> Void
    ) {
        let index = ordinal - firstPendingOrdinal
        guard index >= 0 else { return }
        if index >= pending.count {
            guard create, index - pending.count < Self.maxPendingTransactions else { return }
            while pending.count <= index { pending.append(PendingTransaction()) }
        }
        change(&pending[index])
        while pending.count > Self.maxPendingTransactions {
            ready.append(pending.removeFirst().transaction)
            firstPendingOrdinal += 1
        }
    }

    private mutating func addBody(_ count: Int, from direction: StreamDirection) {
        guard count > 0 else { return }
        updateEntry(ordinal: streams[direction.slot].ordinal) { entry in
            switch direction {
            case .originator:
                entry.transaction.requestBodyLength = Self.saturatingAdd(entry.transaction.requestBodyLength, count)
            case .responder:
                entry.transaction.responseBodyLength = Self.saturatingAdd(entry.transaction.responseBodyLength, count)
            }
        }
    }

    /// Removes and returns the leading transactions that nothing more can change.
    private mutating func collectReady() -> [HTTPTransaction] {
        let requestsOver = streams[StreamDirection.originator.slot].isOver
        let responsesOver = streams[StreamDirection.responder.slot].isOver
        var count = 0
        for entry in pending {
            guard entry.requestDone || requestsOver, entry.responseDone || responsesOver else { break }
            count += 1
        }
        var out = ready
        ready = []
        out.append(contentsOf: pending.prefix(count).map(\.transaction))
        pending.removeFirst(count)
        firstPendingOrdinal += count
        return out
    }

    private mutating func fail(_ direction: StreamDirection, _ error: DecodeError) {
        let slot = direction.slot
        let firstLine = !isConfirmedHTTP && streams[slot].ordinal == 0 && streams[slot].phase == .startLine
        switch direction {
        case .originator:
            // A first line that breaks the request-line grammar means the stream is not HTTP, except for an
            // over-long line that began with a known method (an HTTP attack, kept as a failure).
            let longHTTPLine = error == .malformed(.http, "line_too_long") && streams[slot].methodEvidence
            if firstLine && !longHTTPLine { isNotHTTP = true }
        case .responder:
            if firstLine && !streams[StreamDirection.originator.slot].sawBytes { isNotHTTP = true }
        }
        stop(direction, error)
    }

    private mutating func stop(_ direction: StreamDirection, _ error: DecodeError) {
        let slot = direction.slot
        guard streams[slot].phase != .stopped else { return }
        streams[slot].phase = .stopped
        if streams[slot].failure == nil { streams[slot].failure = error }
        streams[slot].line = []
    }

    // MARK: - Grammar (RFC 9112 §3, §4, §7.1)

    private static let httpName: [UInt8] = Array("HTTP/".utf8)

    /// tchar (RFC 9110 §5.6.2).
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func isInterim(_ code: Int) -> Bool { code >= 100 && code < 200 && code != 101 }

    private static func saturatingAdd(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : sum
    }

    /// Strips optional whitespace (SP / HTAB) from both ends.
    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard let first = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
            let last = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
        else { return bytes[bytes.endIndex...] }
        return bytes[first...last]
    }

    /// `HTTP/` DIGIT `.` DIGIT (RFC 9112 §2.3) -> "1.1".
    static func parseVersion(_ bytes: ArraySlice<UInt8>) -> String? {
        guard bytes.count == 8, bytes.starts(with: httpName) else { return nil }
        let digits = bytes.dropFirst(5)
        guard let major = digits.first, let dot = digits.dropFirst().first, let minor = digits.last,
            isDigit(major), dot == UInt8(ascii: "."), isDigit(minor)
        else { return nil }
        return String(decoding: digits, as: UTF8.self)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// request-line = method SP request-target SP HTTP-version (RFC 9112 §3). Leniently (§3 allows it), runs of SP
    /// are accepted and the version is taken after the last SP, so a target with stray spaces still parses.
    static func parseRequestLine(_ line: ArraySlice<UInt8>) -> (method: String, target: String, version: String)? {
        guard let firstSpace = line.firstIndex(of: 0x20), let lastSpace = line.lastIndex(of: 0x20),
            firstSpace < lastSpace
        else { return nil }
        let method = line[..<firstSpace]
        guard !method.isEmpty, method.count <= maxMethodLength, method.allSatisfy(isTokenByte) else { return nil }
        guard let version = parseVersion(line[(lastSpace + 1)...]) else { return nil }
        let target = trimmed(line[(firstSpace + 1)..<lastSpace])
        // request-target has no whitespace or control characters (RFC 3986 / RFC 9112 §3.2).
        guard !target.isEmpty, !target.contains(where: { $0 < 0x21 || $0 == 0x7F }) else { return nil }
        return (String(decoding: method, as: UTF8.self), String(decoding: target, as: UTF8.self), version)
    }

    /// status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4); a missing SP after the code is
    /// tolerated, as the RFC asks of clients.
    static func parseStatusLine(_ line: ArraySlice<UInt8>) -> (version: String, code: Int, reason: String)? {
        guard let version = parseVersion(line.prefix(8)) else { return nil }
        let rest = line.dropFirst(8)
        guard rest.first == 0x20 else { return nil }
        let codeBytes = rest.dropFirst().prefix(3)
        guard codeBytes.count == 3, codeBytes.allSatisfy(isDigit) else { return nil }
        let code = codeBytes.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard code >= 100 else { return nil }
        let afterCode = rest.dropFirst(4)
        guard afterCode.isEmpty || afterCode.first == 0x20 else { return nil }
        return (version, code, String(decoding: afterCode.dropFirst(), as: UTF8.self))
    }

    /// chunk-size [ chunk-ext ] (RFC 9112 §7.1): hex digits, then nothing, `;ext`, or whitespace before `;ext`.
    static func parseChunkSize(_ line: [UInt8]) throws(DecodeError) -> Int {
        var size = 0
        var digits = 0
        for byte in line {
            let value: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int(byte - UInt8(ascii: "A")) + 10
            case UInt8(ascii: ";"), 0x20, 0x09:
                guard digits > 0 else { throw .malformed(.http, "bad_chunk_size") }
                return size
            default:
                throw .malformed(.http, "bad_chunk_size")
            }
            let (shifted, overflow) = size.multipliedReportingOverflow(by: 16)
            guard !overflow else { throw .malformed(.http, "bad_chunk_size") }
            size = shifted + value  // shifted is a multiple of 16 below Int.max, so adding 0...15 cannot overflow
            digits += 1
        }
        guard digits > 0 else { throw .malformed(.http, "bad_chunk_size") }
        return size
    }
}

/// One request or response being assembled: its request/response halves and whether each is complete.
private struct PendingTransaction: Sendable {
    var transaction = HTTPTransaction()
    var requestDone = false
    var responseDone = false
}

/// The header fields the parser looks at; names compare case-insensitively (RFC 9110 §5.1).
private enum HeaderField: Sendable, Hashable {
    case host, userAgent, referrer, contentType, contentLength, transferEncoding, other

    init(name: ArraySlice<UInt8>) {
        func matches(_ known: StaticString) -> Bool {
            guard name.count == known.utf8CodeUnitCount else { return false }
            return known.withUTF8Buffer { buffer in
                zip(name, buffer).allSatisfy { pair in
                    let lower = pair.0 >= UInt8(ascii: "A") && pair.0 <= UInt8(ascii: "Z") ? pair.0 | 0x20 : pair.0
                    return lower == pair.1
                }
            }
        }
        if matches("host") {
            self = .host
        } else if matches("user-agent") {
            self = .userAgent
        } else if matches("referer") {
            self = .referrer
        } else if matches("content-type") {
            self = .contentType
        } else if matches("content-length") {
            self = .contentLength
        } else if matches("transfer-encoding") {
            self = .transferEncoding
        } else {
            self = .other
        }
    }
}

/// The parsing state of one direction of the connection.
private struct MessageStream: Sendable {
    enum Phase: Sendable, Hashable {
        case startLine, headers
        case body(remaining: Int)
        case chunkSize, chunkData(remaining: Int), chunkDataEnd, trailers
        /// Response content delimited by the connection close.
        case untilClose
        /// After CONNECT / 101: bytes are not HTTP/1.x any more and are skipped.
        case tunnel
        /// After a failure or a gap.
        case stopped
    }

    /// Final transfer coding named by Transfer-Encoding (RFC 9112 §6.1).
    enum TransferCoding: Sendable, Hashable { case none, chunked, other }

    var phase = Phase.startLine
    /// The line being assembled; never longer than `maxLineLength`.
    var line: [UInt8] = []
    var failure: DecodeError?
    var sawBytes = false
    /// A known method followed by SP began the stream.
    var methodEvidence = false
    /// Number of the message being parsed (requests, or final responses), counted from 0.
    var ordinal = 0

    // Facts about the message being parsed, reset by `beginMessage`.
    var method: String?
    var statusCode = 0
    var headerCount = 0
    var headerBytes = 0
    var lastField: HeaderField?
    var contentLength: Int?
    var contentLengthIsValid = true
    var transferCoding = TransferCoding.none

    /// No more messages will be parsed in this direction.
    var isOver: Bool { phase == .stopped || phase == .tunnel }

    mutating func beginMessage() {
        phase = .headers
        method = nil
        statusCode = 0
        headerCount = 0
        headerBytes = 0
        lastField = nil
        contentLength = nil
        contentLengthIsValid = true
        transferCoding = .none
    }

    /// Content-Length = 1*DIGIT; a list or repeated fields of one same value are accepted (RFC 9110 §8.6).
    mutating func noteContentLength(_ value: ArraySlice<UInt8>) {
        for element in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            let digits = HTTPConnectionParser.trimmed(element)
            var length = 0
            var valid = !digits.isEmpty
            for byte in digits where valid {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                    valid = false
                    break
                }
                let (shifted, overflowA) = length.multipliedReportingOverflow(by: 10)
                let (sum, overflowB) = shifted.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
                valid = !overflowA && !overflowB
                length = sum
            }
            guard valid, contentLength == nil || contentLength == length else {
                contentLengthIsValid = false
                return
            }
            contentLength = length
        }
    }

    /// Transfer-Encoding = #transfer-coding; what counts is the last coding of the last field (RFC 9112 §6.3 rule 4).
    mutating func noteTransferEncoding(_ value: ArraySlice<UInt8>) {
        let codings = value.split(separator: UInt8(ascii: ","))
            .map { HTTPConnectionParser.trimmed($0) }
            .filter { !$0.isEmpty }
        guard let last = codings.last else { return }
        // A coding may carry parameters ("chunked;x=y" is not valid for chunked, so only the bare name counts).
        let name = last.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }
        transferCoding = name.elementsEqual("chunked".utf8) ? .chunked : .other
    }
}

extension Cursor {
    /// Absolute offset of the next occurrence of `byte` at or after the cursor, or nil.
    fileprivate func offsetOfFirst(_ byte: UInt8) -> Int? {
        var index = offset
        while index < bytes.count {
            if bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }
}
