/// Zeek-style connection uids: "C" followed by 17 base62 digits (about 101 random bits).
struct UIDGenerator {
    private var random: SplitMix64
    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    init(seed: UInt64?) {
        var generator = SystemRandomNumberGenerator()
        random = SplitMix64(state: seed ?? generator.next())
    }

    /// 17 base62 digits from two 64-bit words (division by a constant compiles to a multiply), written straight
    /// into the string's storage.
    mutating func next() -> String {
        var first = random.next()
        var second = random.next()
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
