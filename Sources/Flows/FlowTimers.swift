/// When each flow must next be looked at: the flow table's idle and active timeouts without a walk over the table.
///
/// Each flow is filed under the earlier of its idle and active deadlines rounded down to a sixteenth of a second (a
/// bucket). A sweep takes the buckets whose time has come and decides each flow with the same test the whole-table
/// walk made; a flow that turns out not to be due yet (a later packet moved its idle deadline, or the sweep fell in
/// the sixteenth before its deadline) is filed again under its new deadline. So a packet costs no timer work at
/// all, and an expiry costs a few filings amortised, whatever the number of open flows. This is the lazy re-check of
/// a timer wheel (Zeek's timer manager and the Linux kernel's timer wheel re-arm the same way); the buckets live in a
/// dictionary with a heap of their times, so a jump of a year in packet time costs one heap pop per bucket that
/// exists, not one per second skipped.
///
/// A bucket is a doubly linked list through the flows themselves (`timerPrev`, `timerNext`): filing allocates
/// nothing, and a flow that ends some other way (a new SYN on a closed 5-tuple, eviction, a FIN that brings its
/// deadline on) leaves its bucket in constant time. The lists do not retain the flows; the table does, and takes a
/// flow out before it lets it go. Not thread-safe, like the table.
struct FlowTimers {
    /// Buckets per second of packet time. Finer buckets make a sweep look at fewer flows that are not yet due.
    static let bucketsPerSecond = 16.0

    /// The first flow of each bucket, nil for a bucket that emptied before its time. An emptied bucket keeps its entry
    /// (and its key in `keys`) until its time, so that filing into it again does not push its key a second time: a
    /// SYN answered by a RST moves its flow out of the bucket it was filed in, and under a scan every probe would
    /// otherwise add a heap entry that stays until the bucket's time.
    private var heads: [Int: Unmanaged<Flow>?] = [:]
    /// The keys of `heads`, smallest first, each once.
    private var keys = IntMinHeap()
    /// Flows filed.
    private(set) var count = 0

    /// The bucket of a deadline, rounded down past the floating-point error of computing it, so that a flow whose
    /// deadline test (`now - last >= timeout`) passes is always in a bucket no later than `key(ofNow: now)`.
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

    /// Files `flow`, which is in no bucket, under `key`.
    mutating func file(_ flow: Flow, under key: Int) {
        let handle = Unmanaged.passUnretained(flow)
        flow.timerKey = key
        flow.timerPrev = nil
        switch heads[key] {
        case .some(.some(let head)):
            flow.timerNext = head
            head._withUnsafeGuaranteedRef { $0.timerPrev = handle }
        case .some(.none):
            flow.timerNext = nil
        case .none:
            flow.timerNext = nil
            keys.push(key)
        }
        heads[key] = .some(handle)
        count += 1
    }

    /// Takes `flow` out of its bucket, if it is in one.
    mutating func remove(_ flow: Flow) {
        guard flow.timerKey != Flow.noTimer else { return }
        let next = flow.timerNext
        if let previous = flow.timerPrev {
            previous._withUnsafeGuaranteedRef { $0.timerNext = next }
        } else {
            heads[flow.timerKey] = .some(next)
        }
        next?._withUnsafeGuaranteedRef { $0.timerPrev = flow.timerPrev }
        flow.timerKey = Flow.noTimer
        flow.timerPrev = nil
        flow.timerNext = nil
        count -= 1
    }

    /// Empties every bucket whose key is at most `key` into `due`, earliest bucket first. The flows taken are in no
    /// bucket afterwards (`timerKey` is `Flow.noTimer`).
    mutating func takeDue(upTo key: Int, into due: inout [Unmanaged<Flow>]) {
        while let next = keys.min, next <= key {
            keys.popMin()
            var cursor = heads.removeValue(forKey: next) ?? nil
            while let handle = cursor {
                handle._withUnsafeGuaranteedRef { flow in
                    cursor = flow.timerNext
                    flow.timerKey = Flow.noTimer
                    flow.timerPrev = nil
                    flow.timerNext = nil
                }
                due.append(handle)
                count -= 1
            }
        }
    }

    /// Buckets waiting for their time, emptied ones included.
    var buckets: Int { heads.count }
    /// Keys in the heap (each bucket's once).
    var pendingKeys: Int { keys.count }

    /// Forgets every bucket (the flows are being let go all at once).
    mutating func removeAll() {
        heads.removeAll()
        keys = IntMinHeap()
        count = 0
    }
}

/// A binary min-heap of bucket keys.
struct IntMinHeap {
    private var items: [Int] = []

    var min: Int? { items.first }
    var count: Int { items.count }

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
