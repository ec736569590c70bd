extension UInt64 {
    /// `self + other`, or `.max` when the sum does not fit. Totals of counters a sensor reported (or an older store
    /// holds) saturate: `+` would trap on a hostile value and `&+` would wrap it to a small, plausible-looking one.
    @inlinable
    public func addingSaturated(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
