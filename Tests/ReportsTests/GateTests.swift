import XCTest
@testable import Reports
import Pipeline

final class GateTests: XCTestCase {
    func testThresholdsReadLikeK6WithUnits() throws {
        let p99 = try GateThreshold(parsing: "p(99)<5ms")
        XCTAssertEqual(p99.metric, .latencyPercentile(99))
        XCTAssertEqual(p99.comparison, .less)
        XCTAssertEqual(p99.limit, 5000, "latency limits are kept in microseconds")
        let tput = try GateThreshold(parsing: "decisions_per_s >= 2M")
        XCTAssertEqual(tput.metric, .decisionsPerSecond)
        XCTAssertEqual(tput.comparison, .greaterOrEqual, "<= and >= are not read as < and >")
        XCTAssertEqual(tput.limit, 2_000_000)
        XCTAssertEqual(try GateThreshold(parsing: "outcome.overload==0").metric, .outcome("OVERLOAD"))
        XCTAssertEqual(try GateThreshold(parsing: "outcome_share.sold_out<90%").limit, 0.9, accuracy: 1e-12)
        XCTAssertEqual(try GateThreshold(parsing: "peak_rss<1GiB").limit, 1_073_741_824)
        XCTAssertEqual(try GateThreshold(parsing: "p(99.9)<=800us").limit, 800)
    }

    /// One percentile spelling and one name per figure: the gate prints `p99.9` and the report's names
    /// (`decisions_per_second`), and reads k6's `p(99.9)`, 0.13's `decisions_per_s` and camelCase alike.
    func testOneSpellingPerMetric() throws {
        for text in ["p99.9<1ms", "p(99.9)<1ms", "latency_micros.p99.9<1ms"] {
            let t = try GateThreshold(parsing: text)
            XCTAssertEqual(t.metric, .latencyPercentile(99.9), text)
            XCTAssertEqual(t.metric.description, "p99.9", text)
        }
        for text in ["decisions_per_second>1", "decisions_per_s>1", "decisionsPerSecond>1"] {
            XCTAssertEqual(try GateThreshold(parsing: text).metric.description, "decisions_per_second", text)
        }
        XCTAssertEqual(try GateThreshold(parsing: "outcomeShare.SOLD_OUT<5%").metric, .outcomeShare("SOLD_OUT"))
        XCTAssertEqual(GateMetric.latencyPercentile(99).format(12_345), "12345 µs", "latency in µs everywhere, as the summary")
        XCTAssertEqual(GateMetric.peakRSS.format(1_073_741_824), "1.00 GiB", "1GiB reads back as GiB")
    }

    func testBadThresholdsSayWhatIsWrong() {
        for (text, expected) in [("p999<5ms", "written with its point: p99.9"), ("p<5ms", "unknown metric"), ("p(99)<fast", "cannot read"), ("decisions_per_s", "expected METRIC OP VALUE"),
                                 ("p(142)<1ms", "unknown metric"), ("outcome.nonsense==0", "unknown metric"),
                                 ("peak_rss<-1GiB", "expected a value ≥ 0"), ("outcome.overload<-1", "expected a value ≥ 0")] {
            XCTAssertThrowsError(try GateThreshold(parsing: text), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(text): \(error)")
            }
        }
    }

    /// Only a share is a fraction: `%` on a count, rate, time or size used to divide the bound by 100
    /// (`decisions_per_s>50%` became "> 0.5/s", a check that could never fail; `shed<5%` became "< 0.05").
    func testAPercentageIsRefusedOnMetricsThatAreNotShares() throws {
        for text in ["decisions_per_s>50%", "requests_per_s>=50%", "outcome.sold_out<50%", "shed<5%", "requests>10%",
                     "duration_s<5%", "peak_rss<5%", "p(99)<5%", "max<5%", "oversold==0%", "segment_mismatches==0%"] {
            XCTAssertThrowsError(try GateThreshold(parsing: text), text) { error in
                XCTAssertTrue("\(error)".contains("threshold '\(text)': a percentage applies only to outcome_share.*"), "\(text): \(error)")
            }
        }
        // Where a share of the same figure exists, the message names it.
        XCTAssertThrowsError(try GateThreshold(parsing: "outcome.sold_out<50%")) { error in
            XCTAssertTrue("\(error)".contains("use outcome_share.SOLD_OUT"), "\(error)")
        }
        XCTAssertThrowsError(try GateThreshold(parsing: "shed<5%")) { error in
            XCTAssertTrue("\(error)".contains("use outcome_share.OVERLOAD"), "\(error)")
        }
        // Shares keep their percentages, and other metrics their suffixes.
        XCTAssertEqual(try GateThreshold(parsing: "outcome_share.sold_out<50%").limit, 0.5, accuracy: 1e-12)
        XCTAssertEqual(try GateThreshold(parsing: "decisions_per_s>50k").limit, 50_000)
    }

    /// A baseline compares like with like: the same profile (however its path is spelt), lanes, rate,
    /// journal and latency kind; older baselines without these fields compare on what they have.
    func testBaselineMismatchesAreNamed() {
        let b = GateBaseline(profile: "LoadProfiles/x.yaml", runs: 3, metrics: [:], latencyKind: "acknowledgement",
                             durability: "batch", lz4Acceleration: 1, lanes: 2, rate: "profile")
        func why(_ profile: String = "./LoadProfiles/x.yaml", lanes: Int = 2, rate: String = "profile", durability: String = "batch") -> String? {
            b.mismatch(profile: profile, latencyKind: "acknowledgement", durability: durability, lz4Acceleration: 1, lanes: lanes, rate: rate)
        }
        XCTAssertNil(why())
        XCTAssertNil(why("LoadProfiles/../LoadProfiles/x.yaml"))
        XCTAssertTrue(why("LoadProfiles/y.yaml")?.contains("measured on") ?? false)
        XCTAssertTrue(why(lanes: 1)?.contains("--lanes 2") ?? false)
        XCTAssertTrue(why(rate: "100.0/s")?.contains("rate profile") ?? false)
        XCTAssertTrue(why(durability: "none")?.contains("--durability batch") ?? false)
        let old = GateBaseline(profile: "LoadProfiles/x.yaml", runs: 3, metrics: [:])
        XCTAssertNil(old.mismatch(profile: "LoadProfiles/x.yaml", latencyKind: "queueing", durability: "none", lz4Acceleration: 8, lanes: 1, rate: "max"))
        XCTAssertEqual(GateBaseline.normalisedLabel("replay:./c.fscap on ./P.yaml"), GateBaseline.normalisedLabel("replay:c.fscap on P.yaml"))
        XCTAssertEqual(GateBaseline.normalisedLabel("built-in:kaigong"), "built-in:kaigong")
    }

    /// A bound is shown as written: `outcome.overload==0.5` used to print "expected == 0".
    func testFractionalBoundsAreShownAsWritten() throws {
        let t = try GateThreshold(parsing: "outcome.overload==0.5")
        XCTAssertEqual(t.metric.format(t.limit), "0.500")
    }

    func testToleranceAcceptsPercentOrFraction() throws {
        XCTAssertEqual(try Gate.parseTolerance("10%"), 0.1, accuracy: 1e-12)
        XCTAssertEqual(try Gate.parseTolerance("0.25"), 0.25, accuracy: 1e-12)
        // "15" or "1" could be a percentage or a fraction: the "%" is required.
        XCTAssertThrowsError(try Gate.parseTolerance("15"))
        XCTAssertThrowsError(try Gate.parseTolerance("1"))
        XCTAssertThrowsError(try Gate.parseTolerance("lots"))
        XCTAssertEqual(try Gate.parseTolerance("150%"), 1.5, accuracy: 1e-12)
        XCTAssertThrowsError(try Gate.parseTolerance("1000%"))
    }

    func testMedianJudgesNotTheLuckiestRun() {
        XCTAssertEqual(Gate.median([5, 1, 100]), 5)
        XCTAssertEqual(Gate.median([4, 1, 3, 2]), 2.5)
    }

    /// 1M decisions/s, p50 100 µs, p99 1 ms.
    private let base = GateBaseline(profile: "p", runs: 3, metrics: ["decisions_per_second": 1_000_000, "p50": 100, "p99": 1000])
    private func report(_ dps: Double, p99: UInt64) -> RunReport { RunReportFixture.make(decisionsPerSecond: dps, p99: p99) }

    func testBaselineFlagsARegressionBeyondTolerance() {
        let ok = Gate.evaluate(thresholds: [], reports: [report(950_000, p99: 1050)], baseline: base, tolerance: 0.1)
        XCTAssertTrue(ok.allSatisfy(\.passed), Gate.table(ok))
        let slow = Gate.evaluate(thresholds: [], reports: [report(800_000, p99: 1050)], baseline: base, tolerance: 0.1)
        XCTAssertEqual(slow.filter { !$0.passed }.map(\.check), ["baseline decisions_per_second"])
        let laggy = Gate.evaluate(thresholds: [], reports: [report(1_000_000, p99: 2000)], baseline: base, tolerance: 0.1)
        XCTAssertEqual(laggy.filter { !$0.passed }.map(\.check), ["baseline p99"])
        XCTAssertTrue(Gate.table(laggy).contains("gate: FAIL"))
    }

    /// A large tolerance (150%, for a noisy p99) loosens throughput by the same factor, 1 + tolerance:
    /// the floor is 40% of the baseline, never zero, so a collapse still fails (it used to be
    /// base × (1 − 1.5) < 0: any throughput passed).
    func testALargeToleranceStillLeavesAThroughputFloor() {
        let noisy = Gate.evaluate(thresholds: [], reports: [report(450_000, p99: 2400)], baseline: base, tolerance: 1.5)
        XCTAssertTrue(noisy.allSatisfy(\.passed), Gate.table(noisy))
        let collapsed = Gate.evaluate(thresholds: [], reports: [report(350_000, p99: 1000)], baseline: base, tolerance: 1.5)
        XCTAssertEqual(collapsed.filter { !$0.passed }.map(\.check), ["baseline decisions_per_second"], Gate.table(collapsed))
    }

    /// A zero baseline compares nothing: a throughput floor of 0 ÷ (1 + tolerance) passed every run, and a
    /// latency ceiling of 0 × (1 + tolerance) failed every one. It is refused with the file, the key and why.
    func testABaselineHoldingAZeroIsRefusedWithTheKeyAndWhy() throws {
        let dir = NSTemporaryDirectory() + "gate-zero-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (key, why) in [("decisions_per_second", "would pass any run"), ("p50", "would fail any run"), ("p99", "would fail any run")] {
            var metrics: [String: Double] = ["decisions_per_second": 1_000_000, "p50": 100, "p99": 1000]
            metrics[key] = 0
            let path = dir + "/zero.json"
            try GateBaseline(profile: "p", runs: 3, metrics: metrics).write(path)
            XCTAssertThrowsError(try GateBaseline.load(path), key) { error in
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix("baseline \(path): metrics.\(key) is 0: "), text)
                XCTAssertTrue(text.contains(why) && text.contains("expected a value > 0"), text)
            }
        }
        try GateBaseline(profile: "p", runs: 3, metrics: ["decisions_per_second": 1, "p50": 1, "p99": 1]).write(dir + "/ok.json")
        XCTAssertNoThrow(try GateBaseline.load(dir + "/ok.json"))
    }

    /// An unreadable baseline says why, as `capture import` does for its inputs (it said only "cannot read it").
    func testAnUnreadableBaselineSaysWhy() throws {
        let dir = NSTemporaryDirectory() + "gate-unreadable-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = FileManager.default.createFile(atPath: dir + "/empty.json", contents: Data())
        _ = FileManager.default.createFile(atPath: dir + "/text.json", contents: Data("not a baseline\n".utf8))
        for (path, why) in [(dir + "/nosuch.json", "cannot read it: no such file"), (dir, "cannot read it: is a directory"),
                            ("/dev/null", "empty file"), (dir + "/empty.json", "empty file"), (dir + "/text.json", "not JSON")] {
            XCTAssertThrowsError(try GateBaseline.load(path), path) { error in
                XCTAssertTrue("\(error)".hasPrefix("baseline \(path): \(why)"), "\(path): \(error)")
            }
        }
    }

    func testFailedInvariantsFailTheGate() {
        var r = RunReportFixture.make(decisionsPerSecond: 1, p99: 1)
        r.invariants.oversold = 1
        let results = Gate.evaluate(thresholds: [], reports: [r], baseline: nil, tolerance: 0.1)
        XCTAssertFalse(results[0].passed)
    }

    /// A baseline saved before `segments.lz4Acceleration` existed still loads (as acceleration 1),
    /// and a report round-trips with it.
    func testBaselineWithoutLZ4AccelerationStillLoads() throws {
        var r = RunReportFixture.make(decisionsPerSecond: 1000, p99: 500)
        r.segments.lz4Acceleration = 8
        XCTAssertEqual(try RunReport.decode(r.jsonData()).segments.lz4Acceleration, 8)
        var json = try JSONSerialization.jsonObject(with: r.jsonData()) as! [String: Any]
        var segments = json["segments"] as! [String: Any]
        segments.removeValue(forKey: "lz4_acceleration")
        json["segments"] = segments
        let old = try RunReport.decode(JSONSerialization.data(withJSONObject: json))
        XCTAssertEqual(old.segments.lz4Acceleration, 1)
        XCTAssertEqual(old.decisionsPerSecond, 1000)
        // A temporary segment directory is reported as "dir": null, not left out (docs/report.md).
        XCTAssertNil(r.segments.dir)
        let text = String(decoding: try r.jsonData(), as: UTF8.self)
        XCTAssertTrue(text.contains("\"dir\":null") || text.contains("\"dir\" : null"), text)
    }
}

final class GateThresholdUnitTests: XCTestCase {
    /// A latency bound needs its unit (k6 reads a bare number as ms, others as µs: never guess),
    /// and a share lies between 0% and 100%.
    func testLatencyNeedsAUnitAndSharesStayInRange() throws {
        XCTAssertThrowsError(try GateThreshold(parsing: "p(99)<5"))
        XCTAssertNoThrow(try GateThreshold(parsing: "p(99)<5ms"))
        XCTAssertNoThrow(try GateThreshold(parsing: "max<800us"))
        XCTAssertThrowsError(try GateThreshold(parsing: "outcome_share.sold_out<190%"))
        XCTAssertNoThrow(try GateThreshold(parsing: "outcome_share.sold_out<90%"))
        XCTAssertNoThrow(try GateThreshold(parsing: "outcome_share.sold_out<0.9"))
    }
}

enum RunReportFixture {
    static func make(decisionsPerSecond: Double, p99: UInt64) -> RunReport {
        var latency = RunReport.Latency(kind: "queueing", recorder: LatencyRecorder())
        latency.p99 = p99
        latency.p50 = 100
        return RunReport(
            profile: "p", seed: 1, lanes: 2, durationSeconds: 1, requests: 10, decisionsPerSecond: decisionsPerSecond,
            decisions: 10, outcomes: ["ACCEPTED": 10], latencyMicros: latency, offers: [], items: [],
            invariants: .init(), segments: .init(dir: nil, files: 1, bytes: 1, records: 10, rawBytes: 1, compressionRatio: 1,
                                                 durability: "batch", fsyncs: 1),
            memory: MemoryStats(peakRSSBytes: 1, rssBytes: 1, jemallocAllocatedBytes: nil, jemallocResidentBytes: nil),
            load: .init(mode: "max", overloadPolicy: "wait", offered: 10, offeredPerSecond: 10, shed: 0, sourceWaitSeconds: 0),
            resumedRecords: 0)
    }
}
