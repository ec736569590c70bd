/// The few smallest elements of a large array without sorting it: what evicting the oldest hundredth of a full
/// table needs (the flow table, the detectors' caps). Sorting the whole table on every eviction made each new
/// entry of a flood cost microseconds.
public enum PartialSelection {
    /// Reorders `items` so that its first `count` elements are the `count` smallest by `isLess` (in no particular
    /// order); linear on average (quickselect, median-of-three pivot). `isLess` must be a strict total order (break
    /// ties, for instance by key) for the choice to be deterministic.
    public static func selectSmallest<T>(_ count: Int, in items: inout [T], by isLess: (T, T) -> Bool) {
        guard count > 0, count < items.count else { return }
        var low = 0
        var high = items.count - 1
        let target = count - 1
        while low < high {
            let middle = low + (high - low) / 2
            if isLess(items[middle], items[low]) { items.swapAt(middle, low) }
            if isLess(items[high], items[low]) { items.swapAt(high, low) }
            if isLess(items[high], items[middle]) { items.swapAt(high, middle) }
            let pivot = items[middle]
            var i = low
            var j = high
            while i <= j {
                while isLess(items[i], pivot) { i += 1 }
                while isLess(pivot, items[j]) { j -= 1 }
                if i <= j {
                    items.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if target <= j {
                high = j
            } else if target >= i {
                low = i
            } else {
                return
            }
        }
    }

    /// The `count` smallest elements of `items` by `isLess`, smallest first.
    public static func smallest<T>(_ count: Int, of items: [T], by isLess: (T, T) -> Bool) -> [T] {
        var items = items
        selectSmallest(count, in: &items, by: isLess)
        return items.prefix(max(0, min(count, items.count))).sorted(by: isLess)
    }
}
