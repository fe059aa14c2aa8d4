extension Int64 {
    /// `self + other`, clamped to `Int64.min...Int64.max` instead of trapping or wrapping: a total
    /// past 64 bits (only a broken ledger or a forged journal gets there) stays larger than any stock,
    /// so the invariant checks that read it fail instead of the process.
    @inlinable
    public func saturatingAdding(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        if !overflow { return sum }
        return other > 0 ? .max : .min
    }
}

extension Sequence where Element == Int64 {
    /// The sum of the elements, clamped to 64 bits (see `Int64.saturatingAdding`).
    @inlinable
    public func saturatingSum() -> Int64 { reduce(0) { $0.saturatingAdding($1) } }
}
