import Flows
import Foundation
import NIOCore
import Packets
import SwiftProtobuf

/// The collector's fast path for the frames it sees most: one `Envelope{batch}`, decoded straight from the frame's
/// bytes into records, without first building the `Wirewatch_V1_*` messages (their storage objects, `Data`
/// addresses and strings are most of the cost of a small flow record). Flow messages are read field by field;
/// records of the other kinds go through swift-protobuf one message at a time, as before.
///
/// Same result as `EnvelopeCodec.decode` then `recordsAndRefusals(sensor:)` (tests compare the two), or nil: for a
/// frame that is anything else, or anything this reader does not handle exactly as swift-protobuf would (text that
/// is not ASCII, a known field with an unexpected wire type, groups, malformed bytes), the caller takes the general
/// path, which decodes it or refuses it with swift-protobuf's own error.
public enum BatchFrame {
    /// The batch's sequence number, the records that can be real and an error for each that cannot.
    public struct Decoded: Sendable {
        public var sequence: UInt64
        public var records: [Record]
        public var refused: [WireRecordError]

        public init(sequence: UInt64, records: [Record], refused: [WireRecordError]) {
            self.sequence = sequence
            self.records = records
            self.refused = refused
        }
    }

    /// Decodes `frame` (one Envelope, the length prefix already removed) when it holds a RecordBatch, attributing the
    /// records to `sensor`; nil when the general path must decide.
    public static func decode(_ frame: ByteBuffer, sensor: String) -> Decoded? {
        frame.withUnsafeReadableBytes { bytes in decode(bytes, sensor: sensor) }
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, sensor: String) -> Decoded? {
        var envelope = ProtoReader(bytes, from: 0, to: bytes.count)
        // Envelope: field 3 (batch), length-delimited, spanning the whole frame; anything else takes the general path.
        guard let (field, type) = envelope.tag(), field == 3, type == .lengthDelimited,
            let body = envelope.lengthDelimited(), body.upperBound == bytes.count
        else { return nil }
        var reader = ProtoReader(bytes, from: body.lowerBound, to: body.upperBound)
        var sequence: UInt64 = 0
        var flows = 0
        var others = Wirewatch_V1_RecordBatch()
        var records: [Record] = []
        var refused: [WireRecordError] = []
        records.reserveCapacity(body.count / 48)
        do {
            while !reader.atEnd {
                guard let (field, type) = reader.tag() else { return nil }
                switch (field, type) {
                case (1, .varint):
                    guard let value = reader.varint() else { return nil }
                    sequence = value
                case (2, .lengthDelimited):
                    guard let range = reader.lengthDelimited(),
                        let fields = WireFlowFields(bytes, from: range.lowerBound, to: range.upperBound)
                    else { return nil }
                    // Flows come first in the records, in their order, as `recordsAndRefusals` puts them.
                    do throws(WireRecordError) {
                        records.append(.flow(try FlowRecord(wire: fields, sensor: sensor, index: flows)))
                    } catch {
                        refused.append(error)
                    }
                    flows += 1
                case (3...7, .lengthDelimited):
                    guard let range = reader.lengthDelimited() else { return nil }
                    let message = UnsafeRawBufferPointer(rebasing: bytes[range])
                    switch field {
                    case 3: others.dns.append(try Wirewatch_V1_Dns(serializedBytes: message))
                    case 4: others.http.append(try Wirewatch_V1_Http(serializedBytes: message))
                    case 5: others.tls.append(try Wirewatch_V1_Tls(serializedBytes: message))
                    case 6: others.series.append(try Wirewatch_V1_Series(serializedBytes: message))
                    default: others.stats.append(try Wirewatch_V1_Stats(serializedBytes: message))
                    }
                case (1...7, _):
                    return nil
                default:
                    guard reader.skip(type) else { return nil }
                }
            }
        } catch {
            return nil
        }
        if !others.dns.isEmpty || !others.http.isEmpty || !others.tls.isEmpty || !others.series.isEmpty
            || !others.stats.isEmpty
        {
            let (rest, restRefused) = others.recordsAndRefusals(sensor: sensor)
            records += rest
            refused += restRefused
        }
        return Decoded(sequence: sequence, records: records, refused: refused)
    }
}

/// Protobuf wire types (protobuf.dev/programming-guides/encoding).
enum ProtoWireType: UInt8 {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// A bounds-checked reader of protobuf's wire encoding over one message's bytes. Every read returns nil on bytes
/// swift-protobuf would refuse (truncated, an over-long varint, field number 0), never traps.
struct ProtoReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int
    let end: Int

    init(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) {
        self.bytes = bytes
        self.offset = start
        self.end = end
    }

    var atEnd: Bool { offset >= end }

    @inline(__always) mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < end {
            let byte = bytes[offset]
            offset += 1
            // The tenth byte holds bit 63 only; more is a malformed varint here (the general path decides).
            if shift == 63 && byte > 1 { return nil }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    /// The next field's number and wire type.
    @inline(__always) mutating func tag() -> (field: Int, type: ProtoWireType)? {
        guard let key = varint(), key <= UInt64(UInt32.max), key >> 3 != 0,
            let type = ProtoWireType(rawValue: UInt8(key & 7))
        else { return nil }
        return (Int(key >> 3), type)
    }

    /// The byte range of a length-delimited field's value.
    @inline(__always) mutating func lengthDelimited() -> Range<Int>? {
        guard let length = varint(), length <= UInt64(end - offset) else { return nil }
        let start = offset
        offset += Int(length)
        return start..<offset
    }

    /// Skips an unknown field's value; false for groups (the general path handles them).
    mutating func skip(_ type: ProtoWireType) -> Bool {
        switch type {
        case .varint: return varint() != nil
        case .lengthDelimited: return lengthDelimited() != nil
        case .fixed64, .fixed32:
            let size = type == .fixed64 ? 8 : 4
            guard end - offset >= size else { return false }
            offset += size
            return true
        case .startGroup, .endGroup: return false
        }
    }

    /// ASCII text (what a sensor writes in every flow field); nil for anything else, which the general path
    /// validates as UTF-8 itself.
    @inline(__always) func ascii(_ range: Range<Int>) -> String? {
        let text = UnsafeRawBufferPointer(rebasing: bytes[range])
        for byte in text where byte >= 0x80 { return nil }
        return String(decoding: text, as: UTF8.self)
    }
}

/// A `Flow` message's fields as the wire carries them, not yet checked against `RecordLimits`: what
/// `FlowRecord(wire:sensor:index:)` turns into a record, whichever decoder read them.
struct WireFlowFields {
    var tsMicros: Int64 = 0
    var uid = ""
    var id = WireConnFields()
    var proto: UInt32 = 0
    var service = ""
    var durationMicros: Int64 = 0
    var origBytes: UInt64 = 0
    var respBytes: UInt64 = 0
    var origPkts: UInt64 = 0
    var respPkts: UInt64 = 0
    var origIPBytes: UInt64 = 0
    var respIPBytes: UInt64 = 0
    var connState = ""
    var history = ""
    var tcpFlagsOrig: UInt32?
    var tcpFlagsResp: UInt32?
    var retransPkts: UInt64 = 0
    var icmpType: UInt32?
    var icmpCode: UInt32?
    var vlan: UInt32?
    var innerVlan: UInt32?
    var communityID = ""
    var final = false
    var endReason = ""
    var truncated = false

    init(message m: Wirewatch_V1_Flow) {
        tsMicros = m.tsMicros
        uid = m.uid
        id = WireConnFields(message: m.id)
        proto = m.proto
        service = m.service
        durationMicros = m.durationMicros
        origBytes = m.origBytes
        respBytes = m.respBytes
        origPkts = m.origPkts
        respPkts = m.respPkts
        origIPBytes = m.origIpBytes
        respIPBytes = m.respIpBytes
        connState = m.connState
        history = m.history
        tcpFlagsOrig = m.hasTcpFlagsOrig ? m.tcpFlagsOrig : nil
        tcpFlagsResp = m.hasTcpFlagsResp ? m.tcpFlagsResp : nil
        retransPkts = m.retransPkts
        icmpType = m.hasIcmpType ? m.icmpType : nil
        icmpCode = m.hasIcmpCode ? m.icmpCode : nil
        vlan = m.hasVlan ? m.vlan : nil
        innerVlan = m.hasInnerVlan ? m.innerVlan : nil
        communityID = m.communityID
        final = m.final
        endReason = m.endReason
        truncated = m.truncated
    }

    /// Reads one Flow message in `start..<end` of `bytes` as swift-protobuf would (the last value of a repeated
    /// scalar wins, a repeated `id` merges, unknown fields are skipped); nil for what only the general path handles.
    init?(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) {
        var reader = ProtoReader(bytes, from: start, to: end)
        while !reader.atEnd {
            guard let (field, type) = reader.tag() else { return nil }
            if type == .lengthDelimited {
                guard let range = reader.lengthDelimited() else { return nil }
                switch field {
                case 3:
                    guard id.merge(bytes, from: range.lowerBound, to: range.upperBound) else { return nil }
                    continue
                case 2, 5, 13, 14, 22, 24:
                    guard let text = reader.ascii(range) else { return nil }
                    switch field {
                    case 2: uid = text
                    case 5: service = text
                    case 13: connState = text
                    case 14: history = text
                    case 22: communityID = text
                    default: endReason = text
                    }
                    continue
                case 1...25: return nil
                default: continue
                }
            }
            guard type == .varint else {
                guard field > 25, reader.skip(type) else { return nil }
                continue
            }
            guard let value = reader.varint() else { return nil }
            switch field {
            case 1: tsMicros = Int64(bitPattern: value)
            case 4: proto = UInt32(truncatingIfNeeded: value)
            case 6: durationMicros = Int64(bitPattern: value)
            case 7: origBytes = value
            case 8: respBytes = value
            case 9: origPkts = value
            case 10: respPkts = value
            case 11: origIPBytes = value
            case 12: respIPBytes = value
            case 15: tcpFlagsOrig = UInt32(truncatingIfNeeded: value)
            case 16: tcpFlagsResp = UInt32(truncatingIfNeeded: value)
            case 17: retransPkts = value
            case 18: icmpType = UInt32(truncatingIfNeeded: value)
            case 19: icmpCode = UInt32(truncatingIfNeeded: value)
            case 20: vlan = UInt32(truncatingIfNeeded: value)
            case 21: innerVlan = UInt32(truncatingIfNeeded: value)
            case 23: final = value != 0
            case 25: truncated = value != 0
            case 2, 3, 5, 13, 14, 22, 24: return nil
            default: break
            }
        }
    }
}

/// A `ConnId` message's fields as the wire carries them.
struct WireConnFields {
    var origH = WireAddressBytes()
    var origP: UInt32 = 0
    var respH = WireAddressBytes()
    var respP: UInt32 = 0

    init() {}

    init(message id: Wirewatch_V1_ConnId) {
        origH = id.origH.withUnsafeBytes { WireAddressBytes($0) }
        origP = id.origP
        respH = id.respH.withUnsafeBytes { WireAddressBytes($0) }
        respP = id.respP
    }

    /// Merges one occurrence of the message (protobuf merges a repeated singular message field); false for what
    /// only the general path handles.
    mutating func merge(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Bool {
        var reader = ProtoReader(bytes, from: start, to: end)
        while !reader.atEnd {
            guard let (field, type) = reader.tag() else { return false }
            switch (field, type) {
            case (1, .lengthDelimited), (3, .lengthDelimited):
                guard let range = reader.lengthDelimited() else { return false }
                let address = WireAddressBytes(UnsafeRawBufferPointer(rebasing: bytes[range]))
                if field == 1 { origH = address } else { respH = address }
            case (2, .varint), (4, .varint):
                guard let value = reader.varint() else { return false }
                if field == 2 {
                    origP = UInt32(truncatingIfNeeded: value)
                } else {
                    respP = UInt32(truncatingIfNeeded: value)
                }
            case (1...4, _):
                return false
            default:
                guard reader.skip(type) else { return false }
            }
        }
        return true
    }
}

/// An address field: the address its 4 or 16 network-order bytes make, or how many bytes it had instead.
struct WireAddressBytes {
    var address: IPAddress?
    var count = 0

    init() {}

    init(_ bytes: UnsafeRawBufferPointer) {
        count = bytes.count
        switch bytes.count {
        case 4:
            address = .v4(UInt32(bigEndian: bytes.loadUnaligned(as: UInt32.self)))
        case 16:
            address = .v6(
                UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self)),
                UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        default:
            address = nil
        }
    }
}
