import Foundation
import Synchronization
import XCTest
@testable import OrderLog

/// Group commit with the fsync on a background queue (`backgroundSync`): the appending thread runs
/// ahead of a slow disk, but the watermark still never passes what an fsync covered.
final class BackgroundSyncTests: XCTestCase {
    private func options() -> SegmentWriterOptions {
        var opts = SegmentWriterOptions()
        opts.durability = .batch
        opts.backgroundSync = true
        opts.groupCommitMillis = 0  // every commit wants an fsync: the in-flight one decides
        return opts
    }

    func testWatermarkNeverPassesWhatABackgroundFsyncCovered() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        let sinks = FaultySinks()
        sinks.state.withLock { $0.fsyncDelayMicros = 3_000 }
        let w = try SegmentWriter(directory: dir, options: options(), sink: sinks.factory)
        final class Highest: Sendable { let value = Mutex<UInt64>(0) }
        let notified = Highest()
        w.onDurable = { seq in notified.value.withLock { $0 = max($0, seq) } }
        var commits: [(bytes: Int64, lastSequence: UInt64)] = []
        let file = dir + "/" + SegmentFormat.fileName(baseSequence: 1)
        for i in 0..<300 {
            var rs = orderLikeRecords(200, seed: UInt64(i))
            try w.append(&rs)
            let wm = try w.commit()
            let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0
            commits.append((size, rs.last!.sequence))
            // Watermark first, then what the disk holds: the fsync records its bytes before it publishes.
            let durableBytes = sinks.state.withLock { $0.syncedBytes[file] ?? 0 }
            let allowed = commits.last { $0.bytes <= durableBytes }?.lastSequence ?? 0
            XCTAssertLessThanOrEqual(wm, allowed, "commit \(i): watermark \(wm) passed the fsynced bytes (\(durableBytes))")
        }
        XCTAssertLessThan(w.durableWatermark, 60_000, "a 3 ms fsync cannot keep up: the writer ran ahead")
        XCTAssertGreaterThan(sinks.fsyncs, 0)
        XCTAssertEqual(try w.syncNow(), 60_000, "syncNow waits for the disk and covers everything")
        XCTAssertEqual(w.durableWatermark, 60_000)
        XCTAssertGreaterThan(notified.value.withLock { $0 }, 0, "onDurable reports background progress")
        XCTAssertEqual(w.stats.fsyncs, UInt64(sinks.fsyncs))
        try w.close()
        XCTAssertEqual(try SegmentReader(directory: dir).readAll().count, 60_000)
    }

    /// Continuous group commit: with a group-commit period far longer than the test, a commit starts its
    /// fsync at once when none is running (no timer wait), a commit during an fsync waits for it, and the
    /// watermark still never passes what an fsync covered.
    func testContinuousGroupCommitStartsTheFsyncAtOnceAndNeverRunsAhead() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        let sinks = FaultySinks()
        sinks.state.withLock { $0.fsyncDelayMicros = 20_000 }
        var opts = options()
        opts.groupCommitMillis = 60_000
        opts.continuousGroupCommit = true
        let w = try SegmentWriter(directory: dir, options: opts, sink: sinks.factory)
        final class Highest: Sendable { let value = Mutex<UInt64>(0) }
        let notified = Highest()
        w.onDurable = { seq in notified.value.withLock { $0 = max($0, seq) } }
        var rs = orderLikeRecords(10, seed: 1)
        try w.append(&rs)
        XCTAssertEqual(try w.commit(), 0, "not durable before its fsync returns")
        var more = orderLikeRecords(10, seed: 2)
        try w.append(&more)
        XCTAssertEqual(try w.commit(), 0, "an fsync is in flight: the second commit waits for it")
        let deadline = Date().addingTimeInterval(2)
        while notified.value.withLock({ $0 }) < 10 && Date() < deadline { usleep(1_000) }
        XCTAssertEqual(notified.value.withLock { $0 }, 10, "the first fsync started at once, without the 60 s period")
        XCTAssertEqual(sinks.fsyncs, 1)
        // The caller commits again when that fsync returns: the next one starts at once and covers the rest.
        _ = try w.commit()
        while notified.value.withLock({ $0 }) < 20 && Date() < deadline { usleep(1_000) }
        XCTAssertEqual(w.durableWatermark, 20)
        XCTAssertEqual(sinks.fsyncs, 2)
        try w.close()
    }

    func testBackgroundFsyncFailureStopsAcknowledgingAndKeepsWhatWasDurable() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        let sinks = FaultySinks(failOnFsync: 3)
        sinks.state.withLock { $0.fsyncDelayMicros = 500 }
        let w = try SegmentWriter(directory: dir, options: options(), sink: sinks.factory)
        var acknowledged: UInt64 = 0
        var failed: Error?
        for i in 0..<200 {
            var rs = orderLikeRecords(100, seed: UInt64(i))
            do {
                try w.append(&rs)
                acknowledged = try w.commit()
            } catch {
                failed = error
                break
            }
            usleep(200)
        }
        XCTAssertNotNil(failed, "the failed background fsync surfaces on a later call")
        XCTAssertTrue("\(failed!)".contains("fsync"), "\(failed!)")
        let frozen = w.durableWatermark
        XCTAssertEqual(frozen, acknowledged, "nothing is acknowledged after the failure")
        var more = orderLikeRecords(10, seed: 999)
        XCTAssertThrowsError(try w.append(&more))
        XCTAssertThrowsError(try w.syncNow())
        XCTAssertEqual(w.durableWatermark, frozen)
        XCTAssertThrowsError(try w.close())
        // Everything acknowledged before the failure is read back after recovery.
        let reopened = try SegmentWriter(directory: dir)
        XCTAssertGreaterThanOrEqual(reopened.nextSequence - 1, acknowledged)
        try reopened.close()
        let records = try SegmentReader(directory: dir).readAll()
        XCTAssertEqual(records.map(\.sequence), Array(1...UInt64(records.count)))
        XCTAssertGreaterThanOrEqual(UInt64(records.count), acknowledged)
    }
}
