/// A Bloom filter over the lookup keys of one block of records: hosts (`orig_h`, `resp_h`), responder ports and uids.
///
/// Part of the file format: the hash, the key namespaces and the bit layout must never change for stored blocks; a new
/// layout needs a new `record_blocks` column and a migration. At 10 bits per key with 7 probes a filter answers "maybe"
/// for about 1% of absent keys (Bloom 1970; Kirsch and Mitzenmacher 2006 for the two-hash probing).
struct BlockFilter {
    /// Key namespaces, the first byte hashed, so a port never matches a host with the same bytes.
    enum Namespace: UInt8 {
        case host = 0x68  // "h": an address in its text form (IPAddress.description)
        case port = 0x70  // "p": a responder port, 2 bytes big-endian
        case uid = 0x75  // "u": the connection uid's UTF-8
    }

    static let probes: UInt64 = 7
    static let bitsPerKey = 10
    static let minimumBits = 512

    /// The bits, 64 to a word; the count of bits is a power of two.
    private(set) var words: [UInt64]

    /// An empty filter sized for `keys` keys.
    init(capacity keys: Int) {
        var bits = Self.minimumBits
        while bits < keys * Self.bitsPerKey { bits *= 2 }
        words = [UInt64](repeating: 0, count: bits / 64)
    }

    /// A stored filter: a whole number of little-endian 64-bit words, a power of two of them; nil when damaged.
    init?(bytes: [UInt8]) {
        let count = bytes.count / 8
        guard count > 0, bytes.count % 8 == 0, count & (count - 1) == 0 else { return nil }
        words = (0..<count).map { w in
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[w * 8 + $1]) << (8 * UInt64($1)) }
        }
    }

    /// The stored form: words little-endian.
    var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(words.count * 8)
        for word in words {
            for shift in stride(from: UInt64(0), to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: word >> shift)) }
        }
        return out
    }

    mutating func insert(_ hash: UInt64) {
        let mask = UInt64(words.count * 64 - 1)
        let step = Self.mix(hash) | 1
        for i in 0..<Self.probes {
            let bit = (hash &+ i &* step) & mask
            words[Int(bit >> 6)] |= 1 << (bit & 63)
        }
    }

    /// False when the key is certainly absent from the block.
    func mayContain(_ hash: UInt64) -> Bool {
        let mask = UInt64(words.count * 64 - 1)
        let step = Self.mix(hash) | 1
        for i in 0..<Self.probes {
            let bit = (hash &+ i &* step) & mask
            if words[Int(bit >> 6)] & (1 << (bit & 63)) == 0 { return false }
        }
        return true
    }

    /// FNV-1a 64 over the namespace byte and the key bytes, then MurmurHash3's 64-bit finalizer so every bit mixes.
    static func hash(_ namespace: Namespace, _ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        h = (h ^ UInt64(namespace.rawValue)) &* 0x0000_0100_0000_01B3
        for byte in key { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return mix(h)
    }

    static func hash(_ namespace: Namespace, _ key: String) -> UInt64 {
        var key = key
        return key.withUTF8 { hash(namespace, $0) }
    }

    static func hash(port: UInt16) -> UInt64 {
        withUnsafeBytes(of: port.bigEndian) { raw in
            hash(.port, raw.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// MurmurHash3 fmix64.
    static func mix(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h = h &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
    }
}
