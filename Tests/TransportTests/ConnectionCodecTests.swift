import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Store
import TestSupport
import Testing
import Wire

@testable import Collector

/// The collector's per-connection protocol on NIO's EmbeddedChannel (no TLS; the certificate name is given):
/// every framing and ordering error answers with its Error code, closes the channel and logs one line.
@Suite("collector connection codec")
struct ConnectionCodecTests {
    final class Setup {
        let channel = EmbeddedChannel()
        let logs = LogLines()
        let store: SQLiteStore

        init(maxFrameBytes: Int = 1024, name: String = "edge-1") throws {
            let path = try Harness.temporaryDirectory().appendingPathComponent("codec.db").path
            store = try SQLiteStore(path: path, synchronous: .normal)
            var options = CollectorOptions()
            options.maxFrameBytes = maxFrameBytes
            let logs = logs
            let logger = Logger(label: "codec") { _ in CapturingLogHandler(sink: logs) }
            try channel.pipeline.syncOperations.addHandler(
                ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)))
            try channel.pipeline.syncOperations.addHandler(
                SensorConnection(
                    options: options, ingest: Ingest(store: store, logger: logger), logger: logger,
                    metrics: CollectorMetrics(),
                    certificateName: name))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        }

        /// Feeds bytes in, returns the Error code the connection answered with.
        func send(_ bytes: [UInt8]) throws -> Wirewatch_V1_Error.Code? {
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            _ = try? channel.writeInbound(buffer)
            var codes: [Wirewatch_V1_Error.Code] = []
            while var out = try channel.readOutbound(as: ByteBuffer.self) {
                var decoder = FrameDecoder()
                while let frame = try decoder.decode(buffer: &out) {
                    if case .error(let error) = try EnvelopeCodec.decode(frame).body { codes.append(error.code) }
                }
            }
            return codes.first
        }

        deinit { store.close() }
    }

    @Test(
        "each bad input gets its Error code, a closed channel and one log line naming the peer",
        arguments: [
            ("oversized length", [0x00, 0x00, 0x04, 0x01] as [UInt8], Wirewatch_V1_Error.Code.frameTooLarge),
            ("4 GiB length", [0xFF, 0xFF, 0xFF, 0xFF], .frameTooLarge),
            ("not protobuf", [0, 0, 0, 3, 0xFF, 0xFF, 0xFF], .badFrame),
            ("empty Envelope", [0, 0, 0, 0], .badFrame),
        ])
    func framingErrors(name: String, bytes: [UInt8], code: Wirewatch_V1_Error.Code) throws {
        let setup = try Setup()
        #expect(try setup.send(bytes) == code, "\(name)")
        #expect(!setup.channel.isActive, "\(name)")
        let refused = setup.logs.all.filter { $0.contains("refused") }
        #expect(refused.count == 1, "\(name): \(setup.logs.all)")
        #expect(refused.first?.contains("127.0.0.1:40000") == true)
    }

    @Test("a wrong version, a message out of order and a name mismatch get their codes")
    func protocolErrors() throws {
        var batch = Wirewatch_V1_Envelope()
        batch.batch.sequence = 1
        var helloAck = Wirewatch_V1_Envelope()
        helloAck.helloAck.protocolVersion = 1
        let cases: [([UInt8], Wirewatch_V1_Error.Code, String)] = [
            (try Frames.hello("edge-1", version: 0), .unsupportedVersion, "version 0"),
            (try Frames.frame(batch), .unexpectedMessage, "RecordBatch where Hello was expected"),
            (try Frames.frame(helloAck), .unexpectedMessage, "HelloAck where Hello was expected"),
            (try Frames.hello("edge-9"), .nameMismatch, "\"edge-9\" but the certificate is for \"edge-1\""),
        ]
        for (bytes, code, reason) in cases {
            let setup = try Setup()
            #expect(try setup.send(bytes) == code, "\(reason)")
            #expect(!setup.channel.isActive)
            #expect(setup.logs.all.count == 1 && setup.logs.all[0].contains(reason), "\(setup.logs.all)")
        }
    }

    @Test("a frame cut by the end of the connection is logged with how much arrived")
    func truncated() throws {
        let setup = try Setup()
        #expect(try setup.send([0, 0, 0, 10, 1, 2, 3]) == nil)
        #expect(setup.channel.isActive)
        _ = try? setup.channel.finish()
        #expect(setup.logs.all.contains { $0.contains("7 of 14 bytes") }, "\(setup.logs.all)")
    }
}
