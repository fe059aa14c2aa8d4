import Foundation
import FlashSaleTestSupport
import XCTest

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
