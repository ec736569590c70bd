/// When each flow must next be looked at: the flow table's idle and active timeouts without a walk over the table.
///
/// Each flow has one entry, filed under the earlier of its idle and active deadlines rounded down to a sixteenth of
/// a second (a bucket). A sweep takes the buckets whose time has come and decides each flow with the same test the
/// whole-table walk made; a flow that turns out not to be due yet (a later packet moved its idle deadline, or the
/// sweep fell in the sixteenth before its deadline) is filed again under its new deadline. So a packet costs no timer
/// work at all, and an expiry costs a few filings amortised, whatever the number of open flows. This is the lazy
/// re-check of a timer wheel (Zeek's timer manager and the Linux kernel's timer wheel re-arm the same way); the
/// buckets live in a dictionary with a heap of their times, so a jump of a year in packet time costs one heap pop
/// per bucket that exists, not one per second skipped.
///
/// Entries retain their flow: a flow finished some other way (end of capture, a new SYN on a closed 5-tuple,
/// eviction) marks itself with `Flow.noTimer` and its entry is dropped when its bucket comes up. A flow's entry is
/// the one whose bucket equals the flow's `timerKey`; an entry left behind when a FIN or RST shortened the idle
/// deadline and the flow was filed earlier is stale and dropped when met. Not thread-safe, like the table.
struct FlowTimers {
    /// Buckets per second of packet time. Finer buckets make a sweep look at fewer flows that are not yet due.
    static let bucketsPerSecond = 16.0

    private var buckets: [Int: [Unmanaged<Flow>]] = [:]
    /// The keys of `buckets`, smallest first.
    private var keys = IntMinHeap()
    /// Emptied bucket arrays kept for reuse, so filing does not allocate in the steady state.
    private var spare: [[Unmanaged<Flow>]] = []
    /// Entries held, including stale ones.
    private(set) var count = 0

    /// The bucket of a deadline, rounded down past the floating-point error of computing it, so that a flow whose
    /// deadline test (`now - last >= timeout`) passes is always in a bucket no later than `key(of: now)`.
    @inline(__always)
    static func key(of deadline: Double) -> Int {
        let scaled = (deadline - (abs(deadline) * 0x1p-40 + 0x1p-20)) * bucketsPerSecond
        // Far beyond any capture's time (and NaN) is clamped, so the conversion cannot trap.
        guard scaled > -0x1p60 else { return -(1 << 60) }
        guard scaled < 0x1p60 else { return 1 << 60 }
        return Int(scaled.rounded(.down))
    }

    /// The last bucket a sweep at `now` takes: every deadline at or before `now` is in it or an earlier one.
    @inline(__always)
    static func key(ofNow now: Double) -> Int {
        let scaled = now * bucketsPerSecond
        guard scaled > -0x1p60 else { return -(1 << 60) }
        guard scaled < 0x1p60 else { return 1 << 60 }
        return Int(scaled.rounded(.down))
    }

    /// Files `flow` under `key` (the caller sets the flow's `timerKey` to it).
    mutating func file(_ flow: Flow, under key: Int) {
        let handle = Unmanaged.passRetained(flow)
        count += 1
        if buckets[key]?.append(handle) != nil { return }
        var bucket = spare.popLast() ?? []
        bucket.append(handle)
        buckets[key] = bucket
        keys.push(key)
    }

    /// Moves every entry in a bucket whose key is at most `key` into `due`, earliest bucket first, each with the key
    /// it was filed under. The entries keep their retain; the caller releases each once it is done with it.
    mutating func takeDue(upTo key: Int, into due: inout [(flow: Unmanaged<Flow>, key: Int)]) {
        while let next = keys.min, next <= key {
            keys.popMin()
            guard var bucket = buckets.removeValue(forKey: next) else { continue }
            count -= bucket.count
            for handle in bucket { due.append((handle, next)) }
            bucket.removeAll(keepingCapacity: true)
            if spare.count < 64 && bucket.capacity <= 4096 { spare.append(bucket) }
        }
    }

    /// Drops every entry.
    mutating func removeAll() {
        for bucket in buckets.values {
            for handle in bucket { handle.release() }
        }
        buckets.removeAll()
        keys = IntMinHeap()
        count = 0
    }
}

/// A binary min-heap of bucket keys.
struct IntMinHeap {
    private var items: [Int] = []

    var min: Int? { items.first }

    mutating func push(_ value: Int) {
        items.append(value)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMin() {
        guard !items.isEmpty else { return }
        let last = items.removeLast()
        guard !items.isEmpty else { return }
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < items.count else { break }
            let right = left + 1
            let smaller = right < items.count && items[right] < items[left] ? right : left
            guard items[smaller] < items[parent] else { break }
            items.swapAt(parent, smaller)
            parent = smaller
        }
    }
}
