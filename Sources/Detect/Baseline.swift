/// A robust baseline over the last `capacity` values: their median and their median absolute deviation (MAD).
///
/// Median and MAD ignore up to half of the window being outliers, so a few spikes (or a burst of them) barely move
/// the baseline, where a mean and standard deviation would be dragged up by the first spike and then hide the next
/// one. The window is a ring buffer of doubles: memory is fixed at `capacity` values.
public struct RobustBaseline: Hashable, Sendable {
    /// The scale that makes the MAD estimate the standard deviation of normally distributed values (1 / Φ⁻¹(3/4)).
    public static let madToSigma = 1.4826

    public let capacity: Int
    private var values: [Double] = []
    private var next = 0

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        values.reserveCapacity(self.capacity)
    }

    /// Values held (at most `capacity`).
    public var count: Int { values.count }

    /// Adds a value, dropping the oldest once the window is full.
    public mutating func append(_ value: Double) {
        if values.count < capacity {
            values.append(value)
        } else {
            values[next] = value
        }
        next = (next + 1) % capacity
    }

    /// The median of the window (0 when empty).
    public var median: Double { Self.median(values) }

    /// The median absolute deviation from the median (0 when empty), unscaled.
    public var mad: Double {
        let center = median
        return Self.median(values.map { abs($0 - center) })
    }

    /// The MAD scaled to estimate a standard deviation.
    public var sigma: Double { mad * Self.madToSigma }

    /// Bytes held by the window (its values).
    public var approximateBytes: Int { capacity * MemoryLayout<Double>.stride + 32 }

    /// The median of `values` (the mean of the two middle ones for an even count); 0 when empty.
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        if sorted.count % 2 == 1 { return sorted[middle] }
        return (sorted[middle - 1] + sorted[middle]) / 2
    }
}

/// An exponentially weighted moving mean and variance (West 1979 / Finch 2009 incremental form).
///
/// `alpha` is the weight of each new value; the effective memory is about `1 / alpha` values. Until `1 / alpha`
/// values were seen the weight is `1 / n` instead, so the first values give their plain mean rather than a mean
/// biased toward the first one.
public struct EWMA: Hashable, Sendable {
    public let alpha: Double
    public private(set) var mean: Double = 0
    public private(set) var variance: Double = 0
    public private(set) var count: Int = 0

    public init(alpha: Double) { self.alpha = min(1, max(Double.leastNonzeroMagnitude, alpha)) }

    public mutating func add(_ value: Double) {
        count += 1
        let weight = max(alpha, 1 / Double(count))
        let delta = value - mean
        mean += weight * delta
        variance = (1 - weight) * (variance + weight * delta * delta)
    }

    public var standardDeviation: Double { variance.squareRoot() }
}

/// Divergences between discrete distributions given as non-negative weights by name (counts or shares; each side is
/// normalised to sum 1 first).
public enum Divergence {
    /// The Jensen–Shannon divergence in bits (base 2): 0 for equal distributions, 1 for disjoint ones.
    ///
    /// Every name of either side is present in both after `smoothing` is added to each normalised share and the
    /// shares renormalised, so a protocol absent on one side contributes a finite amount (JSD itself is finite
    /// without smoothing; the smoothing only keeps a share of exactly 0 from being treated as impossible).
    public static func jensenShannon(_ p: [String: Double], _ q: [String: Double], smoothing: Double = 0) -> Double {
        let names = Set(p.keys).union(q.keys).sorted()
        let pn = normalized(p, names: names, smoothing: smoothing)
        let qn = normalized(q, names: names, smoothing: smoothing)
        guard !pn.isEmpty, !qn.isEmpty else { return 0 }
        var total = 0.0
        for index in names.indices {
            let a = pn[index]
            let b = qn[index]
            let m = (a + b) / 2
            if a > 0 { total += a / 2 * binaryLog(a / m) }
            if b > 0 { total += b / 2 * binaryLog(b / m) }
        }
        return min(1, max(0, total))
    }

    /// Shares over `names` in that order; empty when the weights sum to 0.
    static func normalized(_ weights: [String: Double], names: [String], smoothing: Double) -> [Double] {
        let sum = names.reduce(0.0) { $0 + max(0, weights[$1] ?? 0) }
        guard sum > 0 else { return [] }
        let shares = names.map { max(0, weights[$0] ?? 0) / sum + max(0, smoothing) }
        let total = shares.reduce(0, +)
        return shares.map { $0 / total }
    }

    /// Shares as text, largest first (then by name): `tcp=0.82 udp=0.15 icmp=0.03`.
    public static func sharesText(_ weights: [String: Double]) -> String {
        let sum = weights.values.reduce(0) { $0 + max(0, $1) }
        guard sum > 0 else { return "" }
        let sorted = weights.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        return sorted.map { "\($0.key)=\(fixed($0.value / sum, digits: 2))" }.joined(separator: " ")
    }
}

/// The base-2 logarithm without Foundation or Glibc (the standard library has none): the binary exponent plus a
/// series for the mantissa, accurate to about 1e-15.
func binaryLog(_ x: Double) -> Double {
    guard x > 0, x.isFinite else { return x == 0 ? -.infinity : .nan }
    // x = m * 2^e with m in [1, 2); binaryLog(m) = ln(m) / ln 2, ln(m) = 2 atanh((m - 1) / (m + 1)).
    let exponent = Double(x.exponent)
    let mantissa = x.significand
    let t = (mantissa - 1) / (mantissa + 1)
    let t2 = t * t
    var term = t
    var sum = 0.0
    var k = 1.0
    while true {
        let add = term / k
        sum += add
        if abs(add) < 1e-17 { break }
        term *= t2
        k += 2
    }
    return exponent + 2 * sum / 0.693_147_180_559_945_3
}

/// `value` with `digits` decimals, without Foundation's `String(format:)`.
func fixed(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return String(value) }
    var scale = 1.0
    for _ in 0..<max(0, digits) { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9e15 else { return String(value) }
    let whole = Int64(scaled)
    let factor = Int64(scale)
    let integer = whole / factor
    var text = (value < 0 && whole != 0 ? "-" : "") + String(integer)
    if digits > 0 {
        let fraction = String(whole % factor)
        text += "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
    return text
}

/// A count for people: `950`, `12.3k`, `4.56M`, `7.89G`.
func compact(_ value: Double) -> String {
    let magnitude = abs(value)
    if magnitude < 1000 { return value == value.rounded() ? String(Int64(value)) : fixed(value, digits: 1) }
    if magnitude < 1e6 { return fixed(value / 1e3, digits: 1) + "k" }
    if magnitude < 1e9 { return fixed(value / 1e6, digits: 2) + "M" }
    return fixed(value / 1e9, digits: 2) + "G"
}
