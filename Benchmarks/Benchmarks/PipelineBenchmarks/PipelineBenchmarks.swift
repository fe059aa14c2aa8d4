// The whole pipeline end to end: seckill-parity, first 500,000 requests, `--rate max` (pace .max),
// 2 lanes (one per core), durability batch, segments in a temporary directory (removed after each run).
//
// The pipeline and the traffic generator are built outside the measurement; the measured region is
// `OrderPipeline.run`: generation, routing, deciding, journaling (LZ4 + CRC + write + group fsync),
// acknowledging and the final checks' data. `decisionsPerSecond` is decisions / wall time of the run.

import Benchmark
import BenchSupport
import FlashSaleCore
import FlashSaleRun
import LoadGen
import Pipeline

let repositoryRoot: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(4)
    return parts.joined(separator: "/")
}()

let requestLimit = 500_000

final class PipelineFixture {
    let profile: LoadProfile
    let rules: CampaignRules
    init() {
        let path = repositoryRoot + "/LoadProfiles/seckill-parity.yaml"
        do {
            profile = try LoadProfile.load(path: path)
            rules = try CampaignRules(profile.campaign)
        } catch { fatalError("\(path): \(error)") }
    }
}

// No malloc metric here: FlashSaleRun links jemalloc (through Reports), and with jemalloc serving malloc
// the benchmark's malloc interposer crashes the process (SIGSEGV) as soon as counting is enabled. The hot
// paths' malloc freedom is checked by the Ledger, Engine and OrderLog benchmarks instead.
let pipelineMetrics: [BenchmarkMetric] = BenchConfig.metrics.filter { $0 != .mallocCountTotal }

let decisionsPerSecond = BenchmarkMetric.custom("decisionsPerSecond", polarity: .prefersLarger, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: pipelineMetrics + [decisionsPerSecond],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(15),
        maxIterations: 10,
        // decisionsPerSecond is reported, not checked (see BenchConfig.thresholds: throughput).
        thresholds: BenchConfig.thresholds(time: 100).filter { $0.key != .mallocCountTotal }.merging(
            [decisionsPerSecond: .init()]) { $1 })

    Benchmark("pipeline-seckill-parity-500k-requests-rate-max-2-lanes-batch") { benchmark, fixture in
        let pipeline = OrderPipeline(rules: fixture.rules, options: PipelineOptions(lanes: 2, pace: .max))
        let source = TrafficGenerator(profile: fixture.profile, requestLimit: requestLimit)
        benchmark.startMeasurement()
        let result: PipelineResult
        do { result = try pipeline.run(source: source) } catch { fatalError("\(error)") }
        benchmark.stopMeasurement()
        precondition(result.offered == requestLimit && result.shed == 0)
        benchmark.measurement(decisionsPerSecond, Int(Double(result.decisions) * 1e9 / Double(result.wallNanos)))
    } setup: {
        PipelineFixture()
    }

    // The same run as `flashsale run` makes it (RunSession): the pipeline, then the segments read back
    // and audited, and the report with its invariants. The difference to the benchmark above is the
    // audit and the report.
    Benchmark("run-session-seckill-parity-500k-requests-rate-max-2-lanes-batch-with-audit") { benchmark, fixture in
        var run = RunConfiguration(profile: fixture.profile, profileLabel: "seckill-parity", lanes: 2, durability: .batch)
        run.source = TrafficGenerator(profile: fixture.profile, requestLimit: requestLimit)
        run.paceOverride = .max
        let session = RunSession(run, diagnostics: { fatalError("unexpected warning: \($0)") })
        benchmark.startMeasurement()
        let outcome: RunOutcome
        do { outcome = try session.execute() } catch { fatalError("\(error)") }
        benchmark.stopMeasurement()
        precondition(outcome.report.invariants.passed && outcome.report.requests == requestLimit)
        benchmark.measurement(decisionsPerSecond, Int(Double(outcome.report.decisions) * 1e9 / (outcome.report.durationSeconds * 1e9)))
    } setup: {
        PipelineFixture()
    }
}
