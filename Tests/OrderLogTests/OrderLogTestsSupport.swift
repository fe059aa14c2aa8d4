import XCTest
import Foundation
import Synchronization
@testable import OrderLog
import FlashSaleCore  // SplitMix64

/// A fresh temporary directory, removed by `cleanup()`.
func makeTempDir(_ name: String = #function) -> String {
    let base = FileManager.default.temporaryDirectory.path + "/orderlog-tests-\(getpid())"
    let clean = name.filter { $0.isLetter || $0.isNumber }
    let dir = base + "/" + clean + "-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func removeDir(_ dir: String) { try? FileManager.default.removeItem(atPath: dir) }

/// Order-like records: campaign time creeping forward, request ids roughly increasing, few orgs/offers.
func orderLikeRecords(_ n: Int, seed: UInt64 = 42, startTime: Int64 = 1_700_000_000_000) -> [OrderRecord] {
    var g = SplitMix64(seed: seed)
    var t = startTime
    var req: UInt64 = 1_000_000
    var out = [OrderRecord]()
    out.reserveCapacity(n)
    for _ in 0..<n {
        t += Int64(g.next() % 3)
        req += 1 + g.next() % 4
        let kindRoll = g.next() % 10
        let kind: UInt8 = kindRoll < 7 ? 0 : (kindRoll < 9 ? 1 : 2)
        let outcome: UInt8 = UInt8(g.next() % 14)
        var r = OrderRecord(campaignTimeMillis: t, requestId: req, organisation: UInt32(1 + g.next() % 5000),
                            offer: UInt16(1 + g.next() % 40), kind: kind, outcome: outcome,
                            lane: UInt8(g.next() % 4), quantity: Int32(1 + g.next() % 5),
                            priceFen: Int64(99_900 + (g.next() % 50) * 100))
        if kind != 0 { r.reference = req - 1 - g.next() % 1000 }
        if outcome == 1 {
            r.holdExpiryMillis = t + 300_000
            r.appendPiece(RecordPiece(item: UInt16(g.next() % 100), quantity: UInt32(r.quantity)))
        }
        if outcome == 6 { r.originalOutcome = UInt8(g.next() % 6) }
        out.append(r)
    }
    return out
}

/// Any field any value: extremes mixed with random values.
func randomRecord(_ g: inout SplitMix64) -> OrderRecord {
    func pick<T: FixedWidthInteger>(_: T.Type, _ g: inout SplitMix64) -> T {
        switch g.next() % 6 {
        case 0: return T.min
        case 1: return T.max
        case 2: return 0
        case 3: return T(truncatingIfNeeded: g.next() % 200)
        default: return T(truncatingIfNeeded: g.next())
        }
    }
    var r = OrderRecord(campaignTimeMillis: pick(Int64.self, &g), requestId: pick(UInt64.self, &g),
                        organisation: pick(UInt32.self, &g), offer: pick(UInt16.self, &g),
                        kind: pick(UInt8.self, &g), outcome: pick(UInt8.self, &g), lane: pick(UInt8.self, &g),
                        quantity: pick(Int32.self, &g), priceFen: pick(Int64.self, &g),
                        reference: pick(UInt64.self, &g), holdExpiryMillis: pick(Int64.self, &g))
    r.originalOutcome = g.next() % 3 == 0 ? pick(UInt8.self, &g) : r.outcome
    let pc = Int(g.next() % 5)
    for _ in 0..<pc { r.appendPiece(RecordPiece(item: pick(UInt16.self, &g), quantity: pick(UInt32.self, &g))) }
    return r
}

func segmentFiles(_ dir: String) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: dir))?.filter { $0.hasSuffix(".seg") }.sorted().map { dir + "/" + $0 } ?? []
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
}

func truncateFile(_ path: String, to n: Int) { XCTAssertEqual(truncate(path, off_t(n)), 0) }

func flipBit(_ path: String, byte: Int, bit: Int) {
    let fd = open(path, O_RDWR)
    precondition(fd >= 0)
    var b: UInt8 = 0
    precondition(pread(fd, &b, 1, off_t(byte)) == 1)
    b ^= UInt8(1 << bit)
    precondition(pwrite(fd, &b, 1, off_t(byte)) == 1)
    close(fd)
}

func copyDir(_ from: String, _ to: String) {
    try? FileManager.default.removeItem(atPath: to)
    try! FileManager.default.copyItem(atPath: from, toPath: to)
}

/// A sink factory that wraps the POSIX sink and fails: after `failAfterBytes` bytes written in
/// total (ENOSPC, writing the prefix that fits first), or on the `failOnFsync`-th fsync (EIO).
final class FaultySinks: Sendable {
    struct State {
        var bytes = 0
        var fsyncs = 0
        var failAfterBytes: Int?
        var failOnFsync: Int?
        /// A slow disk: each fsync takes at least this long.
        var fsyncDelayMicros: UInt32 = 0
        /// Highest count of bytes made durable by a successful fsync, per file.
        var syncedBytes: [String: Int64] = [:]
    }
    let state: Mutex<State>

    init(failAfterBytes: Int? = nil, failOnFsync: Int? = nil) {
        state = Mutex(State(failAfterBytes: failAfterBytes, failOnFsync: failOnFsync))
    }

    var fsyncs: Int { state.withLock { $0.fsyncs } }
    var bytes: Int { state.withLock { $0.bytes } }

    var factory: SegmentSinkFactory {
        SegmentSinkFactory(open: { path in FaultySink(inner: try PosixSegmentSink(path: path), owner: self) },
                           syncDirectory: SegmentSinkFactory.posix.syncDirectory)
    }

    final class FaultySink: SegmentSink {
        let inner: PosixSegmentSink
        let owner: FaultySinks
        init(inner: PosixSegmentSink, owner: FaultySinks) { self.inner = inner; self.owner = owner }
        var path: String { inner.path }
        var position: Int64 { inner.position }
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            let allowed: Int = owner.state.withLock { s in
                guard let limit = s.failAfterBytes else { s.bytes += bytes.count; return bytes.count }
                let room = max(0, limit - s.bytes)
                let n = min(room, bytes.count)
                s.bytes += n
                return n
            }
            if allowed < bytes.count {
                try inner.write(UnsafeRawBufferPointer(rebasing: bytes[0..<allowed]))
                throw SegmentError.io(file: path, offset: inner.position, operation: "write", errno: ENOSPC)
            }
            try inner.write(bytes)
        }
        func fsync() throws {
            let (fail, delay): (Bool, UInt32) = owner.state.withLock { s in
                s.fsyncs += 1
                return (s.failOnFsync == s.fsyncs, s.fsyncDelayMicros)
            }
            if delay > 0 { usleep(delay) }
            if fail { throw SegmentError.io(file: path, offset: inner.position, operation: "fsync", errno: EIO) }
            try inner.fsync()
            let pos = inner.position, p = path
            owner.state.withLock { $0.syncedBytes[p] = pos }
        }
        func truncate(to length: Int64) throws { try inner.truncate(to: length) }
        func startWriteback(length: Int) { inner.startWriteback(length: length) }
        func close() throws { try inner.close() }
    }
}
