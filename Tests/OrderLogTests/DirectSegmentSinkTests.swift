import XCTest
import Foundation
import FlashSaleCore  // SplitMix64
@testable import OrderLog

/// Direct I/O segments (`DirectSegmentSink`): the same bytes as the buffered sink, whatever the
/// sizes of the writes; a crash image (the file as the kernel has it while the writer is open, its
/// last page padded with zeros) recovers every synced record and is continued; padding is never
/// mistaken for data, nor data for padding.
final class DirectSegmentSinkTests: XCTestCase {
    /// A direct sink in `dir`, or a skip where its file system has no direct I/O (the factory then
    /// writes buffered, which the other tests cover).
    private func directSink(_ path: String) throws -> DirectSegmentSink {
        do { return try DirectSegmentSink(path: path, bufferBytes: 64 << 10) } catch let SegmentError.io(_, _, _, errno) where errno == EINVAL {
            throw XCTSkip("\(path): the file system refuses O_DIRECT")
        }
    }

    private func contents(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

    func testWritesOfAnySizeMakeTheSameFileAsTheBufferedSink() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        let direct = try directSink(dir + "/direct.seg")
        let buffered = try PosixSegmentSink(path: dir + "/buffered.seg")
        var g = SplitMix64(seed: 9)
        var expected: [UInt8] = []
        for step in 0..<300 {
            // Sizes around the page and the buffer (64 KiB + a page here): 1 byte to 200 KiB.
            let sizes = [1, 7, 4095, 4096, 4097, 65_536, 69_632, 200_000]
            let n = g.next() % 3 == 0 ? sizes[Int(g.next() % UInt64(sizes.count))] : Int(g.next() % 20_000) + 1
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: g.next() | 1) }  // never 0: padding shows
            try bytes.withUnsafeBytes { try direct.write($0); try buffered.write($0) }
            expected += bytes
            XCTAssertEqual(direct.position, Int64(expected.count))
            if step % 17 == 0 { try direct.fsync() }
            if step % 50 == 0 {
                // While open: the file holds every byte written, then zeros to the page boundary.
                let now = contents(dir + "/direct.seg")
                XCTAssertEqual(now.count % DirectSegmentSink.pageBytes, 0, "step \(step): direct writes whole pages")
                XCTAssertEqual(Array(now.prefix(expected.count)), expected, "step \(step)")
                XCTAssertTrue(now.dropFirst(expected.count).allSatisfy { $0 == 0 }, "step \(step): padding is zeros")
                XCTAssertLessThan(now.count - expected.count, DirectSegmentSink.pageBytes)
            }
        }
        try direct.close()
        try buffered.close()
        XCTAssertEqual(contents(dir + "/direct.seg"), expected, "closed: exactly the bytes, padding cut")
        XCTAssertEqual(contents(dir + "/buffered.seg"), expected)
    }

    func testTruncateThenWriteRewritesTheTailPage() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        let path = dir + "/t.seg"
        let s = try directSink(path)
        let first = [UInt8](repeating: 0xA5, count: 10_000)
        try first.withUnsafeBytes { try s.write($0) }
        try s.truncate(to: 5_000)
        XCTAssertEqual(s.position, 5_000)
        let second = [UInt8](repeating: 0x3C, count: 6_000)
        try second.withUnsafeBytes { try s.write($0) }
        try s.close()
        XCTAssertEqual(contents(path), Array(first.prefix(5_000)) + second)
        // Reopened (a closed file of unaligned length), it continues after its last byte.
        let again = try directSink(path)
        XCTAssertEqual(again.position, 11_000)
        try [UInt8](repeating: 0x11, count: 100).withUnsafeBytes { try again.write($0) }
        try again.close()
        XCTAssertEqual(contents(path), Array(first.prefix(5_000)) + second + [UInt8](repeating: 0x11, count: 100))
    }

    /// Crash images: the directory copied while a writer is open, after `syncNow`. A direct writer's
    /// image ends in padding; recovery (by a buffered writer and by a direct one) keeps every record,
    /// reports no cut (zeros are padding, not a torn block), and continues the unsealed segment, also
    /// from a buffered writer's image of unaligned length. Closed, the segment is exactly sized.
    func testCrashImagesRecoverEverySyncedRecordAndReportNoCut() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        _ = try directSink(dir + "/probe.seg"); try? FileManager.default.removeItem(atPath: dir + "/probe.seg")
        var options = SegmentWriterOptions()
        options.durability = .batch
        options.blockBytes = 8 << 10
        var all = orderLikeRecords(3_400, seed: 3)
        /// Opens `from` with `sinks`, checks what recovery found, appends records up to `upTo`, syncs,
        /// copies the open directory to `image`, then closes (sealing the copy's original).
        func continueRun(_ from: String, sinks: SegmentSinkFactory, recovered: Int, upTo: Int, image: String) throws {
            let w = try SegmentWriter(directory: from, options: options, sink: sinks)
            XCTAssertEqual(w.recovery.lastSequence, UInt64(recovered), from)
            XCTAssertEqual(w.recovery.cutBytes, 0, "\(from): padding is not a cut")
            XCTAssertNil(w.recovery.cutReason, from)
            var more = Array(all[recovered..<upTo])
            try w.append(&more)
            try w.syncNow()
            copyDir(from, image)
            try w.close()
        }
        try continueRun(dir + "/a", sinks: .direct, recovered: 0, upTo: 3_333, image: dir + "/b")
        XCTAssertEqual(fileSize(segmentFiles(dir + "/b")[0]) % DirectSegmentSink.pageBytes, 0, "a direct image ends in padding")
        // Readers take the padded image as they take a buffered writer's unsealed one: every record, no problem.
        let before = try SegmentReader(directory: dir + "/b").verify()
        XCTAssertTrue(before.ok, "\(before.problems)")
        XCTAssertEqual(try SegmentReader(directory: dir + "/b").readAll().count, 3_333)
        try continueRun(dir + "/b", sinks: .posix, recovered: 3_333, upTo: 3_343, image: dir + "/c")
        XCTAssertNotEqual(fileSize(segmentFiles(dir + "/c")[0]) % DirectSegmentSink.pageBytes, 0, "a buffered image is not padded")
        try continueRun(dir + "/c", sinks: .direct, recovered: 3_343, upTo: 3_353, image: dir + "/d")
        try continueRun(dir + "/d", sinks: .direct, recovered: 3_353, upTo: 3_400, image: dir + "/e")
        let final = dir + "/d"  // closed by its last writer: sealed
        let read = try SegmentReader(directory: final).readAll()
        XCTAssertEqual(read.count, all.count)
        for i in 0..<min(read.count, all.count) {
            all[i].sequence = UInt64(i + 1)
            XCTAssertEqual(read[i], all[i], "record \(i)")
        }
        let report = try SegmentReader(directory: final).verify()
        XCTAssertTrue(report.ok, "\(report.problems)")
        XCTAssertEqual(segmentFiles(final).count, 1, "every writer continued the one unsealed segment")
    }

    /// Padding is only zeros: a tail with one non-zero byte where padding would be is a torn tail, and
    /// recovery says so (bytes cut, with the reason).
    func testANonZeroByteInThePaddingIsReportedAsACut() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        _ = try directSink(dir + "/probe.seg"); try? FileManager.default.removeItem(atPath: dir + "/probe.seg")
        var options = SegmentWriterOptions()
        options.durability = .batch
        let live = dir + "/live", image = dir + "/image"
        let w = try SegmentWriter(directory: live, options: options, sink: .direct)
        var rs = orderLikeRecords(777, seed: 5)
        try w.append(&rs)
        try w.syncNow()
        copyDir(live, image)
        try w.close()
        let file = segmentFiles(image)[0]
        let size = fileSize(file)
        flipBit(file, byte: size - 1, bit: 0)
        let r = try SegmentWriter(directory: image, options: options, sink: .direct)
        XCTAssertEqual(r.recovery.lastSequence, 777)
        XCTAssertGreaterThan(r.recovery.cutBytes, 0)
        XCTAssertNotNil(r.recovery.cutReason)
        try r.close()
        XCTAssertEqual(try SegmentReader(directory: image).readAll().count, 777)
    }

    func testPaddingIsFewerThanAPageOfZerosThatEndOnAPageBoundary() {
        let zeros = [UInt8](repeating: 0, count: 3), one: [UInt8] = [0, 1, 0]
        XCTAssertTrue(DirectSegmentSink.isPadding(zeros, count: 3, fileLength: 8192))
        XCTAssertFalse(DirectSegmentSink.isPadding(one, count: 3, fileLength: 8192))
        XCTAssertFalse(DirectSegmentSink.isPadding(zeros, count: 3, fileLength: 8190))
        XCTAssertFalse(DirectSegmentSink.isPadding(zeros, count: 0, fileLength: 8192))
        let page = [UInt8](repeating: 0, count: DirectSegmentSink.pageBytes)
        XCTAssertFalse(DirectSegmentSink.isPadding(page, count: page.count, fileLength: 8192), "a whole page of zeros is more than padding")
    }
}
