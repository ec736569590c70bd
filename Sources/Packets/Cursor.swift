/// A bounds-checked reading position over one region of bytes.
///
/// It never reads past `bytes.count`; every read either returns a value or throws
/// `DecodeError.truncated` naming the layer it was reading. Integers are big-endian (network order).
/// The cursor does not own its bytes: it is valid only while the buffer it views is alive.
public struct Cursor {
    public let bytes: UnsafeRawBufferPointer
    public var offset: Int
    public let layer: Layer

    @inlinable @inline(__always)
    public init(_ bytes: UnsafeRawBufferPointer, layer: Layer, offset: Int = 0) {
        self.bytes = bytes
        self.layer = layer
        self.offset = min(max(0, offset), bytes.count)
    }

    /// Bytes left to read.
    @inlinable public var remaining: Int { bytes.count - offset }
    @inlinable public var isAtEnd: Bool { offset >= bytes.count }

    @inlinable @inline(__always)
    public mutating func read<T: FixedWidthInteger>(_: T.Type) throws(DecodeError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw .truncated(layer, needed: size, available: remaining) }
        defer { offset += size }
        return T(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    @inlinable @inline(__always) public mutating func readU8() throws(DecodeError) -> UInt8 { try read(UInt8.self) }
    @inlinable @inline(__always) public mutating func readU16() throws(DecodeError) -> UInt16 { try read(UInt16.self) }
    @inlinable @inline(__always) public mutating func readU32() throws(DecodeError) -> UInt32 { try read(UInt32.self) }

    /// Looks at a byte `ahead` positions from here without moving.
    @inlinable @inline(__always)
    public func peekU8(ahead: Int = 0) throws(DecodeError) -> UInt8 {
        guard ahead >= 0, remaining > ahead else { throw .truncated(layer, needed: ahead + 1, available: remaining) }
        return bytes[offset + ahead]
    }

    @inlinable @inline(__always)
    public mutating func skip(_ count: Int) throws(DecodeError) {
        guard count >= 0, remaining >= count else { throw .truncated(layer, needed: count, available: remaining) }
        offset += count
    }

    /// Returns a view of the next `count` bytes and moves past them.
    @inlinable
    public mutating func readBytes(_ count: Int) throws(DecodeError) -> UnsafeRawBufferPointer {
        guard count >= 0, remaining >= count else { throw .truncated(layer, needed: count, available: remaining) }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    /// Returns a cursor over the next `length` bytes (a region bounded by its own length field,
    /// such as a TLS extension or a DNS rdata) and moves this cursor past them.
    @inlinable
    public mutating func subCursor(length: Int, layer: Layer? = nil) throws(DecodeError) -> Cursor {
        let region = try readBytes(length)
        return Cursor(region, layer: layer ?? self.layer)
    }

    /// The rest of the bytes, consumed.
    @inlinable
    public mutating func readRest() -> UnsafeRawBufferPointer {
        defer { offset = bytes.count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<bytes.count])
    }
}
