/// A first-in first-out list of timed entries: appended at the back in (roughly) time order, expired and evicted
/// from the front, with the number of entries per key kept alongside so "how many distinct names" is O(1).
///
/// Entries arriving slightly out of order (several sensors, late records) are kept in arrival order; expiry stops at
/// the first entry still inside the window, so a late entry may outlive its window by that much, never grow the
/// list without bound (the cap holds regardless).
struct DNSWindow<Entry: DNSWindowEntry> {
    private var items: [Entry] = []
    private var head = 0
    /// Entries per key among the live entries.
    private(set) var keys: [String: Int] = [:]
    /// The sum of the live entries' key lengths, for the memory estimate.
    private(set) var keyBytes = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }
    var distinct: Int { keys.count }
    var first: Entry? { head < items.count ? items[head] : nil }
    var entries: ArraySlice<Entry> { items[head...] }

    mutating func append(_ entry: Entry) {
        items.append(entry)
        keys[entry.key, default: 0] += 1
        keyBytes += entry.key.utf8.count
    }

    /// Removes the oldest entry and returns it.
    @discardableResult
    mutating func removeFirst() -> Entry? {
        guard head < items.count else { return nil }
        let entry = items[head]
        head += 1
        if let n = keys[entry.key], n > 1 {
            keys[entry.key] = n - 1
        } else {
            keys[entry.key] = nil
        }
        keyBytes -= entry.key.utf8.count
        // Compact once the dead prefix is both large and most of the storage.
        if head >= 64 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return entry
    }

    /// Removes the entries older than `cutoff` from the front; returns them.
    mutating func expire(before cutoff: Double) -> [Entry] {
        var removed: [Entry] = []
        while let entry = first, entry.ts < cutoff {
            removeFirst()
            removed.append(entry)
        }
        return removed
    }

    /// Bytes held: the entries' storage plus their keys and the key table.
    var approximateBytes: Int {
        items.capacity * MemoryLayout<Entry>.stride + keys.count * 48 + 2 * keyBytes
    }
}

/// An entry of a `DNSWindow`: its time and the key it counts under.
protocol DNSWindowEntry {
    var ts: Double { get }
    var key: String { get }
}
