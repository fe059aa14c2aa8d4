/// Quotient and remainder of a 32-bit organisation id by a fixed lane count, without a hardware divide:
/// every request is routed by `id % lanes` and stored at `id / lanes`, several divisions per request,
/// and a 32-/64-bit `div` takes tens of cycles. This multiplies by a precomputed 64-bit reciprocal
/// instead (D. Lemire, O. Kaser, N. Kurz, "Faster remainder by direct computation", 2019): exact for
/// every 32-bit id and every lane count from 1 to 2^32 − 1 (tested against `/` and `%`).
public struct LaneDivisor: Sendable, Equatable {
    public let divisor: UInt32
    /// ⌈2^64 / divisor⌉ (0 for a divisor of 1, where the quotient is the id itself).
    @usableFromInline let reciprocal: UInt64

    public init(_ divisor: Int) {
        precondition(divisor >= 1 && divisor <= Int(UInt32.max), "a lane count of \(divisor)")
        self.divisor = UInt32(divisor)
        reciprocal = divisor == 1 ? 0 : UInt64.max / UInt64(divisor) &+ 1
    }

    /// `n / divisor`.
    @inlinable @inline(__always)
    public func quotient(_ n: UInt32) -> UInt32 {
        divisor == 1 ? n : UInt32(truncatingIfNeeded: reciprocal.multipliedFullWidth(by: UInt64(n)).high)
    }

    /// `n % divisor`.
    @inlinable @inline(__always)
    public func remainder(_ n: UInt32) -> UInt32 {
        let fraction = reciprocal &* UInt64(n)
        return UInt32(truncatingIfNeeded: fraction.multipliedFullWidth(by: UInt64(divisor)).high)
    }
}
