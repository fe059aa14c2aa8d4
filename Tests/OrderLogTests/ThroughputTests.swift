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
                       background: Bool = false) throws -> (Double, WriterStats) {
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
                        let len = min(4096, buf.count - at)
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
        var noneStats = WriterStats()
        let noneTimes = try (0..<runs).map { _ in let (t, s) = try writerRun(.none); noneStats = s; return t }
        var batchStats = WriterStats()
        let batchTimes = try (0..<runs).map { _ in let (t, s) = try writerRun(.batch); batchStats = s; return t }
        var backgroundStats = WriterStats()
        let batchBackgroundTimes = try (0..<runs).map { _ in
            let (t, s) = try writerRun(.batch, background: true); backgroundStats = s; return t
        }
        let none256Times = try (0..<runs).map { _ in try writerRun(.none, blockBytes: 256 << 10).0 }
        let noneAccel8Times = try (0..<runs).map { _ in try writerRun(.none, acceleration: 8).0 }

        // Reading back (decompress + CRC + decode).
        var readCount = 0
        let readTimes = try (0..<runs).map { _ in
            try time { readCount = 0; try SegmentReader(directory: dir + "/w-none").forEachRecord { _ in readCount += 1 } }
        }
        XCTAssertEqual(readCount, n)

        let lz4CLI = lz4Bench(file, extra: [])
        let lz4CLI64K = lz4Bench(file, extra: ["-B4"])

        func line(_ name: String, _ times: [Double]) -> String {
            let t = median(times)
            return "  \(name.padding(toLength: 34, withPad: " ", startingAt: 0)) \(fmt(rawBytes / t / 1e6)) MB/s  \(fmt(Double(n) / t / 1e6)) M records/s  (median of \(times.count): \(fmt(t * 1000)) ms)"
        }
        var out = "OrderLog throughput, \(n) order-like records, \(fmt(rawBytes / Double(n))) raw bytes/record, "
        out += "\(fmt(Double(compressed) / Double(n))) LZ4 bytes/record, writer \(fmt(Double(noneStats.compressedBytes) / Double(n))) file bytes/record (ratio \(fmt(rawBytes / Double(noneStats.compressedBytes))))\n"
        out += line("encode only", encodeTimes) + "\n"
        out += line("CRC-32C only (raw bytes)", crcTimes) + "\n"
        out += line("raw LZ4 (extState, 64 KiB blocks)", lz4Times) + "\n"
        out += line("SegmentWriter durability none", noneTimes) + "\n"
        out += line("SegmentWriter durability batch", batchTimes) + "  fsyncs \(batchStats.fsyncs)\n"
        out += line("SegmentWriter batch, background fsync", batchBackgroundTimes) + "  fsyncs \(backgroundStats.fsyncs)\n"
        out += line("SegmentWriter none, 256 KiB blocks", none256Times) + "\n"
        out += line("SegmentWriter none, acceleration 8", noneAccel8Times) + "\n"
        out += "  (writer figures: append+commit in batches of 4096, then syncNow for batch; close \(fmt(median(closeTimes) * 1000)) ms median, not included)\n"
        out += line("SegmentReader.forEachRecord", readTimes) + "\n"
        out += "  lz4 -b1 -i3 (CLI, default blocks): \(lz4CLI)\n"
        out += "  lz4 -b1 -i3 -B4 (CLI, 64 KiB blocks): \(lz4CLI64K)\n"
        out += "  none/raw LZ4 = \(fmt(median(lz4Times) / median(noneTimes) * 100))%, batch/none = \(fmt(median(noneTimes) / median(batchTimes) * 100))%, batch with background fsync/none = \(fmt(median(noneTimes) / median(batchBackgroundTimes) * 100))%\n"
        print(out)
        _ = noneStats.fsyncs
    }

    private func time(_ body: () throws -> Void) rethrows -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }

    private func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
    private func fmt(_ x: Double) -> String { String(format: "%.1f", x) }

    private func lz4Bench(_ file: String, extra: [String]) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/lz4")
        p.arguments = ["-b1", "-i3"] + extra + [file]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        guard (try? p.run()) != nil else { return "lz4 CLI not available" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let last = text.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).last(where: { $0.contains("MB/s") }) ?? ""
        return last.trimmingCharacters(in: .whitespaces)
    }
}
