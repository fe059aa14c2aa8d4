import Foundation
import FlashSaleTestSupport
import XCTest

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
        for metric in ["decisions_per_second", "p50", "p99", "max", "peak_rss", "journal_bytes", "outcome.SOLD_OUT"] {
            let line = row(same.stdout, metric)
            XCTAssertTrue(line.contains(" 0.0%"), "\(metric): \(line)")
            XCTAssertFalse(line.contains("better") || line.contains("worse"), line)
        }

        let regressed = try CommandRunner.run(["compare", a, b])
        XCTAssertEqual(regressed.status, 0, regressed.stderr)
        for metric in ["p50", "mean"] {
            let line = row(regressed.stdout, metric)
            XCTAssertTrue(line.hasSuffix("worse") && line.contains("+"), "\(metric): \(line)\n\(regressed.stdout)")
        }

        // --html: the same table as a page (each cell by id), A's and B's charts overlaid.
        let page = dir + "/compare.html"
        let drawn = try CommandRunner.run(["compare", a, b, "--html", page])
        XCTAssertEqual(drawn.status, 0, drawn.stderr)
        let html = try String(contentsOfFile: page, encoding: .utf8)
        func cell(_ id: String) -> String? {
            guard let r = html.range(of: "id=\"\(id)\"") else { return nil }
            let after = html[r.upperBound...]
            guard let gt = after.firstIndex(of: ">"), let lt = after[gt...].firstIndex(of: "<") else { return nil }
            return String(after[after.index(after: gt)..<lt])
        }
        XCTAssertEqual(cell("p50-note"), "worse", "the regression reads as one in the page too")
        let terminal = row(regressed.stdout, "p50")
        for id in ["p50-a", "p50-b", "p50-delta"] {
            let shown = try XCTUnwrap(cell(id), id).replacingOccurrences(of: "&amp;", with: "&")
            XCTAssertTrue(terminal.contains(shown), "\(id) \(shown) is not the terminal's: \(terminal)")
        }
        XCTAssertEqual(html.components(separatedBy: "stroke=\"#1f77b4\"").count, html.components(separatedBy: "stroke=\"#d62728\"").count,
                       "every chart draws A and B")
        XCTAssertGreaterThanOrEqual(html.components(separatedBy: "<polyline").count - 1, 6, "throughput, p99 over time and percentiles, for A and B")
        XCTAssertFalse(html.contains("<script") || html.contains("src=") || html.contains("href="), "self-contained")
        XCTAssertEqual(try CommandRunner.run(["compare", a, b, "--html", a]).status, 2, "an input is never overwritten")

        // Two runs on one side: a B equal to one of them lies inside A's spread.
        let both = dir + "/ab.json"
        let reports = try [a, b].map { try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: $0))) }
        try JSONSerialization.data(withJSONObject: reports).write(to: URL(fileURLWithPath: both))
        let noisy = try CommandRunner.run(["compare", both, a])
        XCTAssertEqual(noisy.status, 0, noisy.stderr)
        XCTAssertTrue(noisy.stdout.contains("median of 2"), noisy.stdout)
        XCTAssertTrue(row(noisy.stdout, "p50").hasSuffix("within noise"), noisy.stdout)

        try Data("{\"profile\": 1}".utf8).write(to: URL(fileURLWithPath: dir + "/bad.json"))
        let bad = try CommandRunner.run(["compare", dir + "/bad.json", a])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains(dir + "/bad.json") && bad.stderr.contains("not a run report"), bad.stderr)
        XCTAssertEqual(try CommandRunner.run(["compare", dir + "/missing.json", a]).status, 2)
    }
}
