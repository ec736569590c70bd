import Foundation
import Report
import Testing

@Suite("chart axes and units")
struct ChartAxisTests {
    @Test(
        "value ticks are round steps that cover the range, whatever its size and sign",
        arguments: [
            (0.0, 1.0), (0, 7), (0, 4_100_000), (0, 0.3), (0, 0.000_73), (-12, 47), (3, 3.2), (100, 100),
            (0, 0), (0, 9.9e15), (-5e-4, -1e-4), (0, 999), (0, 1001),
        ])
    func valueTicks(low: Double, high: Double) {
        let ticks = Chart.Axis.valueTicks(low: low, high: high, count: 6)
        #expect((2...12).contains(ticks.values.count), "\(ticks.values)")
        // A flat range is widened: to 0...1 at zero, by half its value either side elsewhere.
        let pad = low == high ? (low == 0 ? 0.5 : abs(low) / 2) : 0
        expectRoundTicks(
            ticks.values, cover: low == 0 && high == 0 ? 0 : low - pad, low == 0 && high == 0 ? 1 : high + pad)
        #expect(abs(ticks.step - (ticks.values[1] - ticks.values[0])) < ticks.step * 1e-9)
    }

    @Test("tick labels are scaled to one unit and have the decimals the step needs, no more")
    func tickLabels() {
        let mega = Chart.Axis.valueTicks(low: 0, high: 2_300_000, count: 6)
        #expect(mega.power == 2)
        #expect(mega.values.map(mega.label) == ["0", "0.5", "1", "1.5", "2", "2.5"])
        let small = Chart.Axis.valueTicks(low: 0, high: 0.3, count: 4)
        #expect(small.values.map(small.label) == ["0", "0.1", "0.2", "0.3"])
        let last: Double = small.values[3]
        #expect(last == 0.3, "no 0.30000000000000004")
    }

    @Test("non-finite bounds, and a range tiny beside its magnitude, still give a usable axis")
    func degenerateBounds() {
        let ticks = Chart.Axis.valueTicks(low: .nan, high: .infinity, count: 5)
        #expect(ticks.values.allSatisfy { $0.isFinite })
        #expect(ticks.values.count >= 2)
        let huge = Chart.Axis.valueTicks(low: 1e19, high: 1e19 + 4096, count: 5)
        #expect(huge.values.first == 0)
        #expect((2...12).contains(huge.values.count))
        expectRoundTicks(huge.values, cover: 0, 1e19 + 4096)
    }

    @Test("the step is the round one whose tick count comes nearest to the count asked for")
    func tickCount() {
        #expect(Chart.Axis.valueTicks(low: 0, high: 5_100_000, count: 6).values.count == 7)
        #expect(Chart.Axis.valueTicks(low: 0, high: 100, count: 6).step == 20)
        #expect(Chart.Axis.valueTicks(low: 0, high: 100, count: 11).step == 10)
    }

    @Test(
        "time ticks: a step from seconds to weeks, on UTC boundaries, labelled to the step",
        arguments: [
            (0.8, 0.1, "08:00:00.100"), (50.0, 10.0, "08:00:10"), (3600.0, 600.0, "08:10"),
            (86_400.0, 10_800.0, "09:00"), (14 * 86_400.0, 172_800.0, "11-27"),
            (90 * 86_400.0, 1_209_600.0, "2026-12-07"),
        ])
    func timeTicks(span: Double, step: Double, label: String) {
        let from = 1_795_593_600.0  // 2026-11-25 08:00:00 UTC, a Wednesday
        let (chosen, ticks) = Chart.Axis.timeTicks(from: from, to: from + span, maxCount: 8)
        #expect(chosen == step)
        #expect((2...9).contains(ticks.count))
        #expect(ticks.allSatisfy { $0.t >= from && $0.t <= from + span })
        #expect(ticks.contains { $0.label == label }, "\(ticks.map(\.label))")
        if step >= 604_800 {
            // Weekly ticks fall on Mondays at midnight (1970-01-05 was one).
            #expect(ticks.allSatisfy { ($0.t - 345_600).truncatingRemainder(dividingBy: 604_800) == 0 })
        }
    }

    @Test("a sub-day axis names the date under its first tick and where the day changes")
    func timeTickDates() {
        let from = 1_795_638_600.0  // 2026-11-25 20:30 UTC
        let (_, ticks) = Chart.Axis.timeTicks(from: from, to: from + 8 * 3600, maxCount: 8)
        #expect(ticks.compactMap(\.date) == ["2026-11-25", "2026-11-26"])
        #expect(ticks.first { $0.date == "2026-11-26" }?.label == "00:00")
    }

    @Test(
        "values print with three significant digits and an SI prefix",
        arguments: [
            (Chart.Unit.bytes, 512.0, "512 B"), (.bytes, 2_310_000_000, "2.31 GB"),
            (.bytesPerSecond, 1_500_000, "1.5 MB/s"),
            (.bytes, 999_700, "1 MB"), (.bytes, 0, "0 B"), (.bitsPerSecond, 94_000_000, "94 Mbit/s"),
            (.packetsPerSecond, 2.5, "2.5 pkts/s"), (.packets, 12_345, "12.3 k pkts"),
            (.count("flows"), 3400, "3.4 k flows"),
            (.count("flows"), 7, "7 flows"), (.bytes, .nan, "–"), (.bytes, -1500, "-1.5 kB"),
            (.bytesPerSecond, 0.25, "0.25 B/s"),
        ])
    func format(unit: Chart.Unit, value: Double, text: String) {
        #expect(unit.format(value) == text)
    }

    @Test("chart kinds are the command line's names")
    func kinds() {
        #expect(Chart.Kind.allCases.map(\.rawValue) == ["traffic", "protocols", "top-talkers", "scans"])
    }
}
