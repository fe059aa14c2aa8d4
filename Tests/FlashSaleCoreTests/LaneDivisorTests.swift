import XCTest
@testable import FlashSaleCore

/// Routing divides every organisation id by the lane count without `div` (`LaneDivisor`): a wrong
/// quotient or remainder would send an organisation's requests to two lanes (two states, a limit
/// bypassed) or read another organisation's record. It must equal `/` and `%` for every id.
final class LaneDivisorTests: XCTestCase {
    func testQuotientAndRemainderEqualDivisionForEveryLaneCountAndEdgeIds() {
        var g = SplitMix64(seed: 7)
        let divisors = Array(1...300) + [1 << 16, 65_537, 1_000_003, Int(UInt32.max) - 1, Int(UInt32.max)]
        for d in divisors {
            let div = LaneDivisor(d)
            let du = UInt32(d)
            var ids: [UInt32] = [0, 1, 2, du &- 1, du, du &+ 1, UInt32.max, UInt32.max - 1, UInt32.max / du * du, UInt32.max / du * du &- 1]
            for _ in 0..<2_000 { ids.append(UInt32(truncatingIfNeeded: g.next())) }
            for _ in 0..<200 { ids.append(UInt32(truncatingIfNeeded: g.next() % 5_000_000)) }
            for n in ids {
                XCTAssertEqual(div.quotient(n), n / du, "\(n) / \(d)")
                XCTAssertEqual(div.remainder(n), n % du, "\(n) % \(d)")
                if div.quotient(n) != n / du || div.remainder(n) != n % du { return }
            }
        }
    }

    func testEveryIdUpToTwoMillionForSmallLaneCounts() {
        for d in [1, 2, 3, 5, 7, 12, 64] {
            let div = LaneDivisor(d)
            let du = UInt32(d)
            var wrong = 0
            for n in UInt32(0)..<2_000_000 where div.quotient(n) != n / du || div.remainder(n) != n % du { wrong += 1 }
            XCTAssertEqual(wrong, 0, "\(d) lanes")
        }
    }
}
