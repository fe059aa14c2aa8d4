import Dispatch
import XCTest
@testable import FlashSaleCore

final class StockLedgerTests: XCTestCase {
    func testShardsSplitInitialStockExactly() {
        let ledger = StockLedger(initial: [10, 0, 7], shardCount: 4)
        XCTAssertEqual((0..<4).map { ledger.remaining(0, shard: $0) }, [3, 3, 2, 2])
        XCTAssertEqual(ledger.remaining(0), 10)
        XCTAssertEqual(ledger.remaining(2), 7)
        XCTAssertTrue(ledger.isSoldOut(1), "an item with no stock starts sold out")
    }

    func testTakeBorrowsFromOtherShardsAndNeverGoesBelowZero() {
        let ledger = StockLedger(initial: [10], shardCount: 4)
        XCTAssertTrue(ledger.take(6, of: 0, home: 1), "3 from home + 3 borrowed")
        XCTAssertEqual(ledger.remaining(0), 4)
        XCTAssertFalse(ledger.take(5, of: 0, home: 0), "only 4 left")
        XCTAssertEqual(ledger.remaining(0), 4, "a failed take gives back everything it took")
        for s in 0..<4 { XCTAssertGreaterThanOrEqual(ledger.remaining(0, shard: s), 0) }
        XCTAssertTrue(ledger.take(4, of: 0, home: 3))
        XCTAssertEqual(ledger.remaining(0), 0)
        XCTAssertFalse(ledger.take(1, of: 0, home: 2))
        XCTAssertTrue(ledger.isSoldOut(0), "an empty item is flagged sold out")
        ledger.release(2, of: 0, to: 1)
        XCTAssertFalse(ledger.isSoldOut(0), "a release clears sold-out")
        XCTAssertTrue(ledger.take(2, of: 0, home: 0))
    }

    func testBundleTakesAllComponentsOrNone() {
        // The last component is short: nothing may be taken from any component.
        let ledger = StockLedger(initial: [100, 1000, 19_999], shardCount: 2)
        let components: [Offer.Component] = [.init(item: 0, quantityPerUnit: 1), .init(item: 1, quantityPerUnit: 10),
                                             .init(item: 2, quantityPerUnit: 20_000)]
        let ok = components.withUnsafeBufferPointer { ledger.takeAll($0, times: 1, home: 0) }
        XCTAssertFalse(ok)
        XCTAssertEqual([ledger.remaining(0), ledger.remaining(1), ledger.remaining(2)], [100, 1000, 19_999],
                       "every component is left as it was")
        // Per shard too: the give-back must not move units to where a lane could not find them… but totals are what count.
        let ok2 = components.withUnsafeBufferPointer { ledger.takeAll($0, times: 1, home: 1) }
        XCTAssertFalse(ok2)
        ledger.release(1, of: 2, to: 0)
        let ok3 = components.withUnsafeBufferPointer { ledger.takeAll($0, times: 1, home: 1) }
        XCTAssertTrue(ok3)
        XCTAssertEqual([ledger.remaining(0), ledger.remaining(1), ledger.remaining(2)], [99, 990, 0])
    }

    /// Raw ledger under contention: takes of random sizes, bundle takes and releases from 4 threads.
    func testConcurrentTakesAndReleasesConserveStockExactly() {
        let threads = 4
        let initial: [Int64] = [5_000, 3_000, 50_000]
        let ledger = StockLedger(initial: initial, shardCount: threads)
        let components: [Offer.Component] = [.init(item: 0, quantityPerUnit: 1), .init(item: 1, quantityPerUnit: 2),
                                             .init(item: 2, quantityPerUnit: 7)]
        let perThread = 100_000
        var taken = [[Int64]](repeating: [0, 0, 0], count: threads)
        taken.withUnsafeMutableBufferPointer { takenPtr in
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var rng = SplitMix64(seed: UInt64(t + 1))
                var mine: [Int64] = [0, 0, 0]
                components.withUnsafeBufferPointer { comps in
                    for _ in 0..<perThread {
                        let roll = rng.next() % 10
                        if roll < 5 {
                            let item = Int(rng.next() % 3), q = Int64(rng.next() % 5 + 1)
                            if ledger.take(q, of: item, home: t) { mine[item] += q }
                        } else if roll < 8 {
                            let q = Int64(rng.next() % 2 + 1)
                            if ledger.takeAll(comps, times: q, home: t) {
                                for c in comps { mine[c.item] += c.quantityPerUnit * q }
                            }
                        } else {
                            let item = Int(rng.next() % 3)
                            let q = min(mine[item], Int64(rng.next() % 4 + 1))
                            if q > 0 { ledger.release(q, of: item, to: t); mine[item] -= q }
                        }
                    }
                }
                takenPtr[t] = mine
            }
        }
        for item in 0..<3 {
            let held = taken.reduce(0) { $0 + $1[item] }
            for s in 0..<threads { XCTAssertGreaterThanOrEqual(ledger.remaining(item, shard: s), 0, "shard below zero") }
            XCTAssertEqual(ledger.remaining(item) + held, initial[item], "item \(item): remaining + taken must equal initial")
        }
    }
}
