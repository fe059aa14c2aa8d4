import FlashSaleCore

/// xoshiro256**: the generator's hot-path PRNG (a few shifts and a multiply, no allocation).
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    @usableFromInline var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @inlinable @inline(__always)
    func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 &- k)) }

    /// Uniform in `0..<n` (Lemire's multiply-high; the tiny bias is irrelevant for load generation).
    @inlinable @inline(__always)
    public mutating func below(_ n: UInt64) -> UInt64 { n.multipliedFullWidth(by: next()).high }

    /// Uniform in `(0, 1]`: never 0, so `-log(u)` is finite.
    @inlinable @inline(__always)
    public mutating func unitOpenZero() -> Double { Double((next() >> 11) &+ 1) * 0x1.0p-53 }
}

/// A probability as a 64-bit threshold: `rng.next() < threshold` happens with that probability.
@usableFromInline
struct Chance: Sendable {
    @usableFromInline let threshold: UInt64
    @usableFromInline let always: Bool
    /// False for probability 0: callers skip the draw entirely.
    @usableFromInline let possible: Bool
    init(_ p: Double) {
        always = p >= 1
        possible = p > 0
        threshold = p <= 0 ? 0 : (p >= 1 ? .max : UInt64(p * 18_446_744_073_709_551_616.0))
    }
    @inlinable @inline(__always)
    func hit(_ r: UInt64) -> Bool { always || r < threshold }
}

/// Walker/Vose alias table: O(1) sampling from a discrete distribution with one 64-bit draw and one
/// 8-byte load (cutoff and alias packed together, selected without a branch).
public struct AliasTable: Sendable {
    /// Per column: keep the column when the draw's low 32 bits are below the high 32 bits here,
    /// else take the alias in the low 32 bits (a column that is always kept is its own alias).
    @usableFromInline var entries: [UInt64]
    public let count: Int

    /// `weights` need not be normalised; they must be finite, ≥ 0, with a positive sum.
    public init(weights: [Double]) {
        precondition(!weights.isEmpty)
        let n = weights.count
        count = n
        let total = weights.reduce(0, +)
        precondition(total > 0 && total.isFinite)
        var scaled = weights.map { $0 / total * Double(n) }
        var cut = [UInt64](repeating: 1 << 32, count: n)
        var al = [UInt32](repeating: 0, count: n)
        for i in 0..<n { al[i] = UInt32(i) }
        var small: [Int] = [], large: [Int] = []
        for (i, w) in scaled.enumerated() { if w < 1 { small.append(i) } else { large.append(i) } }
        while let s = small.popLast(), let l = large.last {
            cut[s] = UInt64(min(4_294_967_296.0, (scaled[s] * 4_294_967_296.0).rounded(.down)))
            al[s] = UInt32(l)
            scaled[l] -= 1 - scaled[s]
            if scaled[l] < 1 { large.removeLast(); small.append(l) }
        }
        // leftovers (rounding) keep their own column always
        for i in small { cut[i] = 1 << 32; al[i] = UInt32(i) }
        // a cutoff of 2^32 does not fit 32 bits: "always keep" is stored as alias = self, cutoff = max
        entries = (0..<n).map { i in
            let c = cut[i] >= 1 << 32 ? UInt64(UInt32.max) : cut[i]
            let a = cut[i] >= 1 << 32 ? UInt64(i) : UInt64(al[i])
            return c << 32 | a
        }
    }

    @inlinable @inline(__always)
    public func sample(_ r: UInt64) -> Int {
        let column = Int(UInt64(count).multipliedFullWidth(by: r).high)
        let e = entries[column]
        let coin = UInt32(truncatingIfNeeded: r)
        let alias = Int(truncatingIfNeeded: e & 0xFFFF_FFFF)
        return coin < UInt32(truncatingIfNeeded: e >> 32) ? column : alias
    }

    /// The probability of each outcome as sampled (for reports and tests).
    public var probabilities: [Double] {
        var p = [Double](repeating: 0, count: count)
        for c in 0..<count {
            let cutoff = entries[c] >> 32, alias = Int(entries[c] & 0xFFFF_FFFF)
            let keep = Double(cutoff) / 4_294_967_296.0
            p[c] += keep / Double(count)
            p[alias] += (1 - keep) / Double(count)
        }
        return p
    }
}
