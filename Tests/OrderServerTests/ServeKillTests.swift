import FlashSaleCore
import FlashSaleTestSupport
import Foundation
import OrderLog
import XCTest

/// `flashsale serve` as a process: acknowledged means durable, whatever moment it is killed at.
final class ServeKillTests: XCTestCase {
    /// Starts `flashsale serve` on a free port; returns the process and the port from its ready line.
    func serve(_ profile: String, segments: String, extra: [String] = []) throws -> (Process, Int) {
        let server = try CommandRunner.startServer([profile, "--listen", "127.0.0.1:0", "--clock", "request", "--segments", segments,
                                                    "--durability", "batch", "--lanes", "2"] + extra)
        return (server.process, server.port)
    }

    /// SIGKILL the server at 12 seeded moments under a load of pipelined orders from 4 connections, restart
    /// it on the same segments each time: every decision a client got a 200 for is in the journal with
    /// the same outcome and sequence, and the stock invariants hold on the journal.
    func testEveryAcknowledgedDecisionSurvivesSIGKILL() throws {
        let dir = temporaryDirectory("kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let profile = dir + "/serve-test.yaml"
        try ServedCampaign.yaml.write(toFile: profile, atomically: true, encoding: .utf8)
        let segments = dir + "/seg"

        final class Acks: @unchecked Sendable {
            let lock = NSLock()
            var bySequence: [Int: (requestId: UInt64, outcome: String)] = [:]
            var sent = 0
        }
        let acks = Acks()
        var state: UInt64 = 12_345  // seeded kill moments
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        let rounds = 12
        for round in 0..<rounds {
            let (p, port) = try serve(profile, segments: segments)
            let stop = Shared(false)
            let group = DispatchGroup()
            for conn in 0..<4 {
                group.enter()
                DispatchQueue.global().async {
                    defer { group.leave() }
                    guard let c = try? RawHTTPClient(port: port, timeoutSeconds: 5) else { return }
                    var n = 0
                    while !stop.value {
                        var text = ""
                        var ids: [UInt64] = []
                        for _ in 0..<25 {
                            n += 1
                            let id = UInt64(round * 10_000_000 + conn * 1_000_000 + n)
                            ids.append(id)
                            text += ServedCampaign.order(id, org: Int((id &* 0x9E37_79B9_7F4A_7C15) >> 40) % 1000,
                                                         offer: id % 5 == 0 ? "x1" : "bundle", qty: Int(id % 2) + 1)
                        }
                        guard (try? c.send(text)) != nil else { return }
                        acks.lock.lock(); acks.sent += ids.count; acks.lock.unlock()
                        for _ in ids {
                            guard let r = try? c.readResponse() else { return }
                            guard r.status == 200, let seq = r.json["sequence"] as? Int, let id = r.json["request_id"] as? Int,
                                  let outcome = r.json["outcome"] as? String else { continue }
                            acks.lock.lock(); acks.bySequence[seq] = (UInt64(id), outcome); acks.lock.unlock()
                        }
                    }
                }
            }
            usleep(useconds_t(150_000 + next() % 350_000))
            if round < rounds - 1 {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                stop.value = true
                group.wait()
            } else {
                stop.value = true
                group.wait()
                kill(p.processIdentifier, SIGTERM)
                p.waitUntilExit()
                XCTAssertEqual(p.terminationStatus, 0, "SIGTERM drains and exits 0")
            }
        }
        XCTAssertGreaterThanOrEqual(acks.sent, 20_000, "the load must be real")
        var journal: [UInt64: OrderRecord] = [:]
        try SegmentReader(directory: segments).forEachRecord { journal[$0.sequence] = $0 }
        XCTAssertGreaterThan(acks.bySequence.count, 10_000)
        var missing = 0
        for (seq, ack) in acks.bySequence {
            guard let r = journal[UInt64(seq)] else { missing += 1; continue }
            XCTAssertEqual(r.requestId, ack.requestId, "record \(seq)")
            XCTAssertEqual(Outcome(rawValue: r.outcome)?.name, ack.outcome, "record \(seq)")
        }
        XCTAssertEqual(missing, 0, "acknowledged decisions lost by a SIGKILL")
        // The journal of the killed and restarted server sells no unit twice and no unit it did not have.
        let profileRules = try CampaignRules(LoadProfile.parse(yaml: ServedCampaign.yaml, file: "serve-test.yaml").campaign)
        let audit = try SegmentAudit.read(directory: segments, rules: profileRules)
        XCTAssertEqual(audit.problems, [])
        for i in profileRules.campaign.items.indices {
            XCTAssertLessThanOrEqual(audit.soldUnits[i] + audit.heldUnits[i], profileRules.campaign.items[i].initial)
        }
    }

    /// SIGTERM drains and writes `--report`: its decisions and answers are the ones the clients got.
    func testSigtermWritesTheReportOfWhatWasAnswered() throws {
        let dir = temporaryDirectory("report")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let profile = dir + "/serve-test.yaml"
        try ServedCampaign.yaml.write(toFile: profile, atomically: true, encoding: .utf8)
        let (p, port) = try serve(profile, segments: dir + "/seg", extra: ["--report", dir + "/report.json",
                                                                           "--timeline", dir + "/timeline.ndjson", "--interval", "0.05"])
        let c = try RawHTTPClient(port: port)
        XCTAssertEqual(try c.exchange(ServedCampaign.order(1, org: 1)).json["outcome"] as? String, "ACCEPTED")
        XCTAssertEqual(try c.exchange(ServedCampaign.order(1, org: 1)).json["outcome"] as? String, "DUPLICATE")
        XCTAssertEqual(try c.exchange(RawHTTPClient.get("/nowhere")).status, 404)
        usleep(200_000)   // a few timeline intervals of 50 ms pass
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/report.json"))) as! [String: Any]
        XCTAssertEqual(report["decisions"] as? Int, 2)
        XCTAssertEqual((report["outcomes"] as? [String: Int])?["ACCEPTED"], 1)
        XCTAssertEqual((report["outcomes"] as? [String: Int])?["DUPLICATE"], 1)
        XCTAssertEqual(report["http_answers"] as? [String: Int], ["200": 2, "404": 1])
        XCTAssertEqual((report["latency_micros"] as? [String: Any])?["count"] as? Int, 2)
        XCTAssertEqual((report["journal"] as? [String: Any])?["records"] as? Int, 2)

        // The served timeline (issue 14): streamed as it happened, kept in the report, adding up to the
        // decisions (the 404 was never offered), nothing in flight once drained.
        let lines = try String(contentsOfFile: dir + "/timeline.ndjson", encoding: .utf8).split(separator: "\n")
        let streamed = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let kept = try XCTUnwrap(report["timeline"] as? [[String: Any]])
        XCTAssertEqual(kept.count, streamed.count)
        XCTAssertGreaterThan(streamed.count, 1, "intervals of 50 ms over the test's exchanges")
        func sum(_ key: String) -> Int { streamed.reduce(0) { $0 + ($1[key] as? Int ?? 0) } }
        XCTAssertEqual(sum("offered"), 2)
        XCTAssertEqual(sum("acknowledged"), 2)
        XCTAssertEqual(streamed.reduce(0) { $0 + (($1["outcomes"] as? [String: Int])?["DUPLICATE"] ?? 0) }, 1)
        XCTAssertEqual(streamed.last?["in_flight"] as? Int, 0)
        XCTAssertNotNil((streamed.first?["latency_micros"] as? [String: Any])?["p99.9"], "the report's spelling: \(streamed.first!)")
    }
}


import LoadGen
import Pipeline


/// A flag the load threads poll.
final class Shared<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
