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
