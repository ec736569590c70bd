/// Zeek-style connection uids: "C" followed by 17 base62 digits (about 101 random bits).
struct UIDGenerator {
    /// SplitMix64's state before the first uid: uid `n` is made of the generator's outputs `2n+1` and `2n+2`.
    private let seed: UInt64
    private var serial: UInt64 = 0

    init(seed: UInt64?) {
        var generator = SystemRandomNumberGenerator()
        self.seed = seed ?? generator.next()
    }

    /// The next uid's serial number. SplitMix64 computes any of its outputs from the seed and the output's number, so
    /// a flow keeps only this 8-byte number and the uid is spelled when a record needs it, which spares every flow a
    /// string allocation (and 16 bytes) for as long as it lives.
    mutating func next() -> UInt64 {
        defer { serial &+= 1 }
        return serial
    }

    /// The uid drawn as number `serial`.
    func uid(_ serial: UInt64) -> String {
        var random = SplitMix64(state: seed &+ (serial &* 2) &* 0x9E37_79B9_7F4A_7C15)
        let first = random.next()
        return FlowUID(first: first, second: random.next()).text
    }
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
