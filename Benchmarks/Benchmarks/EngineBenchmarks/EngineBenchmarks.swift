// LaneEngine decide on a prebuilt seckill-parity request batch.
//
// The batch is the first 1,000,000 requests of LoadProfiles/seckill-parity.yaml (1M organisations,
// 64 single-item offers of 50,000 units, Zipf(1) popularity, 5% retransmits): accepted, sold-out,
// limit and duplicate decisions in the proportions of the real run. Each measured iteration decides
// the whole batch on a fresh one-lane engine and ledger (built outside the measurement), so every
// iteration sees the same campaign state. The scaled figures (`*`) are per request.

import Benchmark
import BenchSupport
import FlashSaleCore
import LoadGen

/// The repository root, from this file's path (Benchmarks/Benchmarks/EngineBenchmarks/<file>).
let repositoryRoot: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(4)
    return parts.joined(separator: "/")
}()

func loadParity() -> LoadProfile {
    let path = repositoryRoot + "/LoadProfiles/seckill-parity.yaml"
    do { return try LoadProfile.load(path: path) } catch { fatalError("\(path): \(error)") }
}

/// Fixed state shared by the iterations: rules and the request batch.
final class DecideFixture {
    let rules: CampaignRules
    let requests: UnsafeMutableBufferPointer<OrderRequest>
    let initial: [Int64]

    init(count: Int) {
        let profile = loadParity()
        do { rules = try CampaignRules(profile.campaign) } catch { fatalError("\(error)") }
        initial = profile.campaign.items.map(\.initial)
        requests = .allocate(capacity: count)
        let generator = TrafficGenerator(profile: profile, requestLimit: count)
        var n = 0
        while n < count {
            let got = generator.fill(UnsafeMutableBufferPointer(rebasing: requests[n...]))
            precondition(got > 0, "the profile ran out of requests")
            n += got
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: BenchConfig.metrics,
        timeUnits: .nanoseconds,
        warmupIterations: 1,
        scalingFactor: .mega,
        maxDuration: .seconds(5),
        maxIterations: 20,
        thresholds: BenchConfig.thresholds(time: 100))

    Benchmark("decide-seckill-parity-1M-requests-1-lane") { benchmark, fixture in
        let ledger = StockLedger(initial: fixture.initial, shardCount: 1)
        let engine = LaneEngine(rules: fixture.rules, ledger: ledger, lane: 0, laneCount: 1)
        var out: [Decision] = []
        out.reserveCapacity(fixture.requests.count + 1024)
        precondition(fixture.requests.count == benchmark.scaledIterations.count)
        benchmark.startMeasurement()
        engine.process(UnsafeBufferPointer(fixture.requests), into: &out)
        benchmark.stopMeasurement()
        blackHole(out.count)
        blackHole(engine)
    } setup: {
        DecideFixture(count: 1_000_000)
    }
}
