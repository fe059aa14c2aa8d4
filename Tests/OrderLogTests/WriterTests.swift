import XCTest
import FlashSaleCore  // SplitMix64
import Foundation
@testable import OrderLog

final class WriterTests: XCTestCase {
    /// The acceleration option reaches LZ4: the same records at acceleration 64 take more bytes than at
    /// 1 (it finds fewer matches), and both read back identically.
    func testAccelerationChangesCompressionAndStaysReadable() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        let records = orderLikeRecords(50_000, seed: 3)
        var sizes: [UInt64] = []
        for acceleration: Int32 in [1, 64] {
            var opts = SegmentWriterOptions()
            opts.durability = .none
            opts.acceleration = acceleration
            let w = try SegmentWriter(directory: dir + "/a\(acceleration)", options: opts)
            var rs = records
            try w.append(&rs)
            try w.close()
            sizes.append(w.stats.compressedBytes)
            let back = try SegmentReader(directory: dir + "/a\(acceleration)").readAll()
            XCTAssertEqual(back.count, records.count)
            XCTAssertEqual(back, rs)
        }
        XCTAssertLessThan(sizes[0], sizes[1], "acceleration 64 should compress less than 1")
    }

    /// ≥ 1,000,000 records across many rolled segments read back equal, sequences consecutive.
    func testMillionRecordsRoundTripAcrossRolledSegments() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        let n = 1_000_000
        var records = orderLikeRecords(n, seed: 1)
        // Mix in extreme records so that every field shape crosses block and segment boundaries.
        var g = SplitMix64(seed: 2)
        for k in stride(from: 0, to: n, by: 97) { records[k] = randomRecord(&g) }
        var opts = SegmentWriterOptions()
        opts.segmentBytes = 1 << 20
        opts.blockBytes = 16 << 10
        opts.durability = .none
        let w = try SegmentWriter(directory: dir, options: opts)
        try records.withUnsafeMutableBufferPointer { buf in
            var at = 0
            while at < buf.count {
                let len = min(4096, buf.count - at)
                try w.append(UnsafeMutableBufferPointer(rebasing: buf[at..<at + len]))
                try w.commit()
                at += len
            }
        }
        XCTAssertEqual(w.nextSequence, UInt64(n + 1))
        try w.close()
        XCTAssertGreaterThan(segmentFiles(dir).count, 5, "small segmentBytes must roll")
        XCTAssertEqual(w.stats.records, UInt64(n))
        let reader = try SegmentReader(directory: dir)
        var k = 0
        var mismatches = 0
        try reader.forEachRecord { r in
            if k < n {
                if r != records[k] || r.sequence != UInt64(k + 1) { mismatches += 1 }
            }
            k += 1
        }
        XCTAssertEqual(k, n)
        XCTAssertEqual(mismatches, 0)
        let v = reader.verify()
        XCTAssertTrue(v.ok, "\(v.problems)")
        XCTAssertTrue(v.segments.allSatisfy { $0.sealed })
        let st = try reader.stats()
        XCTAssertEqual(st.records, UInt64(n))
        XCTAssertEqual(st.segments, v.segments.count)
        XCTAssertEqual(st.outcomeCounts.reduce(0, +), UInt64(n))
        XCTAssertEqual(st.lastSequence, UInt64(n))
    }

    func testSequencesContinueAcrossReopen() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        var opts = SegmentWriterOptions()
        opts.durability = .sync
        var all: [OrderRecord] = []
        for round in 0..<3 {
            let w = try SegmentWriter(directory: dir, options: opts)
            XCTAssertEqual(w.nextSequence, UInt64(round * 1000 + 1))
            XCTAssertEqual(w.durableWatermark, UInt64(round * 1000))
            XCTAssertEqual(w.recovery.cutBytes, 0)
            var rs = orderLikeRecords(1000, seed: UInt64(round))
            try w.append(&rs)
            XCTAssertEqual(try w.commit(), UInt64(round * 1000 + 1000))
            all += rs
            if round < 2 { try w.close() } // last round: no close, unsealed tail
        }
        XCTAssertEqual(segmentFiles(dir).count, 3)
        let back = try SegmentReader(directory: dir).readAll()
        XCTAssertEqual(back, all)
        let w = try SegmentWriter(directory: dir, options: opts)
        XCTAssertFalse(w.recovery.lastSegmentSealed)
        XCTAssertEqual(w.recovery.lastSequence, 3000)
        XCTAssertEqual(w.nextSequence, 3001)
    }

    func testSecondWriterOnSameDirectoryIsRefused() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        let w = try SegmentWriter(directory: dir)
        XCTAssertThrowsError(try SegmentWriter(directory: dir)) { e in
            XCTAssertEqual(e as? SegmentWriterError, .directoryLocked(dir))
        }
        try w.close()
    }

    func testInvalidPieceCountIsRefused() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        let w = try SegmentWriter(directory: dir)
        var rs = [OrderRecord(requestId: 1), OrderRecord(requestId: 2, pieceCount: 5)]
        XCTAssertThrowsError(try w.append(&rs))
        XCTAssertEqual(w.nextSequence, 2)
        try w.close()
        XCTAssertEqual(try SegmentReader(directory: dir).readAll().count, 1)
    }

    func testAgeRoll() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        var opts = SegmentWriterOptions()
        opts.segmentMaxAgeSeconds = 0.05
        opts.durability = .none  // every commit writes (batch keeps records in the open block until its fsync is due)
        let w = try SegmentWriter(directory: dir, options: opts)
        for i in 0..<3 {
            var rs = orderLikeRecords(10, seed: UInt64(i))
            try w.append(&rs)
            try w.commit()
            usleep(80_000)
            try w.commit()
        }
        try w.close()
        XCTAssertEqual(segmentFiles(dir).count, 3)
        XCTAssertTrue(try SegmentReader(directory: dir).verify().ok)
        XCTAssertEqual(try SegmentReader(directory: dir).readAll().map(\.sequence), Array(1...30))
    }

    // MARK: durability

    func testSyncWatermarkEqualsLastAppendedAfterCommit() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        let sinks = FaultySinks()
        var opts = SegmentWriterOptions()
        opts.durability = .sync
        let w = try SegmentWriter(directory: dir, options: opts, sink: sinks.factory)
        for i in 0..<20 {
            var rs = orderLikeRecords(1 + i * 7, seed: UInt64(i))
            try w.append(&rs)
            let wm = try w.commit()
            XCTAssertEqual(wm, rs.last!.sequence)
            XCTAssertEqual(w.durableWatermark, rs.last!.sequence)
            XCTAssertEqual(sinks.fsyncs, i + 1, "sync: one fsync per commit")
        }
        try w.close()
    }

    func testBatchWatermarkNeverPassesFsync() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        let sinks = FaultySinks()
        var opts = SegmentWriterOptions()
        opts.durability = .batch
        opts.groupCommitMillis = 60_000 // never by time
        opts.groupCommitBytes = 64 << 10
        let w = try SegmentWriter(directory: dir, options: opts, sink: sinks.factory)
        var lastFsyncs = 0
        var syncedUpTo: UInt64 = 0
        for i in 0..<200 {
            var rs = orderLikeRecords(100, seed: UInt64(i))
            try w.append(&rs)
            let wm = try w.commit()
            if sinks.fsyncs > lastFsyncs {
                lastFsyncs = sinks.fsyncs
                syncedUpTo = rs.last!.sequence
            }
            XCTAssertEqual(wm, syncedUpTo, "watermark is exactly what the last fsync covered")
        }
        XCTAssertGreaterThan(sinks.fsyncs, 0, "groupCommitBytes forces fsyncs")
        XCTAssertLessThan(sinks.fsyncs, 200, "batch groups commits")
        XCTAssertLessThan(w.durableWatermark, 20_000)
        XCTAssertEqual(try w.syncNow(), 20_000)
        XCTAssertEqual(w.durableWatermark, 20_000)
        XCTAssertEqual(sinks.fsyncs, lastFsyncs + 1)
        XCTAssertEqual(w.stats.fsyncs, UInt64(sinks.fsyncs))
        try w.close()
    }

    func testBatchFsyncsByTime() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        var opts = SegmentWriterOptions()
        opts.durability = .batch
        opts.groupCommitMillis = 20
        opts.groupCommitBytes = 1 << 30
        let w = try SegmentWriter(directory: dir, options: opts)
        var rs = orderLikeRecords(10)
        try w.append(&rs)
        _ = try w.commit()
        usleep(30_000)
        var more = orderLikeRecords(10, seed: 3)
        try w.append(&more)
        XCTAssertEqual(try w.commit(), 20, "after groupCommitMillis the next commit fsyncs")
        try w.close()
    }

    func testNoneWatermarkIsWrittenToOS() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        let sinks = FaultySinks()
        var opts = SegmentWriterOptions()
        opts.durability = .none
        let w = try SegmentWriter(directory: dir, options: opts, sink: sinks.factory)
        var rs = orderLikeRecords(1234)
        try w.append(&rs)
        XCTAssertEqual(try w.commit(), 1234)
        XCTAssertEqual(sinks.fsyncs, 0)
        try w.close()
        XCTAssertEqual(sinks.fsyncs, 1, "close seals and fsyncs")
    }

    // MARK: failures

    func testWriteFailureENOSPCEntersFailedState() throws {
        for limit in [100, 5_000, 70_000, 300_000] {
            let dir = makeTempDir(); defer { removeDir(dir) }
            let sinks = FaultySinks(failAfterBytes: limit)
            var opts = SegmentWriterOptions()
            opts.durability = .sync
            opts.blockBytes = 4096
            opts.segmentBytes = 64 << 10
            let w = try SegmentWriter(directory: dir, options: opts, sink: sinks.factory)
            var acknowledged: UInt64 = 0
            var failure: (any Error)?
            var all: [OrderRecord] = []
            for i in 0..<1000 {
                var rs = orderLikeRecords(200, seed: UInt64(i))
                do {
                    try w.append(&rs)
                    all += rs
                    acknowledged = try w.commit()
                } catch {
                    failure = error
                    break
                }
            }
            guard let failure else { return XCTFail("limit \(limit): never failed") }
            guard case .io(_, _, "write", ENOSPC)? = failure as? SegmentError else { return XCTFail("\(failure)") }
            XCTAssertTrue("\(failure)".contains("No space left"), "\(failure)")
            // Failed state: later calls throw the original error; the watermark stays.
            var more = orderLikeRecords(10)
            XCTAssertThrowsError(try w.append(&more)) { XCTAssertEqual($0 as? SegmentError, failure as? SegmentError) }
            XCTAssertThrowsError(try w.commit()) { XCTAssertEqual($0 as? SegmentError, failure as? SegmentError) }
            XCTAssertThrowsError(try w.syncNow())
            XCTAssertEqual(w.durableWatermark, acknowledged)
            XCTAssertThrowsError(try w.close())
            XCTAssertEqual(w.durableWatermark, acknowledged)
            // Reopen with the POSIX sink: everything acknowledged is there.
            let w2 = try SegmentWriter(directory: dir, options: opts)
            XCTAssertGreaterThanOrEqual(w2.recovery.lastSequence, acknowledged)
            try w2.close()
            let back = try SegmentReader(directory: dir).readAll()
            XCTAssertGreaterThanOrEqual(UInt64(back.count), acknowledged, "limit \(limit)")
            XCTAssertEqual(Array(back.prefix(Int(acknowledged))), Array(all.prefix(Int(acknowledged))))
        }
    }

    func testFsyncFailureEntersFailedState() throws {
        for k in [1, 2, 5] {
            let dir = makeTempDir(); defer { removeDir(dir) }
            let sinks = FaultySinks(failOnFsync: k)
            var opts = SegmentWriterOptions()
            opts.durability = .sync
            let w = try SegmentWriter(directory: dir, options: opts, sink: sinks.factory)
            var acknowledged: UInt64 = 0
            var all: [OrderRecord] = []
            var failed = false
            for i in 0..<10 {
                var rs = orderLikeRecords(100, seed: UInt64(i))
                do {
                    try w.append(&rs)
                    all += rs
                    acknowledged = try w.commit()
                } catch {
                    guard case .io(_, _, "fsync", EIO)? = error as? SegmentError else { return XCTFail("\(error)") }
                    failed = true
                    break
                }
            }
            XCTAssertTrue(failed)
            XCTAssertEqual(acknowledged, UInt64((k - 1) * 100), "watermark stops at the last successful fsync")
            XCTAssertEqual(w.durableWatermark, acknowledged)
            XCTAssertThrowsError(try w.commit())
            XCTAssertThrowsError(try w.syncNow())
            XCTAssertEqual(w.durableWatermark, acknowledged)
            XCTAssertThrowsError(try w.close())
            let back = try SegmentReader(directory: dir).readAll()
            XCTAssertEqual(Array(back.prefix(Int(acknowledged))), Array(all.prefix(Int(acknowledged))))
        }
    }
}
