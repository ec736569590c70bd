/// Zeek-style connection uids: "C" followed by 17 base62 digits (about 101 random bits).
struct UIDGenerator {
    private var random: SplitMix64

    init(seed: UInt64?) {
        var generator = SystemRandomNumberGenerator()
        random = SplitMix64(state: seed ?? generator.next())
    }

    /// The next uid's two random words. A flow keeps these and spells its uid only when a record needs it, which
    /// spares every flow a string allocation for as long as it lives.
    mutating func next() -> FlowUID { FlowUID(first: random.next(), second: random.next()) }
}

/// A uid as its two random words.
struct FlowUID {
    let first: UInt64
    let second: UInt64

    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// 17 base62 digits from the two words (division by a constant compiles to a multiply), written straight into
    /// the string's storage.
    var text: String {
        var first = first
        var second = second
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
