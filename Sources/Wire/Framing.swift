import NIOCore
import SwiftProtobuf

/// Fixed numbers of the wire protocol (proto/README.md).
public enum WireProtocol {
    /// The protocol version this build speaks.
    public static let version: UInt32 = 1
    /// Bytes of the big-endian length prefix in front of every Envelope.
    public static let lengthPrefixBytes = 4
    /// The default largest frame (Envelope bytes, prefix not counted): 16 MiB, room for batches of ~100,000 flows.
    public static let defaultMaxFrameBytes = 16 * 1024 * 1024
}

/// Why a stream of frames could not be read. Each case closes the connection that produced it.
public enum FrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The length prefix announces more than the configured maximum.
    case tooLarge(length: UInt32, maximum: Int)
    /// The connection ended in the middle of a frame.
    case truncated(expected: Int, received: Int)
    /// The frame's bytes are not a valid protobuf Envelope.
    case badEnvelope(String)
    /// A valid Envelope with no message in it.
    case emptyEnvelope
    /// A frame whose first byte arrived `seconds` ago is still incomplete (a peer trickling bytes to hold a
    /// frame-sized buffer open).
    case incomplete(expected: Int, received: Int, seconds: Double)

    public var description: String {
        switch self {
        case .tooLarge(let length, let maximum):
            return "frame of \(length) bytes exceeds the maximum of \(maximum)"
        case .truncated(let expected, let received):
            return "connection closed inside a frame (\(received) of \(expected) bytes)"
        case .badEnvelope(let reason):
            return "frame is not a valid Envelope: \(reason)"
        case .emptyEnvelope:
            return "frame holds an empty Envelope"
        case .incomplete(let expected, let received, let seconds):
            return "frame incomplete \(seconds) s after its first byte (\(received) of \(expected) bytes)"
        }
    }

    /// The protocol error code sent to the peer before closing.
    public var code: Wirewatch_V1_Error.Code {
        switch self {
        case .tooLarge: return .frameTooLarge
        case .truncated, .badEnvelope, .emptyEnvelope: return .badFrame
        // Protocol version 1 has no code of its own for a slow frame; it is a timeout like IDLE_TIMEOUT.
        case .incomplete: return .idleTimeout
        }
    }
}

/// Splits a byte stream into frames: a 4-byte big-endian length, then that many bytes (one Envelope).
/// Returns `.needMoreData` until a whole frame is buffered; an oversized length fails at once, before any of
/// the frame is buffered, so a hostile peer cannot make the collector allocate 4 GiB.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public let maxFrameBytes: Int

    public init(maxFrameBytes: Int = WireProtocol.defaultMaxFrameBytes) {
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard let size = Int(exactly: length), size <= maxFrameBytes else {
            throw FrameError.tooLarge(length: length, maximum: maxFrameBytes)
        }
        guard buffer.readableBytes >= WireProtocol.lengthPrefixBytes + size else { return nil }
        buffer.moveReaderIndex(forwardBy: WireProtocol.lengthPrefixBytes)
        return buffer.readSlice(length: size)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        if let frame = try decode(buffer: &buffer) { return frame }
        guard buffer.readableBytes > 0 else { return nil }
        let expected = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self).map { Int($0) } ?? 0
        throw FrameError.truncated(
            expected: WireProtocol.lengthPrefixBytes + expected, received: buffer.readableBytes)
    }
}

/// Follows frame boundaries in a byte stream without buffering any of it, so a deadline can be kept for the
/// frame in progress (`FrameDecoder` holds the bytes; this only counts them).
public struct FrameBoundaries: Sendable {
    /// Bytes of the current length prefix seen so far (0 between frames).
    private var prefixBytes = 0
    private var length: UInt32 = 0
    /// Body bytes of the current frame still to come.
    private var remaining = 0
    /// Bytes of the current frame seen so far, prefix included.
    public private(set) var received = 0

    public init() {}

    /// True while a frame has started (at least one byte of its prefix) and is not complete.
    public var inFrame: Bool { prefixBytes > 0 || remaining > 0 }

    /// The current frame's size with its prefix once the prefix is complete; the prefix size until then.
    public var expected: Int {
        received + remaining + (prefixBytes > 0 ? WireProtocol.lengthPrefixBytes - prefixBytes : 0)
    }

    /// Counts `bytes`; returns how many frames they completed.
    @discardableResult
    public mutating func advance(over bytes: ByteBufferView) -> Int {
        var completed = 0
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if remaining > 0 {
                let step = min(remaining, bytes.endIndex - index)
                remaining -= step
                received += step
                index += step
            } else {
                length = length << 8 | UInt32(bytes[index])
                prefixBytes += 1
                received += 1
                index += 1
                guard prefixBytes == WireProtocol.lengthPrefixBytes else { continue }
                prefixBytes = 0
                remaining = Int(length)
                length = 0
            }
            if remaining == 0 && prefixBytes == 0 {
                completed += 1
                received = 0
            }
        }
        return completed
    }
}

/// Envelope <-> frame bytes.
public enum EnvelopeCodec {
    /// Parses one frame's bytes.
    public static func decode(_ frame: ByteBuffer) throws(FrameError) -> Wirewatch_V1_Envelope {
        let envelope: Wirewatch_V1_Envelope
        do {
            envelope = try Wirewatch_V1_Envelope(serializedBytes: Array(frame.readableBytesView))
        } catch {
            throw .badEnvelope("\(error)")
        }
        guard envelope.body != nil else { throw .emptyEnvelope }
        return envelope
    }

    /// Appends one frame (length prefix and Envelope) to `buffer`.
    public static func encode(_ envelope: Wirewatch_V1_Envelope, into buffer: inout ByteBuffer) throws {
        let bytes: [UInt8] = try envelope.serializedBytes()
        buffer.writeInteger(UInt32(bytes.count))
        buffer.writeBytes(bytes)
    }
}

extension EnvelopeCodec {
    /// Appends the frame of `Envelope{batch: RecordBatch{sequence, …}}` where `batchBody` is an encoded RecordBatch
    /// without its sequence: protobuf lets the sender prepend field 1 to the stored bytes, so a spooled batch is
    /// sent without decoding and re-encoding it.
    public static func encodeBatch(sequence: UInt64, batchBody: some Collection<UInt8>, into buffer: inout ByteBuffer) {
        let batchLength = 1 + varintSize(sequence) + batchBody.count
        let envelopeLength = 1 + varintSize(UInt64(batchLength)) + batchLength
        buffer.reserveCapacity(minimumWritableBytes: WireProtocol.lengthPrefixBytes + envelopeLength)
        buffer.writeInteger(UInt32(envelopeLength))
        buffer.writeInteger(UInt8(3 << 3 | 2))  // Envelope.batch: field 3, length-delimited
        writeVarint(UInt64(batchLength), into: &buffer)
        buffer.writeInteger(UInt8(1 << 3 | 0))  // RecordBatch.sequence: field 1, varint
        writeVarint(sequence, into: &buffer)
        buffer.writeBytes(batchBody)
    }

    /// The frame size (prefix included) of a batch with this body.
    public static func batchFrameSize(sequence: UInt64, bodyCount: Int) -> Int {
        let batchLength = 1 + varintSize(sequence) + bodyCount
        return WireProtocol.lengthPrefixBytes + 1 + varintSize(UInt64(batchLength)) + batchLength
    }

    static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }

    static func writeVarint(_ value: UInt64, into buffer: inout ByteBuffer) {
        var rest = value
        while rest >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        buffer.writeInteger(UInt8(rest))
    }
}
