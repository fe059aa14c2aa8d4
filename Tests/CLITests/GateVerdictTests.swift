import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import FlashSaleTestSupport
import XCTest

/// `gate --junit` and `--json` (issue 14): the verdict in the forms CI systems read.
final class GateVerdictTests: XCTestCase {
    /// A gate with one failing and one passing check: the JUnit file validates against the common JUnit
    /// XML schema (xmllint, Tests/CLITests/junit.xsd), has a test case per check, and names the failing
    /// one in its failure; the JSON has every check with expected, measured and verdict.
    func testJUnitAndJSONNameTheFailingCheck() throws {
        let dir = CommandRunner.temporaryDirectory("gate-verdict")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CommandRunner.run(["gate", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--runs", "1",
                                       "--check", "p(99)<1us", "--check", "requests>0",
                                       "--junit", dir + "/gate.xml", "--json", dir + "/gate.json"])
        XCTAssertEqual(r.status, 99, r.stderr + r.stdout)
        let xml = try String(contentsOfFile: dir + "/gate.xml", encoding: .utf8)

        if CommandRunner.shell("/usr/bin/which", ["xmllint"]) != 0 {
            _ = CommandRunner.shell("/usr/bin/env", ["DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "libxml2-utils"])
        }
        let schema = CommandRunner.root + "/Tests/CLITests/junit.xsd"
        XCTAssertEqual(CommandRunner.shell("/usr/bin/xmllint", ["--noout", "--schema", schema, dir + "/gate.xml"]), 0,
                       "the JUnit file does not validate:\n\(xml)")
        // A broken document must not validate (the check can fail).
        try xml.replacingOccurrences(of: "<testcase ", with: "<testcase bogus=\"1\" ").write(toFile: dir + "/bad.xml", atomically: true, encoding: .utf8)
        XCTAssertNotEqual(CommandRunner.shell("/usr/bin/xmllint", ["--noout", "--schema", schema, dir + "/bad.xml"]), 0)

        let doc = try XMLDocument(xmlString: xml)
        let cases = try doc.nodes(forXPath: "//testcase")
        XCTAssertEqual(cases.count, 4, xml)   // answers/invariants, runs offered requests, and the two checks
        let failed = try doc.nodes(forXPath: "//testcase[failure]").compactMap { ($0 as? XMLElement)?.attribute(forName: "name")?.stringValue }
        XCTAssertEqual(failed, ["p(99)<1us"], xml)
        let message = try doc.nodes(forXPath: "//failure/@message").first?.stringValue ?? ""
        XCTAssertTrue(message.contains("p(99)<1us") && message.contains("measured"), message)
        XCTAssertEqual(try doc.nodes(forXPath: "//testsuite/@failures").first?.stringValue, "1")

        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/gate.json"))) as! [String: Any]
        XCTAssertEqual(json["verdict"] as? String, "fail")
        let checks = json["checks"] as! [[String: String]]
        XCTAssertEqual(checks.count, 4)
        XCTAssertEqual(checks.first { $0["check"] == "p(99)<1us" }?["verdict"], "fail")
        XCTAssertEqual(checks.first { $0["check"] == "requests>0" }?["verdict"], "pass")
        XCTAssertNotNil(checks.first { $0["check"] == "p(99)<1us" }?["measured"])
    }
}

/// The report carries what makes it comparable later (issue 14): version, commit, start time, host,
/// CPU model, cores, kernel and whether the run was interrupted.
final class RunMetadataTests: XCTestCase {
    func testTheReportSaysWhichBuildMachineAndTimeItCameFrom() throws {
        let before = Date()
        let r = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let m = try XCTUnwrap(report["metadata"] as? [String: Any], r.stdout)
        XCTAssertEqual(m["interrupted"] as? Bool, false)
        XCTAssertEqual(m["cores"] as? Int, ProcessInfo.processInfo.activeProcessorCount)
        XCTAssertFalse((m["cpuModel"] as? String ?? "").isEmpty)
        XCTAssertTrue((m["kernel"] as? String ?? "").hasPrefix("Linux "), "\(m)")
        let f = ISO8601DateFormatter()
        let started = try XCTUnwrap(f.date(from: m["startedAt"] as? String ?? ""), "not RFC 3339: \(m)")
        XCTAssertLessThan(abs(started.timeIntervalSince(before)), 30)
        // Built in this checkout: the commit is the checkout's HEAD.
        let head = Process()
        head.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        head.arguments = ["-C", CommandRunner.root, "rev-parse", "HEAD"]
        let out = Pipe()
        head.standardOutput = out
        head.standardError = FileHandle.nullDevice
        try head.run()
        head.waitUntilExit()
        let commit = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if head.terminationStatus == 0 { XCTAssertEqual(m["commit"] as? String, commit) }
        let version = try CommandRunner.run(["--version"])
        XCTAssertEqual(version.status, 0)
        XCTAssertTrue(version.stdout.hasPrefix("flashsale \(m["version"] as? String ?? "?")"), version.stdout)
    }
}

/// `run --timeline FILE` (issue 14): the intervals streamed as NDJSON (or CSV) are the report's.
final class TimelineStreamTests: XCTestCase {
    func testTheStreamedTimelineIsTheReportsAndAddsUpToItsTotals() throws {
        let dir = CommandRunner.temporaryDirectory("timeline")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--interval", "0.5", "--timeline", dir + "/t.ndjson",
                                       "--report", dir + "/r.json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))) as! [String: Any]
        let inReport = try XCTUnwrap(report["timeline"] as? [[String: Any]])
        let lines = try String(contentsOfFile: dir + "/t.ndjson", encoding: .utf8).split(separator: "\n")
        let streamed = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(streamed.count, inReport.count)
        XCTAssertGreaterThanOrEqual(streamed.count, 5)
        XCTAssertEqual(streamed.map { $0["acknowledged"] as! Int }, inReport.map { $0["acknowledged"] as! Int })
        XCTAssertEqual(streamed.reduce(0) { $0 + ($1["acknowledged"] as! Int) }, report["decisions"] as? Int)
        XCTAssertEqual(streamed.reduce(0) { $0 + ($1["offered"] as! Int) }, report["requests"] as? Int)

        let csv = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--timeline", dir + "/t.csv"])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        let rows = try String(contentsOfFile: dir + "/t.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertTrue(rows.first?.hasPrefix("start_s,seconds,offered,decided,acknowledged") ?? false)
        XCTAssertGreaterThanOrEqual(rows.count, 2)
        let columns = rows[0].split(separator: ",").count
        XCTAssertTrue(rows.dropFirst().allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == columns })

        let bad = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--interval", "0"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--interval"), bad.stderr)
    }
}

/// `flashsale compare` (issue 14): a run against itself shows no difference; against a run with an
/// injected regression, the regression; a difference inside the runs' spread reads as noise.
final class CompareCommandTests: XCTestCase {
    private func row(_ out: String, _ metric: String) -> String {
        out.split(separator: "\n").first { $0.hasPrefix(metric + " ") }.map(String.init) ?? ""
    }

    func testCompareShowsZeroForItselfAndTheDeltaOfARegression() throws {
        let dir = CommandRunner.temporaryDirectory("compare")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a.json", b = dir + "/b.json"
        XCTAssertEqual(try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--report", a]).status, 0)
        // 150 µs of work per request in every lane: queueing at ci-smoke's 10k/s
        let slow = try CommandRunner.run(["gate", "LoadProfiles/ci-smoke.yaml", "--runs", "1", "--check", "requests>0",
                                          "--inject-lane-delay-ns", "150000", "--report", b])
        XCTAssertEqual(slow.status, 0, slow.stderr)

        let same = try CommandRunner.run(["compare", a, a])
        XCTAssertEqual(same.status, 0, same.stderr)
        for metric in ["decisions_per_s", "p(50)", "p(99)", "max", "peak_rss", "journal_bytes", "outcome.sold_out"] {
            let line = row(same.stdout, metric)
            XCTAssertTrue(line.contains(" 0.0%"), "\(metric): \(line)")
            XCTAssertFalse(line.contains("better") || line.contains("worse"), line)
        }

        let regressed = try CommandRunner.run(["compare", a, b])
        XCTAssertEqual(regressed.status, 0, regressed.stderr)
        for metric in ["p(50)", "mean"] {
            let line = row(regressed.stdout, metric)
            XCTAssertTrue(line.hasSuffix("worse") && line.contains("+"), "\(metric): \(line)\n\(regressed.stdout)")
        }

        // Two runs on one side: a B equal to one of them lies inside A's spread.
        let both = dir + "/ab.json"
        let reports = try [a, b].map { try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: $0))) }
        try JSONSerialization.data(withJSONObject: reports).write(to: URL(fileURLWithPath: both))
        let noisy = try CommandRunner.run(["compare", both, a])
        XCTAssertEqual(noisy.status, 0, noisy.stderr)
        XCTAssertTrue(noisy.stdout.contains("median of 2"), noisy.stdout)
        XCTAssertTrue(row(noisy.stdout, "p(50)").hasSuffix("within noise"), noisy.stdout)

        try Data("{\"profile\": 1}".utf8).write(to: URL(fileURLWithPath: dir + "/bad.json"))
        let bad = try CommandRunner.run(["compare", dir + "/bad.json", a])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains(dir + "/bad.json") && bad.stderr.contains("not a run report"), bad.stderr)
        XCTAssertEqual(try CommandRunner.run(["compare", dir + "/missing.json", a]).status, 2)
    }
}

/// The summary says what it counts (issue 14): decided requests apart from hold expiries and shed
/// requests, and a run the profile's request cap ended early says so.
final class SummaryWordingTests: XCTestCase {
    func testDecidedCountsAnswersAndTheRequestCapIsSaid() throws {
        let capped = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--rate", "50k", "--duration", "10"])
        XCTAssertEqual(capped.status, 0, capped.stderr)
        XCTAssertTrue(capped.stderr.contains("request cap (traffic.requests: 50000) ended the run"), capped.stderr)
        let r = try CommandRunner.run(["run", "LoadProfiles/hardware-prestock.yaml", "--duration", "2", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let expiries = try XCTUnwrap(report["expiries"] as? Int)
        XCTAssertGreaterThan(expiries, 0, "the profile's holds expire inside the run")
        let outcomes = report["outcomes"] as! [String: Int]
        let shed = outcomes["OVERLOAD"] ?? 0
        let latency = report["latencyMicros"] as! [String: Any]
        // every decided request (not the expiries, not the shed) has its latency
        XCTAssertEqual((report["decisions"] as! Int) - expiries - shed, latency["count"] as? Int)
        let text = try CommandRunner.run(["run", "LoadProfiles/hardware-prestock.yaml", "--duration", "2"])
        let line = text.stdout.split(separator: "\n").first { $0.contains("load:") }.map(String.init) ?? ""
        XCTAssertTrue(line.contains("decided") && line.contains("hold expiries") && !line.contains("decisions/s"), line)
    }
}

/// Gate baselines (issue 14): every run's values kept, the workload identified by the profile's content
/// (a moved profile still matches, an edited one does not), never written from runs that fail a check.
final class GateBaselineContentTests: XCTestCase {
    func testABaselineKnowsItsWorkloadByContentAndKeepsEveryRun() throws {
        let dir = CommandRunner.temporaryDirectory("baseline-content")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try String(contentsOfFile: CommandRunner.profilePath("ci-smoke"), encoding: .utf8)
        try text.write(toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
        let base = dir + "/base.json"
        let wrote = try CommandRunner.run(["gate", dir + "/a.yaml", "--rate", "max", "--runs", "2", "--check", "requests>0",
                                           "--baseline", base, "--update-baseline"])
        XCTAssertEqual(wrote.status, 0, wrote.stderr)
        let stored = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: base))) as! [String: Any]
        XCTAssertNotNil(stored["workload"] as? String)
        let values = try XCTUnwrap(stored["values"] as? [String: [Double]])
        XCTAssertTrue(values.values.allSatisfy { $0.count == 2 }, "\(values)")

        // The same text elsewhere: the same workload.
        try text.write(toFile: dir + "/moved.yaml", atomically: true, encoding: .utf8)
        let moved = try CommandRunner.run(["gate", dir + "/moved.yaml", "--rate", "max", "--runs", "1", "--baseline", base, "--tolerance", "900%"])
        XCTAssertNotEqual(moved.status, 2, moved.stderr)
        XCTAssertTrue(moved.stdout.contains("its runs"), moved.stdout)   // the baseline's spread is shown
        // Edited in place: another workload, refused.
        try text.replacingOccurrences(of: "seed: 1", with: "seed: 2").write(toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
        let edited = try CommandRunner.run(["gate", dir + "/a.yaml", "--rate", "max", "--runs", "1", "--baseline", base])
        XCTAssertEqual(edited.status, 2, edited.stdout)
        XCTAssertTrue(edited.stderr.contains("other content"), edited.stderr)

        // Runs that fail a check write no baseline.
        let failing = dir + "/failing.json"
        let refused = try CommandRunner.run(["gate", dir + "/moved.yaml", "--rate", "max", "--runs", "1", "--check", "p(99)<1us",
                                             "--baseline", failing, "--update-baseline"])
        XCTAssertTrue(refused.stderr.contains("baseline not written: the runs fail p(99)<1us"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: failing))
    }
}

/// `run --html FILE` (issue 14) opened in a real headless Chromium with the network cut: the rendered
/// page shows the JSON report's throughput, p99 and outcome counts, and no script error occurs.
final class HTMLReportBrowserTests: XCTestCase {
    func testTheHTMLReportRendersTheJSONReportsFigures() throws {
        let dir = CommandRunner.temporaryDirectory("html")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try CommandRunner.run(["run", "LoadProfiles/hardware-prestock.yaml", "--duration", "3", "--html", dir + "/r.html",
                                         "--report", dir + "/r.json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        if !FileManager.default.fileExists(atPath: "/usr/bin/chromium") {
            _ = CommandRunner.shell("/usr/bin/env", ["DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "chromium"])
        }
        let chromium = Process()
        chromium.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
        // No network: every host resolves nowhere and every request goes to a closed proxy.
        chromium.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                              "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--user-data-dir=" + dir + "/profile",
                              "--dump-dom", "file://" + dir + "/r.html"]
        let out = Pipe(), err = Pipe()
        chromium.standardOutput = out
        chromium.standardError = err
        try chromium.run()
        let dom = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        chromium.waitUntilExit()
        XCTAssertEqual(chromium.terminationStatus, 0, log)
        XCTAssertFalse(log.contains("Uncaught") || log.contains(":CONSOLE("), "script errors: \(log)")

        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))) as! [String: Any]
        func shown(_ id: String) -> String? {
            guard let r = dom.range(of: "id=\"\(id)\"") else { return nil }
            let after = dom[r.upperBound...]
            guard let gt = after.firstIndex(of: ">"), let lt = after[gt...].firstIndex(of: "<") else { return nil }
            return String(after[after.index(after: gt)..<lt])
        }
        let throughput = Int((report["decisionsPerSecond"] as! Double).rounded())
        XCTAssertEqual(shown("throughput"), "\(throughput)", dom.prefix(2000).description)
        let latency = report["latencyMicros"] as! [String: Any]
        XCTAssertEqual(shown("p99"), "\(latency["p99"] as! Int)")
        XCTAssertEqual(shown("invariants"), "PASS")
        for (name, count) in report["outcomes"] as! [String: Int] where count > 0 {
            XCTAssertEqual(shown("outcome-\(name)"), "\(count)", name)
        }
        XCTAssertTrue(dom.contains("<svg"), "the charts were not rendered")
    }
}
