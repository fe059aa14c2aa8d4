import Foundation
import FlashSaleTestSupport
import XCTest

final class RunCommandTests: XCTestCase {
    /// The JSON report carries every contract key, its counts add up, and the .hgrm is HdrHistogram text.
    func testRunWritesTheContractReportAndSpectrum() throws {
        let dir = CommandRunner.temporaryDirectory("report")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--segments", dir + "/seg",
                                       "--report", dir + "/r.json", "--hgrm", dir + "/r.hgrm", "--lanes", "2"])
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        XCTAssertTrue(r.stdout.contains("Invariants: PASS"), r.stdout)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))) as! [String: Any]
        for key in ["profile", "seed", "lanes", "duration_seconds", "requests", "decisions_per_second", "outcomes",
                    "latency_micros", "offers", "invariants", "segments", "memory"] {
            XCTAssertNotNil(json[key], "missing key \(key)")
        }
        let latency = json["latency_micros"] as! [String: Any]
        for key in ["p50", "p90", "p99", "p99.9", "p99.99", "max"] { XCTAssertNotNil(latency[key], "latency_micros.\(key)") }
        let outcomes = json["outcomes"] as! [String: Int]
        XCTAssertEqual(outcomes.values.reduce(0, +), json["decisions"] as? Int)
        let offers = json["offers"] as! [[String: Any]]
        XCTAssertFalse(offers.isEmpty)
        for o in offers { for key in ["id", "initial", "sold", "held", "remaining"] { XCTAssertNotNil(o[key], "offers[].\(key)") } }
        let invariants = json["invariants"] as! [String: Any]
        XCTAssertEqual(invariants["oversold"] as? Int, 0)
        XCTAssertEqual(invariants["conservation_violations"] as? Int, 0)
        let segments = json["segments"] as! [String: Any]
        XCTAssertGreaterThan(segments["records"] as! Int, 0)
        for key in ["dir", "files", "bytes", "records"] { XCTAssertNotNil(segments[key], "segments.\(key)") }
        let memory = json["memory"] as! [String: Any]
        XCTAssertGreaterThan(memory["peak_rss_bytes"] as! Int, 0)
        XCTAssertGreaterThan(memory["jemalloc_allocated_bytes"] as? Int ?? 0, 0, "jemalloc is the process allocator")
        let hgrm = try String(contentsOfFile: dir + "/r.hgrm", encoding: .utf8)
        XCTAssertTrue(hgrm.contains("Percentile") && hgrm.contains("#[Max"), hgrm)
    }

    func testBadProfileExitsTwoNamingFileAndLine() throws {
        let dir = CommandRunner.temporaryDirectory("bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/bad.yaml"
        var text = try String(contentsOfFile: CommandRunner.root + "/LoadProfiles/ci-smoke.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "stock: 300", with: "stock: -5")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try CommandRunner.run(["run", path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("bad.yaml:"), r.stderr)
        XCTAssertTrue(r.stderr.contains("stock"), r.stderr)
        XCTAssertEqual(try CommandRunner.run(["run", dir + "/missing.yaml"]).status, 2)
    }

    func testBadOptionsExitTwo() throws {
        XCTAssertEqual(try CommandRunner.run(["run", "--rate", "fast"]).status, 2)
        XCTAssertEqual(try CommandRunner.run(["run", "--lanes", "0"]).status, 2)
        XCTAssertEqual(try CommandRunner.run(["run", "--durability", "maybe"]).status, 2)
        // Tuning values that would reserve hundreds of gigabytes of batch slots.
        let slots = try CommandRunner.run(["run", "--batch-size", "1048576", "--batches-per-lane", "4096"])
        XCTAssertEqual(slots.status, 2, slots.stderr)
        XCTAssertTrue(slots.stderr.contains("requests in flight; at most 16777216"), slots.stderr)
        let file = try CommandRunner.run(["segments", "verify", CommandRunner.root + "/Package.swift"])
        XCTAssertEqual(file.status, 2)
        XCTAssertTrue(file.stderr.contains("is a file; give the segment directory"), file.stderr)
        let accel = try CommandRunner.run(["run", "--lz4-acceleration", "0"])
        XCTAssertEqual(accel.status, 2)
        XCTAssertTrue(accel.stderr.contains("--lz4-acceleration must be between 1 and 65537"), accel.stderr)
        XCTAssertEqual(try CommandRunner.run(["run", "--segments", ""]).status, 2)
        XCTAssertEqual(try CommandRunner.run(["segments", "dump", "/tmp", "--limit=-1"]).status, 2)
        // Values that used to crash (SIGILL, exit 132) in the traffic generator's arithmetic.
        for args in [["--duration", "1e12"], ["--duration", "inf"], ["--rate", "1e12"], ["--rate", "0.000001"]] {
            let r = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml"] + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
        }
        // Two outputs naming one file: only the last written would survive.
        let same = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--report", "/tmp/same.out", "--capture", "/tmp/same.out"])
        XCTAssertEqual(same.status, 2, same.stderr)
        XCTAssertTrue(same.stderr.contains("--report and --capture both name /tmp/same.out"), same.stderr)
    }

    /// A report or spectrum that cannot be written names its option, its file and the system's reason
    /// (it used to print a raw Foundation error naming neither); a run that offers nothing says so.
    func testOutputFailuresAndEmptyTrafficAreExplained() throws {
        let full = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--duration", "0.2", "--progress", "never", "--hgrm", "/dev/full"])
        XCTAssertEqual(full.status, 3, full.stderr)
        XCTAssertTrue(full.stderr.contains("flashsale: --hgrm /dev/full: write failed: No space left on device"), full.stderr)
        let none = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--rate", "0.001", "--duration", "1", "--progress", "never"])
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertTrue(none.stderr.contains("warning: the traffic offered no request"), none.stderr)
        let fifo = NSTemporaryDirectory() + "flashsale-fifo-\(getpid())"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        defer { unlink(fifo) }
        let pipe = try CommandRunner.run(["replay", fifo, "--rate", "max"])   // `cat c.fscap | flashsale replay /dev/stdin`
        XCTAssertEqual(pipe.status, 2, pipe.stderr)
        XCTAssertTrue(pipe.stderr.contains("a capture must be a regular file, not a pipe or device"), pipe.stderr)
    }

    /// A script that forgets its subcommand must not see success; asking for help still succeeds.
    func testAMissingSubcommandExitsTwoWithTheList() throws {
        for (args, listed) in [([], "run, serve, replay, capture, segments, gate"), (["segments"], "verify, dump, stats"),
                               (["capture"], "import, inspect")] {
            let r = try CommandRunner.run(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("missing subcommand: give one of \(listed)"), "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("SUBCOMMANDS:"), "\(args): the help follows: \(r.stderr)")
        }
        for args in [["--help"], ["segments", "--help"], ["help", "gate"]] {
            let r = try CommandRunner.run(args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("USAGE:"), "\(args): \(r.stdout)")
        }
    }

    /// A paced run at a rate this machine cannot offer overruns its duration and says so (it used to run
    /// 20 times longer in silence).
    func testAnUnreachableRateIsReported() throws {
        let r = try CommandRunner.run(["run", "--rate", "50m", "--duration", "0.2", "--durability", "none"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("the requested rate was not reached"), r.stderr)
        let fine = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--duration", "1"])
        XCTAssertFalse(fine.stderr.contains("not reached"), fine.stderr)
    }

    /// --hgrm writes through a symlink (and so to /dev/stdout), like --report; it used to replace the link.
    func testHgrmWritesThroughASymlink() throws {
        let dir = CommandRunner.temporaryDirectory("hgrm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "".write(toFile: dir + "/target.hgrm", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/latest.hgrm", withDestinationPath: dir + "/target.hgrm")
        let r = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--duration", "1", "--hgrm", dir + "/latest.hgrm"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/latest.hgrm"), dir + "/target.hgrm")
        XCTAssertTrue(try String(contentsOfFile: dir + "/target.hgrm", encoding: .utf8).contains("Percentile"))
    }

    /// Segments compressed with a higher LZ4 acceleration are read back whole (invariants from the
    /// segments, `segments verify`), and the report says which acceleration wrote them.
    func testHigherLZ4AccelerationWritesReadableSegments() throws {
        let dir = CommandRunner.temporaryDirectory("accel")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--segments", dir + "/seg", "--duration", "1",
                                       "--lz4-acceleration", "64", "--report", dir + "/r.json"])
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))) as! [String: Any]
        let segments = json["segments"] as! [String: Any]
        XCTAssertEqual(segments["lz4_acceleration"] as? Int, 64)
        let invariants = json["invariants"] as! [String: Any]
        XCTAssertEqual(invariants["checked_segments"] as? Bool, true)
        XCTAssertEqual(invariants["segment_mismatches"] as? Int, 0)
        XCTAssertEqual(invariants["outcome_mismatches"] as? Int, 0)
        let verify = try CommandRunner.run(["segments", "verify", dir + "/seg"])
        XCTAssertEqual(verify.status, 0, verify.stderr + verify.stdout)
    }

    /// `segments verify` on a sealed segment with a flipped byte inside: exit 1, the problem with file and
    /// offset on stderr, and the segment called damaged (not "unsealed": its end marker is intact).
    func testVerifyCallsASealedSegmentWithDamageInsideDamaged() throws {
        let dir = CommandRunner.temporaryDirectory("damaged")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--segments", dir + "/seg", "--duration", "1"])
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/seg").filter { $0.hasSuffix(".seg") }.sorted()
        XCTAssertEqual(files.count, 1)
        let path = dir + "/seg/" + files[0]
        let clean = try CommandRunner.run(["segments", "verify", dir + "/seg"])
        XCTAssertEqual(clean.status, 0, clean.stderr)
        XCTAssertTrue(clean.stdout.contains(" bytes, sealed"), clean.stdout)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: path))
        let v = try CommandRunner.run(["segments", "verify", dir + "/seg"])
        XCTAssertEqual(v.status, 1, v.stdout + v.stderr)
        XCTAssertTrue(v.stdout.contains(" bytes, damaged"), v.stdout)
        XCTAssertFalse(v.stdout.contains("unsealed"), v.stdout)
        XCTAssertNotNil(v.stderr.range(of: path + #":\d+: "#, options: .regularExpression), v.stderr)
        // A run on the damaged directory refuses it as bad input (exit 2, like another campaign's
        // directory), naming the file and offset; it used to exit 3 as if the disk had failed.
        let rerun = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--segments", dir + "/seg", "--duration", "1"])
        XCTAssertEqual(rerun.status, 2, rerun.stderr)
        XCTAssertNotNil(rerun.stderr.range(of: path + #":\d+: "#, options: .regularExpression), rerun.stderr)
        // So is a directory, or a symlink loop, where a segment file should be.
        let odd = dir + "/odd"
        try FileManager.default.createDirectory(atPath: odd + "/00000000000000000001.seg", withIntermediateDirectories: true)
        let loop = dir + "/loop"
        try FileManager.default.createDirectory(atPath: loop, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: loop + "/00000000000000000001.seg", withDestinationPath: "00000000000000000001.seg")
        for bad in [odd, loop] {
            let r = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--segments", bad, "--duration", "0.2", "--progress", "never"])
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertTrue(r.stderr.contains(bad + "/00000000000000000001.seg"), r.stderr)
        }
    }

    /// A run killed with SIGKILL mid-flight and restarted on the same directory: every record that was
    /// durable before the kill is still there, sequences continue, and the invariants hold.
    func testKilledRunRestartsWithInvariantsAndEveryDurableRecord() throws {
        let dir = CommandRunner.temporaryDirectory("kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let seg = dir + "/seg"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandRunner.binary)
        p.arguments = ["run", "LoadProfiles/hardware-prestock.yaml", "--segments", seg, "--durability", "sync",
                       "--progress", "always", "--lanes", "2"]
        p.currentDirectoryURL = URL(fileURLWithPath: CommandRunner.root)
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        // Read progress lines until a few durable watermarks were reported, then kill.
        var seen = ""
        var durable: UInt64 = 0
        let deadline = Date().addingTimeInterval(60)
        while durable == 0 || seen.components(separatedBy: "durable #").count < 3, Date() < deadline {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let last = seen.components(separatedBy: "durable #").last?.prefix(while: \.isNumber), let n = UInt64(last) {
                durable = n
            }
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        XCTAssertGreaterThan(durable, 0, "the run reported no durable watermark: \(seen)")

        let restart = try CommandRunner.run(["run", "LoadProfiles/hardware-prestock.yaml", "--segments", seg,
                                             "--durability", "batch", "--duration", "2", "--report", dir + "/r.json"])
        XCTAssertEqual(restart.status, 0, restart.stderr + restart.stdout)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))) as! [String: Any]
        let resumed = report["resumed_records"] as! Int
        XCTAssertGreaterThanOrEqual(UInt64(resumed), durable, "a record reported durable was lost")
        let invariants = report["invariants"] as! [String: Any]
        XCTAssertEqual(invariants["conservation_violations"] as? Int, 0)
        XCTAssertEqual(invariants["segment_mismatches"] as? Int, 0)
        XCTAssertEqual(invariants["oversold"] as? Int, 0)
    }

    /// Restarting a campaign that already ran to its end offers nothing, and says so instead of
    /// printing an empty run as if it were a result.
    func testRestartOfAFinishedCampaignSaysThereIsNothingLeft() throws {
        let dir = CommandRunner.temporaryDirectory("finished")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let args = ["run", "LoadProfiles/ci-smoke.yaml", "--segments", dir + "/seg", "--duration", "1", "--progress", "never"]
        let first = try CommandRunner.run(args)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertFalse(first.stderr.contains("nothing left to offer"), first.stderr)
        let again = try CommandRunner.run(args)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("nothing left to offer"), again.stderr)
        // Another lane count cannot use the per-lane markers: the directory is marked "lanes mixed" and
        // the restart falls back to the last journaled campaign time, which still offers nothing here.
        let fingerprint = dir + "/seg/campaign.fingerprint"
        let lanes = try String(contentsOfFile: fingerprint, encoding: .utf8).split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(lanes.hasPrefix("lanes "), lanes)
        let other = lanes == "lanes 1" ? "2" : "1"
        let mixed = try CommandRunner.run(args + ["--lanes", other])
        XCTAssertEqual(mixed.status, 0, mixed.stderr)
        XCTAssertTrue(mixed.stderr.contains("nothing left to offer"), mixed.stderr)
        XCTAssertTrue(try String(contentsOfFile: fingerprint, encoding: .utf8).hasSuffix("lanes mixed\n"))
    }

    /// A segment torn inside its last block (a crash while writing it): the restart cuts it, says how
    /// many records the torn block held, keeps every other record, and the invariants still hold.
    func testTornTailIsCutCountedAndTheRunContinues() throws {
        let dir = CommandRunner.temporaryDirectory("torn")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let seg = dir + "/seg"
        let first = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--segments", seg, "--duration", "1",
                                           "--durability", "batch", "--report", dir + "/r1.json"])
        XCTAssertEqual(first.status, 0, first.stderr + first.stdout)
        let r1 = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r1.json"))) as! [String: Any]
        let written = (r1["segments"] as! [String: Any])["records"] as! Int
        let files = try FileManager.default.contentsOfDirectory(atPath: seg).filter { $0.hasSuffix(".seg") }.sorted()
        let last = seg + "/" + files.last!
        let size = try FileManager.default.attributesOfItem(atPath: last)[.size] as! Int
        // Drop the end marker (32 bytes) and the last 5 payload bytes of the last block.
        XCTAssertEqual(truncate(last, off_t(size - 37)), 0)

        let second = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--segments", seg, "--duration", "1",
                                            "--durability", "batch", "--report", dir + "/r2.json"])
        XCTAssertEqual(second.status, 0, second.stderr + second.stdout)
        let r2 = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r2.json"))) as! [String: Any]
        let resumed = r2["resumed_records"] as! Int
        let line = second.stderr.components(separatedBy: "\n").first { $0.contains("cut a torn tail") } ?? ""
        guard let cut = line.components(separatedBy: "(").last?.prefix(while: \.isNumber), let cutRecords = Int(cut) else {
            return XCTFail("no record count in the recovery line: \(second.stderr)")
        }
        XCTAssertGreaterThan(cutRecords, 0)
        XCTAssertEqual(resumed + cutRecords, written, "records kept + records cut must be what the first run wrote")
        let invariants = r2["invariants"] as! [String: Any]
        XCTAssertEqual(invariants["conservation_violations"] as? Int, 0)
        XCTAssertEqual(invariants["segment_mismatches"] as? Int, 0)
        XCTAssertEqual(invariants["oversold"] as? Int, 0)
    }
}

final class PacingTests: XCTestCase {
    /// Open model: a request is never offered before its intended send time. At 1,000/s with
    /// durability none, acknowledgement takes microseconds; a source that sent requests early would
    /// show them acknowledged "before they were sent", i.e. latency 0 for most of them.
    /// Runs ci-smoke for one second with `options` and returns its JSON report.
    private func smokeReport(_ options: [String]) throws -> [String: Any] {
        let r = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--duration", "1", "--json", "--progress", "never"] + options)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    }

    func testRequestsAreNeverSentEarly() throws {
        let json = try smokeReport(["--durability", "none", "--rate", "1000"])
        let latency = json["latency_micros"] as! [String: Any]
        XCTAssertGreaterThan(latency["p50"] as! Int, 0, "half the requests were acknowledged before their send time")
    }

    /// An explicit `--overload shed` is honoured with `--rate max` (the source never waits).
    func testExplicitShedIsHonouredAtMaxRate() throws {
        let json = try smokeReport(["--rate", "max", "--overload", "shed"])
        let load = json["load"] as! [String: Any]
        XCTAssertEqual(load["overload_policy"] as? String, "shed")
        XCTAssertEqual(load["source_wait_seconds"] as? Double, 0)
        let outcomes = json["outcomes"] as! [String: Int]
        XCTAssertEqual(outcomes["OVERLOAD"] ?? 0, load["shed"] as? Int ?? -1, "every shed request is counted as OVERLOAD")
    }
}

final class RunOutputPathTests: XCTestCase {
    /// An output that is one of the command's inputs is refused before anything is written: the
    /// input survives (a capture imported onto itself, a report written over the profile).
    func testOutputsNeverOverwriteInputs() throws {
        let dir = CommandRunner.temporaryDirectory("same")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = dir + "/log.csv"
        let text = "campaign_time_ms,request_id,organisation,offer\n1000,1,2,0\n"
        try text.write(toFile: csv, atomically: false, encoding: .utf8)
        let importSelf = try CommandRunner.run(["capture", "import", csv, "-o", csv])
        XCTAssertEqual(importSelf.status, 2, importSelf.stderr)
        XCTAssertTrue(importSelf.stderr.contains("would destroy the input"), importSelf.stderr)
        XCTAssertEqual(try String(contentsOfFile: csv, encoding: .utf8), text, "the input was changed")

        let profile = dir + "/p.yaml"
        let yaml = try String(contentsOfFile: CommandRunner.root + "/LoadProfiles/ci-smoke.yaml", encoding: .utf8)
        try yaml.write(toFile: profile, atomically: false, encoding: .utf8)
        for option in ["--report", "--hgrm", "--capture"] {
            let r = try CommandRunner.run(["run", profile, "--duration", "1", option, profile])
            XCTAssertEqual(r.status, 2, option + ": " + r.stderr)
            XCTAssertEqual(try String(contentsOfFile: profile, encoding: .utf8), yaml, "\(option) overwrote the profile")
        }
        let intoDirectory = try CommandRunner.run(["run", profile, "--duration", "1", "--report", dir])
        XCTAssertEqual(intoDirectory.status, 2, intoDirectory.stderr)
        XCTAssertTrue(intoDirectory.stderr.contains("is a directory"), intoDirectory.stderr)
    }

    /// Outputs that cannot be written are refused before the run (exit 2), not after minutes of load.
    func testUnwritableOutputsAreRefusedUpFront() throws {
        for args in [["--report", "/nonexistent-dir/r.json"], ["--hgrm", "/nonexistent-dir/r.hgrm"],
                     ["--capture", "/nonexistent-dir/c.fscap"], ["--segments", "/etc/hostname"]] {
            let r = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml"] + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(args[0]), "\(args): \(r.stderr)")
            XCTAssertFalse(r.stdout.contains("Invariants"), "\(args): the run should not have started")
        }
    }
}

final class InterruptTests: XCTestCase {
    /// Starts `arguments`, waits until stderr shows `marker`, and returns the process and its pipes.
    private func start(_ arguments: [String], waitingFor marker: String?,
                       environment: [String: String] = [:]) throws -> (Process, Pipe, Pipe, String) {
        let p = Process()
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        p.executableURL = URL(fileURLWithPath: CommandRunner.binary)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: CommandRunner.root)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        var seen = ""
        while let marker, !seen.contains(marker) {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        return (p, out, err, seen)
    }

    /// Sends `signal`, asserts the process ends within 5 s with `status`, and returns its stderr.
    private func endsAtOnce(_ p: Process, on signal: Int32, status: Int32, stderr err: Pipe, _ message: String) -> String {
        let sent = Date()
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        XCTAssertLessThan(Date().timeIntervalSince(sent), 5, message)
        XCTAssertEqual(p.terminationStatus, status)
        return String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    /// Ctrl-C during a long pause in the traffic stops the run at once (the paced source must not
    /// sleep out the pause first): exit 130 within seconds, not after the 60 s pause.
    func testCtrlCDuringATrafficPauseStopsPromptly() throws {
        let dir = CommandRunner.temporaryDirectory("pause")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var profile = try String(contentsOfFile: CommandRunner.root + "/LoadProfiles/ci-smoke.yaml", encoding: .utf8)
        let phases = profile.range(of: "  phases:")!
        let after = profile[phases.upperBound...].range(of: "\n  [a-z]", options: .regularExpression)!
        profile.replaceSubrange(phases.lowerBound..<after.lowerBound,
                                with: "  phases:\n    - { constant: 1k/s, for: 1s }\n    - { pause: 60s }\n    - { constant: 1k/s, for: 1s }")
        let path = dir + "/pause.yaml"
        try profile.write(toFile: path, atomically: false, encoding: .utf8)
        let (p, out, _, seen) = try start(["run", path, "--progress", "always", "--report", dir + "/r.json"], waitingFor: "durable #")
        XCTAssertTrue(seen.contains("durable #"), seen)
        Thread.sleep(forTimeInterval: 1.5)  // into the pause
        let sent = Date()
        kill(p.processIdentifier, SIGINT)
        _ = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertLessThan(Date().timeIntervalSince(sent), 15, "Ctrl-C waited for the pause to end")
        XCTAssertEqual(p.terminationStatus, 130)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))) as! [String: Any]
        XCTAssertLessThan(report["duration_seconds"] as! Double, 20)
        XCTAssertEqual((report["invariants"] as! [String: Any])["conservation_violations"] as? Int, 0)
    }

    /// A second Ctrl-C aborts at once, even while the first one is still draining a slow pipeline,
    /// and removes the temporary segment directory of a run that was not given --segments.
    func testSecondCtrlCAborts() throws {
        let dir = CommandRunner.temporaryDirectory("abort")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 20 ms of work per request per lane: whatever is in flight takes seconds to drain (closed-loop
        // follow-ups keep that short: a confirm waits for its hold's answer, so few requests are ahead).
        let (p, _, err, _) = try start(["gate", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--runs", "1",
                                        "--check", "outcome.overload==0", "--inject-lane-delay-ns", "20000000"],
                                       waitingFor: nil, environment: ["TMPDIR": dir])
        Thread.sleep(forTimeInterval: 2)
        let during = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("flashsale-") }
        XCTAssertEqual(during.count, 1, "the gate run journals into a temporary directory under TMPDIR: \(during)")
        kill(p.processIdentifier, SIGINT)
        Thread.sleep(forTimeInterval: 0.5)
        let text = endsAtOnce(p, on: SIGINT, status: 130, stderr: err, "the second Ctrl-C did not abort")
        XCTAssertTrue(text.contains("aborted"), text)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("flashsale-") }
        XCTAssertEqual(left, [], "the aborted run left its temporary segments behind")
    }

    /// Ctrl-C during a gate ends it with 130 and no verdict: a run cut short is not a measurement (it used
    /// to be counted in the medians, and the gate went on and passed).
    func testCtrlCDuringAGateGivesNoVerdict() throws {
        let (p, out, err, _) = try start(["gate", "LoadProfiles/ci-smoke.yaml", "--runs", "3", "--check", "requests>0"],
                                         waitingFor: nil)
        Thread.sleep(forTimeInterval: 1.5)
        kill(p.processIdentifier, SIGINT)
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 130, stdout)
        XCTAssertFalse(stdout.contains("PASS"), stdout)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text.contains("gate: interrupted during run 1/3; no verdict"), text)
    }

    /// A run killed with SIGKILL and restarted with the same settings journals exactly what an uninterrupted
    /// run journals: every record, every outcome count. The restart used to skip the undecided rest of
    /// the last journaled campaign millisecond (here ~5–20 requests share one), losing them silently.
    func testARestartAfterAKillIsTheExactContinuation() throws {
        let dir = CommandRunner.temporaryDirectory("exact")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // ci-smoke at time-scale 1 from the window's opening: several requests per campaign millisecond.
        var profile = try String(contentsOfFile: CommandRunner.root + "/LoadProfiles/ci-smoke.yaml", encoding: .utf8)
        profile = profile.replacingOccurrences(of: "time-scale: 100", with: "time-scale: 1")
            .replacingOccurrences(of: "start: \"day 0 09:59:30\"", with: "start: \"day 0 10:00\"")
        XCTAssertTrue(profile.contains("time-scale: 1\n") && profile.contains("start: \"day 0 10:00\""))
        let path = dir + "/dense.yaml"
        try profile.write(toFile: path, atomically: true, encoding: .utf8)
        // One lane, nothing shed: the decisions do not depend on timing.
        let settings = ["--lanes", "1", "--overload", "wait", "--durability", "batch"]
        let whole = try CommandRunner.run(["run", path, "--segments", dir + "/whole", "--progress", "never"] + settings)
        XCTAssertEqual(whole.status, 0, whole.stderr)

        let (p, _, _, seen) = try start(["run", path, "--segments", dir + "/cut", "--progress", "always"] + settings,
                                        waitingFor: "durable #")
        XCTAssertTrue(seen.contains("durable #"), seen)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let restart = try CommandRunner.run(["run", path, "--segments", dir + "/cut", "--progress", "never"] + settings)
        XCTAssertEqual(restart.status, 0, restart.stderr + restart.stdout)
        XCTAssertTrue(restart.stdout.contains("resumed a campaign"), restart.stdout)

        func stats(_ segments: String) throws -> [String: Any] {
            let r = try CommandRunner.run(["segments", "stats", segments, "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        }
        let a = try stats(dir + "/whole"), b = try stats(dir + "/cut")
        XCTAssertEqual(a["records"] as? Int, b["records"] as? Int, "the restart did not journal what the whole run did")
        XCTAssertEqual(a["outcomes"] as? [String: Int], b["outcomes"] as? [String: Int])
    }

    /// SIGTERM (a CI timeout, `kill`) ends a run at once, exit 143, without leaving its temporary journal.
    func testSigtermDrainsWritesTheReportAndRemovesTheTemporarySegments() throws {
        let dir = CommandRunner.temporaryDirectory("term")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let (p, stdout, err, _) = try start(["run", "LoadProfiles/kaigong-opening.yaml", "--progress", "always", "--report", out + "/r.json",
                                             "--timeline", out + "/t.ndjson"],
                                            waitingFor: "durable #", environment: ["TMPDIR": dir])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("flashsale-") }.count, 1)
        let text = endsAtOnce(p, on: SIGTERM, status: 143, stderr: err, "SIGTERM did not end the run within seconds")
        XCTAssertTrue(text.contains("terminated (SIGTERM): finishing what is in flight"), text)
        let summary = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(summary.contains("Invariants: PASS"), summary)
        // A CI time-out still gets the report of what ran, marked interrupted, and its timeline.
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/r.json"))) as! [String: Any]
        XCTAssertEqual((report["metadata"] as? [String: Any])?["interrupted"] as? Bool, true)
        XCTAssertEqual((report["invariants"] as? [String: Any])?["conservation_violations"] as? Int, 0)
        let lines = try String(contentsOfFile: out + "/t.ndjson", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, (report["timeline"] as? [Any])?.count)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("flashsale-") }, [],
                       "SIGTERM left the temporary journal")
    }

    /// Ctrl-C ends a long run early but cleanly: exit 130, a full summary with the invariants checked,
    /// and sealed segments that verify.
    func testCtrlCDrainsSealsAndReports() throws {
        let dir = CommandRunner.temporaryDirectory("sigint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Wait for the first progress line: the pipeline is running.
        let (p, out, _, _) = try start(["run", "LoadProfiles/kaigong-opening.yaml", "--segments", dir + "/seg",
                                        "--progress", "always", "--report", dir + "/r.json"], waitingFor: "durable #")
        kill(p.processIdentifier, SIGINT)
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 130, stdout)
        XCTAssertTrue(stdout.contains("Invariants: PASS"), stdout)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))) as! [String: Any]
        XCTAssertLessThan(report["duration_seconds"] as! Double, 25, "the 30 s profile ended early")
        let verify = try CommandRunner.run(["segments", "verify", dir + "/seg"])
        XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)
        XCTAssertTrue(verify.stdout.contains("sealed"), verify.stdout)
    }
}
