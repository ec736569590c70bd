/// The on-disk layout of a spool segment file. All integers are little-endian.
///
/// A segment is named by the sequence of its first entry, 20 decimal digits: `00000000000000000042.seg`.
///
/// ```
/// header (40 bytes, written together with the first entry)
/// offset  size  field
/// 0       8     magic "WWSPOOL\0"
/// 8       4     format version (1)
/// 12      16    boot id of the stream the entries belong to
/// 28      8     first sequence (equals the file name)
/// 36      4     CRC-32C of bytes 0..<36
///
/// entry (20 + N bytes), repeated; sequences are consecutive within a segment
/// 0       4     payload length N
/// 4       4     CRC-32C of the payload followed by bytes 0..<4 and 8..<20 of this entry header
/// 8       8     sequence
/// 16      4     record count
/// 20      N     payload (an encoded RecordBatch without its sequence)
/// ```
///
/// The payload comes first in the checksummed bytes so its CRC can be computed before the lock is taken and the
/// sequence is known; every byte of the entry except the checksum itself is covered.
enum SegmentFormat {
    static let magic: [UInt8] = Array("WWSPOOL\0".utf8)
    static let version: UInt32 = 1
    static let headerSize = 40
    static let entryHeaderSize = 20
    static let bootIDSize = 16
    static let suffix = ".seg"
    static let nameDigits = 20
    /// A restarted stream's segment while it is written; renamed to its segment name once complete and flushed.
    static let restartFileName = "restart.tmp"

    static func fileName(firstSequence: UInt64) -> String {
        let digits = String(firstSequence)
        return String(repeating: "0", count: max(0, nameDigits - digits.count)) + digits + suffix
    }

    /// The first sequence a segment file name stands for, or nil for any other file (ignored by recovery).
    static func firstSequence(fileName name: String) -> UInt64? {
        guard name.hasSuffix(suffix) else { return nil }
        let digits = name.dropLast(suffix.count)
        guard digits.count == nameDigits, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return UInt64(digits)
    }

    static func header(bootID: [UInt8], firstSequence: UInt64) -> [UInt8] {
        var bytes = magic
        bytes.reserveCapacity(headerSize)
        append(version, to: &bytes)
        bytes += bootID
        append(firstSequence, to: &bytes)
        append(CRC32C.checksum(bytes), to: &bytes)
        return bytes
    }

    /// The 20-byte entry header; `payloadChecksum` is the CRC-32C of the payload alone.
    static func entryHeader(sequence: UInt64, recordCount: UInt32, payloadLength: UInt32, payloadChecksum: UInt32)
        -> [UInt8]
    {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(entryHeaderSize)
        append(payloadLength, to: &bytes)
        append(
            entryChecksum(
                sequence: sequence,
                recordCount: recordCount,
                payloadLength: payloadLength,
                payloadChecksum: payloadChecksum
            ),
            to: &bytes
        )
        append(sequence, to: &bytes)
        append(recordCount, to: &bytes)
        return bytes
    }

    /// Extends the payload's CRC over the entry header's length, sequence and record count.
    static func entryChecksum(sequence: UInt64, recordCount: UInt32, payloadLength: UInt32, payloadChecksum: UInt32)
        -> UInt32
    {
        var fields: [UInt8] = []
        fields.reserveCapacity(entryHeaderSize - 4)
        append(payloadLength, to: &fields)
        append(sequence, to: &fields)
        append(recordCount, to: &fields)
        return CRC32C.checksum(fields, continuing: payloadChecksum)
    }

    static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    static func read<T: FixedWidthInteger>(_: T.Type, _ bytes: UnsafeRawBufferPointer, at offset: Int) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// A complete, checksum-valid entry found by `scan`.
    struct ScannedEntry: Equatable {
        var sequence: UInt64
        var recordCount: UInt32
        var payloadOffset: Int
        var payloadLength: Int
        var checksum: UInt32
    }

    /// What a segment file holds: its header (nil when torn or damaged), the valid entries from the start, and
    /// where they end. Bytes from `validEnd` on are a torn or damaged entry and everything after it.
    struct Scan {
        var bootID: [UInt8]?
        var entries: [ScannedEntry] = []
        var validEnd = 0
    }

    /// Reads a segment's bytes; stops at the first entry that is short, fails its checksum or breaks the run of
    /// consecutive sequences starting at `firstSequence` (the file name).
    static func scan(_ bytes: UnsafeRawBufferPointer, firstSequence: UInt64) -> Scan {
        var scan = Scan()
        guard bytes.count >= headerSize,
            magic.withUnsafeBytes({ $0.elementsEqual(UnsafeRawBufferPointer(rebasing: bytes[0..<8])) }),
            read(UInt32.self, bytes, at: 8) == version,
            read(UInt64.self, bytes, at: 28) == firstSequence,
            read(UInt32.self, bytes, at: 36) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<36]))
        else { return scan }
        scan.bootID = Array(bytes[12..<28])
        scan.validEnd = headerSize
        var offset = headerSize
        var expected = firstSequence
        while bytes.count - offset >= entryHeaderSize {
            let length = Int(read(UInt32.self, bytes, at: offset))
            let payloadOffset = offset + entryHeaderSize
            guard length <= bytes.count - payloadOffset else { break }
            let stored = read(UInt32.self, bytes, at: offset + 4)
            let sequence = read(UInt64.self, bytes, at: offset + 8)
            guard sequence == expected else { break }
            let payloadChecksum = CRC32C.checksum(
                UnsafeRawBufferPointer(rebasing: bytes[payloadOffset..<(payloadOffset + length)])
            )
            let recordCount = read(UInt32.self, bytes, at: offset + 16)
            let computed = entryChecksum(
                sequence: sequence,
                recordCount: recordCount,
                payloadLength: UInt32(length),
                payloadChecksum: payloadChecksum
            )
            guard computed == stored else { break }
            scan.entries.append(
                ScannedEntry(
                    sequence: sequence,
                    recordCount: recordCount,
                    payloadOffset: payloadOffset,
                    payloadLength: length,
                    checksum: stored
                )
            )
            offset = payloadOffset + length
            scan.validEnd = offset
            expected &+= 1
        }
        return scan
    }
}
