import CShims
import XCTest
@testable import FlashSaleCore
@testable import OrderLog
@testable import Pipeline

/// Lanes journal their decisions where they lie (`Decision: JournalRecordFields`), without copying them
/// into `OrderRecord`s first: the blocks must be the very bytes the `OrderRecord` path makes, for every
/// field value a decision can carry, or a lane's journal would read back as other orders.
final class DecisionEncodingTests: XCTestCase {
    /// Decisions with every field varied: zero and extreme values, wide codes (lane > 3), duplicates
    /// (original ≠ outcome), holds with 0...4 pieces, ids and times that go backwards.
    private func decisions(_ n: Int, seed: UInt64) -> [Decision] {
        var rng = SplitMix64(seed: seed)
        let kinds = RequestKind.allCases, outcomes = Outcome.allCases
        return (0..<n).map { i in
            let r = rng.next()
            var pieces = HoldPieces()
            for k in 0..<Int(r % 5) { pieces.append(item: Int(rng.next() % 65_536), quantity: Int64(rng.next() % (1 << 32)) + Int64(k)) }
            let big = r & 0x100 != 0
            return Decision(requestId: big ? rng.next() : UInt64(i) + 1,
                            campaignTimeMillis: big ? Int64(bitPattern: rng.next()) : Int64(i / 3),
                            organisation: r & 0x200 != 0 ? 0 : UInt32(truncatingIfNeeded: rng.next()),
                            offer: r & 0x400 != 0 ? 0 : UInt16(truncatingIfNeeded: rng.next()),
                            kind: kinds[Int(rng.next() % UInt64(kinds.count))],
                            outcome: outcomes[Int(rng.next() % UInt64(outcomes.count))],
                            originalOutcome: r & 0x800 != 0 ? outcomes[Int(rng.next() % UInt64(outcomes.count))] : nil,
                            quantity: r & 0x1000 != 0 ? Int32(truncatingIfNeeded: rng.next()) : 1,
                            priceFen: r & 0x2000 != 0 ? Int64(bitPattern: rng.next()) : 0,
                            reference: r & 0x4000 != 0 ? rng.next() : 0,
                            holdExpiryMillis: r & 0x8000 != 0 ? Int64(bitPattern: rng.next()) : 0,
                            pieces: pieces, lane: UInt8(truncatingIfNeeded: rng.next() % 8))
        }
    }

    func testDecisionsEncodeToTheBytesOfTheirRecords() throws {
        var options = SegmentWriterOptions()
        options.blockBytes = 4 << 10  // several blocks per batch: the codec state resets at each
        let fromDecisions = BlockEncoder(options: options), fromRecords = BlockEncoder(options: options)
        for (n, seed) in [(1, 1), (37, 2), (5_000, 3)] as [(Int, UInt64)] {
            let ds = decisions(n, seed: seed)
            let a = SealedBlocks(capacity: 1), b = SealedBlocks(capacity: 1)
            try ds.withUnsafeBufferPointer { try fromDecisions.encode($0, into: a) }
            let records = ds.map(OrderRecord.init)
            try records.withUnsafeBufferPointer { try fromRecords.encode($0, into: b) }
            XCTAssertEqual(a.recordCount, n)
            XCTAssertEqual(a.blockCount, b.blockCount, "\(n) decisions")
            XCTAssertEqual(a.length, b.length, "\(n) decisions")
            // Header bytes 16..<32 (first sequence, CRC) are blank until the writer stamps them.
            let blank = SegmentFormat.blockHeaderBytes / 2
            func frames(_ s: SealedBlocks) -> [[UInt8]] {
                var at = 0, out: [[UInt8]] = []
                while at + SegmentFormat.blockHeaderBytes <= s.length {
                    let stored = Int(s.bytes.loadUnaligned(fromByteOffset: at + 8, as: UInt32.self))
                    let end = at + SegmentFormat.blockHeaderBytes + stored
                    out.append(Array(UnsafeRawBufferPointer(start: s.bytes + at, count: blank))
                               + Array(UnsafeRawBufferPointer(start: s.bytes + at + SegmentFormat.blockHeaderBytes, count: stored)))
                    at = end
                }
                XCTAssertEqual(at, s.length, "the blocks fill the buffer")
                return out
            }
            let framesA = frames(a), framesB = frames(b)
            XCTAssertEqual(framesA.count, a.blockCount)
            let differing = zip(framesA, framesB).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            XCTAssertNil(differing, "\(n) decisions: block \(differing ?? -1) differs from the one their records make")
            if n == 5_000 { XCTAssertGreaterThan(a.blockCount, 1, "the large batch spans several blocks") }
        }
    }

    /// Prefaulting (`PipelineOptions.prefaultsMemory`) only makes memory resident: what is already there
    /// stays, on page boundaries and off them.
    func testPrefaultKeepsWhatTheMemoryHolds() {
        let bytes = 5 * 4096 + 123
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { p.deallocate() }
        for i in 0..<bytes { p.storeBytes(of: UInt8(truncatingIfNeeded: i &* 31 &+ 7), toByteOffset: i, as: UInt8.self) }
        flashsale_prefault(p + 1, bytes - 2)
        flashsale_prefault(p + 4000, 200)
        flashsale_prefault(p, 0)
        for i in 0..<bytes where p.load(fromByteOffset: i, as: UInt8.self) != UInt8(truncatingIfNeeded: i &* 31 &+ 7) {
            XCTFail("byte \(i) changed")
            return
        }
        var memory = OrderMemory(expected: 10_000)
        memory.prefault()
        let head = memory.append(head: 0, requestId: 42, offer: 3, state: .accepted, priceFen: 990, holdExpiryMillis: 0)
        XCTAssertEqual(memory.find(head: head, requestId: 42, offer: 3).map { memory[$0].priceFen }, 990)
    }
}
