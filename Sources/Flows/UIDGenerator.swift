/// Zeek-style connection uids: "C" followed by 17 base62 digits (about 101 random bits).
struct UIDGenerator {
    private var state: UInt64
    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    init(seed: UInt64?) {
        var generator = SystemRandomNumberGenerator()
        state = seed ?? generator.next()
    }

    /// SplitMix64 (Steele et al.): fast, and good enough for identifiers that need only be unique.
    private mutating func nextWord() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 17 base62 digits from two 64-bit words (division by a constant compiles to a multiply), written straight
    /// into the string's storage.
    mutating func next() -> String {
        var first = nextWord()
        var second = nextWord()
        return String(unsafeUninitializedCapacity: 18) { digits in
            digits[0] = UInt8(ascii: "C")
            for index in 1...9 {
                digits[index] = Self.alphabet[Int(first % 62)]
                first /= 62
            }
            for index in 10...17 {
                digits[index] = Self.alphabet[Int(second % 62)]
                second /= 62
            }
            return 18
        }
    }
}
