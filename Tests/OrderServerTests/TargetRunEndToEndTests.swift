import FlashSaleTestSupport
import Foundation
import XCTest

/// `flashsale run --target` against `flashsale serve` (issue 13): with one lane and the campaign time
/// taken from the requests, a served campaign journals exactly what an in-process run of the same
/// profile journals, over HTTP and over the binary protocol, closed-loop follow-ups included.
final class TargetRunEndToEndTests: XCTestCase {
    private let profile = CommandRunner.profilePath("hardware-prestock")

    /// The journal as `segments dump` prints it (one JSON line per record, in sequence order).
    private func dump(_ dir: String) throws -> [String] {
        let r = try CommandRunner.run(["segments", "dump", dir])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.split(separator: "\n").map(String.init)
    }

    private func served(_ scheme: String, dir: String, extra: [String] = []) throws -> (journal: [String], summary: String) {
        var args = [profile, "--listen", "127.0.0.1:0", "--clock", "request", "--lanes", "1", "--segments", dir]
        if scheme == "fsbin" { args += ["--binary-listen", "127.0.0.1:0"] }
        let server = try CommandRunner.startServer(args)
        var stopped = false
        defer { if !stopped { server.process.terminate(); server.process.waitUntilExit() } }
        let port = scheme == "fsbin" ? try XCTUnwrap(server.binaryPort, server.readyLine) : server.port
        let run = try CommandRunner.run(["run", profile, "--target", "\(scheme)://127.0.0.1:\(port)", "--duration", "2",
                                         "--connections", "1", "--pipeline", scheme == "fsbin" ? "256" : "16"] + extra, timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr + run.stdout)
        kill(server.process.processIdentifier, SIGTERM)   // drain, seal
        server.process.waitUntilExit()
        stopped = true
        return (try dump(dir), run.stdout)
    }

    func testServedJournalsEqualTheInProcessRunsOverHTTPAndBinary() throws {
        let root = CommandRunner.temporaryDirectory("target-e2e")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let local = try CommandRunner.run(["run", profile, "--lanes", "1", "--duration", "2", "--segments", root + "/local"], timeout: 120)
        XCTAssertEqual(local.status, 0, local.stderr)
        let expected = try dump(root + "/local")
        XCTAssertGreaterThan(expected.count, 50_000)
        XCTAssertTrue(expected.contains { $0.contains("\"outcome_name\":\"CONFIRMED\"") }, "the profile's follow-ups are in the run")
        XCTAssertFalse(expected.contains { $0.contains("\"outcome_name\":\"NO_HOLD\"") }, "a follow-up for a hold never granted")
        for scheme in ["http", "fsbin"] {
            let (journal, summary) = try served(scheme, dir: root + "/" + scheme)
            XCTAssertTrue(summary.contains("0 time-outs, 0 lost with a connection"), summary)
            XCTAssertEqual(journal.count, expected.count, "\(scheme): records")
            if let i = (0..<min(journal.count, expected.count)).first(where: { journal[$0] != expected[$0] }) {
                XCTFail("\(scheme): record \(i) differs:\n served:     \(journal[i])\n in-process: \(expected[i])")
            }
        }
    }

    /// `replay --target`: a capture at a chosen rate against a running server; the report says the
    /// requested and the achieved rate, and a rate that cannot hold is said so (not silently missed).
    func testReplayAgainstAServerReportsTheAchievedAgainstTheRequestedRate() throws {
        let root = CommandRunner.temporaryDirectory("target-replay")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let smoke = CommandRunner.profilePath("ci-smoke")
        let capture = root + "/smoke.fscap"
        let made = try CommandRunner.run(["run", smoke, "--capture", capture])
        XCTAssertEqual(made.status, 0, made.stderr)
        let server = try CommandRunner.startServer([smoke, "--listen", "127.0.0.1:0", "--clock", "request"])
        defer { server.process.terminate(); server.process.waitUntilExit() }
        let url = "http://127.0.0.1:\(server.port)"

        let held = try CommandRunner.run(["replay", capture, "--profile", smoke, "--target", url, "--rate", "5000", "--json"], timeout: 120)
        XCTAssertEqual(held.status, 0, held.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(held.stdout.utf8)) as! [String: Any]
        let target = try XCTUnwrap(report["target"] as? [String: Any], held.stdout)
        let requested = try XCTUnwrap(target["requested_per_second"] as? Double)
        let achieved = try XCTUnwrap(target["achieved_per_second"] as? Double)
        XCTAssertEqual(requested, 5000, accuracy: 50)
        XCTAssertEqual(achieved / requested, 1, accuracy: 0.02, "achieved \(achieved)/s of \(requested)/s")
        XCTAssertEqual(target["sent"] as? Int, target["answered"] as? Int)
        XCTAssertFalse(held.stderr.contains("did not hold"), held.stderr)

        // One keep-alive connection cannot carry 200k/s: the run says so, with the figures.
        let missed = try CommandRunner.run(["replay", capture, "--profile", smoke, "--target", url, "--rate", "200k",
                                            "--connections", "1", "--pipeline", "1"], timeout: 120)
        XCTAssertEqual(missed.status, 0, missed.stderr)
        XCTAssertTrue(missed.stderr.contains("requested 200.0k/s, achieved"), missed.stderr)
        XCTAssertTrue(missed.stderr.contains("the rate did not hold") && missed.stderr.contains("raise --connections or --pipeline"), missed.stderr)
        XCTAssertTrue(missed.stdout.contains("the requested rate was not held"), missed.stdout)
    }
}
