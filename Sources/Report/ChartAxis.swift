import Foundation

extension Chart {
    /// Tick positions and labels: round values (1, 2 or 5 × 10ⁿ apart) for quantities, whole seconds, minutes,
    /// hours or days (UTC) for time.
    public enum Axis {
        /// Ticks of a value axis; the first is at or below the data, the last at or above it.
        public struct ValueTicks: Sendable, Hashable {
            public var values: [Double]
            public var step: Double
            /// The power of 1000 the labels are divided by (`MB/s` is 2).
            public var power: Int

            /// The tick label of `values[index]`, scaled by `power`, as many decimals as the step needs.
            public func label(_ value: Double) -> String {
                let divisor = pow(1000, Double(power))
                let scaledStep = step / divisor
                let decimals = max(0, Int(-floor(log10(scaledStep) + 1e-9)))
                return Unit.trimmed(String(format: "%.\(decimals)f", value / divisor))
            }
        }

        /// About `count` round ticks covering `[low, high]`; a flat or empty range gets `[0, 1]` or one step
        /// either side of its value.
        public static func valueTicks(low: Double, high: Double, count: Int) -> ValueTicks {
            var low = low.isFinite ? low : 0
            var high = high.isFinite ? high : 1
            if high < low { swap(&low, &high) }
            if high == low {
                if low == 0 {
                    high = 1
                } else {
                    let pad = abs(low) / 2
                    low -= low > 0 ? min(pad, low) : pad
                    high += pad
                }
            }
            // A range tiny beside its magnitude (1e19 ... 1e19 + 1) would need more ticks than an Int counts: such
            // an axis starts at zero instead.
            if max(abs(low), abs(high)) / (high - low) > 1e9 {
                low = min(low, 0)
                high = max(high, 0)
            }
            // Of the round steps around the rough one, the one whose tick count comes nearest to `count`
            // (the larger step on a tie).
            let rough = niceStep((high - low) / Double(max(1, count - 1)))
            let candidates = [(1, -1), (2, -1), (5, -1), (1, 0), (2, 0), (5, 0), (1, 1)].map { mantissa, shift in
                (mantissa: mantissa, exponent: rough.exponent + shift)
            }
            func bounds(_ step: Double) -> (first: Int, last: Int) {
                // A bound a rounding error away from a multiple of the step counts as that multiple.
                (Int((low / step + 1e-9).rounded(.down)), Int((high / step - 1e-9).rounded(.up)))
            }
            var best = (mantissa: rough.mantissa, exponent: rough.exponent, miss: Int.max)
            for candidate in candidates {
                let step = multiple(1, mantissa: candidate.mantissa, exponent: candidate.exponent)
                let (first, last) = bounds(step)
                let miss = abs(last - first + 1 - count)
                if miss <= best.miss { best = (candidate.mantissa, candidate.exponent, miss) }
            }
            let (mantissa, exponent) = (best.mantissa, best.exponent)
            let step = multiple(1, mantissa: mantissa, exponent: exponent)
            let (first, last) = bounds(step)
            let values = (first...max(first + 1, last)).map { multiple($0, mantissa: mantissa, exponent: exponent) }
            let power = Unit.power(for: max(abs(values.first ?? 0), abs(values.last ?? 0)))
            return ValueTicks(values: values, step: step, power: power)
        }

        /// The round step (1, 2 or 5 × 10ⁿ) at or above `rough`, with its parts.
        static func niceStep(_ rough: Double) -> (step: Double, exponent: Int, mantissa: Int) {
            guard rough.isFinite, rough > 0 else { return (1, 0, 1) }
            var exponent = Int(floor(log10(rough)))
            let fraction = rough / pow(10, Double(exponent))
            let mantissa: Int
            switch fraction {
            case ...1.000_001: mantissa = 1
            case ...2.000_001: mantissa = 2
            case ...5.000_001: mantissa = 5
            default:
                mantissa = 1
                exponent += 1
            }
            return (multiple(1, mantissa: mantissa, exponent: exponent), exponent, mantissa)
        }

        /// `k × mantissa × 10^exponent`, computed so that 3 × 0.1 is 0.3 and not 0.30000000000000004.
        static func multiple(_ k: Int, mantissa: Int, exponent: Int) -> Double {
            let whole = Double(k * mantissa)
            return exponent >= 0 ? whole * pow(10, Double(exponent)) : whole / pow(10, Double(-exponent))
        }

        /// One tick of a time axis: its instant, its label (`10:30`), and the date when it changes (`2026-11-25`).
        public struct TimeTick: Sendable, Hashable {
            public var t: Double
            public var label: String
            public var date: String?
        }

        /// Steps a time axis may take, in seconds: 1-2-5 fractions, then whole seconds, minutes, hours, days, weeks.
        static let timeSteps: [Double] =
            [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
            + [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800]
            + [3600, 7200, 10800, 21600, 43200, 86400, 172_800, 604_800, 1_209_600, 2_419_200]
            + [4_838_400, 9_676_800, 19_353_600, 29_030_400]

        /// At most `maxCount` ticks inside `[from, to]` on UTC boundaries of one step; weeks start on Monday.
        public static func timeTicks(from: Double, to: Double, maxCount: Int) -> (step: Double, ticks: [TimeTick]) {
            guard from.isFinite, to.isFinite, to > from else { return (1, []) }
            let span = to - from
            let limit = Double(max(2, maxCount))
            let step = timeSteps.first { span / $0 <= limit } ?? (span / limit).rounded(.up)
            // 1970-01-01 was a Thursday; weekly ticks fall on Mondays (1970-01-05 00:00 UTC).
            let origin: Double = step >= 604_800 ? 345_600 : 0
            var k = ((from - origin) / step).rounded(.up)
            var ticks: [TimeTick] = []
            var previousDate: String? = nil
            let crossesYear = TimeRange.format(from).prefix(4) != TimeRange.format(to).prefix(4)
            while ticks.count <= maxCount + 1 {
                // k × step with the step's decimals, so that tick instants are exact thousandths.
                let t = step < 1 ? (k * (step * 1000).rounded()) / 1000 + origin : k * step + origin
                if t > to + step * 1e-9 { break }
                let text = TimeRange.format(t, milliseconds: step < 1)
                let date = String(text.prefix(10))
                let time = text.dropFirst(11)
                let label: String
                var shownDate: String? = nil
                if step >= 86400 {
                    label = crossesYear ? date : String(date.dropFirst(5))
                } else {
                    label = step >= 60 ? String(time.prefix(5)) : step >= 1 ? String(time.prefix(8)) : String(time)
                    if date != previousDate { shownDate = date }
                }
                previousDate = date
                ticks.append(TimeTick(t: t, label: label, date: shownDate))
                k += 1
            }
            return (step, ticks)
        }
    }
}
