import XCTest
import FlashSaleCore  // SplitMix64
import Foundation
@testable import OrderLog

/// Records of batch `b` in the crash test: deterministic, so the parent can check content.
private func crashBatch(_ b: Int) -> [OrderRecord] { orderLikeRecords(CrashChild.batch, seed: UInt64(b) &+ 1_000) }

/// The child side of `CrashTests`: a no-op unless FLASHSALE_CRASH_CHILD names a directory.
/// It writes with `sync` durability until killed and, after every commit, appends the returned
/// durable watermark (8 bytes) to FLASHSALE_CRASH_ACKS. With FLASHSALE_CRASH_DIRECT it writes with
/// direct I/O (`SegmentSinkFactory.direct`).
final class CrashChild: XCTestCase {
    static let batch = 300

    func testChildWriter() throws {
        let env = ProcessInfo.processInfo.environment
        guard let dir = env["FLASHSALE_CRASH_CHILD"], let acks = env["FLASHSALE_CRASH_ACKS"] else { return }
        var opts = SegmentWriterOptions()
        opts.durability = .sync
        opts.segmentBytes = 48 << 10   // roll often: kills land around rolls too
        let w = try SegmentWriter(directory: dir, options: opts, sink: env["FLASHSALE_CRASH_DIRECT"] != nil ? .direct : .posix)
        let fd = open(acks, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        precondition(fd >= 0)
        precondition((w.nextSequence - 1) % UInt64(Self.batch) == 0, "recovery cut inside a commit")
        var b = Int((w.nextSequence - 1) / UInt64(Self.batch))
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            var rs = crashBatch(b)
            try w.append(&rs)
            var wm = try w.commit()
            precondition(wm == rs.last!.sequence)
            _ = write(fd, &wm, 8)
            b += 1
        }
        try w.close()
    }
}

final class CrashTests: XCTestCase {
    /// A child writing with `sync` is SIGKILLed several times; after each kill, recovery keeps
    /// every record the child reported durable, content and sequences intact.
    func testSigkillDuringSyncWritesLosesNothingAcknowledged() throws {
        try sigkillRounds(direct: false)
    }

    /// The same with direct I/O: a kill can land inside a write of whole pages, or leave the last page
    /// padded with zeros; recovery (buffered, as any reader) still keeps everything acknowledged.
    func testSigkillDuringDirectSyncWritesLosesNothingAcknowledged() throws {
        try sigkillRounds(direct: true)
    }

    private func sigkillRounds(direct: Bool) throws {
        let dir = makeTempDir(); defer { removeDir(dir) }
        let acks = dir + ".acks"; defer { try? FileManager.default.removeItem(atPath: acks) }
        let segs = dir + "/segments"
        var g = SplitMix64(seed: 77)
        for round in 0..<4 {
            let before = readAcks(acks).count
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            p.arguments = ["OrderLogTests.CrashChild/testChildWriter"]
            var env = ProcessInfo.processInfo.environment
            env["FLASHSALE_CRASH_CHILD"] = segs
            env["FLASHSALE_CRASH_ACKS"] = acks
            if direct { env["FLASHSALE_CRASH_DIRECT"] = "1" } else { env["FLASHSALE_CRASH_DIRECT"] = nil }
            p.environment = env
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            // Let it acknowledge a while, then kill at a random moment.
            let start = Date()
            while readAcks(acks).count < before + 20 && Date().timeIntervalSince(start) < 20 { usleep(5_000) }
            usleep(UInt32(g.next() % 150_000))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .uncaughtSignal, "round \(round): child must have been killed")
            let acked = readAcks(acks).max() ?? 0
            XCTAssertGreaterThan(acked, 0)
            // Recover, then read everything.
            let w = try SegmentWriter(directory: segs)
            XCTAssertGreaterThanOrEqual(w.recovery.lastSequence, acked, "round \(round): acknowledged records lost")
            print("crash round \(round): acknowledged \(acked), recovered \(w.recovery.lastSequence), cut \(w.recovery.cutBytes) bytes, segments \(w.recovery.segments)")
            try w.close()
            var n: UInt64 = 0
            var bad = 0
            var batchNo = -1
            var batchRecords: [OrderRecord] = []
            try SegmentReader(directory: segs).forEachRecord { r in
                n += 1
                let b = Int((r.sequence - 1) / UInt64(CrashChild.batch))
                if b != batchNo { batchNo = b; batchRecords = crashBatch(b) }
                var expected = batchRecords[Int((r.sequence - 1) % UInt64(CrashChild.batch))]
                expected.sequence = r.sequence
                if r.sequence != n || r != expected { bad += 1 }
            }
            XCTAssertEqual(bad, 0)
            XCTAssertGreaterThanOrEqual(n, acked)
            XCTAssertTrue(try SegmentReader(directory: segs).verify().ok)
        }
    }

    private func readAcks(_ path: String) -> [UInt64] {
        guard let d = FileManager.default.contents(atPath: path) else { return [] }
        let n = d.count / 8
        return d.withUnsafeBytes { b in (0..<n).map { b.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) } }
    }
}
