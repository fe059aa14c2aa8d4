import XCTest
@testable import Pipeline
@testable import Reports

/// Any percentile and min in a gate (issue 14): read from each run's histogram, not only the five the
/// report keeps.
final class GatePercentileTests: XCTestCase {
    func testAnyPercentileAndMinComeFromTheRunsHistogram() throws {
        var latency = LatencyRecorder()
        for ms in 1...100 { latency.record(nanos: UInt64(ms) * 1_000_000) }  // 1 … 100 ms
        let report = RunReportFixture.make(decisionsPerSecond: 1_000, p99: 99_000)
        let p95 = try GateThreshold(parsing: "p(95)<94ms")
        let p975 = try GateThreshold(parsing: "p(97.5)<=99ms")
        let min = try GateThreshold(parsing: "min>=1ms")
        let results = Gate.evaluate(thresholds: [p95, p975, min], reports: [report], latencies: [latency], baseline: nil, tolerance: 0.1)
        let byCheck = Dictionary(uniqueKeysWithValues: results.map { ($0.check, $0) })
        XCTAssertEqual(byCheck["p(95)<94ms"]?.passed, false, "p(95) of 1…100 ms is 95 ms: \(byCheck["p(95)<94ms"]!.measured)")
        XCTAssertEqual(byCheck["p(97.5)<=99ms"]?.passed, true, byCheck["p(97.5)<=99ms"]!.measured)
        XCTAssertEqual(byCheck["min>=1ms"]?.passed, true, byCheck["min>=1ms"]!.measured)
        let v = p95.metric.value(in: report, latency: latency)
        XCTAssertEqual(v, 95_000, accuracy: 95_000 * 0.01)
        XCTAssertEqual(GateMetric.latencyMin.value(in: report, latency: latency), 1_000, accuracy: 10)
        XCTAssertThrowsError(try GateThreshold(parsing: "p(100.5)<1ms"))
        XCTAssertEqual(try GateThreshold(parsing: "p(0)<1ms").metric, .latencyMin)
    }
}
