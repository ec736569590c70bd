import Flows
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
import Wire

/// Frames built by hand: a big-endian length and the bytes.
func frameBytes(_ payload: [UInt8], length: UInt32? = nil) -> ByteBuffer {
    var buffer = ByteBufferAllocator().buffer(capacity: payload.count + 4)
    buffer.writeInteger(length ?? UInt32(payload.count))
    buffer.writeBytes(payload)
    return buffer
}

func heartbeatEnvelope(_ micros: Int64) -> Wirewatch_V1_Envelope {
    var heartbeat = Wirewatch_V1_Heartbeat()
    heartbeat.sentAtMicros = micros
    var envelope = Wirewatch_V1_Envelope()
    envelope.heartbeat = heartbeat
    return envelope
}

@Suite("wire framing")
struct FramingTests {
    @Test("frames split across reads and packed into one read come out whole and in order")
    func splitAndPacked() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameBytes: 1024)))
        var stream = ByteBufferAllocator().buffer(capacity: 64)
        for micros in [Int64(1), 2, 3] { try EnvelopeCodec.encode(heartbeatEnvelope(micros), into: &stream) }
        // Feed the three frames in uneven pieces: 1 byte, 5 bytes, then the rest.
        for cut in [1, 5, stream.readableBytes - 6] {
            guard let piece = stream.readSlice(length: cut) else { Issue.record("short stream"); return }
            try channel.writeInbound(piece)
        }
        var seen: [Int64] = []
        while let frame = try channel.readInbound(as: ByteBuffer.self) {
            seen.append(try EnvelopeCodec.decode(frame).heartbeat.sentAtMicros)
        }
        #expect(seen == [1, 2, 3])
        #expect(try channel.finish().isClean)
    }

    @Test("the frame layout is the one proto/README.md shows byte by byte")
    func documentedExample() throws {
        var frame = ByteBufferAllocator().buffer(capacity: 8)
        try EnvelopeCodec.encode(heartbeatEnvelope(1), into: &frame)
        #expect(Array(frame.readableBytesView) == [0x00, 0x00, 0x00, 0x04, 0x2A, 0x02, 0x08, 0x01])
    }

    @Test("the decoder passes NIO's decoder verifier (every split and coalescing of the input)")
    func verifier() throws {
        var one = ByteBufferAllocator().buffer(capacity: 16)
        try EnvelopeCodec.encode(heartbeatEnvelope(42), into: &one)
        let expected = one.getSlice(at: 4, length: one.readableBytes - 4)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [(one, expected.map { [$0] } ?? [])],
            decoderFactory: { FrameDecoder(maxFrameBytes: 1024) })
    }

    @Test("a length over the maximum fails as soon as the prefix arrives", arguments: [UInt32(1025), .max])
    func tooLarge(length: UInt32) throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameBytes: 1024)))
        var prefix = ByteBufferAllocator().buffer(capacity: 4)
        prefix.writeInteger(length)
        #expect(throws: FrameError.tooLarge(length: length, maximum: 1024)) { try channel.writeInbound(prefix) }
        #expect(FrameError.tooLarge(length: length, maximum: 1024).code == .frameTooLarge)
        _ = try? channel.finish()
    }

    @Test("a connection that ends inside a frame reports how much of it arrived")
    func truncated() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameBytes: 1024)))
        try channel.writeInbound(frameBytes([UInt8](repeating: 7, count: 10), length: 100))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(throws: FrameError.truncated(expected: 104, received: 14)) { _ = try channel.finish() }
    }

    @Test("bytes that are not an Envelope, and an empty Envelope, are refused with their own errors")
    func garbage() throws {
        // 0xFF is a field number 31 with wire type 7, which protobuf does not define.
        let garbage = frameBytes([0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01, 0x02])
        var frame = garbage
        frame.moveReaderIndex(forwardBy: 4)
        do {
            _ = try EnvelopeCodec.decode(frame)
            Issue.record("garbage decoded")
        } catch {
            guard case .badEnvelope = error else { Issue.record("\(error)"); return }
            #expect(error.code == .badFrame)
        }
        #expect(throws: FrameError.emptyEnvelope) {
            try EnvelopeCodec.decode(ByteBufferAllocator().buffer(capacity: 0))
        }
    }
}
