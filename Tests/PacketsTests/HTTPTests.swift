import Packets
import Testing

/// A run of bytes one side of a connection sent, in capture order.
struct HTTPSegment: Sendable, CustomTestStringConvertible {
    let direction: StreamDirection
    let bytes: [UInt8]

    var testDescription: String { "\(direction == .originator ? ">" : "<")\(bytes.count)" }

    static func request(_ text: String) -> HTTPSegment { HTTPSegment(direction: .originator, bytes: Array(text.utf8)) }
    static func response(_ text: String) -> HTTPSegment { HTTPSegment(direction: .responder, bytes: Array(text.utf8)) }
}

/// A named conversation and the transactions a correct parser reports for it.
struct HTTPFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let segments: [HTTPSegment]
    let expected: [HTTPTransaction]
    var testDescription: String { name }
}

extension HTTPConnectionParser {
    fileprivate mutating func feed(_ bytes: [UInt8], from direction: StreamDirection) -> [HTTPTransaction] {
        bytes.withUnsafeBytes { feed($0, from: direction) }
    }

    fileprivate mutating func feed(_ text: String, from direction: StreamDirection) -> [HTTPTransaction] {
        feed(Array(text.utf8), from: direction)
    }
}

/// Feeds every segment (each cut into pieces of at most `pieceSize` bytes) and then finishes.
fileprivate func runHTTP(_ segments: [HTTPSegment], pieceSize: Int = Int.max) -> [HTTPTransaction] {
    var parser = HTTPConnectionParser()
    var out: [HTTPTransaction] = []
    for segment in segments {
        var start = 0
        repeat {
            let end = min(segment.bytes.count, start + min(pieceSize, segment.bytes.count - start))
            out += parser.feed(Array(segment.bytes[start..<end]), from: segment.direction)
            start = end
        } while start < segment.bytes.count
    }
    return out + parser.finish()
}

/// Parses hex with any whitespace between digit pairs (as `tshark -z follow,tcp,raw` prints it).
fileprivate func httpHexBytes(_ text: String) -> [UInt8] {
    let digits = text.unicodeScalars.compactMap { UInt8(String($0), radix: 16) }
    return stride(from: 0, to: digits.count - 1, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
}

enum HTTPFixtures {
    static let keepAlive = HTTPFixture(
        name: "keep-alive x3",
        segments: [
            .request(
                "GET /a HTTP/1.1\r\nHost: example.com\r\nUser-Agent: ua/1\r\nReferer: http://example.com/\r\n\r\n"),
            .response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"),
            .request("GET /b HTTP/1.1\r\nhost: example.com\r\nUSER-AGENT: ua/1\r\n\r\n"),
            .response("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
            .request("GET /c?q=1 HTTP/1.1\r\nHost:example.com  \r\n\r\n"),
            .response("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc"),
        ],
        expected: [
            HTTPTransaction(
                method: "GET", uri: "/a", version: "1.1", host: "example.com", userAgent: "ua/1",
                referrer: "http://example.com/", statusCode: 200, statusMessage: "OK", responseBodyLength: 5,
                responseContentType: "text/plain"),
            HTTPTransaction(
                method: "GET", uri: "/b", version: "1.1", host: "example.com", userAgent: "ua/1", statusCode: 404,
                statusMessage: "Not Found"),
            HTTPTransaction(
                method: "GET", uri: "/c?q=1", version: "1.1", host: "example.com", statusCode: 200, statusMessage: "OK",
                responseBodyLength: 3),
        ])

    static let post = HTTPFixture(
        name: "POST with Content-Length",
        segments: [
            .request(
                "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"),
            .request("{\"a\":\"hello\"}"),
            .response("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"),
        ],
        expected: [
            HTTPTransaction(
                method: "POST", uri: "/upload", version: "1.1", host: "h", statusCode: 201, statusMessage: "Created",
                requestBodyLength: 13, responseBodyLength: 2, requestContentType: "application/json")
        ])

    /// 100-continue: the interim response does not complete the transaction (RFC 9110 §10.1.1).
    static let expectContinue = HTTPFixture(
        name: "100-continue",
        segments: [
            .request("PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"),
            .response("HTTP/1.1 100 Continue\r\n\r\n"),
            .request("data"),
            .response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ],
        expected: [
            HTTPTransaction(
                method: "PUT", uri: "/f", version: "1.1", host: "h", statusCode: 200, statusMessage: "OK",
                infoCode: 100, infoMessage: "Continue", requestBodyLength: 4)
        ])

    /// Three requests before any response; the HEAD in the middle has no response body despite its Content-Length.
    static let pipelined = HTTPFixture(
        name: "pipelined",
        segments: [
            .request(
                "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: h\r\n\r\n"
                    + "POST /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
            .response(
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
                    + "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"
                    + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nyz\r\n0\r\n\r\n"),
        ],
        expected: [
            HTTPTransaction(
                method: "GET", uri: "/1", version: "1.1", host: "h", statusCode: 200, statusMessage: "OK",
                responseBodyLength: 1),
            HTTPTransaction(method: "HEAD", uri: "/2", version: "1.1", host: "h", statusCode: 200, statusMessage: "OK"),
            HTTPTransaction(
                method: "POST", uri: "/3", version: "1.1", host: "h", statusCode: 200, statusMessage: "OK",
                requestBodyLength: 3, responseBodyLength: 2),
        ])

    /// An HTTP/1.0 response without Content-Length: its body ends when the connection closes.
    static let closeDelimited = HTTPFixture(
        name: "close-delimited",
        segments: [
            .request("GET / HTTP/1.0\r\n\r\n"),
            .response("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>"),
            .response("</html>\n"),
        ],
        expected: [
            HTTPTransaction(
                method: "GET", uri: "/", version: "1.0", statusCode: 200, statusMessage: "OK", responseBodyLength: 14,
                responseContentType: "text/html")
        ])

    static let all = [keepAlive, post, expectContinue, pipelined, closeDelimited]
}

@Suite("HTTP/1.x connection parser")
struct HTTPTests {
    @Test("fixtures parse to the expected transactions", arguments: HTTPFixtures.all)
    func fixture(_ fixture: HTTPFixture) {
        #expect(runHTTP(fixture.segments) == fixture.expected)
    }

    @Test("keep-alive: each transaction is returned as soon as its response ends")
    func keepAliveEmitsPerResponse() {
        var parser = HTTPConnectionParser()
        let counts = HTTPFixtures.keepAlive.segments.map { parser.feed($0.bytes, from: $0.direction).count }
        #expect(counts == [0, 1, 0, 1, 0, 1])
        #expect(parser.finish().isEmpty)
        #expect(parser.isConfirmedHTTP)
        #expect(!parser.isNotHTTP)
        #expect(parser.failure(of: .originator) == nil && parser.failure(of: .responder) == nil)
    }

    @Test("100-continue: the interim response completes nothing")
    func interimDoesNotComplete() {
        var parser = HTTPConnectionParser()
        let counts = HTTPFixtures.expectContinue.segments.map { parser.feed($0.bytes, from: $0.direction).count }
        #expect(counts == [0, 0, 0, 1])
    }

    @Test("close-delimited body ends at finish()")
    func closeDelimitedEndsAtFinish() {
        var parser = HTTPConnectionParser()
        for segment in HTTPFixtures.closeDelimited.segments {
            #expect(parser.feed(segment.bytes, from: segment.direction).isEmpty)
        }
        #expect(parser.finish() == HTTPFixtures.closeDelimited.expected)
        #expect(parser.finish().isEmpty)
    }

    /// Chunked responses report the decoded length, as Zeek's response_body_len; a following transaction on the same
    /// connection proves the framing ended exactly.
    @Test(
        "chunked response body length is the decoded length",
        arguments: [
            ("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n", 12),
            ("Transfer-Encoding: chunked\r\n\r\nA;name=val\r\n0123456789\r\n1 ; x\r\nZ\r\n0\r\n\r\n", 11),
            ("Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n", 3),
            ("Transfer-Encoding: gzip, Chunked\r\n\r\n4\r\n\u{1f}x\u{8}\u{0}\r\n0\r\n\r\n", 4),
            ("Content-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", 2),
            ("Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0),
            ("Transfer-Encoding: chunked\n\nf\nabcdefghijklmno\n0\n\n", 15),  // bare LF line ends (RFC 9112 §2.2)
        ])
    func chunkedResponse(headersAndBody: String, decodedLength: Int) {
        let transactions = runHTTP([
            .request("GET /c HTTP/1.1\r\nHost: h\r\n\r\n"),
            .response("HTTP/1.1 200 OK\r\n" + headersAndBody),
            .request("GET /next HTTP/1.1\r\nHost: h\r\n\r\n"),
            .response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ])
        #expect(transactions.map(\.uri) == ["/c", "/next"])
        #expect(transactions.map(\.responseBodyLength) == [decodedLength, 2])
        #expect(transactions.map(\.statusCode) == [200, 200])
    }

    @Test("chunked request body is counted decoded")
    func chunkedRequest() {
        let transactions = runHTTP([
            .request("POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"),
            .response("HTTP/1.1 204 No Content\r\n\r\n"),
        ])
        #expect(transactions.map(\.requestBodyLength) == [9])
        #expect(transactions.map(\.statusCode) == [204])
    }

    @Test(
        "responses without content: HEAD, 204, 304, 1xx keep the next transaction in frame",
        arguments: [
            ("HEAD", "200 OK"), ("GET", "204 No Content"), ("GET", "304 Not Modified"),
        ])
    func noBody(method: String, status: String) {
        // The Content-Length describes the representation, not this response's content (RFC 9110 §8.6).
        let transactions = runHTTP([
            .request("\(method) /x HTTP/1.1\r\nHost: h\r\n\r\n"),
            .response("HTTP/1.1 \(status)\r\nContent-Length: 1000\r\n\r\n"),
            .request("GET /y HTTP/1.1\r\nHost: h\r\n\r\n"),
            .response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes"),
        ])
        #expect(transactions.map(\.method) == [method, "GET"])
        #expect(transactions.map(\.uri) == ["/x", "/y"])
        #expect(transactions.map(\.responseBodyLength) == [0, 3])
        #expect(transactions.first?.statusCode == Int(status.prefix(3)))
    }

    @Test("every split position gives the unsplit result", arguments: HTTPFixtures.all)
    func everySplit(_ fixture: HTTPFixture) {
        let whole = runHTTP(fixture.segments)
        #expect(whole == fixture.expected)
        for (index, segment) in fixture.segments.enumerated() {
            for cut in 0...segment.bytes.count {
                var segments = fixture.segments
                segments[index] = HTTPSegment(direction: segment.direction, bytes: Array(segment.bytes[..<cut]))
                let rest = HTTPSegment(direction: segment.direction, bytes: Array(segment.bytes[cut...]))
                segments.insert(rest, at: index + 1)
                #expect(runHTTP(segments) == whole, "segment \(index) cut at \(cut)")
            }
        }
        #expect(runHTTP(fixture.segments, pieceSize: 1) == whole)
    }

    @Test("a gap mid request body keeps the bytes counted so far and still pairs the response")
    func gapInRequestBody() {
        var parser = HTTPConnectionParser()
        let head = "POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n"
        #expect(parser.feed(head + String(repeating: "x", count: 40), from: .originator).isEmpty)
        parser.noteGap(from: .originator)
        #expect(parser.failure(of: .originator) == .malformed(.http, "content_gap"))
        #expect(parser.feed("more bytes after the hole", from: .originator).isEmpty)
        let done = parser.feed("HTTP/1.1 413 Too Large\r\nContent-Length: 2\r\n\r\nno", from: .responder)
        #expect(done.map(\.method) == ["POST"])
        #expect(done.map(\.requestBodyLength) == [40])
        #expect(done.map(\.statusCode) == [413])
        #expect(parser.failure(of: .responder) == nil)
        #expect(parser.finish().isEmpty)
    }

    @Test("a gap mid response body: the response side is over, requests still complete")
    func gapInResponseBody() {
        var parser = HTTPConnectionParser()
        #expect(parser.feed("GET /a HTTP/1.1\r\n\r\n", from: .originator).isEmpty)
        #expect(parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", from: .responder).isEmpty)
        parser.noteGap(from: .responder)
        let done = parser.feed("GET /b HTTP/1.1\r\n\r\n", from: .originator)
        #expect(done.map(\.uri) == ["/a", "/b"])
        #expect(done.map(\.responseBodyLength) == [10, 0])
        #expect(done.map(\.statusCode) == [200, nil])
    }

    @Test(
        "not HTTP is detected from the first bytes",
        arguments: [
            // TLS ClientHello
            HTTPSegment(direction: .originator, bytes: httpHexBytes("16 03 01 00 a5 01 00 00 a1 03 03")),
            .request("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3\r\n"),
            .request("EHLO mail.example.com\r\n"),
            .request("GET /\r\n"),  // HTTP/0.9 simple request: not supported, not HTTP/1.x
            .request("GET / FTP/1.0\r\n"),
            .request(" GET / HTTP/1.1\r\n"),
            .request(String(repeating: "A", count: 40)),
            .request("\r\n\r\n\u{1}"),
            HTTPSegment(direction: .originator, bytes: [0, 0, 0, 0x2c, 0xff]),
            .response("220 smtp.example.com ESMTP\r\n"),  // the server spoke first, not in HTTP
            .response("SSH-2.0-OpenSSH_9.6\r\n"),
        ])
    func notHTTP(_ segment: HTTPSegment) {
        var parser = HTTPConnectionParser()
        #expect(parser.feed(segment.bytes, from: segment.direction).isEmpty)
        #expect(parser.isNotHTTP)
        #expect(!parser.isConfirmedHTTP)
        #expect(parser.feed("GET / HTTP/1.1\r\n\r\n", from: .originator).isEmpty)
        #expect(parser.finish().isEmpty)
    }

    @Test("binary first bytes are rejected after one byte", arguments: [UInt8(0x16), 0x00, 0x80, 0x20, 0x3a])
    func quickRejection(byte: UInt8) {
        var parser = HTTPConnectionParser()
        _ = parser.feed([byte], from: .originator)
        #expect(parser.isNotHTTP)
    }

    @Test(
        "unusual but valid starts are HTTP",
        arguments: [
            "FOO-BAR /x HTTP/1.1\r\n\r\n",  // any RFC 9110 token is a method
            "\r\nGET /x HTTP/1.1\r\n\r\n",  // an empty line before the request line is ignored
            "get /x HTTP/1.1\r\n\r\n",
            "GET  /x  HTTP/1.1\r\n\r\n",
            "OPTIONS * HTTP/1.1\r\n\r\n",
        ])
    func validStarts(_ text: String) {
        var parser = HTTPConnectionParser()
        _ = parser.feed(text, from: .originator)
        #expect(!parser.isNotHTTP)
        #expect(parser.isConfirmedHTTP)
        let transactions = parser.finish()
        #expect(transactions.count == 1)
        #expect(transactions.first?.uri == (text.contains("*") ? "*" : "/x"))
    }

    @Test(
        "limits stop the direction without trapping",
        arguments: [
            (
                "GET / HTTP/1.1\r\n" + String(repeating: "X-A: b\r\n", count: HTTPConnectionParser.maxHeaderCount + 1),
                "too_many_headers"
            ),
            (
                "GET / HTTP/1.1\r\n"
                    + String(repeating: "X-A: " + String(repeating: "b", count: 7000) + "\r\n", count: 10),
                "headers_too_large"
            ),
            ("GET / HTTP/1.1\r\nCookie: " + String(repeating: "c", count: 9000), "line_too_long"),
            ("GET / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", "bad_content_length"),
            ("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "bad_content_length"),
            ("GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", "bad_content_length"),
            ("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "bad_transfer_encoding"),
            ("GET / HTTP/1.1\r\nContent-Length: 1\r\n 0\r\n\r\n", "folded_framing_field"),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad_chunk_size"),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n", "bad_chunk_size"),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "bad_chunk_terminator"),
            ("GET / HTTP/1.1\r\n\r\nGET\u{0} / HTTP/1.1\r\n\r\n", "bad_request_line"),
        ])
    func limit(text: String, reason: String) {
        var parser = HTTPConnectionParser()
        // Fed in 100-byte pieces: a limit must hold across feeds, not only within one.
        let bytes = Array(text.utf8)
        for start in stride(from: 0, to: bytes.count, by: 100) {
            _ = parser.feed(Array(bytes[start..<min(bytes.count, start + 100)]), from: .originator)
        }
        #expect(parser.failure(of: .originator) == .malformed(.http, reason))
        #expect(!parser.isNotHTTP)
        // Once failed, the direction ignores everything, however long.
        _ = parser.feed([UInt8](repeating: 0x41, count: 1 << 20), from: .originator)
        #expect(parser.failure(of: .originator) == .malformed(.http, reason))
        let transactions = parser.finish()
        #expect(transactions.first?.method == "GET" || transactions.first?.method == "POST")
    }

    @Test("duplicate equal Content-Length values are one length")
    func duplicateContentLength() {
        let transactions = runHTTP([
            .request("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc"),
            .response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ])
        #expect(transactions.map(\.requestBodyLength) == [3])
    }

    @Test("obs-fold continues a kept field; whitespace before the first field is skipped")
    func obsFold() {
        let transactions = runHTTP([
            .request("GET / HTTP/1.1\r\n  ignored\r\nUser-Agent: first\r\n\tsecond\r\nHost: h\r\n\r\n")
        ])
        #expect(transactions.map(\.userAgent) == ["first second"])
        #expect(transactions.map(\.host) == ["h"])
    }

    @Test(
        "101 Switching Protocols and CONNECT 200 end HTTP parsing without failure",
        arguments: [
            (
                "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 101
            ),
            (
                "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
                "HTTP/1.1 200 Connection established\r\n\r\n", 200
            ),
        ])
    func tunnel(request: String, response: String, code: Int) {
        var parser = HTTPConnectionParser()
        #expect(parser.feed(request, from: .originator).isEmpty)
        let done = parser.feed(response, from: .responder)
        #expect(done.map(\.statusCode) == [code])
        // Tunnelled bytes (a TLS ClientHello, a WebSocket frame) are not parsed as HTTP.
        #expect(parser.feed(httpHexBytes("16 03 01 00 a5 01 00"), from: .originator).isEmpty)
        #expect(parser.feed(httpHexBytes("81 05 48 65 6c 6c 6f"), from: .responder).isEmpty)
        #expect(parser.failure(of: .originator) == nil && parser.failure(of: .responder) == nil)
        #expect(!parser.isNotHTTP)
        #expect(parser.finish().isEmpty)
    }

    @Test("a one-sided pipeline is bounded by maxPendingTransactions")
    func pendingBound() {
        var parser = HTTPConnectionParser()
        let count = HTTPConnectionParser.maxPendingTransactions + 10
        let early = parser.feed(String(repeating: "GET / HTTP/1.1\r\n\r\n", count: count), from: .originator)
        #expect(early.count == 10)
        #expect(parser.finish().count == HTTPConnectionParser.maxPendingTransactions)
    }

    @Test("every prefix of every fixture parses without trapping", arguments: HTTPFixtures.all)
    func everyPrefix(_ fixture: HTTPFixture) {
        let total = fixture.segments.reduce(0) { $0 + $1.bytes.count }
        for length in 0...total {
            var left = length
            var prefix: [HTTPSegment] = []
            for segment in fixture.segments where left > 0 {
                prefix.append(HTTPSegment(direction: segment.direction, bytes: Array(segment.bytes.prefix(left))))
                left -= min(left, segment.bytes.count)
            }
            let transactions = runHTTP(prefix)
            #expect(transactions.count <= fixture.expected.count)
            #expect(zip(transactions, fixture.expected).allSatisfy { $0.method == nil || $0.method == $1.method })
        }
    }

    @Test("mutated fixtures and random bytes never trap, and never count more body than was sent")
    func mutationsAndNoise() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {  // xorshift64
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        let alphabet = Array("GET HTTP/1.1\r\n: 0123456789abcdefchunked;Content-Length".utf8) + [0, 0xff, 0x09]
        var conversations: [[HTTPSegment]] = []
        for fixture in HTTPFixtures.all {
            for (index, segment) in fixture.segments.enumerated() {
                for position in segment.bytes.indices {
                    for replacement: UInt8 in [0x00, 0x0a, 0x20, 0x3a, 0x30, 0xff] {
                        var segments = fixture.segments
                        var bytes = segment.bytes
                        bytes[position] = replacement
                        segments[index] = HTTPSegment(direction: segment.direction, bytes: bytes)
                        conversations.append(segments)
                    }
                }
            }
        }
        for _ in 0..<300 {
            conversations.append(
                (0..<4).map { turn in
                    let bytes = (0..<Int(next() % 200)).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }
                    let direction: StreamDirection = turn % 2 == 0 ? .originator : .responder
                    return HTTPSegment(direction: direction, bytes: Array("GET / HTTP/1.1\r\n".utf8) + bytes)
                })
        }
        for segments in conversations {
            let transactions = runHTTP(segments, pieceSize: Int(next() % 64) + 1)
            let sent = { (direction: StreamDirection) in
                segments.filter { $0.direction == direction }.reduce(0) { $0 + $1.bytes.count }
            }
            #expect(transactions.reduce(0) { $0 + $1.requestBodyLength } <= sent(.originator))
            #expect(transactions.reduce(0) { $0 + $1.responseBodyLength } <= sent(.responder))
        }
    }

    // Real traffic. Generated with:
    //   python3 -m http.server 8099 --bind 127.0.0.1 -p HTTP/1.1   (in a directory with file = "hello wirewatch\n")
    //   tcpdump -U -i lo -w x.pcap port 8099
    //   curl -s http://127.0.0.1:8099/file -A test-agent/1.0 http://127.0.0.1:8099/file -o /dev/null -o /dev/null
    //   curl -s -A test-agent/1.0 -d @post.txt http://127.0.0.1:8099/file
    //   (post.txt = "a=1&b=2"; the server answers 501)
    // tshark -r x.pcap -Y http -T fields -e tcp.stream -e http.request.method -e http.host -e http.user_agent
    //   -e http.request.uri -e http.response.code -e http.content_length -e http.content_type
    // said: stream 0: GET 127.0.0.1:8099 test-agent/1.0 /file -> 200 (16, application/octet-stream), twice;
    //       stream 1: POST 127.0.0.1:8099 test-agent/1.0 /file (7, application/x-www-form-urlencoded)
    //                 -> 501 (357, text/html;charset=utf-8).
    // Segments are `tshark -r x.pcap -q -z follow,tcp,raw,N`.
    static let curlGet = httpHexBytes(
        """
        474554202f66696c6520485454502f312e310d0a486f73743a203132372e302e302e313a383039390d0a557365722d41
        67656e743a20746573742d6167656e742f312e300d0a4163636570743a202a2f2a0d0a0d0a
        """)
    static let pythonHeaders = httpHexBytes(
        """
        485454502f312e3120323030204f4b0d0a5365727665723a2053696d706c65485454502f302e3620507974686f6e2f33
        2e31312e370d0a446174653a205765642c203235204e6f7620323032362031363a33353a333020474d540d0a436f6e74
        656e742d747970653a206170706c69636174696f6e2f6f637465742d73747265616d0d0a436f6e74656e742d4c656e67
        74683a2031360d0a4c6173742d4d6f6469666965643a205765642c203235204e6f7620323032362031363a33353a3230
        20474d540d0a0d0a
        """)
    static let pythonBody = httpHexBytes("68656c6c6f207769726577617463680a")
    static let curlPost = httpHexBytes(
        """
        504f5354202f66696c6520485454502f312e310d0a486f73743a203132372e302e302e313a383039390d0a557365722d
        4167656e743a20746573742d6167656e742f312e300d0a4163636570743a202a2f2a0d0a436f6e74656e742d4c656e67
        74683a20370d0a436f6e74656e742d547970653a206170706c69636174696f6e2f782d7777772d666f726d2d75726c65
        6e636f6465640d0a0d0a613d3126623d32
        """)
    static let python501Headers = httpHexBytes(
        """
        485454502f312e312035303120556e737570706f72746564206d6574686f64202827504f535427290d0a536572766572
        3a2053696d706c65485454502f302e3620507974686f6e2f332e31312e370d0a446174653a205765642c203235204e6f
        7620323032362031363a33353a333020474d540d0a436f6e6e656374696f6e3a20636c6f73650d0a436f6e74656e742d
        547970653a20746578742f68746d6c3b636861727365743d7574662d380d0a436f6e74656e742d4c656e6774683a2033
        35370d0a0d0a
        """)
    static let python501Body = httpHexBytes(
        """
        3c21444f43545950452048544d4c3e0a3c68746d6c206c616e673d22656e223e0a202020203c686561643e0a20202020
        202020203c6d65746120636861727365743d227574662d38223e0a20202020202020203c7469746c653e4572726f7220
        726573706f6e73653c2f7469746c653e0a202020203c2f686561643e0a202020203c626f64793e0a2020202020202020
        3c68313e4572726f7220726573706f6e73653c2f68313e0a20202020202020203c703e4572726f7220636f64653a2035
        30313c2f703e0a20202020202020203c703e4d6573736167653a20556e737570706f72746564206d6574686f64202827
        504f535427292e3c2f703e0a20202020202020203c703e4572726f7220636f6465206578706c616e6174696f6e3a2035
        3031202d2053657276657220646f6573206e6f7420737570706f72742074686973206f7065726174696f6e2e3c2f703e
        0a202020203c2f626f64793e0a3c2f68746d6c3e0a
        """)

    @Test("curl against python http.server: same transactions as tshark")
    func realTraffic() {
        let keepAlive = runHTTP([
            HTTPSegment(direction: .originator, bytes: Self.curlGet),
            HTTPSegment(direction: .responder, bytes: Self.pythonHeaders),
            HTTPSegment(direction: .responder, bytes: Self.pythonBody),
            HTTPSegment(direction: .originator, bytes: Self.curlGet),
            HTTPSegment(direction: .responder, bytes: Self.pythonHeaders),
            HTTPSegment(direction: .responder, bytes: Self.pythonBody),
        ])
        let get = HTTPTransaction(
            method: "GET", uri: "/file", version: "1.1", host: "127.0.0.1:8099", userAgent: "test-agent/1.0",
            statusCode: 200, statusMessage: "OK", responseBodyLength: 16,
            responseContentType: "application/octet-stream")
        #expect(keepAlive == [get, get])

        let post = runHTTP([
            HTTPSegment(direction: .originator, bytes: Self.curlPost),
            HTTPSegment(direction: .responder, bytes: Self.python501Headers),
            HTTPSegment(direction: .responder, bytes: Self.python501Body),
        ])
        #expect(
            post == [
                HTTPTransaction(
                    method: "POST", uri: "/file", version: "1.1", host: "127.0.0.1:8099", userAgent: "test-agent/1.0",
                    statusCode: 501, statusMessage: "Unsupported method ('POST')", requestBodyLength: 7,
                    responseBodyLength: 357, requestContentType: "application/x-www-form-urlencoded",
                    responseContentType: "text/html;charset=utf-8")
            ])
    }
}
