import Foundation
import FlashSaleTestSupport
import XCTest

/// `run --capture`, `replay` and `capture import|inspect`, as a user runs them.
final class ReplayCommandTests: XCTestCase {
    var dir = ""

    override func setUp() { dir = CommandRunner.temporaryDirectory("replay") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    /// Captures a one-lane ci-smoke run (as fast as possible: nothing is shed) into `dir/run.fscap`.
    func captureOneLaneRun(segments: String) throws -> String {
        let capture = dir + "/run.fscap"
        let r = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--lanes", "1", "--rate", "max", "--durability", "none",
                                       "--segments", segments, "--capture", capture, "--progress", "never"])
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        XCTAssertTrue(r.stderr.contains("captured"), r.stderr)
        return capture
    }

    /// Decodes a segment directory with `segments dump` (every field of every record).
    func dump(_ segments: String) throws -> [String] {
        let r = try CommandRunner.run(["segments", "dump", segments, "--format", "csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.split(separator: "\n").map(String.init)
    }

    func testReplayOfAOneLaneRunCaptureJournalsTheSameRecords() throws {
        let capture = try captureOneLaneRun(segments: dir + "/a")
        let inspect = try CommandRunner.run(["capture", "inspect", capture])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("requests:"), inspect.stdout)
        let r = try CommandRunner.run(["replay", capture, "--profile", "LoadProfiles/ci-smoke.yaml", "--lanes", "1", "--rate", "max",
                                       "--durability", "none", "--segments", dir + "/b", "--progress", "never"])
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        XCTAssertTrue(r.stdout.contains("Invariants: PASS"), r.stdout)
        XCTAssertTrue(r.stdout.hasPrefix("flashsale replay: \(capture) on LoadProfiles/ci-smoke.yaml"), r.stdout)
        let a = try dump(dir + "/a"), b = try dump(dir + "/b")
        XCTAssertGreaterThan(a.count, 1000)
        XCTAssertEqual(a.count, b.count)
        if let k = a.indices.first(where: { $0 < b.count && a[$0] != b[$0] }) { XCTFail("line \(k + 1) differs:\n\(a[k])\n\(b[k])") }
    }

    /// A refused run or a failed import leaves an existing capture as it was (both used to empty or
    /// delete it); `--capture /dev/null` discards the stream.
    func testRefusedRunsAndFailedImportsKeepAnExistingCapture() throws {
        let capture = try captureOneLaneRun(segments: dir + "/a")
        let original = try Data(contentsOf: URL(fileURLWithPath: capture))
        // Another campaign's profile on the same segments: refused before anything is sent.
        let refused = try CommandRunner.run(["run", "--segments", dir + "/a", "--capture", capture, "--progress", "never"])
        XCTAssertEqual(refused.status, 2, refused.stderr)
        let bad = dir + "/bad.csv", empty = dir + "/empty.csv"
        try "campaign_time_ms,request_id,organisation,offer\n36000000,1,5,nine\n".write(toFile: bad, atomically: true, encoding: .utf8)
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        for input in [bad, empty] {
            let r = try CommandRunner.run(["capture", "import", input, "--output", capture])
            XCTAssertEqual(r.status, 2, r.stderr)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: capture)), original)
        XCTAssertFalse(FileManager.default.fileExists(atPath: capture + ".partial"))
        let null = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--duration", "0.2", "--capture", "/dev/null", "--progress", "never"])
        XCTAssertEqual(null.status, 0, null.stderr)
        XCTAssertTrue(null.stderr.contains("into /dev/null"), null.stderr)
    }

    /// A capture of one campaign is refused for another unless --force; a damaged one is refused with its offset.
    func testReplayRefusesAnotherCampaignAndADamagedCapture() throws {
        let capture = try captureOneLaneRun(segments: dir + "/a")
        let other = try CommandRunner.run(["replay", capture, "--rate", "max", "--progress", "never"])
        XCTAssertEqual(other.status, 2, other.stderr)
        XCTAssertTrue(other.stderr.contains("campaign"), other.stderr)
        let forced = try CommandRunner.run(["replay", capture, "--rate", "max", "--force", "--progress", "never", "--lanes", "1"])
        XCTAssertNotEqual(forced.status, 2, forced.stderr)

        // `capture inspect` names the offers from the profile it is given, and warns when that profile is
        // not the capture's campaign (the names would then be another campaign's).
        let named = try CommandRunner.run(["capture", "inspect", capture, "--profile", "LoadProfiles/ci-smoke.yaml"])
        XCTAssertEqual(named.status, 0, named.stderr)
        XCTAssertTrue(named.stdout.contains("m1-reserve"), named.stdout)
        XCTAssertFalse(named.stderr.contains("warning"), named.stderr)
        let foreign = try CommandRunner.run(["capture", "inspect", capture, "--profile", "LoadProfiles/kaigong-opening.yaml"])
        XCTAssertEqual(foreign.status, 0, foreign.stderr)
        XCTAssertTrue(foreign.stderr.contains("warning: \(capture) was captured for campaign "), foreign.stderr)
        XCTAssertTrue(foreign.stderr.contains("not LoadProfiles/kaigong-opening.yaml's"), foreign.stderr)

        var bytes = try Data(contentsOf: URL(fileURLWithPath: capture))
        let torn = dir + "/torn.fscap"
        try bytes.prefix(bytes.count * 2 / 3).write(to: URL(fileURLWithPath: torn))
        bytes[bytes.count / 2] ^= 0x5A
        let flipped = dir + "/flipped.fscap"
        try bytes.write(to: URL(fileURLWithPath: flipped))
        for bad in [torn, flipped] {
            let inspect = try CommandRunner.run(["capture", "inspect", bad])
            XCTAssertEqual(inspect.status, 1, inspect.stderr)
            XCTAssertNotNil(inspect.stderr.range(of: bad + #":\d+: "#, options: .regularExpression), inspect.stderr)
            let replay = try CommandRunner.run(["replay", bad, "--profile", "LoadProfiles/ci-smoke.yaml", "--rate", "max"])
            XCTAssertEqual(replay.status, 2, replay.stderr)
            XCTAssertNotNil(replay.stderr.range(of: bad + #":\d+: "#, options: .regularExpression), replay.stderr)
        }
    }

    /// --speed 2 replays the same capture in about half the wall time of --speed 1 (generous bounds).
    func testSpeedTwoTakesAboutHalfTheWallTime() throws {
        let capture = try captureOneLaneRun(segments: dir + "/a")
        var seconds: [Double] = []
        for speed in ["1", "2"] {
            let report = dir + "/r\(speed).json"
            let r = try CommandRunner.run(["replay", capture, "--profile", "LoadProfiles/ci-smoke.yaml", "--speed", speed,
                                           "--durability", "none", "--report", report, "--progress", "never"])
            XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
            seconds.append(try json(report)["duration_seconds"] as! Double)
        }
        // ci-smoke is paced over 3 s.
        XCTAssertEqual(seconds[0], 3, accuracy: 0.75, "\(seconds)")
        XCTAssertEqual(seconds[1] / seconds[0], 0.5, accuracy: 0.15, "\(seconds)")
    }

    /// --loop 2 offers twice the requests, and the second loop is new orders, not retransmits.
    func testLoopTwoOffersTwiceTheRequestsAndNotAllDuplicates() throws {
        let capture = try captureOneLaneRun(segments: dir + "/a")
        let one = dir + "/one.json", two = dir + "/two.json"
        for (loops, report) in [("1", one), ("2", two)] {
            let r = try CommandRunner.run(["replay", capture, "--profile", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--loop", loops,
                                           "--durability", "none", "--report", report, "--progress", "never"])
            XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        }
        let a = try json(one), b = try json(two)
        XCTAssertEqual(b["requests"] as! Int, 2 * (a["requests"] as! Int))
        let dupA = (a["outcomes"] as! [String: Int])["DUPLICATE"] ?? 0
        let dupB = (b["outcomes"] as! [String: Int])["DUPLICATE"] ?? 0
        // Only the capture's own retransmits are duplicates, in each loop.
        XCTAssertEqual(dupB, 2 * dupA)
        XCTAssertLessThan(dupB, (b["requests"] as! Int) / 4)
    }

    /// A journal's dump (CSV and NDJSON) imports as is: its expire records, which the pipeline makes, are
    /// skipped and counted, and replaying the import on one lane journals exactly the original records.
    func testADumpOfAJournalImportsAsIsAndReplaysToTheSameJournal() throws {
        _ = try captureOneLaneRun(segments: dir + "/a")
        let original = try dump(dir + "/a")
        let expires = original.filter { $0.contains(",expire,") }.count
        XCTAssertGreaterThan(expires, 0, "ci-smoke's holds expire inside the run")
        for format in ["csv", "ndjson"] {
            let log = dir + "/dump.\(format)", capture = dir + "/dump-\(format).fscap"
            let d = try CommandRunner.run(["segments", "dump", dir + "/a", "--format", format])
            XCTAssertEqual(d.status, 0, d.stderr)
            try d.stdout.write(toFile: log, atomically: true, encoding: .utf8)
            let imported = try CommandRunner.run(["capture", "import", log, "-o", capture, "--profile", "LoadProfiles/ci-smoke.yaml"])
            XCTAssertEqual(imported.status, 0, imported.stderr)
            XCTAssertTrue(imported.stdout.contains("imported \(original.count - 1 - expires) requests"), imported.stdout)
            XCTAssertTrue(imported.stdout.contains("skipped 0 invalid lines and \(expires) expire records"), imported.stdout)
        }
        for format in ["csv", "ndjson"] {
            let r = try CommandRunner.run(["replay", dir + "/dump-\(format).fscap", "--profile", "LoadProfiles/ci-smoke.yaml", "--lanes", "1",
                                           "--rate", "max", "--durability", "none", "--segments", dir + "/b-\(format)", "--progress", "never"])
            XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
            let replayed = try dump(dir + "/b-\(format)")
            XCTAssertEqual(replayed.count, original.count, format)
            if let k = original.indices.first(where: { $0 < replayed.count && original[$0] != replayed[$0] }) {
                XCTFail("\(format): line \(k + 1) differs:\n\(original[k])\n\(replayed[k])")
            }
        }
    }

    /// Requests the campaign cannot hold are bad lines, not silent imports: a quantity below 1, an offer
    /// index the profile does not have.
    func testImportRefusesQuantitiesBelowOneAndUnknownOfferIndexes() throws {
        let csv = dir + "/odd.csv"
        try "request_id,campaign_time_ms,organisation,offer,quantity\n1,36000000,5,0,1\n2,36000001,6,0,-3\n3,36000002,7,99,1\n4,-9000000000000000000,8,0,1\n"
            .write(toFile: csv, atomically: true, encoding: .utf8)
        let r = try CommandRunner.run(["capture", "import", csv, "-o", dir + "/odd.fscap", "--profile", "LoadProfiles/ci-smoke.yaml"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains(csv + ":3: quantity: expected an integer from 1 to 2147483647"), r.stderr)
        XCTAssertTrue(r.stderr.contains(csv + ":4: offer: expected an offer index 0...1 or name"), r.stderr)
        XCTAssertTrue(r.stderr.contains(csv + ":5: campaign_time_ms: expected a campaign time from day 0 to day 99999"), r.stderr)
        // Without --profile the capture is not bound to a campaign: any offer index is kept for replay.
        let unbound = dir + "/unbound.csv"
        try "request_id,campaign_time_ms,organisation,offer\n1,36000000,5,63\n".write(toFile: unbound, atomically: true, encoding: .utf8)
        let free = try CommandRunner.run(["capture", "import", unbound, "-o", dir + "/unbound.fscap"])
        XCTAssertEqual(free.status, 0, free.stderr)
    }

    /// A semicolon-separated log is named as such, and an import that keeps nothing says so.
    func testImportExplainsTheSeparatorAndWarnsWhenNothingIsImported() throws {
        let semi = dir + "/semi.csv"
        try "timestamp;request_id;organisation;offer\n36000000;1;5;0\n".write(toFile: semi, atomically: true, encoding: .utf8)
        let r = try CommandRunner.run(["capture", "import", semi, "-o", dir + "/semi.fscap"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("the header is one field containing ';': fields must be separated by commas"), r.stderr)
        let bad = dir + "/bad.csv"
        try "request_id,campaign_time_ms,organisation,offer\nx,36000000,5,0\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let none = try CommandRunner.run(["capture", "import", bad, "-o", dir + "/none.fscap", "--skip-invalid"])
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertTrue(none.stderr.contains("no request was imported"), none.stderr)
        XCTAssertTrue(none.stdout.contains("imported 0 requests"), none.stdout)
    }

    /// An input that cannot be read says why, and exits 2.
    func testImportOfAnUnreadableInputSaysWhy() throws {
        let out = dir + "/x.fscap"
        for (input, why) in [(dir, "is a directory"), (dir + "/absent.csv", "no such file")] {
            let r = try CommandRunner.run(["capture", "import", input, "-o", out])
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertTrue(r.stderr.contains("flashsale: " + input + ": cannot read it: " + why), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
    }

    func testImportReportsBadCSVLinesWithLineAndFieldAndSkipInvalidCountsThem() throws {
        let csv = dir + "/log.csv"
        try """
        request_id,campaign_time_ms,organisation,offer,kind,quantity,reference
        1,36000000,5,0,buy,1,0
        2,day 0 10:00:01.500,6,starter-bundle,buy,1,0
        3,36002000,seven,0,buy,1,0
        4,36003000,8,0,sell,1,0
        5,day 0 25:00,9,0,buy,1,0
        6,36004000,10,1,0,2,0
        7,36005000,10,1,confirm,2,6

        """.write(toFile: csv, atomically: true, encoding: .utf8)
        let out = dir + "/log.fscap"
        let strict = try CommandRunner.run(["capture", "import", csv, "--output", out, "--profile", "LoadProfiles/ci-smoke.yaml"])
        XCTAssertEqual(strict.status, 2, strict.stderr)
        XCTAssertTrue(strict.stderr.contains(csv + ":4: organisation: "), strict.stderr)
        XCTAssertTrue(strict.stderr.contains(csv + ":5: kind: "), strict.stderr)
        XCTAssertTrue(strict.stderr.contains(csv + ":6: campaign_time_ms: "), strict.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a failed import writes nothing")

        let lenient = try CommandRunner.run(["capture", "import", csv, "--output", out, "--skip-invalid",
                                             "--profile", "LoadProfiles/ci-smoke.yaml"])
        XCTAssertEqual(lenient.status, 0, lenient.stderr)
        XCTAssertTrue(lenient.stdout.contains("imported 4 requests"), lenient.stdout)
        XCTAssertTrue(lenient.stdout.contains("skipped 3 invalid lines"), lenient.stdout)
        let stats = try CommandRunner.run(["capture", "stats", out, "--json"])
        XCTAssertEqual(stats.status, 0, stats.stderr)
        let s = try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(s["requests"] as? Int, 4)
        XCTAssertEqual((s["kinds"] as? [String: Int])?["confirm"], 1)
        let replay = try CommandRunner.run(["replay", out, "--profile", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--json",
                                            "--progress", "never"])
        XCTAssertEqual(replay.status, 0, replay.stderr)

        let missing = dir + "/missing.csv"
        try "id,organisation,offer\n1,2,0\n".write(toFile: missing, atomically: true, encoding: .utf8)
        let header = try CommandRunner.run(["capture", "import", missing, "--output", out, "--skip-invalid"])
        XCTAssertEqual(header.status, 2)
        XCTAssertTrue(header.stderr.contains(missing + ":1: header: "), header.stderr)
    }

    func testImportReadsNDJSONAndReportsBadLines() throws {
        let log = dir + "/log.ndjson"
        try """
        {"request_id": 1, "campaign_time_ms": 36000000, "organisation": 5, "offer": 0, "kind": "buy", "quantity": 1, "extra": {"a": [1, 2]}}
        {"request_id": 2, "time": "day 0 10:00:00.250", "org": 6, "offer": "m1-reserve", "kind": 0, "send_offset_ms": 250}
        {"request_id": 3, "campaign_time_ms": 36000500, "organisation": 7, "offer": 0, "quantity": "lots"}
        {"request_id": 4, "campaign_time_ms": 36000600, "organisation": 8
        {"campaign_time_ms": 36000700, "organisation": 9, "offer": 1}
        {"request_id": 6, "campaign_time_ms": 36000800, "organisation": 10, "offer": 1, "kind": "cancel", "reference": 2}
        """.write(toFile: log, atomically: true, encoding: .utf8)
        let out = dir + "/log.fscap"
        let strict = try CommandRunner.run(["capture", "import", log, "-o", out, "--profile", "LoadProfiles/ci-smoke.yaml"])
        XCTAssertEqual(strict.status, 2, strict.stderr)
        XCTAssertTrue(strict.stderr.contains(log + ":3: quantity: "), strict.stderr)
        XCTAssertTrue(strict.stderr.contains(log + ":4: json: "), strict.stderr)
        XCTAssertTrue(strict.stderr.contains(log + ":5: request_id: missing"), strict.stderr)
        let lenient = try CommandRunner.run(["capture", "import", log, "-o", out, "--format", "ndjson", "--skip-invalid",
                                             "--profile", "LoadProfiles/ci-smoke.yaml"])
        XCTAssertEqual(lenient.status, 0, lenient.stderr)
        XCTAssertTrue(lenient.stdout.contains("imported 3 requests"), lenient.stdout)
        XCTAssertTrue(lenient.stdout.contains("skipped 3 invalid lines"), lenient.stdout)
    }

    /// Milliseconds written as decimals or with an exponent (pandas, JSON encoders) are milliseconds: they
    /// used to be read as seconds, 1000 times later, without a word.
    func testImportReadsDecimalMillisecondsAsMilliseconds() throws {
        let csv = dir + "/decimal.csv", ndjson = dir + "/decimal.ndjson"
        try "campaign_time_ms,request_id,organisation,offer\n36000000.0,1,5,0\n3.6e7,2,6,0\n36000001.4,3,7,0\n"
            .write(toFile: csv, atomically: true, encoding: .utf8)
        try "{\"campaign_time_ms\": 36000000.0, \"request_id\": 1, \"organisation\": 5, \"offer\": 0}\n{\"campaign_time_ms\": 3.6000001E7, \"request_id\": 2, \"organisation\": 6, \"offer\": 0}\n"
            .write(toFile: ndjson, atomically: true, encoding: .utf8)
        for input in [csv, ndjson] {
            let out = input + ".fscap"
            let r = try CommandRunner.run(["capture", "import", input, "-o", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            let inspect = try CommandRunner.run(["capture", "inspect", out])
            XCTAssertTrue(inspect.stdout.contains("campaign time:  day 0 10:00:00.000 … day 0 10:00:00.001"), inspect.stdout)
        }
        let bad = dir + "/negative.csv"
        try "campaign_time_ms,request_id,organisation,offer\n-1.5,1,5,0\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try CommandRunner.run(["capture", "import", bad, "-o", bad + ".fscap"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains(bad + ":2: campaign_time_ms: expected a campaign time from day 0"), r.stderr)
    }

    func testReplayOptionErrorsExitTwo() throws {
        let capture = try captureOneLaneRun(segments: dir + "/a")
        let profile = ["--profile", "LoadProfiles/ci-smoke.yaml"]
        XCTAssertEqual(try CommandRunner.run(["replay", capture, "--speed", "0"] + profile).status, 2)
        XCTAssertEqual(try CommandRunner.run(["replay", capture, "--speed", "2", "--rate", "100"] + profile).status, 2)
        XCTAssertEqual(try CommandRunner.run(["replay", capture, "--loop", "0"] + profile).status, 2)
        XCTAssertEqual(try CommandRunner.run(["replay", capture, "--speed", "1e-12"] + profile).status, 2, "a schedule of centuries")
        XCTAssertEqual(try CommandRunner.run(["replay", capture, "--filter", "offer=nope"] + profile).status, 2)
        // Filters that can never match: an offer index the campaign does not have, a kind no capture holds.
        let badIndex = try CommandRunner.run(["replay", capture, "--filter", "offer=5"] + profile)
        XCTAssertEqual(badIndex.status, 2, badIndex.stderr)
        XCTAssertTrue(badIndex.stderr.contains("no offer with index 5"), badIndex.stderr)
        XCTAssertEqual(try CommandRunner.run(["replay", capture, "--filter", "kind=expire"] + profile).status, 2)
        XCTAssertEqual(try CommandRunner.run(["replay", dir + "/absent.fscap"] + profile).status, 2)
        let filtered = try CommandRunner.run(["replay", capture, "--filter", "offer=m1-reserve", "--filter", "kind=buy",
                                              "--rate", "max", "--json", "--progress", "never"] + profile)
        XCTAssertEqual(filtered.status, 0, filtered.stderr)
    }
}
