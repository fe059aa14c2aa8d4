// RecordCodec encode and SegmentWriter append + commit per durability.
//
// Records are synthetic but shaped like a seckill-parity journal: request ids rising with small gaps,
// campaign time rising every ~1,000 records, organisations spread over 1M ids, 64 offers, quantities
// 1/2/5, accepted / sold-out / limit / duplicate outcomes, 2 lanes. Every iteration handles 1,000
// records (scalingFactor .kilo), so the scaled figures (`*`) are per record.

import Benchmark
import BenchSupport
import Foundation
import FlashSaleCore  // SplitMix64
import OrderLog

/// Deterministic records (SplitMix64).
func parityRecords(_ count: Int, seed: UInt64 = 1) -> [OrderRecord] {
    var random = SplitMix64(seed: seed)
    var records: [OrderRecord] = []
    records.reserveCapacity(count)
    var id: UInt64 = 1_000
    var time: Int64 = 36_000_000
    for _ in 0..<count {
        let r = random.next()
        id &+= 1 &+ (r & 3)
        if r >> 60 == 0 { time &+= 1 }
        let q = r >> 8 & 0xFF
        let quantity: Int32 = q < 204 ? 1 : (q < 243 ? 2 : 5)
        let o = r >> 16 & 0xFF                 // outcome: 0 accepted 60%, 3 sold out, 4 limit, 8 duplicate
        let outcome: UInt8 = o < 154 ? 0 : (o < 205 ? 3 : (o < 243 ? 4 : 8))
        records.append(OrderRecord(
            campaignTimeMillis: time, requestId: id, organisation: UInt32(r >> 24 & 0xFFFFF) % 1_000_000,
            offer: UInt16(r >> 44 & 63), kind: 0, outcome: outcome, originalOutcome: outcome == 8 ? 0 : outcome,
            lane: UInt8(r >> 50 & 1), quantity: quantity))
    }
    return records
}

/// Encoded bytes per 1,000 records, reported as a custom metric (MB/s = bytes / wallClock).
let encodedBytesMetric = BenchmarkMetric.custom("encodedBytes", polarity: .prefersSmaller, useScalingFactor: false)

/// A writer in a fresh temporary directory and a reusable record batch.
final class WriterFixture {
    static var current: WriterFixture?
    let directory: String
    let writer: SegmentWriter
    var records: [OrderRecord]

    init(durability: Durability) {
        directory = NSTemporaryDirectory() + "flashsale-bench-\(durability.rawValue)-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        var options = SegmentWriterOptions()
        options.durability = durability
        do { writer = try SegmentWriter(directory: directory, options: options) } catch { fatalError("\(error)") }
        records = parityRecords(1_000)
    }

    static func tearDown() {
        if let f = current {
            try? f.writer.close()
            try? FileManager.default.removeItem(atPath: f.directory)
        }
        current = nil
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: BenchConfig.metrics,
        timeUnits: .nanoseconds,
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 5_000,
        thresholds: BenchConfig.thresholds(time: 100))

    let batch = parityRecords(1_000)

    var codecConfiguration = Benchmark.defaultConfiguration
    codecConfiguration.metrics += [encodedBytesMetric]
    codecConfiguration.thresholds?[encodedBytesMetric] = .init(absolute: [.p90: 0])
    Benchmark("RecordCodec-encode-1k-records", configuration: codecConfiguration) { benchmark in
        // The public batch API: one output array per call (1 malloc per 1,000 records), none per record.
        let out = RecordCodec.encode(batch)
        benchmark.stopMeasurement()
        benchmark.measurement(encodedBytesMetric, out.count)
        blackHole(out)
    }

    for durability in [Durability.none, .batch] {
        // batch fsyncs every 2 ms: its time is the disk's too (seen: 0.1 to 7 ms p90 per iteration), so
        // only `none` has its time checked.
        var configuration = Benchmark.defaultConfiguration
        if durability == .batch { configuration.thresholds = BenchConfig.thresholds(time: nil) }
        Benchmark("SegmentWriter-append-commit-1k-records-durability-\(durability.rawValue)",
                  configuration: configuration) { benchmark in
            let f = WriterFixture.current!
            do {
                try f.writer.append(&f.records)
                try f.writer.commit()
            } catch { fatalError("\(error)") }
        } setup: {
            WriterFixture.current = WriterFixture(durability: durability)
        } teardown: {
            WriterFixture.tearDown()
        }
    }

    var syncConfiguration = Benchmark.defaultConfiguration
    syncConfiguration.maxDuration = .seconds(3)
    syncConfiguration.maxIterations = 300
    syncConfiguration.warmupIterations = 3
    // fsync latency is the disk's (seen here: 0.2 ms to 4 ms per fsync from one run to the next), so
    // time is recorded but not checked; mallocs are.
    syncConfiguration.thresholds = BenchConfig.thresholds(time: nil)
    Benchmark("SegmentWriter-append-commit-10x100-records-durability-sync", configuration: syncConfiguration) { benchmark in
        // sync: fsync on every commit; small batches of 100 records, 10 commits per iteration.
        let f = WriterFixture.current!
        do {
            try f.records.withUnsafeMutableBufferPointer { all in
                for k in 0..<10 {
                    try f.writer.append(UnsafeMutableBufferPointer(rebasing: all[(k * 100)..<(k * 100 + 100)]))
                    try f.writer.commit()
                }
            }
        } catch { fatalError("\(error)") }
    } setup: {
        WriterFixture.current = WriterFixture(durability: .sync)
    } teardown: {
        WriterFixture.tearDown()
    }
}
