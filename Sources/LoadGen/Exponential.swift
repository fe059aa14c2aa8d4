/// Exponential(1) variates by the ziggurat method (Marsaglia & Tsang, 2000; 256 layers): one 64-bit
/// draw, one table lookup and a compare in ~99% of cases, no `log` — the Poisson arrival process draws
/// one per request.
struct ExponentialZiggurat: Sendable {
    private var k = [UInt32](repeating: 0, count: 256)
    private var w = [Double](repeating: 0, count: 256)
    private var f = [Double](repeating: 0, count: 256)
    private static let r = 7.697117470131487

    init() {
        let m2 = 4_294_967_296.0
        var de = Self.r
        var te = de
        let ve = 3.949659822581572e-3
        let q = ve / Math.exp(-de)
        k[0] = UInt32((de / q) * m2)
        k[1] = 0
        w[0] = q / m2
        w[255] = de / m2
        f[0] = 1
        f[255] = Math.exp(-de)
        for i in stride(from: 254, through: 1, by: -1) {
            de = -Math.log(ve / de + Math.exp(-de))
            k[i + 1] = UInt32((de / te) * m2)
            te = de
            f[i] = Math.exp(-de)
            w[i] = de / m2
        }
    }

    @inline(__always)
    func next(_ rng: inout Xoshiro256StarStar) -> Double {
        let r = rng.next()
        let i = Int(truncatingIfNeeded: r >> 56)
        let j = UInt32(truncatingIfNeeded: r)
        if j < k[i] { return Double(j) * w[i] }
        return slow(i, j, &rng)
    }

    private func slow(_ i0: Int, _ j0: UInt32, _ rng: inout Xoshiro256StarStar) -> Double {
        var i = i0, j = j0
        while true {
            if i == 0 { return Self.r - Math.log(rng.unitOpenZero()) }
            let x = Double(j) * w[i]
            let u = Double(rng.next() >> 11) * 0x1.0p-53
            if f[i] + u * (f[i - 1] - f[i]) < Math.exp(-x) { return x }
            let r = rng.next()
            i = Int(truncatingIfNeeded: r >> 56)
            j = UInt32(truncatingIfNeeded: r)
            if j < k[i] { return Double(j) * w[i] }
        }
    }
}
