import XCTest
@testable import FlashSaleCore

final class MinHeapTests: XCTestCase {
    struct Item: HeapOrdered, Equatable {
        var key: Int
        func precedes(_ other: Item) -> Bool { key < other.key }
    }

    /// Interleaved pushes and pops always give back the smallest element present.
    func testPopsInOrderUnderInterleavedPushes() {
        var heap = MinHeap<Item>()
        var reference: [Int] = []
        var rng = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            if rng.next() % 3 == 0, let top = heap.popTop() {
                let smallest = reference.min()!
                XCTAssertEqual(top.key, smallest)
                reference.remove(at: reference.firstIndex(of: smallest)!)
            } else {
                let k = Int(rng.next() % 1000)
                heap.push(Item(key: k))
                reference.append(k)
            }
            XCTAssertEqual(heap.count, reference.count)
        }
        var drained: [Int] = []
        while let top = heap.popTop() { drained.append(top.key) }
        XCTAssertEqual(drained, reference.sorted())
        XCTAssertNil(heap.top)
    }
}
