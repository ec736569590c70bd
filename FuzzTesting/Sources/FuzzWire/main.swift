// libFuzzer target for what the collector does with a sensor's bytes before anything is stored
// (Sources/Wire/Framing.swift, Record+Wire.swift).
//
// One input is a byte stream as it arrives from a sensor: byte 0 picks how the stream is cut into reads (its value
// + 1 bytes per read, so a frame and even its length prefix arrive in pieces), the rest is the stream. The stream
// goes through `FrameDecoder` (maximum frame 64 KiB here, so the too-large path is reachable), every frame through
// `EnvelopeCodec.decode`, and then by body:
// - Hello: the collector's own checks before it opens a session (`HelloCheck`: version, name, 16-byte boot id,
//   field sizes); what they accept must be within the limits, what they refuse must say why without control
//   characters;
// - RecordBatch: `records(sensor:)`, each record rendered with `jsonLine`, and the records re-encoded with
//   `BatchBuilder` and decoded again: what the collector accepted must survive the trip unchanged in number
//   and rendering (the sensor's spool sends exactly that encoding);
// - anything else: its fields are read.
// At the end of the stream `decodeLast` runs as on a closed connection. Errors thrown are the expected outcome
// of bad input; a trap, an ASan report or a broken invariant (`fatalError`) is a finding.

import Flows
import NIOCore
import Wire

let maxFrameBytes = 64 * 1024

/// The collector's own Hello checks (`HelloCheck`, what `SensorConnection` runs before opening a session).
func checkHello(_ hello: Wirewatch_V1_Hello) {
    switch HelloCheck.negotiate(hello, certifiedName: "sensor-1") {
    case .success(let version):
        guard (1...WireProtocol.version).contains(version) else { fatalError("version \(version) agreed") }
        guard hello.bootID.count == 16 else { fatalError("boot id of \(hello.bootID.count) bytes accepted") }
        guard hello.source.utf8.count <= HelloCheck.maxFieldBytes,
            hello.softwareVersion.utf8.count <= HelloCheck.maxFieldBytes
        else { fatalError("an oversized Hello field accepted") }
    case .failure(let refusal):
        // The reason goes into a log line: no control character may reach it.
        guard !refusal.reason.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            fatalError("control character in a refusal: \(refusal.reason.debugDescription)")
        }
    }
}

func checkBatch(_ batch: Wirewatch_V1_RecordBatch) {
    let records: [Record]
    do {
        records = try batch.records(sensor: "sensor-1")
    } catch {
        _ = error.description
        return
    }
    var builder = BatchBuilder()
    var lines: [String] = []
    for record in records {
        let line = record.jsonLine
        guard line.hasPrefix("{"), line.hasSuffix("}") else { fatalError("record rendered as \(line)") }
        lines.append(line)
        builder.append(record)
    }
    let again: [Record]
    do {
        again = try builder.batch.records(sensor: "sensor-1")
    } catch {
        fatalError("accepted records fail validation once re-encoded: \(error)")
    }
    guard again.count == records.count else {
        fatalError("\(records.count) records re-encoded as \(again.count)")
    }
    for (line, record) in zip(lines, again) where record.jsonLine != line {
        fatalError("record changed on the way through BatchBuilder:\n\(line)\n\(record.jsonLine)")
    }
}

func handle(_ frame: ByteBuffer) {
    let envelope: Wirewatch_V1_Envelope
    do {
        envelope = try EnvelopeCodec.decode(frame)
    } catch {
        _ = error.description
        return
    }
    switch envelope.body {
    case .hello(let hello): checkHello(hello)
    case .batch(let batch): checkBatch(batch)
    case .helloAck(let ack): _ = ack.committedSequence &+ UInt64(ack.window) &+ UInt64(ack.maxFrameBytes)
    case .ack(let ack): _ = ack.sequence
    case .heartbeat(let heartbeat): _ = heartbeat.debugDescription
    case .error(let error): _ = error.message.utf8.count
    case nil: fatalError("EnvelopeCodec.decode returned an empty envelope")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let readSize = Int(input[0]) + 1
    var decoder = FrameDecoder(maxFrameBytes: maxFrameBytes)
    var buffer = ByteBuffer()
    var offset = 1
    do {
        while offset < input.count {
            let end = min(offset + readSize, input.count)
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: input[offset..<end]))
            offset = end
            while let frame = try decoder.decode(buffer: &buffer) { handle(frame) }
            buffer.discardReadBytes()
        }
        while let frame = try decoder.decodeLast(buffer: &buffer, seenEOF: true) { handle(frame) }
    } catch let error as FrameError {
        _ = error.description
        _ = error.code
    } catch {
        fatalError("FrameDecoder threw something other than a FrameError: \(error)")
    }
    return 0
}
