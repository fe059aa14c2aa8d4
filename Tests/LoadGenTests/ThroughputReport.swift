import XCTest
import FlashSaleCore
import LoadGen

#if canImport(Glibc)
import Glibc
#endif

/// Not a pass/fail test (these machines are noisy): prints ns/request for fill() and the time to
/// generate a million organisations. Run in release:
///   LOADGEN_BENCH=1 swift test -c release --scratch-path .build-loadgen --filter LoadGenTests.ThroughputReport
final class ThroughputReport: XCTestCase {
    func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    func testReportFillCost() throws {
        guard getenv("LOADGEN_BENCH") != nil else { throw XCTSkip("set LOADGEN_BENCH=1 to measure") }
        let buffer = UnsafeMutableBufferPointer<OrderRequest>.allocate(capacity: 4096)
        defer { buffer.deallocate() }
        let only = String(cString: getenv("LOADGEN_BENCH"))
        for name in ["seckill-parity", "kaigong-opening", "hardware-prestock", "campaign-month"]
            where only == "1" || only == name {
            let p = try LoadProfile.load(path: "\(repoRoot)/LoadProfiles/\(name).yaml")
            var results: [Double] = []
            for _ in 0..<3 {
                let g = TrafficGenerator(profile: p)
                var checksum: UInt64 = 0
                let t0 = now()
                while case let n = g.fill(buffer), n > 0 { checksum &+= buffer[n - 1].requestId }
                let t1 = now()
                results.append(Double(t1 - t0) / Double(g.offered))
                if results.count == 1 { print("\(name): \(g.offered) requests") }
                XCTAssertGreaterThan(checksum, 0)
            }
            results.sort()
            print("\(name): expected arrivals \(Int(TrafficGenerator(profile: p).expectedArrivals))")
            print("fill \(name): median \(String(format: "%.1f", results[1])) ns/request (runs: \(results.map { String(format: "%.1f", $0) }))")
        }
        let spec = PopulationSpec(organisations: 1_000_000, certification: [0.1, 0.5, 0.3, 0.1], regions: [0.5, 0.3, 0.2], activated: 0.3)
        let t0 = now()
        let pop = spec.generate(regionCount: 3, seed: 1)
        print("population 1,000,000: \(Double(now() - t0) / 1e6) ms (\(pop.count))")
    }
}
