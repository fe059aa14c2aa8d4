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
}
