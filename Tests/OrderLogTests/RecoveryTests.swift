import XCTest
import FlashSaleCore  // SplitMix64
import Foundation
@testable import OrderLog

final class RecoveryTests: XCTestCase {
    /// Writes `blocks` commits of `perBlock` records each (one block per commit) with sync durability.
    /// Returns (records, file offsets where each block starts, file length).
    private func writeBlocks(_ dir: String, blocks: Int, perBlock: Int, seal: Bool,
                             segmentBytes: Int = 64 << 20) throws -> ([OrderRecord], [Int]) {
        var opts = SegmentWriterOptions()
        opts.durability = .sync
        opts.segmentBytes = segmentBytes
        let w = try SegmentWriter(directory: dir, options: opts)
        var all: [OrderRecord] = []
        var starts: [Int] = []
        for b in 0..<blocks {
            starts.append(segmentFiles(dir).last.map(fileSize) ?? 64)
            var rs = orderLikeRecords(perBlock, seed: UInt64(b + 100))
            try w.append(&rs)
            try w.commit()
            all += rs
        }
        if seal { try w.close() }
        return (all, starts)
    }

    /// Cuts the last block at every byte offset (including inside its header): recovery keeps exactly
    /// the complete blocks before it, reports the cut bytes, appending continues with the next sequence.
    func testTruncationAtEveryByteOfLastBlock() throws {
        let master = makeTempDir(); defer { removeDir(master) }
        let perBlock = 60
        let (all, starts) = try writeBlocks(master, blocks: 3, perBlock: perBlock, seal: false)
        let seg = segmentFiles(master)[0]
        let end = fileSize(seg)
        let lastStart = starts[2]
        XCTAssertGreaterThan(end - lastStart, 100)
        let work = master + "-work"; defer { removeDir(work) }
        var opts = SegmentWriterOptions()
        opts.durability = .none
        for cut in lastStart..<end {
            copyDir(master, work)
            truncateFile(work + "/" + (seg as NSString).lastPathComponent, to: cut)
            let w = try SegmentWriter(directory: work, options: opts)
            let kept = UInt64(2 * perBlock)
            XCTAssertEqual(w.recovery.lastSequence, kept, "cut at \(cut)")
            XCTAssertEqual(w.recovery.records, kept)
            XCTAssertEqual(w.recovery.cutBytes, Int64(cut - lastStart), "cut at \(cut)")
            XCTAssertEqual(w.recovery.cutBytes > 0, w.recovery.cutReason != nil)
            // The torn block's header, once whole, still tells how many records were cut.
            let torn = cut - lastStart
            XCTAssertEqual(w.recovery.cutRecords, torn == 0 ? 0 : (torn >= 32 ? UInt64(perBlock) : nil), "cut at \(cut)")
            XCTAssertEqual(w.nextSequence, kept + 1)
            var more = [OrderRecord(campaignTimeMillis: 5, requestId: 77)]
            try w.append(&more)
            XCTAssertEqual(more[0].sequence, kept + 1)
            try w.close()
            let back = try SegmentReader(directory: work).readAll()
            XCTAssertEqual(back.count, Int(kept) + 1, "cut at \(cut)")
            XCTAssertEqual(Array(back.prefix(Int(kept))), Array(all.prefix(Int(kept))))
            XCTAssertEqual(back.last, more[0])
        }
    }

    /// `cutRecords` walks every cut block header that chains on: a bad-CRC block followed by a torn
    /// one counts both; a header whose first sequence does not follow, or garbage, gives nil.
    func testCutRecordsWalksChainedHeadersOnly() throws {
        let master = makeTempDir(); defer { removeDir(master) }
        let perBlock = 40
        let (_, starts) = try writeBlocks(master, blocks: 4, perBlock: perBlock, seal: false)
        let seg = segmentFiles(master)[0]
        let name = (seg as NSString).lastPathComponent
        let end = fileSize(seg)
        XCTAssertEqual(starts.count, 4)
        let work = master + "-work"; defer { removeDir(work) }

        // Block 3's payload damaged (CRC fails), block 4 torn inside its payload: both cut, both counted.
        copyDir(master, work)
        flipBit(work + "/" + name, byte: starts[2] + 40, bit: 3)
        truncateFile(work + "/" + name, to: end - 3)
        var w = try SegmentWriter(directory: work)
        XCTAssertEqual(w.recovery.lastSequence, UInt64(2 * perBlock))
        XCTAssertEqual(w.recovery.cutRecords, UInt64(2 * perBlock))
        try w.close()

        // Block 4 torn, and its header's first sequence does not follow block 3: not counted.
        copyDir(master, work)
        flipBit(work + "/" + name, byte: starts[3] + 16, bit: 0)
        truncateFile(work + "/" + name, to: end - 3)
        w = try SegmentWriter(directory: work)
        XCTAssertEqual(w.recovery.lastSequence, UInt64(3 * perBlock))
        XCTAssertNil(w.recovery.cutRecords)
        try w.close()

        // Garbage after the last valid block (no frame header): cut, count unknown.
        copyDir(master, work)
        let h = FileHandle(forWritingAtPath: work + "/" + name)!
        h.seekToEndOfFile()
        h.write(Data((0..<100).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 13) }))
        try h.close()
        w = try SegmentWriter(directory: work)
        XCTAssertEqual(w.recovery.lastSequence, UInt64(4 * perBlock))
        XCTAssertEqual(w.recovery.cutBytes, 100)
        XCTAssertNil(w.recovery.cutRecords)
        try w.close()
    }

    /// A sealed segment cut inside its end marker recovers every record, unsealed, and continues.
    func testTruncationInsideEndMarker() throws {
        let master = makeTempDir(); defer { removeDir(master) }
        let (all, _) = try writeBlocks(master, blocks: 2, perBlock: 50, seal: true)
        let seg = segmentFiles(master)[0]
        let end = fileSize(seg)
        let work = master + "-work"; defer { removeDir(work) }
        for cut in (end - 32)..<end {
            copyDir(master, work)
            truncateFile(work + "/" + (seg as NSString).lastPathComponent, to: cut)
            XCTAssertEqual(try SegmentReader(directory: work).verify().ok, cut == end - 32, "cut at \(cut)")
            let w = try SegmentWriter(directory: work)
            XCTAssertEqual(w.recovery.lastSequence, 100)
            XCTAssertEqual(w.recovery.cutBytes, Int64(cut - (end - 32)))
            XCTAssertEqual(w.recovery.cutRecords, cut - (end - 32) >= 4 || cut == end - 32 ? 0 : nil, "cut at \(cut)")
            XCTAssertFalse(w.recovery.lastSegmentSealed)
            try w.close()
            XCTAssertEqual(try SegmentReader(directory: work).readAll(), all)
        }
    }

    /// A file cut inside its 64-byte header (crash right after creation) is removed on recovery.
    func testTruncationInsideFileHeader() throws {
        let master = makeTempDir(); defer { removeDir(master) }
        _ = try writeBlocks(master, blocks: 2, perBlock: 50, seal: true, segmentBytes: 1)  // one segment per block
        let segs = segmentFiles(master)
        XCTAssertEqual(segs.count, 2)
        let work = master + "-work"; defer { removeDir(work) }
        for cut in 0..<64 {
            copyDir(master, work)
            truncateFile(work + "/" + (segs[1] as NSString).lastPathComponent, to: cut)
            let w = try SegmentWriter(directory: work)
            XCTAssertEqual(w.recovery.lastSequence, 50)
            XCTAssertEqual(w.recovery.cutBytes, Int64(cut))
            XCTAssertNotNil(w.recovery.removedSegment)
            var rs = orderLikeRecords(5)
            try w.append(&rs)
            try w.close()
            XCTAssertEqual(try SegmentReader(directory: work).readAll().map(\.sequence), Array(1...55))
        }
    }

    // MARK: bit flips

    private struct Region { var name: String; var file: String; var range: Range<Int> }

    /// Regions of every structure in a directory: file headers, block headers, payloads, end markers.
    private func regions(_ dir: String) throws -> [Region] {
        var out: [Region] = []
        for f in segmentFiles(dir) {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: f)))
            out.append(Region(name: "file header", file: f, range: 0..<64))
            var off = 64
            while off < bytes.count {
                let type = bytes.withUnsafeBytes { UnsafeRawPointer($0.baseAddress!).getLE(UInt32.self, at: off) }
                if type == SegmentFormat.typeEndMarker {
                    out.append(Region(name: "end marker", file: f, range: off..<off + 32))
                    off += 32
                    continue
                }
                let stored = bytes.withUnsafeBytes { Int(UnsafeRawPointer($0.baseAddress!).getLE(UInt32.self, at: off + 8)) }
                out.append(Region(name: "block header", file: f, range: off..<off + 32))
                out.append(Region(name: "payload", file: f, range: off + 32..<off + 32 + stored))
                off += 32 + stored
            }
        }
        return out
    }

    func testBitFlipsAreDetectedWithFileAndOffset() throws {
        let master = makeTempDir(); defer { removeDir(master) }
        var opts = SegmentWriterOptions()
        opts.durability = .none
        opts.segmentBytes = 6000
        opts.blockBytes = 2048
        let w = try SegmentWriter(directory: master, options: opts)
        var all = orderLikeRecords(2000)
        try w.append(&all)
        try w.commit()
        // Last segment stays unsealed (crash-like), earlier ones are sealed.
        let segs = segmentFiles(master)
        XCTAssertGreaterThanOrEqual(segs.count, 3)
        XCTAssertTrue(try SegmentReader(directory: master).verify().ok)
        let regs = try regions(master)
        let work = master + "-work"; defer { removeDir(work) }
        var g = SplitMix64(seed: 5)
        var checked: [String: Int] = [:]
        for trial in 0..<400 {
            let reg = regs[Int(g.next() % UInt64(regs.count))]
            let byte = reg.range.lowerBound + Int(g.next() % UInt64(reg.range.count))
            let bit = Int(g.next() % 8)
            copyDir(master, work)
            let name = (reg.file as NSString).lastPathComponent
            let file = work + "/" + name
            flipBit(file, byte: byte, bit: bit)
            let ctx = "trial \(trial): \(reg.name) of \(name) byte \(byte) bit \(bit)"
            let reader = try SegmentReader(directory: work)
            let report = reader.verify()
            guard let p = report.problems.first else { XCTFail("undetected: \(ctx)"); continue }
            XCTAssertEqual(p.file, file, ctx)
            // The reported offset lies in the damaged structure (or at its start).
            let structure = reg.name == "payload" ? (reg.range.lowerBound - 32)..<reg.range.upperBound : reg.range
            XCTAssertTrue(structure.contains(Int(p.offset)), "\(ctx): reported \(p)")
            XCTAssertThrowsError(try reader.forEachRecord { _ in }, ctx) { XCTAssertTrue($0 is SegmentError) }
            checked[reg.name, default: 0] += 1
            // Recovery: a corrupt tail of the last segment is cut; an earlier sealed segment is an error.
            let isLast = name == (segs.last! as NSString).lastPathComponent
            var ropts = SegmentWriterOptions()
            ropts.recoveryVerifiesAllSegments = true
            if !isLast {
                XCTAssertThrowsError(try SegmentWriter(directory: work, options: ropts), ctx)
            } else if reg.name == "file header" {
                XCTAssertThrowsError(try SegmentWriter(directory: work, options: ropts), ctx)
            } else {
                let w2 = try SegmentWriter(directory: work, options: ropts)
                XCTAssertGreaterThan(w2.recovery.cutBytes, 0, ctx)
                let kept = w2.recovery.lastSequence
                try w2.close()
                let back = try SegmentReader(directory: work).readAll()
                XCTAssertEqual(UInt64(back.count), kept, ctx)
                XCTAssertEqual(back, Array(all.prefix(back.count)), ctx)
            }
        }
        for name in ["file header", "block header", "payload", "end marker"] {
            XCTAssertGreaterThan(checked[name, default: 0], 0, "no flip landed in a \(name)")
        }
    }

    /// Without full verification on open, a flipped payload byte of a sealed earlier segment is
    /// still found by the reader and by verify (never skipped), and the structural checks of the
    /// writer catch header / end marker damage.
    func testCorruptionInEarlierSealedSegmentIsReported() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        var opts = SegmentWriterOptions()
        opts.segmentBytes = 4000
        opts.blockBytes = 1024
        let w = try SegmentWriter(directory: dir, options: opts)
        var rs = orderLikeRecords(3000)
        try w.append(&rs)
        try w.close()
        let segs = segmentFiles(dir)
        XCTAssertGreaterThan(segs.count, 2)
        flipBit(segs[1], byte: 64 + 40, bit: 3)
        let v = try SegmentReader(directory: dir).verify()
        XCTAssertEqual(v.problems.count, 1)
        XCTAssertEqual(v.problems.first?.file, segs[1])
        XCTAssertEqual(v.segments.count, segs.count, "verify goes on with the other segments")
        XCTAssertThrowsError(try SegmentReader(directory: dir).forEachRecord { _ in })
        var full = SegmentWriterOptions()
        full.recoveryVerifiesAllSegments = true
        XCTAssertThrowsError(try SegmentWriter(directory: dir, options: full))
        flipBit(segs[1], byte: fileSize(segs[1]) - 10, bit: 0)  // end marker
        XCTAssertThrowsError(try SegmentWriter(directory: dir)) { e in
            XCTAssertEqual((e as? SegmentError)?.file, segs[1])
        }
    }

    func testGarbageFilesNeverCrash() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        var g = SplitMix64(seed: 11)
        for trial in 0..<300 {
            let n = Int(g.next() % 400)
            var bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: g.next()) }
            if trial % 2 == 0 && n >= 64 {
                // A valid header followed by garbage.
                bytes.withUnsafeMutableBytes { SegmentWriter.writeHeader($0.baseAddress!, base: 1, created: 0) }
            }
            let path = dir + "/" + SegmentFormat.fileName(baseSequence: 1)
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            let v = try SegmentReader(directory: dir).verify()
            if n > 64 { XCTAssertFalse(v.ok, "trial \(trial)") }
            _ = try? SegmentReader(directory: dir).forEachRecord { _ in }
            if let w = try? SegmentWriter(directory: dir) { try? w.close() }
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    func testEmptyAndMissingDirectory() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        XCTAssertEqual(try SegmentReader(directory: dir).verify().segments.count, 0)
        XCTAssertThrowsError(try SegmentReader(directory: dir + "/missing"))
        let w = try SegmentWriter(directory: dir + "/new/deeper")
        XCTAssertEqual(w.nextSequence, 1)
        try w.close()
        XCTAssertEqual(segmentFiles(dir + "/new/deeper").count, 0, "no empty segment is created")
    }
}

extension Int { var int64: Int64 { Int64(self) } }
