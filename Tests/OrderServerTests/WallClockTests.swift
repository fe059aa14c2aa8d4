import FlashSaleCore
import FlashSaleTestSupport
import Foundation
import OrderLog
import XCTest

/// `serve --clock wall` (the default) as a process: `--opens-in` and `--campaign-epoch` put the sale window
/// where they say, and a hold expires on the clock when no traffic comes at all, its units back in stock.
final class WallClockTests: XCTestCase {
    static let yaml = """
    name: wall-clock-test
    seed: 5
    campaign:
      window: { opens: "day 0 10:00", closes: "day 0 12:00" }
      regions: [east]
      items:
        - { id: lic, kind: license, stock: 100 }
        - { id: x1-east, kind: hardware, model: X1, vendor: deli, tier: 2, region: east, stock: 50 }
      offers:
        - { id: bundle, kind: bundle, item: lic, limit: 1, max-quantity: 1, price: { list: 10000 } }
        - { id: x1, kind: reservation, model: X1, hold: 1s, limit: 1, max-quantity: 5, price: { list: 2000 } }
    population:
      organisations: 100
      certification: { basic: 1.0 }
    traffic:
      phases: [ { constant: 1/s, for: 1s } ]
    """

    /// Starts `flashsale serve` with a wall clock; returns the process, its port and its ready line.
    func serve(_ dir: String, _ clockOptions: [String]) throws -> (Process, Int, String) {
        let profile = dir + "/profile.yaml"
        if !FileManager.default.fileExists(atPath: profile) { try Self.yaml.write(toFile: profile, atomically: true, encoding: .utf8) }
        let server = try CommandRunner.startServer([profile, "--listen", "127.0.0.1:0", "--segments", dir + "/segs",
                                                    "--durability", "batch", "--lanes", "2"] + clockOptions)
        return (server.process, server.port, server.readyLine)
    }

    func order(_ id: Int, offer: String, org: Int, qty: Int = 1) -> String {
        RawHTTPClient.post("/v1/orders", "{\"request_id\":\(id),\"organisation\":\(org),\"offer\":\"\(offer)\",\"quantity\":\(qty)}")
    }

    func remaining(_ c: RawHTTPClient, _ offer: String) throws -> Int? {
        let r = try c.exchange(RawHTTPClient.get("/v1/offers"))
        let offers = (r.json["offers"] as? [[String: Any]]) ?? []
        return offers.first { $0["id"] as? String == offer }?["remaining"] as? Int
    }

    func testOpensInKeepsTheWindowClosedThenAHoldExpiresWithNoTraffic() throws {
        let dir = CommandRunner.temporaryDirectory("wall-clock")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let started = Date()
        let (p, port, ready) = try serve(dir, ["--opens-in", "1s"])
        defer { if p.isRunning { p.terminate() } }
        XCTAssertTrue(ready.contains("(in 1"), "the ready line says when the window opens: \(ready)")
        let c = try RawHTTPClient(port: port)
        // Before the window opens: refused as outside the window, nothing sold.
        var r = try c.exchange(order(1, offer: "bundle", org: 1))
        XCTAssertEqual(r.json["outcome"] as? String, "OUTSIDE_WINDOW", r.body)
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.0, "the test was too slow to ask before the opening")
        Thread.sleep(forTimeInterval: max(0, 1.3 - Date().timeIntervalSince(started)))
        // Open: a hold of 3 units for 1 s.
        r = try c.exchange(order(2, offer: "x1", org: 2, qty: 3))
        XCTAssertEqual(r.json["outcome"] as? String, "HELD", r.body)
        let hold = try XCTUnwrap(r.json["hold"] as? [String: Any], r.body)
        XCTAssertNotNil(hold["expires_at_ms"] as? Int)
        XCTAssertEqual(try remaining(c, "x1"), 47, "the held units are out of stock")
        // No traffic at all: the server's own clock expires the hold and returns its units.
        var back: Int?
        let deadline = Date().addingTimeInterval(5)
        repeat {
            Thread.sleep(forTimeInterval: 0.2)
            back = try remaining(c, "x1")
        } while back != 50 && Date() < deadline
        XCTAssertEqual(back, 50, "an expired hold's units came back without any request")
        // Confirming it now is too late.
        r = try c.exchange(RawHTTPClient.post("/v1/holds/2/confirm", "{\"request_id\":3,\"organisation\":2,\"offer\":\"x1\"}"))
        XCTAssertEqual(r.json["outcome"] as? String, "HOLD_EXPIRED", r.body)
        p.terminate()   // SIGTERM: drain, seal
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        // The release is journaled, so a restart does not resurrect the hold.
        var released: Int64 = 0
        try SegmentReader(directory: dir + "/segs").forEachRecord { rec in
            if rec.outcome == Outcome.released.rawValue && rec.reference == 2 { released += Int64(rec.quantity) }
        }
        XCTAssertEqual(released, 3, "the expiry's release of 3 units is in the journal")
    }

    /// `--campaign-epoch`: day 0 00:00 at the given instant. An epoch 10 h 00 min 30 s ago puts the server
    /// at day 0 10:00:30, inside the window; one 9 h ago, before it.
    func testCampaignEpochPlacesTheWindow() throws {
        let dir = CommandRunner.temporaryDirectory("wall-epoch")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = ISO8601DateFormatter()
        for (ago, expected) in [(36_030.0, "ACCEPTED"), (32_400.0, "OUTSIDE_WINDOW")] {
            try? FileManager.default.removeItem(atPath: dir + "/segs")
            let (p, port, ready) = try serve(dir, ["--campaign-epoch", f.string(from: Date().addingTimeInterval(-ago))])
            defer { if p.isRunning { p.terminate(); p.waitUntilExit() } }
            let r = try RawHTTPClient(port: port).exchange(order(1, offer: "bundle", org: 1))
            XCTAssertEqual(r.json["outcome"] as? String, expected, "epoch \(ago) s ago: \(r.body); \(ready)")
        }
    }
}
