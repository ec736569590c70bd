import Detect
import Flows
import Testing

@Suite struct BaselineTests {
    @Test func robustBaselineMedianAndMADIgnoreAnOutlier() {
        var baseline = RobustBaseline(capacity: 5)
        #expect(baseline.median == 0 && baseline.mad == 0)
        for value in [1.0, 2, 3, 4, 100] { baseline.append(value) }
        #expect(baseline.count == 5)
        #expect(baseline.median == 3)  // the mean would be 22
        #expect(baseline.mad == 1)  // |1-3|, |2-3|, 0, 1, 97 -> median 1
        #expect(abs(baseline.sigma - 1.4826) < 1e-12)
    }

    @Test func robustBaselineRingDropsTheOldest() {
        var baseline = RobustBaseline(capacity: 4)
        for value in [10.0, 10, 10, 10, 1, 2, 3] { baseline.append(value) }
        // Holds 10, 1, 2, 3: median (2 + 3) / 2.
        #expect(baseline.count == 4)
        #expect(baseline.median == 2.5)
        #expect(RobustBaseline.median([4, 1, 3, 2]) == 2.5)
    }

    @Test func ewmaStartsAsThePlainMeanThenWeighsNewValues() {
        var ewma = EWMA(alpha: 0.1)
        for value in [2.0, 4, 6] { ewma.add(value) }
        #expect(abs(ewma.mean - 4) < 1e-12)  // weights 1, 1/2, 1/3 while n < 1/alpha: the plain mean
        var constant = EWMA(alpha: 0.2)
        for _ in 0..<50 { constant.add(7) }
        #expect(abs(constant.mean - 7) < 1e-12)
        #expect(constant.variance < 1e-12)
        constant.add(17)
        #expect(abs(constant.mean - 9) < 1e-12)  // 7 + 0.2 * 10
        #expect(abs(constant.variance - 16) < 1e-9)  // (1 - 0.2) * 0.2 * 100
        #expect(constant.standardDeviation == 4)
    }

    @Test(arguments: [
        // Hand-computed: M = mean of P and Q; JSD = (KL(P||M) + KL(Q||M)) / 2 in bits.
        (["a": 0.5, "b": 0.5], ["a": 1.0], 0.311_278_124_459_132_8),
        (["tcp": 0.8, "udp": 0.2], ["tcp": 0.5, "udp": 0.5], 0.073_104_007_931_809_85),
        (["tcp": 0.82, "udp": 0.15, "icmp": 0.03], ["tcp": 0.5, "udp": 0.3, "icmp": 0.2], 0.097_401_309_951_253_26),
        (["tcp": 1.0], ["udp": 1.0], 1.0),
        (["tcp": 3.0, "udp": 1.0], ["tcp": 300.0, "udp": 100.0], 0.0),  // counts are normalised
    ])
    func jensenShannonMatchesHandComputedValues(p: [String: Double], q: [String: Double], expected: Double) {
        #expect(abs(Divergence.jensenShannon(p, q) - expected) < 1e-12)
        #expect(abs(Divergence.jensenShannon(q, p) - expected) < 1e-12)  // symmetric
    }

    @Test func smoothingKeepsAZeroShareFinite() {
        let jsd = Divergence.jensenShannon(["tcp": 1], ["tcp": 0.5, "udp": 0.5], smoothing: 1e-6)
        #expect(abs(jsd - 0.311_278_124_459_132_8) < 1e-4)
        #expect(Divergence.jensenShannon([:], ["tcp": 1]) == 0)
    }

    @Test func sharesTextListsLargestFirst() {
        #expect(Divergence.sharesText(["udp": 15, "tcp": 82, "icmp": 3]) == "tcp=0.82 udp=0.15 icmp=0.03")
        #expect(Divergence.sharesText([:]) == "")
    }
}
