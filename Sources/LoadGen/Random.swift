/// SplitMix64: seeds other generators and derives independent streams from one seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

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
    init(_ p: Double) {
        always = p >= 1
        threshold = p <= 0 ? 0 : (p >= 1 ? .max : UInt64(p * 18_446_744_073_709_551_616.0))
    }
    @inlinable @inline(__always)
    func hit(_ r: UInt64) -> Bool { always || r < threshold }
}

/// Walker/Vose alias table: O(1) sampling from a discrete distribution with one 64-bit draw.
public struct AliasTable: Sendable {
    @usableFromInline var cutoff: [UInt32]   // keep the column when the low 32 bits are below this
    @usableFromInline var alias: [UInt32]
    public let count: Int

    /// `weights` need not be normalised; they must be finite, ≥ 0, with a positive sum.
    public init(weights: [Double]) {
        precondition(!weights.isEmpty)
        let n = weights.count
        count = n
        let total = weights.reduce(0, +)
        precondition(total > 0 && total.isFinite)
        var scaled = weights.map { $0 / total * Double(n) }
        var cut = [UInt32](repeating: UInt32.max, count: n)
        var al = [UInt32](repeating: 0, count: n)
        for i in 0..<n { al[i] = UInt32(i) }
        var small: [Int] = [], large: [Int] = []
        for (i, w) in scaled.enumerated() { if w < 1 { small.append(i) } else { large.append(i) } }
        while let s = small.popLast(), let l = large.last {
            cut[s] = UInt32(min(4_294_967_295.0, (scaled[s] * 4_294_967_296.0).rounded(.down)))
            al[s] = UInt32(l)
            scaled[l] -= 1 - scaled[s]
            if scaled[l] < 1 { large.removeLast(); small.append(l) }
        }
        // leftovers (rounding) keep their own column always
        for i in small { cut[i] = UInt32.max; al[i] = UInt32(i) }
        cutoff = cut
        alias = al
    }

    @inlinable @inline(__always)
    public func sample(_ r: UInt64) -> Int {
        let column = Int(UInt64(count).multipliedFullWidth(by: r).high)
        let coin = UInt32(truncatingIfNeeded: r)
        return coin < cutoff[column] || cutoff[column] == UInt32.max ? column : Int(alias[column])
    }

    /// The probability of each outcome as sampled (for reports and tests).
    public var probabilities: [Double] {
        var p = [Double](repeating: 0, count: count)
        for c in 0..<count {
            let keep = cutoff[c] == UInt32.max ? 1.0 : Double(cutoff[c]) / 4_294_967_296.0
            p[c] += keep / Double(count)
            p[Int(alias[c])] += (1 - keep) / Double(count)
        }
        return p
    }
}
