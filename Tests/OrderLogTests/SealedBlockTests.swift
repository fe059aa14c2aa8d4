import Foundation
import XCTest
@testable import OrderLog

/// Blocks a lane compresses itself (`BlockEncoder`, `SegmentWriter.append(sealed:)`) are the writer's own
/// blocks: the same records, numbered in append order, every byte verified, across segment rolls and
/// a restart. A lane's block must never be told apart from the journal's on disk.
final class SealedBlockTests: XCTestCase {
    private func options(segmentBytes: Int = 64 << 20, blockBytes: Int = 64 << 10) -> SegmentWriterOptions {
        var o = SegmentWriterOptions()
        o.durability = .batch
        o.segmentBytes = segmentBytes
        o.blockBytes = blockBytes
        return o
    }

    /// Strips what the writer assigns (the sequence), for comparing records written two ways.
    private func content(_ rs: [OrderRecord]) -> [OrderRecord] {
        rs.map { var r = $0; r.sequence = 0; return r }
    }

    func testSealedBlocksReadBackAsTheWritersOwnBlocksInAppendOrder() throws {
        let own = makeTempDir("own"), sealed = makeTempDir("sealed")
        defer { removeDir(own); removeDir(sealed) }
        // Batches of varied sizes, some spanning several blocks (4 KiB blocks), interleaved with records
        // the writer encodes itself: numbering must follow append order across both paths.
        let batches = (0..<40).map { i in orderLikeRecords([1, 7, 300, 2_000, 65][i % 5], seed: UInt64(i)) }
        let opts = options(blockBytes: 4 << 10)
        let a = try SegmentWriter(directory: own, options: opts)
        let b = try SegmentWriter(directory: sealed, options: opts)
        let encoder = BlockEncoder(options: opts)
        let blocks = SealedBlocks(capacity: 1)  // grows as it must
        var expectedLast: UInt64 = 0
        for (i, batch) in batches.enumerated() {
            var x = batch
            try a.append(&x)
            if i % 3 == 2 {
                var y = batch
                try b.append(&y)  // the writer's own path in between
                expectedLast += UInt64(batch.count)
            } else {
                blocks.removeAll()
                try batch.withUnsafeBufferPointer { try encoder.encode($0, into: blocks) }
                XCTAssertEqual(blocks.recordCount, batch.count)
                expectedLast += UInt64(batch.count)
                XCTAssertEqual(try b.append(sealed: blocks), expectedLast, "batch \(i): the last sequence given")
            }
            if i % 4 == 0 { _ = try a.commit(); _ = try b.commit() }
        }
        try a.close()
        try b.close()
        let fromOwn = try SegmentReader(directory: own).readAll()
        let fromSealed = try SegmentReader(directory: sealed).readAll()
        XCTAssertEqual(fromSealed.map(\.sequence), Array(1...expectedLast), "numbered densely, in append order")
        XCTAssertEqual(content(fromSealed), content(fromOwn), "the same records as the writer's own path")
        XCTAssertEqual(content(fromSealed), content(batches.flatMap { $0 }))
        let report = try SegmentReader(directory: sealed).verify()
        XCTAssertTrue(report.ok, "\(report.problems)")
        XCTAssertGreaterThan(report.segments.reduce(0) { $0 + $1.blocks }, batches.count, "large batches span several blocks")
    }

    func testSealedBlocksRollSegmentsAndARestartContinuesTheNumbering() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        let opts = options(segmentBytes: 16 << 10, blockBytes: 2 << 10)
        let encoder = BlockEncoder(options: opts)
        let blocks = SealedBlocks()
        var all: [OrderRecord] = []
        do {
            let w = try SegmentWriter(directory: dir, options: opts)
            for i in 0..<30 {
                let batch = orderLikeRecords(500, seed: UInt64(100 + i))
                all += batch
                blocks.removeAll()
                try batch.withUnsafeBufferPointer { try encoder.encode($0, into: blocks) }
                try w.append(sealed: blocks)
                _ = try w.commit()
            }
            _ = try w.syncNow()
            // No close: the process "dies" with the last segment open; recovery must accept it.
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".seg") }
        XCTAssertGreaterThan(files.count, 3, "the segments rolled in the middle of sealed batches")
        let w = try SegmentWriter(directory: dir, options: opts)
        XCTAssertEqual(w.nextSequence, 15_001, "a restart continues after the last sealed block")
        let batch = orderLikeRecords(10, seed: 7)
        all += batch
        blocks.removeAll()
        try batch.withUnsafeBufferPointer { try encoder.encode($0, into: blocks) }
        XCTAssertEqual(try w.append(sealed: blocks), 15_010)
        try w.close()
        let back = try SegmentReader(directory: dir).readAll()
        XCTAssertEqual(back.map(\.sequence), Array(1...15_010))
        XCTAssertEqual(content(back), content(all))
        XCTAssertTrue(try SegmentReader(directory: dir).verify().ok)
    }

    func testAnEncoderRefusesWhatTheJournalRefusesAndLeavesItsBlocksAsTheyWere() throws {
        let opts = options()
        let encoder = BlockEncoder(options: opts)
        let blocks = SealedBlocks()
        let good = orderLikeRecords(20, seed: 1)
        try good.withUnsafeBufferPointer { try encoder.encode($0, into: blocks) }
        let before = (blocks.length, blocks.blockCount, blocks.recordCount)
        var bad = orderLikeRecords(20, seed: 2)
        bad[13].pieceCount = 5
        XCTAssertThrowsError(try bad.withUnsafeBufferPointer { try encoder.encode($0, into: blocks) }) {
            XCTAssertTrue("\($0)".contains("pieceCount 5"), "\($0)")
        }
        XCTAssertEqual(before.0, blocks.length)
        XCTAssertEqual(before.1, blocks.blockCount)
        XCTAssertEqual(before.2, blocks.recordCount)
        // What was encoded before is still whole.
        let dir = makeTempDir(); defer { removeDir(dir) }
        let w = try SegmentWriter(directory: dir, options: opts)
        try w.append(sealed: blocks)
        try w.close()
        XCTAssertEqual(content(try SegmentReader(directory: dir).readAll()), content(good))
    }
}
