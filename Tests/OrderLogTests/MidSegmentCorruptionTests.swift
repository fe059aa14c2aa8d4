import Foundation
import XCTest
@testable import OrderLog

/// A bit flip inside the open (unsealed) last segment, with valid blocks after it, is damage, not a
/// torn tail: recovery must refuse rather than cut away records that were acknowledged.
final class MidSegmentCorruptionTests: XCTestCase {
    func testDamageBeforeValidBlocksIsRefusedNotCut() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        var opts = SegmentWriterOptions()
        opts.durability = .sync
        opts.blockBytes = 4096
        do {  // a writer that dies without close(): the segment stays unsealed, like after a crash
            let w = try SegmentWriter(directory: dir, options: opts)
            for i in 0..<20 {
                var rs = orderLikeRecords(500, seed: UInt64(i))
                try w.append(&rs)
                try w.commit()
            }
        }
        let file = dir + "/" + SegmentFormat.fileName(baseSequence: 1)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        let flipped = bytes.count / 3
        bytes[flipped] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let before = bytes.count

        XCTAssertThrowsError(try SegmentWriter(directory: dir, options: opts)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(file + ":"), text)
            XCTAssertTrue(text.contains("valid frame follows"), text)
        }
        let after = try Data(contentsOf: URL(fileURLWithPath: file)).count
        XCTAssertEqual(after, before, "nothing was cut")
        XCTAssertFalse(try SegmentReader(directory: dir).verify().ok)
    }

    func testGarbageTailIsStillCut() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        var opts = SegmentWriterOptions()
        opts.durability = .sync
        do {
            let w = try SegmentWriter(directory: dir, options: opts)
            var rs = orderLikeRecords(1000)
            try w.append(&rs)
            try w.commit()
        }
        let file = dir + "/" + SegmentFormat.fileName(baseSequence: 1)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        h.seekToEndOfFile()
        h.write(Data((0..<777).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
        try h.close()
        let w = try SegmentWriter(directory: dir, options: opts)
        XCTAssertEqual(w.recovery.cutBytes, 777)
        XCTAssertEqual(w.nextSequence, 1001)
        try w.close()
    }
}

/// Sequences never wrap past 2^64 − 1: a block whose first sequence + record count overflows is
/// damaged at its first-sequence field (its records used to be numbered on from 0 and read as sound).
final class SequenceWrapTests: XCTestCase {
    func testABlockWhoseSequencesWrapPast64BitsIsReportedDamaged() throws {
        let dir = makeTempDir()
        defer { removeDir(dir) }
        let base = UInt64.max - 1
        let records = (0..<3).map {
            OrderRecord(campaignTimeMillis: 1000 + Int64($0), requestId: UInt64($0 + 1), organisation: 1, quantity: 1)
        }
        let raw = RecordCodec.encode(records)
        var file = [UInt8](repeating: 0, count: SegmentFormat.fileHeaderBytes + SegmentFormat.blockHeaderBytes + raw.count)
        file.withUnsafeMutableBytes { p in
            SegmentWriter.writeHeader(p.baseAddress!, base: base, created: 0)
            let h = p.baseAddress! + SegmentFormat.fileHeaderBytes
            h.putLE(SegmentFormat.typeRawBlock, at: 0)
            h.putLE(UInt32(raw.count), at: 4)
            h.putLE(UInt32(raw.count), at: 8)
            h.putLE(UInt32(records.count), at: 12)
            h.putLE(base, at: 16)
            h.putLE(UInt32(0), at: 24)
            (h + SegmentFormat.blockHeaderBytes).copyMemory(from: raw, byteCount: raw.count)
            h.putLE(CRC32C.update(CRC32C.update(0, h, 28), h + SegmentFormat.blockHeaderBytes, raw.count), at: 28)
        }
        let path = dir + "/" + SegmentFormat.fileName(baseSequence: base)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(file)))
        var read: [UInt64] = []
        XCTAssertThrowsError(try SegmentReader(directory: dir).forEachRecord { read.append($0.sequence) }) { e in
            guard case SegmentError.badBlock(let f, let offset, let expected) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(f, path)
            XCTAssertEqual(offset, Int64(SegmentFormat.fileHeaderBytes + 16))
            XCTAssertTrue(expected.contains("within 64 bits"), expected)
            XCTAssertTrue((e as! SegmentError).description.hasPrefix("\(path):80: bad block"), "\(e)")
        }
        XCTAssertFalse(read.contains(0), "a sequence wrapped to 0: \(read)")
    }
}
