import FlashSaleCore
import Foundation
import LoadGen
import OrderLog
@testable import OrderServer
import Pipeline
import FlashSaleTestSupport
import Synchronization
import XCTest

/// A served campaign on an ephemeral loopback port: the real server, real sockets.
final class ServedCampaign {
    static let yaml = """
    name: serve-test
    seed: 3
    campaign:
      window: { opens: "day 0 10:00", closes: "day 0 12:00" }
      regions: [east, north]
      items:
        - { id: lic, kind: license, stock: 500 }
        - { id: x1-east, kind: hardware, model: X1, vendor: deli, tier: 2, region: east, stock: 300 }
        - { id: x1-north, kind: hardware, model: X1, vendor: hik, tier: 1, region: north, stock: 300 }
      offers:
        - { id: bundle, kind: bundle, item: lic, limit: 2, max-quantity: 3, price: { list: 10000, discount: 10% } }
        - { id: x1, kind: reservation, model: X1, hold: 5m, limit: 1, max-quantity: 2, price: { list: 2000 } }
    population:
      organisations: 1000
      certification: { basic: 1.0 }
    traffic:
      phases: [ { constant: 1/s, for: 1s } ]
    """
    /// 10:00:01 on day 0: inside the window.
    static let open: Int64 = 36_001_000

    let service: OrderService
    let server: OrderHTTPServer
    let port: Int
    let directory: String
    let rules: CampaignRules

    init(directory: String, lanes: Int = 2, durability: Durability = .batch, maxBodyBytes: Int = 16 * 1024,
         idleTimeoutSeconds: Int64 = 30, maxConnections: Int = 4096, tokens: TokenTable? = nil,
         requestHeadTimeoutMillis: Int64 = 10_000, requestBodyTimeoutMillis: Int64 = 10_000, segmentBytes: Int = 64 << 20) throws {
        let profile = try LoadProfile.parse(yaml: Self.yaml, file: "serve-test.yaml")
        rules = try CampaignRules(profile.campaign)
        var writer = SegmentWriterOptions()
        writer.durability = durability
        writer.segmentBytes = segmentBytes
        self.directory = directory
        service = try OrderService(rules: rules, options: PipelineOptions(lanes: lanes, overloadPolicy: .shed,
                                                                          segmentsDirectory: directory, writer: writer))
        var config = OrderHTTPServer.Configuration()
        config.port = 0
        config.clock = .request
        config.maxBodyBytes = maxBodyBytes
        config.idleTimeout = .seconds(idleTimeoutSeconds)
        config.requestHeadTimeout = .milliseconds(requestHeadTimeoutMillis)
        config.requestBodyTimeout = .milliseconds(requestBodyTimeoutMillis)
        config.maxConnections = maxConnections
        config.eventLoops = 2
        config.tokens = tokens
        server = OrderHTTPServer(service: service, configuration: config)
        port = try server.start().port!
    }

    func stop() throws { try server.stop() }

    func client() throws -> RawHTTPClient { try RawHTTPClient(port: port) }

    static func order(_ id: UInt64, org: Int, offer: String = "bundle", qty: Int = 1, at t: Int64 = open) -> String {
        RawHTTPClient.post("/v1/orders", "{\"request_id\":\(id),\"organisation\":\(org),\"offer\":\"\(offer)\",\"quantity\":\(qty),\"campaign_time_ms\":\(t)}")
    }

    static func hold(_ hold: UInt64, _ action: String, id: UInt64, org: Int, at t: Int64 = open + 1000) -> String {
        RawHTTPClient.post("/v1/holds/\(hold)/\(action)", "{\"request_id\":\(id),\"organisation\":\(org),\"offer\":\"x1\",\"campaign_time_ms\":\(t)}")
    }

    /// Records journaled in the directory (after `stop`).
    func journal() throws -> [OrderRecord] {
        var out: [OrderRecord] = []
        try SegmentReader(directory: directory).forEachRecord { out.append($0) }
        return out
    }
}

func temporaryDirectory(_ label: String) -> String { CommandRunner.temporaryDirectory("serve-" + label) }

final class HTTPAPITests: XCTestCase {
    func testEveryEndpointAnswersWithItsPromisedStatus() throws {
        let dir = temporaryDirectory("endpoints")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try ServedCampaign(directory: dir)
        let c = try s.client()
        var r = try c.exchange(ServedCampaign.order(1, org: 7, qty: 2))
        XCTAssertEqual(r.status, 200, r.body)
        XCTAssertEqual(r.json["outcome"] as? String, "ACCEPTED")
        XCTAssertEqual(r.json["price_fen"] as? Int, 18_000, "2 × 10,000 fen at 10% off")
        XCTAssertNotNil(r.json["sequence"] as? Int)
        r = try c.exchange(ServedCampaign.order(1, org: 7, qty: 2))
        XCTAssertEqual(r.json["outcome"] as? String, "DUPLICATE")
        XCTAssertEqual(r.json["original_outcome"] as? String, "ACCEPTED")
        XCTAssertEqual(r.json["price_fen"] as? Int, 18_000)
        // The Idempotency-Key header carries the request id.
        r = try c.exchange(RawHTTPClient.post("/v1/orders", "{\"organisation\":7,\"offer\":\"bundle\",\"campaign_time_ms\":\(ServedCampaign.open)}",
                                              headers: "Idempotency-Key: 1\r\n"))
        XCTAssertEqual(r.json["outcome"] as? String, "DUPLICATE", r.body)
        // A reservation, its hold, a confirm, a second confirm, a cancel after it.
        r = try c.exchange(ServedCampaign.order(2, org: 8, offer: "x1", qty: 2))
        XCTAssertEqual(r.json["outcome"] as? String, "HELD", r.body)
        let hold = r.json["hold"] as? [String: Any]
        XCTAssertEqual(hold?["id"] as? Int, 2)
        XCTAssertEqual(hold?["expires_at_ms"] as? Int, Int(ServedCampaign.open) + 300_000)
        XCTAssertEqual(try c.exchange(ServedCampaign.hold(2, "confirm", id: 3, org: 8)).json["outcome"] as? String, "CONFIRMED")
        r = try c.exchange(ServedCampaign.hold(2, "confirm", id: 4, org: 8))
        XCTAssertEqual(r.json["outcome"] as? String, "DUPLICATE")
        XCTAssertEqual(r.json["original_outcome"] as? String, "CONFIRMED")
        XCTAssertEqual(try c.exchange(ServedCampaign.hold(2, "cancel", id: 5, org: 8)).json["outcome"] as? String, "HOLD_CONFIRMED")
        XCTAssertEqual(try c.exchange(ServedCampaign.hold(2, "cancel", id: 6, org: 9)).json["outcome"] as? String, "NO_HOLD",
                       "another organisation's hold")
        // Business refusals are 200 too.
        XCTAssertEqual(try c.exchange(ServedCampaign.order(10, org: 8, offer: "x1")).json["outcome"] as? String, "LIMIT")
        XCTAssertEqual(try c.exchange(ServedCampaign.order(11, org: 9, at: 1_000)).json["outcome"] as? String, "OUTSIDE_WINDOW")
        XCTAssertEqual(try c.exchange(ServedCampaign.order(12, org: 9, qty: 3)).json["outcome"] as? String, "ACCEPTED")
        XCTAssertEqual(try c.exchange(ServedCampaign.order(13, org: 10, offer: "x1", qty: 2)).json["outcome"] as? String, "HELD")
        XCTAssertEqual(try c.exchange(ServedCampaign.order(14, org: 10, offer: "bundle", qty: 2)).json["outcome"] as? String, "ACCEPTED")
        XCTAssertEqual(try c.exchange(ServedCampaign.order(15, org: 1000)).json["outcome"] as? String, "UNKNOWN_ORGANISATION",
                       "an organisation outside the campaign gets its own answer")
        // Lookups.
        r = try c.exchange(RawHTTPClient.get("/v1/orders/2?organisation=8"))
        XCTAssertEqual(r.status, 200, r.body)
        XCTAssertEqual(r.json["outcome"] as? String, "HELD")
        XCTAssertEqual((r.json["hold"] as? [String: Any])?["state"] as? String, "confirmed")
        XCTAssertEqual(try c.exchange(RawHTTPClient.get("/v1/orders/11?organisation=9")).json["outcome"] as? String, "OUTSIDE_WINDOW")
        XCTAssertEqual(try c.exchange(RawHTTPClient.get("/v1/orders/999?organisation=9")).status, 404)
        XCTAssertEqual(try c.exchange(RawHTTPClient.get("/v1/orders/2")).status, 400)
        // Offers, health.
        r = try c.exchange(RawHTTPClient.get("/v1/offers"))
        XCTAssertEqual(r.status, 200)
        let offers = r.json["offers"] as? [[String: Any]] ?? []
        XCTAssertEqual(offers.map { $0["id"] as? String }, ["bundle", "x1"])
        XCTAssertEqual(offers.first?["remaining"] as? Int, 500 - 2 - 3 - 2)
        XCTAssertEqual(offers.last?["remaining"] as? Int, 600 - 2 - 2)
        XCTAssertEqual(try c.exchange(RawHTTPClient.get("/healthz")).status, 200)
        XCTAssertEqual(try c.exchange(RawHTTPClient.get("/readyz")).status, 200)
        // Errors.
        XCTAssertEqual(try c.exchange(RawHTTPClient.get("/nowhere")).status, 404)
        r = try c.exchange("DELETE /v1/orders HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(r.status, 405)
        XCTAssertEqual(r.headers["allow"], "POST")
        r = try c.exchange(RawHTTPClient.post("/v1/orders", "{\"request_id\":20,\"organisation\":1,\"offer\":\"bundle\""))
        XCTAssertEqual(r.status, 400)
        XCTAssertNotNil(r.json["error"] as? String)
        r = try c.exchange(RawHTTPClient.post("/v1/orders", "{\"request_id\":20,\"organisation\":1,\"offer\":\"nope\",\"campaign_time_ms\":1}"))
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.json["field"] as? String, "offer")
        try s.stop()
        XCTAssertEqual(try s.journal().count, 14, "errors decide nothing: 14 decisions were answered 200")
    }

    func testKeepAliveAndPipelinedRequestsAreAnsweredInOrder() throws {
        let dir = temporaryDirectory("pipelined")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try ServedCampaign(directory: dir)
        let c = try s.client()
        for round in 0..<3 {
            // 60 pipelined requests in one write, to both lanes, with lookups and errors among them.
            var text = ""
            var expected: [String] = []
            for k in 0..<60 {
                let id = UInt64(round * 100 + k + 1)
                switch k % 6 {
                case 4: text += RawHTTPClient.get("/v1/offers"); expected.append("offers")
                case 5: text += RawHTTPClient.get("/nowhere"); expected.append("404")
                default: text += ServedCampaign.order(id, org: Int(id % 997), offer: k % 2 == 0 ? "bundle" : "x1"); expected.append("\(id)")
                }
            }
            try c.send(text)
            for e in expected {
                let r = try c.readResponse()
                switch e {
                case "offers": XCTAssertNotNil(r.json["offers"], r.body)
                case "404": XCTAssertEqual(r.status, 404)
                default: XCTAssertEqual(r.json["request_id"] as? Int, Int(e), "answers come in request order")
                }
            }
        }
        try s.stop()
    }

    /// The same request id twice, and again after a restart on the same segments: the same decision,
    /// and the stock taken once.
    func testARetryAfterARestartGetsTheOriginalDecisionAndStockMovesOnce() throws {
        let dir = temporaryDirectory("restart")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var s = try ServedCampaign(directory: dir)
        var c = try s.client()
        let first = try c.exchange(ServedCampaign.order(77, org: 5, qty: 3))
        XCTAssertEqual(first.json["outcome"] as? String, "ACCEPTED")
        let held = try c.exchange(ServedCampaign.order(78, org: 5, offer: "x1", qty: 2))
        XCTAssertEqual(held.json["outcome"] as? String, "HELD")
        try s.stop()
        s = try ServedCampaign(directory: dir)
        c = try s.client()
        let again = try c.exchange(ServedCampaign.order(77, org: 5, qty: 3, at: ServedCampaign.open + 5_000))
        XCTAssertEqual(again.json["outcome"] as? String, "DUPLICATE", again.body)
        XCTAssertEqual(again.json["original_outcome"] as? String, "ACCEPTED")
        XCTAssertEqual(again.json["price_fen"] as? Int, first.json["price_fen"] as? Int)
        let heldAgain = try c.exchange(ServedCampaign.order(78, org: 5, offer: "x1", qty: 2, at: ServedCampaign.open + 5_000))
        XCTAssertEqual(heldAgain.json["original_outcome"] as? String, "HELD")
        XCTAssertEqual((heldAgain.json["hold"] as? [String: Any])?["expires_at_ms"] as? Int,
                       (held.json["hold"] as? [String: Any])?["expires_at_ms"] as? Int)
        XCTAssertEqual(s.service.remaining(item: 0), 497, "the bundle's licences were taken once")
        XCTAssertEqual(s.service.remaining(item: 1) + s.service.remaining(item: 2), 598, "the hold took 2 units once")
        try s.stop()
    }

    /// Malformed requests of every kind: each gets its promised status, decides nothing, and the server
    /// keeps serving another client.
    func testMalformedRequestsGetTheirStatusAndDecideNothing() throws {
        let dir = temporaryDirectory("malformed")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try ServedCampaign(directory: dir, maxBodyBytes: 1024)
        let t = ServedCampaign.open
        func body(_ json: String) -> String { RawHTTPClient.post("/v1/orders", json) }
        let cases: [(String, String, Int, String?)] = [  // name, raw request, status, field
            ("empty body", body(""), 400, nil),
            ("not JSON", body("hello"), 400, nil),
            ("a list", body("[1,2]"), 400, nil),
            ("truncated JSON", body("{\"request_id\":1,"), 400, nil),
            ("trailing garbage", body("{\"request_id\":1,\"organisation\":1,\"offer\":\"bundle\",\"campaign_time_ms\":\(t)} x"), 400, nil),
            ("duplicate key", body("{\"request_id\":1,\"request_id\":2,\"organisation\":1,\"offer\":\"bundle\",\"campaign_time_ms\":\(t)}"), 400, "request_id"),
            ("nested object", body("{\"request_id\":{\"a\":1},\"organisation\":1,\"offer\":\"bundle\",\"campaign_time_ms\":\(t)}"), 400, "request_id"),
            ("missing request id", body("{\"organisation\":1,\"offer\":\"bundle\",\"campaign_time_ms\":\(t)}"), 400, "request_id"),
            ("request id 0", body("{\"request_id\":0,\"organisation\":1,\"offer\":\"bundle\",\"campaign_time_ms\":\(t)}"), 400, "request_id"),
            ("negative request id", body("{\"request_id\":-5,\"organisation\":1,\"offer\":\"bundle\",\"campaign_time_ms\":\(t)}"), 400, "request_id"),
            ("request id past 2^64", body("{\"request_id\":18446744073709551616,\"organisation\":1,\"offer\":\"bundle\",\"campaign_time_ms\":\(t)}"), 400, "request_id"),
            ("request id a float", body("{\"request_id\":1.5,\"organisation\":1,\"offer\":\"bundle\",\"campaign_time_ms\":\(t)}"), 400, "request_id"),
            ("request id true", body("{\"request_id\":true,\"organisation\":1,\"offer\":\"bundle\",\"campaign_time_ms\":\(t)}"), 400, "request_id"),
            ("missing organisation", body("{\"request_id\":1,\"offer\":\"bundle\",\"campaign_time_ms\":\(t)}"), 400, "organisation"),
            ("organisation a string", body("{\"request_id\":1,\"organisation\":\"7\",\"offer\":\"bundle\",\"campaign_time_ms\":\(t)}"), 400, "organisation"),
            ("negative organisation", body("{\"request_id\":1,\"organisation\":-1,\"offer\":\"bundle\",\"campaign_time_ms\":\(t)}"), 400, "organisation"),
            ("huge organisation", body("{\"request_id\":1,\"organisation\":99999999999,\"offer\":\"bundle\",\"campaign_time_ms\":\(t)}"), 400, "organisation"),
            ("missing offer", body("{\"request_id\":1,\"organisation\":1,\"campaign_time_ms\":\(t)}"), 400, "offer"),
            ("unknown offer", body("{\"request_id\":1,\"organisation\":1,\"offer\":\"free-iphone\",\"campaign_time_ms\":\(t)}"), 400, "offer"),
            ("offer a number", body("{\"request_id\":1,\"organisation\":1,\"offer\":0,\"campaign_time_ms\":\(t)}"), 400, "offer"),
            ("quantity 0", body("{\"request_id\":1,\"organisation\":1,\"offer\":\"bundle\",\"quantity\":0,\"campaign_time_ms\":\(t)}"), 400, "quantity"),
            ("negative quantity", body("{\"request_id\":1,\"organisation\":1,\"offer\":\"bundle\",\"quantity\":-3,\"campaign_time_ms\":\(t)}"), 400, "quantity"),
            ("huge quantity", body("{\"request_id\":1,\"organisation\":1,\"offer\":\"bundle\",\"quantity\":4294967296,\"campaign_time_ms\":\(t)}"), 400, "quantity"),
            ("missing campaign time", body("{\"request_id\":1,\"organisation\":1,\"offer\":\"bundle\"}"), 400, "campaign_time_ms"),
            ("negative campaign time", body("{\"request_id\":1,\"organisation\":1,\"offer\":\"bundle\",\"campaign_time_ms\":-1}"), 400, "campaign_time_ms"),
            ("unknown field", body("{\"request_id\":1,\"organisation\":1,\"offer\":\"bundle\",\"campaign_time_ms\":\(t),\"price\":0}"), 400, "price"),
            ("bad Idempotency-Key", RawHTTPClient.post("/v1/orders", "{\"organisation\":1,\"offer\":\"bundle\",\"campaign_time_ms\":\(t)}", headers: "Idempotency-Key: abc\r\n"), 400, "Idempotency-Key"),
            ("Idempotency-Key differs from request_id", RawHTTPClient.post("/v1/orders", "{\"request_id\":1,\"organisation\":1,\"offer\":\"bundle\",\"campaign_time_ms\":\(t)}", headers: "Idempotency-Key: 2\r\n"), 400, "request_id"),
            ("bad hold id", RawHTTPClient.post("/v1/holds/abc/confirm", "{\"request_id\":1,\"organisation\":1,\"offer\":\"x1\",\"campaign_time_ms\":\(t)}"), 400, "hold"),
            ("hold id 0", RawHTTPClient.post("/v1/holds/0/cancel", "{\"request_id\":1,\"organisation\":1,\"offer\":\"x1\",\"campaign_time_ms\":\(t)}"), 400, "hold"),
            ("unknown hold action", RawHTTPClient.post("/v1/holds/5/refund", "{}"), 404, nil),
            ("GET on orders", RawHTTPClient.get("/v1/orders"), 405, nil),
            ("POST on offers", RawHTTPClient.post("/v1/offers", "{}"), 405, nil),
            ("unknown path", RawHTTPClient.get("/v2/orders"), 404, nil),
            ("oversized body", body("{\"request_id\":1,\"pad\":\"" + String(repeating: "x", count: 5000) + "\"}"), 413, nil),
        ]
        XCTAssertGreaterThanOrEqual(cases.count, 30)
        for (name, raw, status, field) in cases {
            let c = try s.client()
            let r = try c.exchange(raw)
            XCTAssertEqual(r.status, status, "\(name): \(r.body)")
            if let field { XCTAssertEqual(r.json["field"] as? String, field, "\(name): \(r.body)") }
            XCTAssertNotNil(r.json["error"] as? String, "\(name): an error body says why")
        }
        // Framing garbage: 400 and a closed connection (NIO's protocol error handler), or a close.
        for garbage in ["GARBAGE\r\n\r\n", "POST /v1/orders HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                        "\u{0}\u{1}\u{2}\u{3}\u{ff}\r\n\r\n", "GET / HTTP/9.9\r\n\r\n"] {
            let c = try s.client()
            try c.send(garbage)
            if let r = try? c.readResponse() { XCTAssertEqual(r.status, 400, garbage.debugDescription) }
            XCTAssertTrue(c.isClosedByServer(), "\(garbage.debugDescription): the connection is closed")
        }
        // A truncated request (the client goes away mid-body) and a half-sent header.
        do {
            let c = try s.client()
            try c.send("POST /v1/orders HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"request_id\":9")
        }
        do {
            let c = try s.client()
            try c.send("POST /v1/orders HTTP/1.1\r\nHo")
        }
        // Another client is served all along, and nothing of the above was decided.
        let good = try s.client()
        XCTAssertEqual(try good.exchange(ServedCampaign.order(500, org: 3)).json["outcome"] as? String, "ACCEPTED")
        try s.stop()
        let journal = try s.journal()
        XCTAssertEqual(journal.count, 1, "only the good request was decided: \(journal.map(\.requestId))")
        XCTAssertEqual(s.service.remaining(item: 0), 499)
    }

    /// Bad framing after pipelined orders: the orders are answered first, in order, then the 400
    /// (`Connection: close`, empty body) and the close; the orders were decided, the garbage nothing.
    func testBadFramingAfterPipelinedOrdersIsAnsweredAfterThem() throws {
        let dir = temporaryDirectory("framing")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try ServedCampaign(directory: dir)
        let c = try s.client()
        try c.send(ServedCampaign.order(1, org: 1) + ServedCampaign.order(2, org: 2) + "GARBAGE\r\n\r\n")
        XCTAssertEqual(try c.readResponse().json["request_id"] as? Int, 1)
        XCTAssertEqual(try c.readResponse().json["request_id"] as? Int, 2)
        let r = try c.readResponse()
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.headers["connection"], "close")
        XCTAssertEqual(r.body, "")
        XCTAssertTrue(c.isClosedByServer())
        try s.stop()
        XCTAssertEqual(try s.journal().map(\.requestId).sorted(), [1, 2])
    }

    /// A client that sends a request slowly, or nothing at all, is disconnected after the idle timeout;
    /// others are served meanwhile.
    func testIdleAndSlowClientsAreDisconnectedWithoutDisturbingOthers() throws {
        let dir = temporaryDirectory("slow")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try ServedCampaign(directory: dir, idleTimeoutSeconds: 1)
        let idle = try s.client()
        let slow = try s.client()
        try slow.send("POST /v1/orders HTTP/1.1\r\nHost: t\r\n")
        let good = try s.client()
        XCTAssertEqual(try good.exchange(ServedCampaign.order(1, org: 1)).status, 200)
        // The active client sends every 0.5 s while the others stay silent past the 1 s timeout.
        for id in UInt64(2)...4 {
            usleep(500_000)
            XCTAssertEqual(try good.exchange(ServedCampaign.order(id, org: Int(id))).status, 200, "the active client keeps its connection")
        }
        XCTAssertTrue(idle.isClosedByServer(), "an idle connection is closed")
        XCTAssertTrue(slow.isClosedByServer(), "a request that never completes is dropped")
        XCTAssertEqual(try good.exchange(ServedCampaign.order(5, org: 5)).status, 200)
        try s.stop()
        XCTAssertEqual(try s.journal().count, 5)
    }

    /// Slowloris: a client that trickles a request's head (or body) a byte every 0.1 s — slower than the
    /// request deadline allows, far faster than the idle timeout — is answered 408 and closed within the
    /// deadline; another client is served meanwhile, and a keep-alive client that pauses between its
    /// requests for longer than the deadline keeps its connection (the deadline runs from a request's
    /// first byte, not from the previous answer).
    func testARequestTricklingInSlowerThanItsDeadlineIsAnswered408AndClosed() throws {
        let dir = temporaryDirectory("slowloris")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let deadline = 0.5, slack = 0.6, giveUp = 3.0
        let s = try ServedCampaign(directory: dir, idleTimeoutSeconds: 2, requestHeadTimeoutMillis: 500, requestBodyTimeoutMillis: 500)
        let json = "{\"request_id\":900,\"organisation\":9,\"offer\":\"bundle\",\"campaign_time_ms\":\(ServedCampaign.open)}"
        let request = RawHTTPClient.post("/v1/orders", json)
        let headEnd = request.utf8.count - json.utf8.count
        struct Trickled { var seconds = 0.0; var sentBytes = 0; var status: Int?; var closed = false }
        /// Sends `preamble` at once, then `bytes` one at a time every 0.1 s until the server answers or
        /// closes (or `giveUp` passes); seconds are counted from the start.
        @Sendable func trickle(preamble: [UInt8], _ bytes: [UInt8]) -> Trickled {
            var t = Trickled()
            guard let c = try? s.client() else { return t }
            let start = Date()
            var i = 0
            if !preamble.isEmpty { try? c.send(preamble) }
            while i < bytes.count && Date().timeIntervalSince(start) < giveUp {
                do { try c.send([bytes[i]]) } catch { break }
                i += 1
                if c.waitReadable(milliseconds: 100) { break }
            }
            t.seconds = Date().timeIntervalSince(start)
            t.sentBytes = preamble.count + i
            if let r = try? c.readResponse() { t.status = r.status }
            t.closed = c.isClosedByServer()
            return t
        }
        let all = Array(request.utf8)
        let results = Mutex<[String: Trickled]>([:])
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            let t = trickle(preamble: [], Array(all[..<headEnd]))
            results.withLock { $0["head"] = t }
        }
        DispatchQueue.global().async(group: group) {
            let t = trickle(preamble: Array(all[..<headEnd]), Array(all[headEnd...]))
            results.withLock { $0["body"] = t }
        }
        // Meanwhile: a client served at once, and one that pauses longer than the deadline between requests.
        let good = try s.client()
        XCTAssertEqual(try good.exchange(ServedCampaign.order(1, org: 1)).status, 200)
        usleep(800_000)
        XCTAssertEqual(try good.exchange(ServedCampaign.order(2, org: 2)).status, 200,
                       "a pause between keep-alive requests longer than the request deadline is no slow request")
        group.wait()
        for name in ["head", "body"] {
            let t = results.withLock { $0[name] } ?? Trickled()
            XCTAssertLessThan(t.seconds, deadline + slack,
                              "\(name): closed within the deadline (\(t.sentBytes) bytes sent in \(t.seconds) s)")
            XCTAssertGreaterThan(t.seconds, deadline * 0.8, "\(name): not before the deadline")
            XCTAssertEqual(t.status, 408, "\(name): answered 408")
            XCTAssertTrue(t.closed, "\(name): the connection is closed")
        }
        XCTAssertEqual(try good.exchange(ServedCampaign.order(3, org: 3)).status, 200, "the server still serves")
        try s.stop()
        XCTAssertEqual(try s.journal().map(\.requestId).sorted(), [1, 2, 3], "the slow requests decided nothing")
    }

    /// With tokens, organisation A cannot order, confirm, cancel or look up as B; no token or an unknown
    /// one is 401. Refusals decide nothing.
    func testWithTokensAnOrganisationActsOnlyForItself() throws {
        let dir = temporaryDirectory("tokens")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = "# token organisation\nalpha-token-0000000001 1\n\nbravo-token-00000000002 2   # the second\n"
        let tokens = try TokenTable(text: text, file: "tokens.txt", organisations: 1000)
        XCTAssertEqual(tokens.count, 2)
        let s = try ServedCampaign(directory: dir, tokens: tokens)
        let c = try s.client()
        let a = "Authorization: Bearer alpha-token-0000000001\r\n", b = "Authorization: Bearer bravo-token-00000000002\r\n"
        func order(_ id: Int, org: Int, offer: String = "x1", _ auth: String) throws -> RawHTTPClient.Response {
            try c.exchange(RawHTTPClient.post("/v1/orders", "{\"request_id\":\(id),\"organisation\":\(org),\"offer\":\"\(offer)\",\"campaign_time_ms\":\(ServedCampaign.open)}", headers: auth))
        }
        XCTAssertEqual(try order(1, org: 1, "").status, 401, "no token")
        XCTAssertEqual(try order(1, org: 1, "Authorization: Bearer alpha-token-0000000002\r\n").status, 401, "a wrong token")
        XCTAssertEqual(try order(1, org: 1, "Authorization: Basic YWxwaGE=\r\n").status, 401)
        XCTAssertEqual(try order(1, org: 2, a).status, 403, "A ordering as B")
        XCTAssertEqual(try order(1, org: 1, a).json["outcome"] as? String, "HELD")
        // B cannot confirm or cancel A's hold, nor look up A's orders, even naming A.
        for action in ["confirm", "cancel"] {
            let r = try c.exchange(RawHTTPClient.post("/v1/holds/1/\(action)", "{\"request_id\":9,\"organisation\":1,\"offer\":\"x1\",\"campaign_time_ms\":\(ServedCampaign.open + 1)}", headers: b))
            XCTAssertEqual(r.status, 403, action)
        }
        XCTAssertEqual(try c.exchange("GET /v1/orders/1?organisation=1 HTTP/1.1\r\nHost: t\r\n\(b)\r\n").status, 403)
        XCTAssertEqual(try c.exchange("GET /v1/orders/1?organisation=1 HTTP/1.1\r\nHost: t\r\n\(a)\r\n").status, 200)
        let confirm = try c.exchange(RawHTTPClient.post("/v1/holds/1/confirm", "{\"request_id\":3,\"organisation\":1,\"offer\":\"x1\",\"campaign_time_ms\":\(ServedCampaign.open + 2)}", headers: a))
        XCTAssertEqual(confirm.json["outcome"] as? String, "CONFIRMED")
        XCTAssertEqual(try c.exchange(RawHTTPClient.get("/v1/offers")).status, 200, "offers and health need no token")
        try s.stop()
        XCTAssertEqual(try s.journal().map(\.requestId), [1, 3], "refused requests decided nothing")
        // A bad tokens file is refused at its line.
        XCTAssertThrowsError(try TokenTable(text: "short 1\n", file: "t.txt", organisations: 10)) { XCTAssertEqual("\($0)", "t.txt:1: token: at least 16 characters") }
        XCTAssertThrowsError(try TokenTable(text: "\nalpha-token-0000000001 10\n", file: "t.txt", organisations: 10)) {
            XCTAssertEqual("\($0)", "t.txt:2: organisation: expected an id below 10, got 10")
        }
    }

    /// Segments roll while 16 connections pipeline orders under batch durability: a roll waits for the
    /// background fsync while that fsync's thread acknowledges on the journal's queue (which the rolling
    /// event loop holds): no stall, and every order answered 200 is in the journal, once.
    func testSegmentsRollUnderPipelinedLoadAndEveryAnswerIsJournaled() throws {
        let dir = temporaryDirectory("roll")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try ServedCampaign(directory: dir, segmentBytes: 4 << 10)
        let answered = Mutex<[UInt64]>([])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 16) { k in
            do {
                let c = try s.client()
                var mine: [UInt64] = []
                for round in 0..<20 {
                    let ids = (0..<16).map { UInt64(k * 100_000 + round * 100 + $0 + 1) }
                    try c.send(ids.map { ServedCampaign.order($0, org: Int($0 % 1000)) }.joined())
                    for id in ids {
                        let r = try c.readResponse()
                        if r.status == 200 { mine.append(id) } else { throw RawHTTPClient.ClientError.malformed("\(id): \(r.status) \(r.body)") }
                    }
                }
                answered.withLock { $0 += mine }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        try s.stop()
        let segments = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".seg") }
        XCTAssertGreaterThan(segments.count, 3, "the segments rolled")
        XCTAssertEqual(try s.journal().map(\.requestId).sorted(), answered.withLock { $0 }.sorted())
    }

    /// 64 connections hammer scarce stock with pipelined orders and retransmits: no oversell, every
    /// unit accounted for, the journal equals the answers, and every 200 ACCEPTED is in it.
    func testSixtyFourConnectionsNeverOversellAndTheJournalMatchesTheAnswers() throws {
        let dir = temporaryDirectory("load")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try ServedCampaign(directory: dir)
        final class Tally: @unchecked Sendable {
            let lock = NSLock()
            var outcomes: [String: Int] = [:]
            var accepted: [UInt64: Int] = [:]  // request id → quantity
            var errors: [String] = []
        }
        let tally = Tally()
        DispatchQueue.concurrentPerform(iterations: 64) { k in
            do {
                let c = try s.client()
                var local: [String: Int] = [:]
                var acc: [UInt64: Int] = [:]
                for round in 0..<10 {
                    var text = ""
                    var ids: [UInt64] = []
                    for j in 0..<16 {
                        let id = UInt64(k * 10_000 + round * 100 + j / 2 + 1)  // each id twice: a retransmit
                        let qty = Int(id % 3) + 1
                        text += ServedCampaign.order(id, org: Int((id &* 0x9E37_79B9_7F4A_7C15) >> 40) % 1000, offer: id % 4 == 0 ? "x1" : "bundle", qty: qty)
                        ids.append(id)
                    }
                    try c.send(text)
                    for id in ids {
                        let r = try c.readResponse()
                        let outcome = r.json["outcome"] as? String ?? "HTTP \(r.status)"
                        local[outcome, default: 0] += 1
                        if outcome == "ACCEPTED" { acc[id] = Int(id % 3) + 1 }
                    }
                }
                tally.lock.lock()
                for (o, n) in local { tally.outcomes[o, default: 0] += n }
                for (id, q) in acc { tally.accepted[id] = q }
                tally.lock.unlock()
            } catch {
                tally.lock.lock(); tally.errors.append("\(error)"); tally.lock.unlock()
            }
        }
        XCTAssertEqual(tally.errors, [])
        XCTAssertGreaterThan(tally.outcomes["SOLD_OUT", default: 0], 0, "the stock must run out: \(tally.outcomes)")
        XCTAssertGreaterThan(tally.outcomes["DUPLICATE", default: 0], 0)
        let metrics = try s.client().exchange(RawHTTPClient.get("/metrics"))
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.headers["content-type"]?.hasPrefix("text/plain") ?? false)
        var exported: [String: Int] = [:]
        for line in metrics.body.split(separator: "\n") where line.hasPrefix("flashsale_decisions_total{") {
            let name = line.split(separator: "\"")[1]
            exported[String(name)] = Int(Double(line.split(separator: " ").last!)!)
        }
        XCTAssertTrue(metrics.body.contains("flashsale_answer_latency_seconds_count "), metrics.body)
        XCTAssertTrue(metrics.body.contains("flashsale_http_answers_total{status=\"200\"}"), metrics.body)
        try s.stop()
        var journaled: [String: Int] = [:]
        for r in try s.journal() { journaled[Outcome(rawValue: r.outcome)!.name, default: 0] += 1 }
        XCTAssertEqual(exported.filter { $0.value > 0 }, journaled, "/metrics counts equal the journal's")
        XCTAssertEqual(journaled, tally.outcomes, "the answers equal the journal")
        let licences = tally.accepted.filter { $0.key % 4 != 0 }.values.reduce(0, +)
        XCTAssertLessThanOrEqual(licences, 500, "oversold")
        XCTAssertEqual(Int64(licences), 500 - s.service.remaining(item: 0), "every ACCEPTED licence answered, and only those, left the stock")
        let audit = try SegmentAudit.read(directory: dir, rules: s.rules)
        XCTAssertEqual(audit.problems, [])
        XCTAssertEqual(audit.soldUnits[0], Int64(licences))
        for i in 0..<3 {
            XCTAssertEqual(s.service.remaining(item: i) + audit.soldUnits[i] + audit.heldUnits[i], s.rules.campaign.items[i].initial)
        }
        let journal = try s.journal()
        let journaledAccepted = Set(journal.filter { $0.outcome == Outcome.accepted.rawValue }.map(\.requestId))
        XCTAssertEqual(journaledAccepted, Set(tally.accepted.keys.filter { $0 % 4 != 0 }))
        var answered = 0
        for (_, n) in tally.outcomes { answered += n }
        XCTAssertEqual(journal.filter { !($0.kind == RequestKind.expire.rawValue && $0.outcome == Outcome.released.rawValue) }.count, answered)
    }
}
