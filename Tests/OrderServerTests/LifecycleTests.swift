import FlashSaleCore
import FlashSaleTestSupport
import LoadGen
import Foundation
import OrderLog
@testable import OrderServer
import XCTest

/// Stopping: a draining server says so (`/readyz` 503, orders 503 with Retry-After, nothing decided);
/// Ctrl-C ends `serve` with 130 after answering what was in flight, and a restart continues the campaign.
final class LifecycleTests: XCTestCase {
    func testADrainingServerIsNotReadyAndDecidesNothingNew() throws {
        let dir = temporaryDirectory("draining")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try ServedCampaign(directory: dir)
        let c = try s.client()
        XCTAssertEqual(try c.exchange(ServedCampaign.order(1, org: 1)).json["outcome"] as? String, "ACCEPTED")
        XCTAssertEqual(try c.exchange(RawHTTPClient.get("/readyz")).status, 200)
        s.server.beginDraining()
        XCTAssertEqual(try c.exchange(RawHTTPClient.get("/readyz")).status, 503)
        XCTAssertEqual(try c.exchange(RawHTTPClient.get("/healthz")).status, 200, "alive while draining")
        let r = try c.exchange(ServedCampaign.order(2, org: 2))
        XCTAssertEqual(r.status, 503, r.body)
        XCTAssertEqual(r.headers["retry-after"], "1")
        try s.stop()
        XCTAssertEqual(try s.journal().map(\.requestId), [1], "an order refused while draining was decided")
    }

    func testCtrlCAnswersWhatIsInFlightExits130AndARestartContinues() throws {
        let dir = temporaryDirectory("sigint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let profile = dir + "/p.yaml"
        try ServedCampaign.yaml.write(toFile: profile, atomically: true, encoding: .utf8)
        let args = [profile, "--listen", "127.0.0.1:0", "--clock", "request", "--segments", dir + "/seg", "--durability", "batch"]
        var server = try CommandRunner.startServer(args)
        var c = try RawHTTPClient(port: server.port)
        // 64 pipelined orders; Ctrl-C once the first is answered (the rest are in flight or unread).
        try c.send((1...64).map { ServedCampaign.order(UInt64($0), org: $0) }.joined())
        let first = try c.readResponse()
        kill(server.process.processIdentifier, SIGINT)
        var answered: [Int: String] = [1: first.json["outcome"] as? String ?? "?"]
        for id in 2...64 {
            guard let r = try? c.readResponse() else { break }
            if r.status == 200 { answered[id] = r.json["outcome"] as? String }
        }
        server.process.waitUntilExit()
        XCTAssertEqual(server.process.terminationStatus, 130)
        XCTAssertEqual(first.status, 200)
        // Restart on the same segments: every answered order is remembered with its outcome.
        server = try CommandRunner.startServer(args)
        defer { server.process.terminate(); server.process.waitUntilExit() }
        c = try RawHTTPClient(port: server.port)
        for (id, outcome) in answered {
            let r = try c.exchange(ServedCampaign.order(UInt64(id), org: id))
            XCTAssertEqual(r.json["outcome"] as? String, "DUPLICATE", "order \(id): \(r.body)")
            XCTAssertEqual(r.json["original_outcome"] as? String, outcome, "order \(id)")
        }
    }

    /// A signal sent the moment the ready line is read is never lost (it was, when the handlers were
    /// installed after the line: the server then ignored it and ran on).
    func testASignalRightAfterTheReadyLineStopsTheServer() throws {
        let dir = temporaryDirectory("early-signal")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let profile = dir + "/p.yaml"
        try ServedCampaign.yaml.write(toFile: profile, atomically: true, encoding: .utf8)
        for (round, sig) in [SIGTERM, SIGINT, SIGTERM, SIGINT, SIGTERM, SIGINT].enumerated() {
            let server = try CommandRunner.startServer([profile, "--listen", "127.0.0.1:0", "--clock", "request",
                                                        "--segments", dir + "/seg", "--durability", "batch"])
            kill(server.process.processIdentifier, sig)
            let deadline = Date().addingTimeInterval(10)
            while server.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            if server.process.isRunning {
                server.process.terminate()
                kill(server.process.processIdentifier, SIGKILL)
                return XCTFail("round \(round): the server ignored signal \(sig) sent right after its ready line")
            }
            XCTAssertEqual(server.process.terminationStatus, sig == SIGINT ? 130 : 0, "round \(round)")
        }
    }

    /// A session started on another campaign's journal is refused as bad input, naming the directory;
    /// one with a wall clock says when the window opens.
    func testAServeSessionRefusesAnotherCampaignsJournalAndDescribesItsWindow() throws {
        let dir = temporaryDirectory("session-foreign")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try ServedCampaign(directory: dir)
        _ = try s.client().exchange(ServedCampaign.order(1, org: 1))
        try s.stop()
        let other = try CampaignRules(try LoadProfile.load(path: CommandRunner.profilePath("kaigong-opening")).campaign)
        var config = OrderHTTPServer.Configuration()
        config.port = 0
        XCTAssertThrowsError(try ServeSession(.init(rules: other, server: config, lanes: 2, segments: dir, durability: .batch))) { e in
            guard let f = e as? ServeSession.Failure else { return XCTFail("\(e)") }
            XCTAssertEqual(f.kind, .badInput)
            XCTAssertTrue(f.message.contains(dir), f.message)
        }
        config.clock = .opening(other.campaign.window.opensMillis, inMillis: 90_000)
        let session = try ServeSession(.init(rules: other, server: config, lanes: 2, segments: nil, durability: .none))
        defer { try? session.stop() }
        XCTAssertTrue(session.window.hasSuffix("(in 90 s)"), session.window)
        XCTAssertTrue(session.address.hasPrefix("http://127.0.0.1:"), session.address)
    }
}
