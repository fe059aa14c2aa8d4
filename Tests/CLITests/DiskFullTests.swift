import Foundation
import FlashSaleTestSupport
import XCTest

/// A real full disk (a 2 MiB tmpfs), end to end: the run stops with a clear error and exit 3, and
/// every decision it acknowledged before the disk filled is rebuilt by the next run once there is
/// room. Needs permission to mount a tmpfs (root, as on CI); skipped otherwise. The writer-level
/// test of the same property through the sink seam runs everywhere (WriterTests).
final class DiskFullTests: XCTestCase {
    func testFullDiskStopsCleanlyAndKeepsEveryAcknowledgedDecision() throws {
        let mountPoint = try tinyTmpfs("tinyfs")
        let seg = mountPoint + "/seg"

        let full = try CommandRunner.run(["run", "--segments", seg, "--duration", "5", "--progress", "never"])
        XCTAssertEqual(full.status, 3, full.stderr + full.stdout)
        XCTAssertTrue(full.stderr.contains("No space left on device"), full.stderr)
        guard let ackedText = full.stderr.components(separatedBy: "journal failed after ").last?.prefix(while: \.isNumber),
              let acknowledged = Int(ackedText), acknowledged > 0 else {
            return XCTFail("no acknowledged count in: \(full.stderr)")
        }

        XCTAssertEqual(CommandRunner.shell("/bin/mount", ["-o", "remount,size=64m", mountPoint]), 0)
        let report = mountPoint + "/r.json"
        let again = try CommandRunner.run(["run", "--segments", seg, "--duration", "1", "--progress", "never", "--report", report])
        XCTAssertEqual(again.status, 0, again.stderr + again.stdout)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as! [String: Any]
        XCTAssertGreaterThanOrEqual(json["resumed_records"] as! Int, acknowledged, "an acknowledged decision was lost")
        let invariants = json["invariants"] as! [String: Any]
        XCTAssertEqual(invariants["conservation_violations"] as? Int, 0)
        XCTAssertEqual(invariants["segment_mismatches"] as? Int, 0)
        XCTAssertEqual(invariants["oversold"] as? Int, 0)
    }

    /// A run without --segments that fails (its temporary journal fills the disk) still removes that
    /// journal: exit 3, and nothing of it is left in TMPDIR.
    func testAFailedRunRemovesItsTemporarySegments() throws {
        let mountPoint = try tinyTmpfs("tinytmp")
        let r = try CommandRunner.run(["run", "--duration", "5", "--progress", "never"], environment: ["TMPDIR": mountPoint])
        XCTAssertEqual(r.status, 3, r.stderr + r.stdout)
        XCTAssertTrue(r.stderr.contains("No space left on device"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mountPoint), [], "the failed run left its temporary journal")
    }

    /// A capture that runs out of room costs the run neither its summary nor its report: they are written,
    /// then the capture's failure is reported with exit 3.
    func testAFullCaptureStillWritesTheReport() throws {
        let mountPoint = try tinyTmpfs("tinycap", size: "64k")
        let dir = CommandRunner.temporaryDirectory("capreport")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--capture", mountPoint + "/c.fscap",
                                       "--report", dir + "/r.json", "--progress", "never"])
        XCTAssertEqual(r.status, 3, r.stderr + r.stdout)
        XCTAssertTrue(r.stdout.contains("Invariants: PASS"), r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/r.json"), "the report was not written")
        XCTAssertTrue(r.stderr.contains("no capture written (an existing file is unchanged)"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mountPoint), [], "no partial capture is left behind")
    }

    /// A fresh tmpfs (2 MiB unless told), unmounted and removed after the test; skips the test where
    /// mounting is not allowed.
    private func tinyTmpfs(_ label: String, size: String = "2m") throws -> String {
        let mountPoint = CommandRunner.temporaryDirectory(label)
        guard CommandRunner.shell("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", mountPoint]) == 0 else {
            try? FileManager.default.removeItem(atPath: mountPoint)
            throw XCTSkip("cannot mount a tmpfs here (needs root)")
        }
        addTeardownBlock {
            _ = CommandRunner.shell("/bin/umount", [mountPoint])
            try? FileManager.default.removeItem(atPath: mountPoint)
        }
        return mountPoint
    }

}
