import Foundation
import FlashSaleTestSupport
import XCTest

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
        XCTAssertTrue(rows.first?.hasPrefix("start_seconds,seconds,offered,decided,acknowledged") ?? false)
        XCTAssertGreaterThanOrEqual(rows.count, 2)
        let columns = rows[0].split(separator: ",").count
        XCTAssertTrue(rows.dropFirst().allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == columns })

        let bad = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--interval", "0"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--interval"), bad.stderr)
    }
}
