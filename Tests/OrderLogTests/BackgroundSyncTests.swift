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

    /// A callback that waits for the owner's queue (`queue.sync`, as a server acknowledging on the fsync's
    /// thread does) must never hang the owner: a commit during the callback requests the next fsync, and
    /// the owner then waits for it (`syncNow`, here; a segment roll and `close` alike). Before the fix that
    /// fsync was queued behind the blocked callback, and owner and callback waited for each other forever.
    /// Every step is ordered, so the hang, if any, is certain, not a race.
    func testACallbackWaitingForTheOwnerNeverHangsTheOwnersWaitForTheNextFsync() throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        var opts = options()
        opts.continuousGroupCommit = true
        opts.segmentBytes = 4 << 10  // rolls too: each waits for the fsync in flight
        let w = try SegmentWriter(directory: dir, options: opts)
        let owner = DispatchQueue(label: "test.owner")
        final class Seen: Sendable { let value = Mutex<UInt64>(0) }
        let called = Seen()   // highest sequence a callback was entered with
        let acked = Seen()    // highest the owner acknowledged inside a callback
        w.onDurable = { seq in
            called.value.withLock { $0 = max($0, seq) }
            owner.sync { acked.value.withLock { $0 = max($0, w.durableWatermark) } }
        }
        final class Box: @unchecked Sendable { var error: Error?; var last: UInt64 = 0; var seed: UInt64 = 0 }
        let box = Box()
        // One step per block on the owner's queue, so that between steps the callbacks get in.
        for step in 0..<20 {
            let finished = DispatchSemaphore(value: 0)
            owner.async {
                defer { finished.signal() }
                do {
                    box.seed += 1
                    var rs = orderLikeRecords(50, seed: box.seed)
                    try w.append(&rs)
                    let before = called.value.withLock { $0 }
                    _ = try w.commit()  // starts a background fsync
                    // Hold the owner's queue until that fsync's callback is waiting for it (a commit
                    // that rolled the segment fsynced by itself, and no callback comes: hence a deadline).
                    let deadline = Date().addingTimeInterval(1)
                    while called.value.withLock({ $0 }) == before && Date() < deadline { usleep(100) }
                    box.seed += 1
                    var more = orderLikeRecords(50, seed: box.seed)
                    try w.append(&more)
                    _ = try w.commit()   // the next fsync, requested while the callback is blocked
                    box.last = try w.syncNow()  // waits for it: must not wait for the callback
                } catch { box.error = error }
            }
            guard finished.wait(timeout: .now() + 10) == .success else {
                return XCTFail("step \(step): the owner hung waiting for an fsync queued behind the callback")
            }
        }
        XCTAssertNil(box.error)
        XCTAssertEqual(box.last, 2_000, "syncNow covered every record")
        XCTAssertEqual(w.durableWatermark, 2_000)
        owner.sync {}
        XCTAssertNoThrow(try w.close())
        w.onDurable = nil  // the callback holds the writer
        XCTAssertGreaterThan(acked.value.withLock { $0 }, 0, "the callbacks did reach the owner's queue")
        XCTAssertEqual(try SegmentReader(directory: dir).readAll().map(\.sequence), Array(1...2_000))
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
