import Foundation
import FlashSaleTestSupport
import XCTest

final class GateCommandTests: XCTestCase {
    func testThresholdThatCannotHoldExits99NamingTheCheck() throws {
        let r = try CommandRunner.run(["gate", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--runs", "1",
                                       "--check", "p(99)<1us", "--check", "outcome.overload==0"])
        XCTAssertEqual(r.status, 99, r.stderr + r.stdout)
        let failing = r.stdout.split(separator: "\n").filter { $0.hasSuffix("FAIL") && !$0.hasPrefix("gate:") }
        XCTAssertEqual(failing.count, 1, r.stdout)
        XCTAssertTrue(failing.first?.hasPrefix("p(99)<1us") ?? false, r.stdout)
    }

    /// A --report that cannot be written ends the gate with exit 3, naming the option, the file and why.
    func testAnUnwritableReportNamesTheFileAndWhy() throws {
        let r = try CommandRunner.run(["gate", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--runs", "1",
                                       "--check", "outcome.overload==0", "--report", "/dev/full"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("flashsale: --report /dev/full: write failed: No space left on device"), r.stderr)
    }

    /// A baseline from a normal run, then a regression injected through the lanes' test seam: the gate
    /// must flag the throughput drop (exit 99) and name it.
    func testBaselineComparisonFlagsAnInjectedRegression() throws {
        let dir = CommandRunner.temporaryDirectory("gate")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let baseline = dir + "/baseline.json"
        let common = ["gate", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--runs", "1", "--baseline", baseline, "--lanes", "1"]
        let write = try CommandRunner.run(common + ["--update-baseline"])
        XCTAssertEqual(write.status, 0, write.stderr + write.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: baseline))
        let slowed = try CommandRunner.run(common + ["--tolerance", "30%", "--inject-lane-delay-ns", "20000"])
        XCTAssertEqual(slowed.status, 99, slowed.stderr + slowed.stdout)
        XCTAssertTrue(slowed.stdout.contains("baseline decisions_per_second"), slowed.stdout)
        let line = slowed.stdout.split(separator: "\n").first { $0.hasPrefix("baseline decisions_per_second") } ?? ""
        XCTAssertTrue(line.hasSuffix("FAIL"), slowed.stdout)

        // A baseline is only compared like with like: another profile, or acknowledgement latency
        // against this queueing baseline, is refused before anything runs (exit 2).
        let otherProfile = try CommandRunner.run(["gate", "LoadProfiles/kaigong-opening.yaml", "--rate", "max", "--runs", "1",
                                                  "--baseline", baseline])
        XCTAssertEqual(otherProfile.status, 2, otherProfile.stderr)
        XCTAssertTrue(otherProfile.stderr.contains("other content") && otherProfile.stderr.contains("LoadProfiles/ci-smoke.yaml"), otherProfile.stderr)
        let paced = try CommandRunner.run(["gate", "LoadProfiles/ci-smoke.yaml", "--duration", "1", "--runs", "1", "--baseline", baseline])
        XCTAssertEqual(paced.status, 2, paced.stderr)
        XCTAssertTrue(paced.stderr.contains("its latency is queueing time"), paced.stderr)
        // ... and so is a run of another journal: another durability or LZ4 acceleration.
        let otherJournal = try CommandRunner.run(common + ["--durability", "none"])
        XCTAssertEqual(otherJournal.status, 2, otherJournal.stderr)
        XCTAssertTrue(otherJournal.stderr.contains("it was measured with --durability batch"), otherJournal.stderr)
        let otherLanes = try CommandRunner.run(Array(common.dropLast(2)) + ["--lanes", "2"])
        XCTAssertEqual(otherLanes.status, 2, otherLanes.stderr)
        XCTAssertTrue(otherLanes.stderr.contains("it was measured with --lanes 1"), otherLanes.stderr)
        // The same profile spelt "./…" is the same profile.
        let dotted = try CommandRunner.run(["gate", "./LoadProfiles/ci-smoke.yaml", "--rate", "max", "--runs", "1", "--baseline", baseline,
                                            "--lanes", "1", "--tolerance", "900%"])
        XCTAssertEqual(dotted.status, 0, dotted.stderr + dotted.stdout)
        let otherAcceleration = try CommandRunner.run(common + ["--lz4-acceleration", "8"])
        XCTAssertEqual(otherAcceleration.status, 2, otherAcceleration.stderr)
        XCTAssertTrue(otherAcceleration.stderr.contains("it was measured with --lz4-acceleration 1"), otherAcceleration.stderr)
    }

    func testBadGateArgumentsExitTwo() throws {
        XCTAssertEqual(try CommandRunner.run(["gate", "--check", "p99<5"]).status, 2)
        XCTAssertEqual(try CommandRunner.run(["gate"]).status, 2, "nothing to check")
        XCTAssertEqual(try CommandRunner.run(["gate", "--check", "p(99)<5ms", "--tolerance", "lots"]).status, 2)
        XCTAssertEqual(try CommandRunner.run(["gate", "--baseline", "/nonexistent/b.json"]).status, 2)
        // A gate must not destroy its inputs, and learns of an unwritable baseline before it runs.
        let dir = CommandRunner.temporaryDirectory("gate-args")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let profile = dir + "/my.yaml"
        try FileManager.default.copyItem(atPath: CommandRunner.root + "/LoadProfiles/ci-smoke.yaml", toPath: profile)
        let before = try String(contentsOfFile: profile, encoding: .utf8)
        let own = try CommandRunner.run(["gate", profile, "--runs", "1", "--baseline", profile, "--update-baseline"])
        XCTAssertEqual(own.status, 2, own.stderr)
        XCTAssertEqual(try String(contentsOfFile: profile, encoding: .utf8), before, "the gate overwrote its profile")
        let nowhere = try CommandRunner.run(["gate", profile, "--runs", "1", "--baseline", "/nonexistent/dir/b.json", "--update-baseline"])
        XCTAssertEqual(nowhere.status, 2, nowhere.stderr)
        XCTAssertFalse(nowhere.stderr.contains("gate: run"), "it ran before refusing: \(nowhere.stderr)")
        // Runs that cannot measure anything: a zero or endless duration, a replay cut by --duration.
        for args in [["--duration", "0"], ["--duration", "inf"], ["--replay", profile, "--duration", "1"], ["--tolerance", "15"]] {
            let r = try CommandRunner.run(["gate", "--check", "p(99)<5ms"] + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
        }
        // A baseline that lacks a metric would silently drop its check.
        try #"{"profile": "x", "runs": 1, "metrics": {}}"#.write(toFile: dir + "/empty.json", atomically: true, encoding: .utf8)
        let empty = try CommandRunner.run(["gate", "--baseline", dir + "/empty.json"])
        XCTAssertEqual(empty.status, 2, empty.stderr)
        XCTAssertTrue(empty.stderr.contains("metrics lacks"), empty.stderr)
        try #"{"profile": "x", "runs": 1, "metrics": {"decisions_per_s": -5, "p(50)": 1, "p(99)": 2}}"#
            .write(toFile: dir + "/negative.json", atomically: true, encoding: .utf8)
        let negative = try CommandRunner.run(["gate", "--baseline", dir + "/negative.json"])
        XCTAssertEqual(negative.status, 2, negative.stderr)
        XCTAssertTrue(negative.stderr.contains("expected a finite value ≥ 0"), negative.stderr)
        // Runs that offered nothing do not make a baseline (its latency would be 0 µs).
        let nothing = try CommandRunner.run(["gate", "LoadProfiles/ci-smoke.yaml", "--runs", "1", "--duration", "1", "--rate", "0.001",
                                             "--baseline", dir + "/b0.json", "--update-baseline"])
        XCTAssertEqual(nothing.status, 99, nothing.stderr + nothing.stdout)
        XCTAssertTrue(nothing.stderr.contains("baseline not written: a run offered no request"), nothing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/b0.json"))
        let accel = try CommandRunner.run(["gate", "--check", "p(99)<5ms", "--lz4-acceleration", "0"])
        XCTAssertEqual(accel.status, 2, accel.stderr)
        XCTAssertTrue(accel.stderr.contains("--lz4-acceleration must be between 1 and 65537"), accel.stderr)
    }

    /// `%` on a metric that is not a share used to be read as a fraction (`decisions_per_s>50%` as "> 0/s",
    /// always PASS): the gate now refuses it before running (exit 2), naming the check.
    func testAPercentageOnAMetricThatIsNotAShareExitsTwo() throws {
        for check in ["decisions_per_s>50%", "outcome.sold_out<50%", "shed<5%"] {
            let r = try CommandRunner.run(["gate", "LoadProfiles/ci-smoke.yaml", "--runs", "1", "--duration", "0.3",
                                           "--check", "outcome_share.sold_out<50%", "--check", check])
            XCTAssertEqual(r.status, 2, "\(check): " + r.stderr + r.stdout)
            XCTAssertTrue(r.stderr.contains("threshold '\(check)': a percentage applies only to outcome_share.*"), r.stderr)
            XCTAssertFalse(r.stderr.contains("gate: run"), "it ran before refusing: \(r.stderr)")
        }
    }

    /// A hand-edited baseline with a zero (`"decisions_per_s": 0` made its check "≥ 0/s", which never fails)
    /// is refused before running (exit 2), with the file, the key and why.
    func testAZeroInABaselineExitsTwoNamingTheKey() throws {
        let dir = CommandRunner.temporaryDirectory("gate-baseline-zero")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let zero = dir + "/zero.json"
        try #"{"profile": "LoadProfiles/ci-smoke.yaml", "runs": 1, "metrics": {"decisions_per_s": 0, "p(50)": 1, "p(99)": 2}}"#
            .write(toFile: zero, atomically: true, encoding: .utf8)
        let r = try CommandRunner.run(["gate", "LoadProfiles/ci-smoke.yaml", "--runs", "1", "--duration", "0.3", "--baseline", zero])
        XCTAssertEqual(r.status, 2, r.stderr + r.stdout)
        XCTAssertTrue(r.stderr.contains("flashsale: baseline \(zero): metrics.decisions_per_second is 0: its floor, 0 ÷ (1 + tolerance), "
                                        + "would pass any run"), r.stderr)
        XCTAssertFalse(r.stderr.contains("gate: run"), "it ran before refusing: \(r.stderr)")
    }

    /// An unreadable baseline said only "cannot read it": it now says why (exit 2), as `capture import` does.
    func testAnUnreadableBaselineExitsTwoSayingWhy() throws {
        let dir = CommandRunner.temporaryDirectory("gate-baseline-unreadable")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let empty = dir + "/empty.json"
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        for (path, why) in [(dir + "/nosuch.json", "cannot read it: no such file"), (dir, "cannot read it: is a directory"),
                            ("/dev/null", "empty file"), (empty, "empty file")] {
            let r = try CommandRunner.run(["gate", "LoadProfiles/ci-smoke.yaml", "--runs", "1", "--duration", "0.3", "--baseline", path])
            XCTAssertEqual(r.status, 2, "\(path): " + r.stderr + r.stdout)
            XCTAssertTrue(r.stderr.contains("flashsale: baseline \(path): \(why)"), r.stderr)
        }
    }

    /// A run that offered no request would pass any latency bound with 0 µs: the gate fails it.
    func testARunThatOfferedNothingFailsTheGate() throws {
        let r = try CommandRunner.run(["gate", "LoadProfiles/ci-smoke.yaml", "--runs", "1", "--duration", "1", "--rate", "0.001",
                                       "--check", "p(99)<5ms"])
        XCTAssertEqual(r.status, 99, r.stderr + r.stdout)
        let line = r.stdout.split(separator: "\n").first { $0.hasPrefix("runs offered requests") } ?? ""
        XCTAssertTrue(line.hasSuffix("FAIL"), r.stdout)
    }

    /// The gate measures the journal it is told to: its runs write with the given LZ4 acceleration.
    func testGateRunsWithTheGivenLZ4Acceleration() throws {
        let dir = CommandRunner.temporaryDirectory("gate-accel")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CommandRunner.run(["gate", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--runs", "1", "--duration", "1",
                                       "--lz4-acceleration", "8", "--check", "segment_mismatches==0", "--report", dir + "/r.json"])
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))) as! [String: Any]
        XCTAssertEqual((json["segments"] as! [String: Any])["lz4_acceleration"] as? Int, 8)
    }
}

final class GateReplayTests: XCTestCase {
    /// The gate judges a replay of a capture just like a generated run: its request count is the
    /// capture's, every run.
    func testGateRunsAReplay() throws {
        let dir = CommandRunner.temporaryDirectory("gate-replay")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let capture = dir + "/smoke.fscap"
        let run = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--capture", capture, "--report", dir + "/run.json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/run.json"))) as! [String: Any]
        let requests = original["requests"] as! Int
        let gate = try CommandRunner.run(["gate", "LoadProfiles/ci-smoke.yaml", "--replay", capture, "--rate", "max", "--runs", "2",
                                          "--check", "requests==\(requests)", "--check", "requests!=\(requests)"])
        XCTAssertEqual(gate.status, 99, gate.stderr + gate.stdout)
        let verdicts = gate.stdout.split(separator: "\n").filter { $0.hasPrefix("requests") }.map { $0.hasSuffix("PASS") }
        XCTAssertEqual(verdicts, [true, false], gate.stdout)
    }
}
