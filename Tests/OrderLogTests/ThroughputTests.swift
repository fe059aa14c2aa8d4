import XCTest
import Foundation
import CLZ4
@testable import OrderLog

/// Prints throughput figures (asserts nothing about timing). Meaningful in release:
/// swift test -c release -Xswiftc -enable-testing --scratch-path .build-orderlog --filter OrderLogTests.ThroughputTests
final class ThroughputTests: XCTestCase {
    func testThroughputReport() throws {
        guard getenv("ORDERLOG_BENCH") != nil else { throw XCTSkip("set ORDERLOG_BENCH=1 to measure (release build)") }
        #if DEBUG
        let n = 200_000
        #else
        let n = 2_000_000
        #endif
        let runs = 3
        let rounds = 5
        var records = orderLikeRecords(n, seed: 9)
        let dir = makeTempDir(); defer { removeDir(dir) }

        // The encoded bytes, block by block, as the writer produces them (64 KiB blocks).
        let blockBytes = 64 << 10
        var encoded = [UInt8](repeating: 0, count: n * RecordCodec.maxRecordBytes)
        var blockEnds: [Int] = []
        var encodedCount = 0
        func encodeAll() {
            encodedCount = 0
            blockEnds.removeAll(keepingCapacity: true)
            encoded.withUnsafeMutableBytes { out in
                records.withUnsafeBufferPointer { rp in
                    var st = RecordCodec.State()
                    var blockStart = 0
                    for k in 0..<rp.count {
                        if encodedCount - blockStart > blockBytes - RecordCodec.maxRecordBytes {
                            blockEnds.append(encodedCount); blockStart = encodedCount; st = RecordCodec.State()
                        }
                        encodedCount += RecordCodec.encode(rp.baseAddress! + k, &st, out.baseAddress! + encodedCount)
                    }
                    blockEnds.append(encodedCount)
                }
            }
        }
        let encodeTimes = (0..<runs).map { _ in time { encodeAll() } }
        let rawBytes = Double(encodedCount)
        let file = dir + "/records.bin"
        _ = FileManager.default.createFile(atPath: file, contents: Data(encoded[0..<encodedCount]))
        // The same records as plain fixed-width rows (every field, no codec): what the lz4 CLI
        // compresses when it is handed the records themselves rather than the writer's output.
        let plain = plainRows(records)
        let plainFile = dir + "/records-plain.bin"
        _ = FileManager.default.createFile(atPath: plainFile, contents: Data(plain))

        // Raw LZ4 over the same blocks (same API as the writer, no CRC, no I/O).
        let state = UnsafeMutableRawPointer.allocate(byteCount: Int(LZ4_sizeofState()), alignment: 16)
        let dst = UnsafeMutablePointer<CChar>.allocate(capacity: Int(LZ4_compressBound(Int32(blockBytes))))
        var compressed = 0
        let lz4Times = (0..<runs).map { _ in
            time {
                compressed = 0
                encoded.withUnsafeBytes { src in
                    var start = 0
                    for end in blockEnds {
                        compressed += Int(LZ4_compress_fast_extState(
                            state, src.baseAddress!.advanced(by: start).assumingMemoryBound(to: CChar.self), dst,
                            Int32(end - start), LZ4_compressBound(Int32(blockBytes)), 1))
                        start = end
                    }
                }
            }
        }
        state.deallocate(); dst.deallocate()

        // CRC-32C alone over the raw bytes.
        var crc: UInt32 = 0
        let crcTimes = (0..<runs).map { _ in time { encoded.withUnsafeBytes { crc = CRC32C.update(0, $0.baseAddress!, encodedCount) } } }
        XCTAssertNotEqual(crc, 1)

        // SegmentWriter: encode + LZ4 + CRC + write, batches of 4096 records with a commit each.
        var closeTimes: [Double] = []
        func writerRun(_ d: Durability, blockBytes: Int = 64 << 10, acceleration: Int32 = 1,
                       background: Bool = false, commitEvery: Int = 4096) throws -> (Double, WriterStats) {
            let wdir = dir + "/w-\(d.rawValue)"
            removeDir(wdir)
            var opts = SegmentWriterOptions()
            opts.durability = d
            opts.blockBytes = blockBytes
            opts.acceleration = acceleration
            opts.backgroundSync = background
            var stats = WriterStats()
            let w = try SegmentWriter(directory: wdir, options: opts)
            let t = try time {
                try records.withUnsafeMutableBufferPointer { buf in
                    var at = 0
                    while at < buf.count {
                        let len = min(commitEvery, buf.count - at)
                        try w.append(UnsafeMutableBufferPointer(rebasing: buf[at..<at + len]))
                        try w.commit()
                        at += len
                    }
                }
                if d != .none { try w.syncNow() }  // batch: the final fsync is timed too
            }
            closeTimes.append(try time { try w.close() })
            stats = w.stats
            return (t, stats)
        }
        // Every configuration runs once per round, next to the lz4 CLI on the same bytes, so that
        // each ratio compares figures taken seconds apart (this 2-core VM's speed drifts by ±20%
        // over minutes). Ratios are computed per round; the report gives their median.
        var noneStats = WriterStats(), batchStats = WriterStats(), backgroundStats = WriterStats()
        var noneTimes: [Double] = [], batchTimes: [Double] = [], batchBackgroundTimes: [Double] = []
        var none4MTimes: [Double] = [], noneAccel8Times: [Double] = []
        var cliTimes: [Double] = [], cli64KTimes: [Double] = [], cliPlainTimes: [Double] = []
        var cliLine = "", cli64KLine = "", cliPlainLine = ""
        for _ in 0..<rounds {
            var (t, st) = try writerRun(.none); noneTimes.append(t); noneStats = st
            (t, st) = try writerRun(.batch); batchTimes.append(t); batchStats = st
            (t, st) = try writerRun(.batch, background: true); batchBackgroundTimes.append(t); backgroundStats = st
            // The CLI's own configuration: 4 MiB blocks (and commits rare enough to fill them).
            none4MTimes.append(try writerRun(.none, blockBytes: 4 << 20, commitEvery: 1 << 20).0)
            noneAccel8Times.append(try writerRun(.none, acceleration: 8).0)
            let (cli, cliText) = lz4Bench(file, extra: [])
            let (cli64K, cli64KText) = lz4Bench(file, extra: ["-B4"])
            // .nan when the CLI is missing (`apt-get install lz4`): its lines then read "n/a".
            cliTimes.append(cli > 0 ? rawBytes / (cli * 1e6) : .nan)
            cli64KTimes.append(cli64K > 0 ? rawBytes / (cli64K * 1e6) : .nan)
            cliLine = cliText; cli64KLine = cli64KText
            let (cliPlain, cliPlainText) = lz4Bench(plainFile, extra: [])
            cliPlainTimes.append(cliPlain > 0 ? Double(plain.count) / (cliPlain * 1e6) : .nan)
            cliPlainLine = cliPlainText
        }

        // Reading back (decompress + CRC + decode).
        var readCount = 0
        let readTimes = try (0..<runs).map { _ in
            try time { readCount = 0; try SegmentReader(directory: dir + "/w-none").forEachRecord { _ in readCount += 1 } }
        }
        XCTAssertEqual(readCount, n)

        func line(_ name: String, _ times: [Double]) -> String {
            let t = median(times)
            guard t.isFinite else { return "  \(name): n/a" }
            return "  \(name.padding(toLength: 38, withPad: " ", startingAt: 0)) \(fmt(rawBytes / t / 1e6)) MB/s  \(fmt(Double(n) / t / 1e6)) M records/s  (median of \(times.count): \(fmt(t * 1000)) ms; best \(fmt(rawBytes / times.min()! / 1e6)) MB/s)"
        }
        /// Median over rounds of (reference time / measured time), in percent.
        func ratio(_ times: [Double], over reference: [Double]) -> String {
            let r = zip(times, reference).map { $1 / $0 * 100 }.filter(\.isFinite)
            return r.isEmpty ? "n/a" : fmt(median(r)) + "%"
        }
        var out = "OrderLog throughput, \(n) order-like records, \(fmt(rawBytes / Double(n))) raw bytes/record, "
        out += "\(fmt(Double(compressed) / Double(n))) LZ4 bytes/record, writer \(fmt(Double(noneStats.compressedBytes) / Double(n))) file bytes/record (ratio \(fmt(rawBytes / Double(noneStats.compressedBytes))))\n"
        out += "  CRC-32C: \(CRC32C.usesHardware ? "CPU instruction" : "table walk (no CRC-32C instruction)")\n"
        out += line("encode only", encodeTimes) + "\n"
        out += line("CRC-32C only (raw bytes)", crcTimes) + "\n"
        out += line("raw LZ4 (extState, 64 KiB blocks)", lz4Times) + "\n"
        out += line("SegmentWriter durability none", noneTimes) + "\n"
        out += line("SegmentWriter durability batch", batchTimes) + "  fsyncs \(batchStats.fsyncs)\n"
        out += line("SegmentWriter batch, background fsync", batchBackgroundTimes) + "  fsyncs \(backgroundStats.fsyncs)\n"
        out += line("SegmentWriter none, 4 MiB blocks*", none4MTimes) + "\n"
        out += line("SegmentWriter none, acceleration 8", noneAccel8Times) + "\n"
        out += "  (writer figures: append+commit in batches of 4096 (*: of 1M), then syncNow for batch; close \(fmt(median(closeTimes) * 1000)) ms median, not included)\n"
        out += line("SegmentReader.forEachRecord", readTimes) + "\n"
        out += line("lz4 -b1 (CLI, default 4 MiB blocks)", cliTimes) + "\n"
        out += line("lz4 -b1 -B4 (CLI, 64 KiB blocks)", cli64KTimes) + "\n"
        out += "    last CLI lines: \(cliLine) | \(cli64KLine)\n"
        // The same records handed to the CLI as plain rows: its time for the n records compares
        // directly with the writer's time for them (records/s; MB/s would count different bytes).
        let plainTime = median(cliPlainTimes)
        out += "  lz4 -b1 (CLI) on the same records as \(plainRowBytes)-byte plain rows: "
        out += plainTime.isFinite
            ? "\(fmt(Double(plain.count) / plainTime / 1e6)) MB/s of rows  \(fmt(Double(n) / plainTime / 1e6)) M records/s  (median of \(cliPlainTimes.count); last: \(cliPlainLine))\n"
            : "n/a\n"
        out += "  same records, per-round medians of records/s: none/lz4 -b1 on plain rows = \(ratio(noneTimes, over: cliPlainTimes)), "
        out += "batch with background fsync/lz4 -b1 on plain rows = \(ratio(batchBackgroundTimes, over: cliPlainTimes))\n"
        out += "  per-round medians: none/lz4 -b1 = \(ratio(noneTimes, over: cliTimes)), none/lz4 -b1 -B4 = \(ratio(noneTimes, over: cli64KTimes)), "
        out += "none 4 MiB blocks/lz4 -b1 = \(ratio(none4MTimes, over: cliTimes)), "
        out += "none acceleration 8/lz4 -b1 = \(ratio(noneAccel8Times, over: cliTimes)), "
        out += "batch/none = \(ratio(batchTimes, over: noneTimes)), batch with background fsync/none = \(ratio(batchBackgroundTimes, over: noneTimes))\n"
        print(out)
        _ = noneStats.fsyncs
    }

    /// Bytes of one plain row: every field of a record at its natural width, little-endian, packed,
    /// all four piece slots present; the sequence is left out (the writer assigns it).
    private let plainRowBytes = 79

    /// The records as plain fixed-width rows (see `plainRowBytes`).
    private func plainRows(_ records: [OrderRecord]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(records.count * plainRowBytes)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        for r in records {
            put(r.campaignTimeMillis); put(r.requestId); put(r.organisation); put(r.offer)
            put(r.kind); put(r.outcome); put(r.originalOutcome); put(r.lane); put(r.quantity)
            put(r.priceFen); put(r.reference); put(r.holdExpiryMillis); put(r.pieceCount)
            for i in 0..<OrderRecord.maxPieces { put(r.piece(i).item); put(r.piece(i).quantity) }
        }
        precondition(out.count == records.count * plainRowBytes)
        return out
    }

    private func time(_ body: () throws -> Void) rethrows -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }

    private func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
    private func fmt(_ x: Double) -> String { String(format: "%.1f", x) }

    /// Runs `lz4 -b1 -i1` on `file`; returns its compression speed (MB/s, 0 when the CLI is missing) and its line.
    private func lz4Bench(_ file: String, extra: [String]) -> (Double, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/lz4")
        p.arguments = ["-b1", "-i1"] + extra + [file]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        guard (try? p.run()) != nil else { return (0, "lz4 CLI not available") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let last = text.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).last(where: { $0.contains("MB/s") }) ?? ""
        // "…: 24700521 -> 23353526 (1.058), 760.3 MB/s ,3471.2 MB/s": the first MB/s figure is compression.
        let fields = last.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let speed = fields.first(where: { $0.hasSuffix("MB/s") }).flatMap { Double($0.dropLast(5)) } ?? 0
        return (speed, last.trimmingCharacters(in: .whitespaces))
    }
}
