import Foundation
import FlashSaleTestSupport
import XCTest

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
        let latency = report["latency_micros"] as! [String: Any]
        // every decided request (not the expiries, not the shed) has its latency
        XCTAssertEqual((report["decisions"] as! Int) - expiries - shed, latency["count"] as? Int)
        let text = try CommandRunner.run(["run", "LoadProfiles/hardware-prestock.yaml", "--duration", "2"])
        let line = text.stdout.split(separator: "\n").first { $0.contains("load:") }.map(String.init) ?? ""
        XCTAssertTrue(line.contains("decided") && line.contains("hold expiries") && !line.contains("decisions/s"), line)
    }
}
