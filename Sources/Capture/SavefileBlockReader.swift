#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads the packet records of a classic pcap file in large blocks, so that a packet costs a few loads instead of
/// libpcap's two `fread`s and a copy into its own buffer (about 50 ns a packet, a third of the sensor's time on a
/// capture of small packets; bench/sensor.sh).
///
/// It only takes the plain case: a file libpcap has already opened and validated, in this machine's byte order,
/// format 2.4 (caplen and len in their modern order), no BPF filter, and records whose captured length is within
/// the snapshot length. Those are exactly the records `pcap_next_ex` hands over unchanged (libpcap's
/// `sf-pcap.c` `pcap_next_packet`). At the first record that is anything else (cut short, too long, an
/// impossible length) or at the end of the file, it stops and the handle seeks libpcap's stream to that record,
/// so libpcap reads the rest and reports the end, the cut or the error in its own words.
struct SavefileBlockReader {
    /// pcap file header (24 bytes) and record header (16 bytes): pcap-savefile(5).
    static let fileHeaderSize = 24
    static let recordHeaderSize = 16
    /// Bytes read per `pread`: enough that system calls don't count (128 KiB to 1 MiB measure the same).
    static let blockSize = 1 << 18
    /// The largest captured length libpcap accepts for most link types (`MAXIMUM_SNAPLEN`); larger ones go to it.
    static let maximumCapturedLength = 262_144
    /// Magic numbers in this machine's byte order, microsecond and nanosecond time stamps.
    static let microsecondMagic: UInt32 = 0xA1B2_C3D4
    static let nanosecondMagic: UInt32 = 0xA1B2_3C4D

    private let descriptor: Int32
    private let nanosecondFile: Bool
    /// Records with a larger captured length are left to libpcap.
    private let capturedLimit: UInt32
    private let buffer: UnsafeMutableRawPointer
    private let capacity: Int
    /// The unread bytes are `buffer[start..<end]`; `end` corresponds to `fileOffset` in the file.
    private var start = 0
    private var end = 0
    private var fileOffset: Int
    private var reachedEnd = false

    /// A reader for the file behind `descriptor`, or nil when the file is not the plain case. `snapshot` is the
    /// snapshot length libpcap settled on (`pcap_snapshot`).
    init?(descriptor: Int32, snapshot: Int32) {
        var header = (UInt32(0), UInt16(0), UInt16(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0))
        let size = MemoryLayout.size(ofValue: header)
        guard size == Self.fileHeaderSize, snapshot > 0 else { return nil }
        let read = withUnsafeMutableBytes(of: &header) { pread(descriptor, $0.baseAddress, size, 0) }
        guard read == size else { return nil }
        let (magic, major, minor, _, _, _, _) = header
        guard magic == Self.microsecondMagic || magic == Self.nanosecondMagic, major == 2, minor >= 4 else {
            return nil
        }
        self.descriptor = descriptor
        self.nanosecondFile = magic == Self.nanosecondMagic
        self.capturedLimit = UInt32(min(Int(snapshot), Self.maximumCapturedLength))
        self.capacity = Self.blockSize + Self.recordHeaderSize + Self.maximumCapturedLength
        self.buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        self.fileOffset = Self.fileHeaderSize
    }

    /// Frees the buffer; the reader must not be used afterwards.
    func deallocate() { buffer.deallocate() }

    /// The file offset of the next unread record, where libpcap takes over.
    var nextRecordOffset: Int { fileOffset - (end - start) }

    /// The next record, or nil when libpcap must take over from `nextRecordOffset`. The packet's bytes are valid
    /// until the next call.
    @inline(__always)
    mutating func next() -> CapturedPacket? {
        if end - start < Self.recordHeaderSize && !fill(atLeast: Self.recordHeaderSize) { return nil }
        let header = buffer + start
        let seconds = header.loadUnaligned(as: UInt32.self)
        let fraction = header.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let captured = header.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let wire = header.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
        // Out-of-range time stamps go to libpcap too, so signed and unsigned readings of them never disagree.
        guard captured <= capturedLimit, seconds < 1 << 31, fraction < 1_000_000_000 else { return nil }
        let recordSize = Self.recordHeaderSize + Int(captured)
        if end - start < recordSize && !fill(atLeast: recordSize) { return nil }
        let data = buffer + start + Self.recordHeaderSize
        start += recordSize
        return CapturedPacket(
            seconds: Int64(seconds), nanoseconds: nanosecondFile ? Int64(fraction) : Int64(fraction) * 1000,
            capturedLength: Int(captured), wireLength: Int(wire),
            bytes: UnsafeRawBufferPointer(start: data, count: Int(captured)))
    }

    /// Moves the unread bytes to the front and reads until `count` are buffered; false at the end of the file (or
    /// on a read error, which libpcap then meets and reports).
    private mutating func fill(atLeast count: Int) -> Bool {
        if reachedEnd { return false }
        let unread = end - start
        if start > 0 {
            if unread > 0 { memmove(buffer, buffer + start, unread) }
            start = 0
            end = unread
        }
        while end < count {
            let got = pread(descriptor, buffer + end, capacity - end, off_t(fileOffset))
            guard got > 0 else {
                if got < 0 && errno == EINTR { continue }
                reachedEnd = true
                return false
            }
            end += got
            fileOffset += got
        }
        return true
    }
}
