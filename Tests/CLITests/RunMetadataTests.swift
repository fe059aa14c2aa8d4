import Foundation
import FlashSaleTestSupport
import XCTest

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
        XCTAssertFalse((m["cpu_model"] as? String ?? "").isEmpty)
        XCTAssertTrue((m["kernel"] as? String ?? "").hasPrefix("Linux "), "\(m)")
        let f = ISO8601DateFormatter()
        let started = try XCTUnwrap(f.date(from: m["started_at"] as? String ?? ""), "not RFC 3339: \(m)")
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
