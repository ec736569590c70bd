import CMalloc
import Packets
import Testing

@testable import Flows

@Suite("flow index")
struct FlowIndexTests {
    private func flow(_ number: Int) -> Flow {
        let (key, _) = FlowKey.make(
            source: .v4(0x0A00_0000 | UInt32(number)), sourcePort: UInt16(truncatingIfNeeded: 1024 + number),
            destination: .v4(0x0A00_0001), destinationPort: 80, proto: IPProtocol.tcp, vlan: nil, innerVlan: nil)
        return Flow(
            key: key, serial: UInt64(number), origIsLow: true, oneWay: false,
            start: Double(number))
    }

    @Test("finds every flow through growth and removals (backward shifts) in any order", arguments: [1, 2, 3])
    func insertFindRemove(seed: UInt64) {
        let index = FlowIndex(minimumCapacity: 4, seed: seed)
        let flows = (0..<3000).map(flow)
        for flow in flows { index.insert(flow.key, Unmanaged.passUnretained(flow)) }
        #expect(index.count == 3000)
        var generator = SystemRandomNumberGenerator()
        let removed = Set((0..<3000).shuffled(using: &generator).prefix(1700))
        for number in removed.shuffled(using: &generator) {
            #expect(index.remove(flows[number].key)?.takeUnretainedValue() === flows[number])
        }
        #expect(index.count == 1300)
        for (number, flow) in flows.enumerated() {
            let found = index.find(flow.key)?.takeUnretainedValue()
            #expect(removed.contains(number) ? found == nil : found === flow)
        }
        #expect(index.remove(flows[removed.first ?? 0].key) == nil)
        var seen = 0
        index.forEach { _ in seen += 1 }
        #expect(seen == 1300 && index.flows.count == 1300)
        index.removeAll()
        #expect(index.count == 0 && index.find(flows[0].key) == nil)
    }
}

@Suite struct EvictionSelectionTests {
    /// Partial selection picks exactly the flows a stable sort by idleness would put first, on inputs with many
    /// ties (the usual case: flows of one packet second).
    @Test(arguments: [1, 2, 3, 10, 100, 499])
    func selectsTheIdlestLikeAStableSort(count: Int) {
        var random = SplitMix64(state: UInt64(count))
        let (key, _) = FlowKey.make(
            source: .v4(1), sourcePort: 1, destination: .v4(2), destinationPort: 2, proto: IPProtocol.tcp, vlan: nil,
            innerVlan: nil)
        let owner = Flow(key: key, serial: 0, origIsLow: true, oneWay: false, start: 0)
        let flow = Unmanaged.passUnretained(owner)
        for size in [count + 1, 500, 1000] {
            var items = (0..<size).map { position in
                EvictionCandidate(last: Double(random.next() % 50), position: position, flow: flow)
            }
            let expected = items.sorted(by: EvictionCandidate.idler).prefix(count).map { $0.position }
            PartialSelection.selectSmallest(count, in: &items, by: EvictionCandidate.idler)
            let chosen = items.prefix(count).sorted(by: EvictionCandidate.idler).map { $0.position }
            #expect(chosen == Array(expected), "size \(size)")
        }
        withExtendedLifetime(owner) {}
    }
}

@Suite struct FlowStorageTests {
    @Test("the uid spelled from a serial number is the generator's next two outputs, as drawn one after another")
    func uidFromSerial() {
        let generator = UIDGenerator(seed: 42)
        var sequential = SplitMix64(state: 42)
        for serial in 0..<1000 {
            let first = sequential.next()
            let expected = FlowUID(first: first, second: sequential.next()).text
            #expect(generator.uid(UInt64(serial)) == expected)
        }
        let uid = generator.uid(7)
        #expect(uid.utf8.count == 18 && uid.first == "C")
        #expect(Set((0..<1000).map { generator.uid(UInt64($0)) }).count == 1000)
    }

    @Test("history letters are kept in order up to 31, and the count survives every letter value")
    func historyLetters() {
        var history = HistoryLetters()
        #expect(history.text.isEmpty && history.count == 0)
        for letter in "ShADadFf".utf8 { history.append(letter) }
        #expect(history.text == "ShADadFf" && history.count == 8)
        var full = HistoryLetters()
        for index in 0..<40 { full.append(UInt8(ascii: "A") + UInt8(index % 26)) }
        #expect(full.count == 31)
        #expect(full.text == String(decoding: (0..<31).map { UInt8(ascii: "A") + UInt8($0 % 26) }, as: UTF8.self))
    }
}

@Suite struct FlowLayoutTests {
    /// A table holds up to half a million flows: an endpoint that grew past 32 bytes would add 16 to every flow.
    @Test func endpointPacksIntoThirtyTwoBytes() {
        #expect(MemoryLayout<Endpoint>.size == 32)
        #expect(MemoryLayout<HistoryLetters>.size == 32)
    }

    /// The whole flow object in one 256-byte heap chunk (glibc reports 248 usable bytes in it).
    @Test func flowFitsOneSmallAllocation() {
        let (key, _) = FlowKey.make(
            source: .v4(1), sourcePort: 1, destination: .v4(2), destinationPort: 2, proto: IPProtocol.tcp, vlan: nil,
            innerVlan: nil)
        let flow = Flow(key: key, serial: 0, origIsLow: true, oneWay: false, start: 0)
        let usable = malloc_usable_size(Unmanaged.passUnretained(flow).toOpaque())
        #expect(usable <= 248, "a flow takes \(usable) usable bytes")
    }
}

@Suite struct FlowTimersTests {
    private func flow(_ number: Int) -> Flow {
        let (key, _) = FlowKey.make(
            source: .v4(0x0A00_0000 | UInt32(number)), sourcePort: 1024, destination: .v4(0x0A00_0001),
            destinationPort: 80, proto: IPProtocol.tcp, vlan: nil, innerVlan: nil)
        return Flow(key: key, serial: UInt64(number), origIsLow: true, oneWay: false, start: 0)
    }

    /// A SYN scan answered by RSTs files each probe's flow in one bucket and moves it out at once (the closed
    /// timeout is shorter): the bucket's key must enter the heap once, not once per probe.
    @Test("a bucket emptied and filed again keeps one heap entry; due buckets give back their flows once")
    func emptiedBucketsDoNotPileUpKeys() {
        var timers = FlowTimers()
        let flows = (0..<10_000).map(flow)
        for flow in flows {
            timers.file(flow, under: 100)
            timers.remove(flow)
            timers.file(flow, under: 200)
        }
        #expect(timers.pendingKeys == 2 && timers.buckets == 2 && timers.count == 10_000)
        var due: [Unmanaged<Flow>] = []
        timers.takeDue(upTo: 150, into: &due)
        #expect(due.isEmpty && timers.pendingKeys == 1)
        timers.takeDue(upTo: 200, into: &due)
        #expect(due.count == 10_000 && Set(due.map { $0.toOpaque() }).count == 10_000)
        #expect(timers.count == 0 && timers.pendingKeys == 0 && timers.buckets == 0)
        #expect(flows.allSatisfy { $0.timerKey == Flow.noTimer && $0.timerNext == nil && $0.timerPrev == nil })
        // Removing from the middle, the head and the tail of one bucket leaves the rest in it.
        for flow in flows.prefix(5) { timers.file(flow, under: 300) }
        timers.remove(flows[2])
        timers.remove(flows[4])
        timers.remove(flows[0])
        due.removeAll()
        timers.takeDue(upTo: 300, into: &due)
        #expect(
            Set(due.map { $0.toOpaque() }) == Set([flows[1], flows[3]].map { Unmanaged.passUnretained($0).toOpaque() }))
    }
}
