import FlashSaleCore
import FlashSaleTestSupport
import Foundation
import LoadGen
import NIOCore
import OrderLog
@testable import OrderServer
import Pipeline
import WireProtocol
import XCTest

/// `ServedCampaign`'s campaign served in-process by a `ServeSession` with the binary protocol on an
/// ephemeral loopback port (and HTTP on another): the real servers, real sockets.
final class BinaryServed {
    let session: ServeSession
    let port: Int
    let httpPort: Int
    let directory: String
    let rules: CampaignRules
    var fingerprint: UInt64 { rules.campaign.fingerprint }
    var service: OrderService { session.service }
    /// Offer indices of `ServedCampaign.yaml`.
    static let bundle: UInt16 = 0, x1: UInt16 = 1

    init(directory: String, lanes: Int = 2, durability: Durability = .batch, clock: CampaignClock = .request, tokens: TokenTable? = nil,
         maxConnections: Int = 4096, idleTimeout: TimeAmount = .seconds(30), maxInFlight: Int = 65_536) throws {
        let profile = try LoadProfile.parse(yaml: ServedCampaign.yaml, file: "serve-test.yaml")
        rules = try CampaignRules(profile.campaign)
        var http = OrderHTTPServer.Configuration()
        http.port = 0
        http.clock = clock
        http.tokens = tokens
        http.eventLoops = 2
        var binary = BinaryOrderServer.Configuration()
        binary.port = 0
        binary.maxConnections = maxConnections
        binary.idleTimeout = idleTimeout
        binary.maxInFlightPerConnection = maxInFlight
        self.directory = directory
        session = try ServeSession(.init(rules: rules, server: http, lanes: lanes, segments: directory, durability: durability, binary: binary))
        port = Int(session.binaryAddress!.split(separator: ":").last!)!
        httpPort = Int(session.address.split(separator: ":").last!)!
    }

    func client(timeoutSeconds: Int = 10) throws -> BinaryClient { try BinaryClient(port: port, timeoutSeconds: timeoutSeconds) }

    func stop() throws { try session.stop() }

    /// Records journaled in the directory (after `stop`).
    func journal() throws -> [OrderRecord] {
        var out: [OrderRecord] = []
        try SegmentReader(directory: directory).forEachRecord { out.append($0) }
        return out
    }

    static func buy(_ seq: UInt64, id: UInt64, org: UInt32, offer: UInt16 = bundle, qty: Int32 = 1, at t: Int64 = ServedCampaign.open) -> WireOrder {
        WireOrder(clientSequence: seq, kind: .buy, offer: offer, organisation: org, quantity: qty, requestId: id, campaignTimeMillis: t)
    }

    static func hold(_ seq: UInt64, _ kind: RequestKind, hold: UInt64, id: UInt64, org: UInt32, at t: Int64 = ServedCampaign.open + 1000) -> WireOrder {
        WireOrder(clientSequence: seq, kind: kind, offer: x1, organisation: org, quantity: 1, requestId: id, reference: hold, campaignTimeMillis: t)
    }
}

final class BinaryProtocolTests: XCTestCase {
    func testEveryMessageRoundTripsThroughTheServer() throws {
        let dir = temporaryDirectory("binary-roundtrip")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try BinaryServed(directory: dir)
        let c = try s.client()
        let w = try c.hello(fingerprint: s.fingerprint)
        XCTAssertEqual(w, WireWelcome(campaignFingerprint: s.fingerprint, maxOrdersPerFrame: 21_845, maxInFlight: 65_536, clock: .request))

        // Several orders in one frame: a bundle, two reservations (answered by client sequence, in any order).
        try c.send(orders: [BinaryServed.buy(1, id: 1, org: 7, qty: 2),
                            BinaryServed.buy(2, id: 2, org: 8, offer: BinaryServed.x1, qty: 2),
                            BinaryServed.buy(3, id: 3, org: 9, offer: BinaryServed.x1)])
        var a = try c.answers(3)
        XCTAssertEqual(Set(a.keys), [1, 2, 3])
        XCTAssertEqual(a[1]?.status, .decided)
        XCTAssertEqual(a[1]?.decidedOutcome, .accepted)
        XCTAssertEqual(a[1]?.priceFen, 18_000, "2 × 10,000 fen at 10% off")
        XCTAssertEqual(a[1]?.holdId, 0)
        XCTAssertEqual(a[2]?.decidedOutcome, .held)
        XCTAssertEqual(a[2]?.holdId, 2, "the hold's id is the reservation's request id")
        XCTAssertEqual(a[2]?.holdExpiresAtMillis, ServedCampaign.open + 300_000)
        XCTAssertEqual(a[3]?.decidedOutcome, .held)
        let firstSequences = Set(a.values.map(\.journalSequence))
        XCTAssertEqual(firstSequences.count, 3)
        XCTAssertFalse(firstSequences.contains(0))

        // Confirm one hold, cancel the other, retransmit the bundle and a reservation, then a heartbeat.
        try c.send(orders: [BinaryServed.hold(10, .confirm, hold: 2, id: 4, org: 8),
                            BinaryServed.hold(11, .cancel, hold: 3, id: 5, org: 9),
                            BinaryServed.buy(12, id: 1, org: 7, qty: 2),
                            BinaryServed.buy(13, id: 2, org: 8, offer: BinaryServed.x1, qty: 2)])
        try c.send(.heartbeat)
        var r = try c.read { $0 == .heartbeatReply }
        a = r.answers
        // The heartbeat is answered at once; the remaining answers follow.
        if a.count < 4 { for (k, v) in try c.answers(4 - a.count) { XCTAssertNil(a.updateValue(v, forKey: k), "answered twice") } }
        XCTAssertEqual(Set(a.keys), [10, 11, 12, 13])
        XCTAssertEqual(a[10]?.decidedOutcome, .confirmed)
        XCTAssertEqual(a[10]?.holdId, 2)
        XCTAssertEqual(a[11]?.decidedOutcome, .released)
        XCTAssertEqual(a[11]?.holdId, 3)
        XCTAssertEqual(a[12]?.decidedOutcome, .duplicate)
        XCTAssertEqual(a[12]?.decidedOriginalOutcome, .accepted)
        XCTAssertEqual(a[12]?.priceFen, 18_000, "the original's price")
        XCTAssertEqual(a[13]?.decidedOutcome, .duplicate)
        XCTAssertEqual(a[13]?.decidedOriginalOutcome, .held)
        XCTAssertEqual(a[13]?.holdId, 2)
        XCTAssertEqual(a[13]?.holdExpiresAtMillis, ServedCampaign.open + 300_000)

        // Goodbye: what is in flight is answered, then the reply, then the close.
        try c.send(orders: [BinaryServed.buy(20, id: 30, org: 30)])
        try c.send(.goodbye)
        r = try c.read { $0 == .goodbyeReply }
        XCTAssertEqual(r.answers[20]?.decidedOutcome, .accepted)
        XCTAssertEqual(r.duplicates, 0)
        XCTAssertTrue(c.isClosedByServer(), "GOODBYE's reply ends the connection")

        // The figures: /metrics counts the binary frames and answers.
        let metrics = try RawHTTPClient(port: s.httpPort).exchange(RawHTTPClient.get("/metrics")).body
        XCTAssertTrue(metrics.contains("flashsale_binary_frames_total{type=\"orders\"} 3"), metrics)
        XCTAssertTrue(metrics.contains("flashsale_binary_answers_total{status=\"DECIDED\"} 8"), metrics)
        XCTAssertTrue(metrics.contains("flashsale_binary_frames_total{type=\"heartbeat\"} 1"), metrics)
        try s.stop()
        XCTAssertEqual(try s.journal().count, 8, "every order decided once")
        XCTAssertEqual(s.session.binaryServer?.figures().answers, ["DECIDED": 8])
    }

    /// Sends `bytes` on a fresh connection; the frames the server sends before closing (which it must).
    func exchange(_ s: BinaryServed, _ bytes: [UInt8], shutdown: Bool = false) throws -> [FrameDecoder.ServerFrame] {
        let c = try s.client()
        try c.send(bytes)
        if shutdown { c.shutdownWrite() }
        return try c.readToEnd()
    }

    static func hello(_ version: UInt16 = 1, fingerprint: UInt64 = 0, token: String = "") -> [UInt8] {
        var b: [UInt8] = []
        WireHello(version: version, campaignFingerprint: fingerprint, token: token).encode(into: &b)
        return b
    }

    static func orders(_ list: [WireOrder]) -> [UInt8] {
        var b: [UInt8] = []
        FrameEncoder.appendOrders(list, into: &b)
        return b
    }

    func lastError(_ frames: [FrameDecoder.ServerFrame], file: StaticString = #filePath, line: UInt = #line) -> WireError? {
        guard case .error(let e) = frames.last else { XCTFail("no ERROR last: \(frames)", file: file, line: line); return nil }
        XCTAssertTrue(e.fatal, file: file, line: line)
        return e
    }

    func testFatalFaultsGetTheirErrorAClearMessageAndACloseAndDecideNothing() throws {
        let dir = temporaryDirectory("binary-faults")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try BinaryServed(directory: dir)
        let good = BinaryServed.buy(1, id: 1, org: 1)

        var e = lastError(try exchange(s, Self.hello(2) + Self.orders([good])))
        XCTAssertEqual(e?.code, .unsupportedVersion)
        XCTAssertEqual(e?.message, "protocol version 2 is not supported; this server speaks version 1")

        var frames = try exchange(s, Self.hello(fingerprint: 0xDEAD_BEEF) + Self.orders([good]))
        e = lastError(frames)
        XCTAssertEqual(frames.count, 1, "no WELCOME before the error")
        XCTAssertEqual(e?.code, .fingerprintMismatch)
        let mine = String(s.fingerprint, radix: 16)
        XCTAssertEqual(e?.message, "HELLO's campaign fingerprint 0x00000000deadbeef is not this server's campaign 0x\(String(repeating: "0", count: 16 - mine.count) + mine)")

        e = lastError(try exchange(s, Self.orders([good])))
        XCTAssertEqual(e?.code, .helloExpected)
        XCTAssertEqual(e?.message, "the first frame must be HELLO (type 0x01), got frame type 0x02")

        frames = try exchange(s, Self.hello() + [1, 0, 0, 0, 0x7f] + Self.orders([good]))
        XCTAssertEqual(frames.first, .welcome(WireWelcome(campaignFingerprint: s.fingerprint, maxInFlight: 65_536, clock: .request)))
        e = lastError(frames)
        XCTAssertEqual(e?.code, .unknownFrameType)
        XCTAssertEqual(e?.message, "frame type 0x7f is not a client frame")
        XCTAssertEqual(lastError(try exchange(s, Self.hello() + [1, 0, 0, 0, 0x82]))?.code, .unknownFrameType, "a server frame from a client")

        // A frame that breaks the sequence decides none of its orders (not even the ones before the break).
        frames = try exchange(s, Self.hello() + Self.orders([BinaryServed.buy(5, id: 2, org: 2), BinaryServed.buy(6, id: 3, org: 3),
                                                             BinaryServed.buy(6, id: 4, org: 4)]))
        e = lastError(frames)
        XCTAssertEqual(e?.code, .sequenceNotIncreasing)
        XCTAssertEqual(e?.clientSequence, 6)
        XCTAssertEqual(e?.message, "client_sequence 6 (order 3 of 3 in the frame) is not above the previous one, 6")
        XCTAssertEqual(frames.count, 2, "WELCOME and ERROR only: no answer")
        XCTAssertEqual(lastError(try exchange(s, Self.hello() + Self.orders([BinaryServed.buy(0, id: 2, org: 2)])))?.code, .sequenceNotIncreasing,
                       "the first client sequence is at least 1")

        // Orders of earlier frames are answered before the ERROR of a later one.
        frames = try exchange(s, Self.hello() + Self.orders([BinaryServed.buy(1, id: 10, org: 10)]) + Self.orders([BinaryServed.buy(1, id: 11, org: 11)]))
        XCTAssertEqual(lastError(frames)?.code, .sequenceNotIncreasing)
        let answered: [WireAnswer] = frames.flatMap { (f: FrameDecoder.ServerFrame) -> [WireAnswer] in if case .answers(let a) = f { a } else { [] } }
        XCTAssertEqual(answered.map(\.clientSequence), [1])
        XCTAssertEqual(answered.first?.decidedOutcome, .accepted)

        // A frame length above 1 MiB is refused as soon as its 4 bytes are in (no body is waited for).
        let c = try s.client(timeoutSeconds: 5)
        try c.send(Self.hello() + [0x01, 0x00, 0x10, 0x00])  // 1,048,577
        frames = try c.readToEnd()
        XCTAssertEqual(lastError(frames)?.code, .frameTooLarge)
        XCTAssertEqual(lastError(frames)?.message, "frame length 1048577 is above the limit of 1048576 bytes")
        XCTAssertEqual(lastError(try exchange(s, Self.hello() + [0, 0, 0, 0]))?.code, .frameTooLarge, "length 0")

        // Malformed: a second HELLO, a wrong size, a count of 0, a heartbeat with a payload.
        XCTAssertEqual(lastError(try exchange(s, Self.hello() + Self.hello()))?.message, "a second HELLO: it comes once, as the connection's first frame")
        var wrongSize = Self.orders([good])
        wrongSize[0] += 1
        wrongSize.append(0)
        XCTAssertEqual(lastError(try exchange(s, Self.hello() + wrongSize))?.message, "ORDERS payload is 53 bytes; its count 1 makes it 52")
        XCTAssertEqual(lastError(try exchange(s, Self.hello() + [5, 0, 0, 0, 2, 0, 0, 0, 0]))?.message, "ORDERS count 0: expected 1 … 65536")
        XCTAssertEqual(lastError(try exchange(s, Self.hello() + [2, 0, 0, 0, 3, 0]))?.code, .malformedFrame)
        var flags = Self.hello()
        flags[7] = 1
        XCTAssertEqual(lastError(try exchange(s, flags))?.code, .malformedFrame)

        try s.stop()
        XCTAssertEqual(try s.journal().map(\.requestId), [10], "only the order of the good frame was decided")
        XCTAssertEqual(s.session.binaryServer?.figures().errors["FINGERPRINT_MISMATCH"], 1)
    }

    func testPerOrderProblemsAreThatOrdersAnswerAndTheRestOfTheFrameIsDecided() throws {
        let dir = temporaryDirectory("binary-invalid")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try BinaryServed(directory: dir, maxInFlight: 4)
        let c = try s.client()
        try c.hello()
        var invalid: [WireOrder] = [
            WireOrder(clientSequence: 1, kind: 3, offer: 0, organisation: 1, requestId: 1, campaignTimeMillis: ServedCampaign.open),
            WireOrder(clientSequence: 2, kind: 0, offer: 2, organisation: 1, requestId: 2, campaignTimeMillis: ServedCampaign.open),
            WireOrder(clientSequence: 3, kind: 0, offer: 0, organisation: 1, quantity: 0, requestId: 3, campaignTimeMillis: ServedCampaign.open),
            WireOrder(clientSequence: 4, kind: 0, offer: 0, organisation: 1, requestId: 0, campaignTimeMillis: ServedCampaign.open),
            WireOrder(clientSequence: 5, kind: 0, offer: 0, organisation: 1, requestId: 5, reference: 9, campaignTimeMillis: ServedCampaign.open),
            WireOrder(clientSequence: 6, kind: 1, offer: 1, organisation: 1, requestId: 6, reference: 0, campaignTimeMillis: ServedCampaign.open),
            WireOrder(clientSequence: 7, kind: 0, offer: 0, organisation: 1, requestId: 7, campaignTimeMillis: WireProtocol.noCampaignTime),
            WireOrder(clientSequence: 8, kind: 0, offer: 0, organisation: 1, requestId: 8, campaignTimeMillis: -1),
        ]
        // Then 6 good ones: 4 are taken (max in flight), 2 OVERLOADED.
        invalid += (9...14).map { BinaryServed.buy(UInt64($0), id: UInt64(100 + $0), org: UInt32($0)) }
        var bytes = Self.orders(invalid)
        var reserved = Self.orders([BinaryServed.buy(15, id: 115, org: 15)])
        reserved[9 + 21] = 1
        bytes += reserved
        try c.send(bytes)
        let a = try c.answers(15)
        for seq in 1...8 { XCTAssertEqual(a[UInt64(seq)]?.status, .invalidField, "order \(seq)") }
        XCTAssertEqual(a[15]?.status, .invalidField, "a reserved byte set")
        XCTAssertEqual((9...14).map { a[UInt64($0)]!.status }.filter { $0 == .decided }.count, 4)
        XCTAssertEqual((9...14).map { a[UInt64($0)]!.status }.filter { $0 == .overloaded }.count, 2)
        XCTAssertEqual(a[1]?.outcome, 0xFF)
        try s.stop()
        XCTAssertEqual(try s.journal().count, 4)
    }

    func testWithTokensAMissingTokenIsUnauthenticatedAndAnotherOrganisationIsForbidden() throws {
        let dir = temporaryDirectory("binary-tokens")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try BinaryServed(directory: dir, tokens: TokenTable(entries: [("org-seven-token-0001", 7), ("org-eight-token-0001", 8)]))
        let order = Self.orders([BinaryServed.buy(1, id: 1, org: 7)])
        var e = lastError(try exchange(s, Self.hello() + order))
        XCTAssertEqual(e?.code, .unauthenticated)
        XCTAssertEqual(e?.message, "this server needs a token: HELLO's token is empty")
        e = lastError(try exchange(s, Self.hello(token: "org-seven-token-0002") + order))
        XCTAssertEqual(e?.code, .unauthenticated)
        XCTAssertEqual(e?.message, "HELLO's token is not a token of this campaign")

        let c = try s.client()
        try c.hello(token: "org-seven-token-0001")
        try c.send(orders: [BinaryServed.buy(1, id: 1, org: 8), BinaryServed.buy(2, id: 2, org: 9)])
        var a = try c.answers(2)
        XCTAssertEqual(a[1]?.status, .forbidden)
        XCTAssertEqual(a[2]?.status, .forbidden)
        try c.send(orders: [BinaryServed.buy(3, id: 3, org: 7)])
        a = try c.answers(1)
        XCTAssertEqual(a[3]?.decidedOutcome, .accepted)
        try s.stop()
        XCTAssertEqual(try s.journal().map { [$0.requestId, UInt64($0.organisation)] }, [[3, 7]], "nothing decided for a refused order")
    }

    /// The same requests, one lane, a request clock: over HTTP to one server and over fsbin to another,
    /// the same answers and the same journal.
    func testADecisionOverTheBinaryProtocolIsTheSameAsOverHTTP() throws {
        let dirA = temporaryDirectory("equal-http"), dirB = temporaryDirectory("equal-binary")
        defer { try? FileManager.default.removeItem(atPath: dirA); try? FileManager.default.removeItem(atPath: dirB) }
        let a = try ServedCampaign(directory: dirA, lanes: 1)
        let b = try BinaryServed(directory: dirB, lanes: 1)
        struct Req { var id: UInt64; var org: UInt32; var offer: UInt16; var qty: Int32; var kind: RequestKind; var ref: UInt64; var t: Int64 }
        var rng = SplitMix64(seed: 20261202)
        var requests: [Req] = []
        var reservations: [(id: UInt64, org: UInt32)] = []
        for i in 1...300 {
            let org = UInt32(rng.next() % 40)
            let t = ServedCampaign.open + Int64(i) * 997
            switch rng.next() % 10 {
            case 0 where !reservations.isEmpty:
                let r = reservations[Int(rng.next() % UInt64(reservations.count))]
                requests.append(Req(id: UInt64(i), org: rng.next() % 4 == 0 ? org : r.org, offer: 1, qty: 1, kind: rng.next() % 2 == 0 ? .confirm : .cancel, ref: r.id, t: t))
            case 1 where !requests.isEmpty:
                var again = requests[Int(rng.next() % UInt64(requests.count))]  // a retransmit
                again.t = t
                requests.append(again)
            case 2, 3:
                requests.append(Req(id: UInt64(i), org: org, offer: 1, qty: Int32(1 + rng.next() % 3), kind: .buy, ref: 0, t: t))
                reservations.append((UInt64(i), org))
            case 4:
                requests.append(Req(id: UInt64(i), org: rng.next() % 2 == 0 ? 5000 : org, offer: 0, qty: 1, kind: .buy, ref: 0, t: rng.next() % 2 == 0 ? 1000 : t))
            default:
                requests.append(Req(id: UInt64(i), org: org, offer: 0, qty: Int32(1 + rng.next() % 4), kind: .buy, ref: 0, t: t))
            }
        }
        let http = try a.client()
        let bin = try b.client()
        try bin.hello(fingerprint: b.fingerprint)
        for (n, r) in requests.enumerated() {
            let offer = r.offer == 0 ? "bundle" : "x1"
            let body = "{\"request_id\":\(r.id),\"organisation\":\(r.org),\"offer\":\"\(offer)\",\"quantity\":\(r.qty),\"campaign_time_ms\":\(r.t)}"
            let path = r.kind == .buy ? "/v1/orders" : "/v1/holds/\(r.ref)/\(r.kind == .confirm ? "confirm" : "cancel")"
            let h = try http.exchange(RawHTTPClient.post(path, body))
            XCTAssertEqual(h.status, 200, h.body)
            let seq = UInt64(n + 1)
            try bin.send(orders: [WireOrder(clientSequence: seq, kind: r.kind, offer: r.offer, organisation: r.org, quantity: r.qty,
                                            requestId: r.id, reference: r.ref, campaignTimeMillis: r.t)])
            guard let w = try bin.answers(1)[seq] else { return XCTFail("no answer for \(seq)") }
            XCTAssertEqual(w.status, .decided)
            XCTAssertEqual(w.decidedOutcome?.name, h.json["outcome"] as? String, "request \(n): \(h.body)")
            XCTAssertEqual(w.decidedOriginalOutcome?.name, (h.json["original_outcome"] as? String) ?? (h.json["outcome"] as? String), "request \(n)")
            XCTAssertEqual(Int(w.priceFen), h.json["price_fen"] as? Int, "request \(n)")
            XCTAssertEqual(Int(w.journalSequence), h.json["sequence"] as? Int, "request \(n)")
            let hold = h.json["hold"] as? [String: Any]
            XCTAssertEqual(Int(w.holdId), hold?["id"] as? Int ?? 0, "request \(n): \(h.body)")
            XCTAssertEqual(Int(w.holdExpiresAtMillis), hold?["expires_at_ms"] as? Int ?? 0, "request \(n)")
        }
        try a.stop()
        try b.stop()
        let ja = try a.journal(), jb = try b.journal()
        XCTAssertEqual(ja.count, requests.count)
        XCTAssertEqual(ja, jb, "the same journal records, field by field")
        XCTAssertGreaterThan(Set(ja.map(\.outcome)).count, 6, "the requests cover many outcomes")
    }

    func testDrainingSaysGoodbyeAndAnIdleConnectionGetsIdleTimeout() throws {
        let dir = temporaryDirectory("binary-drain")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try BinaryServed(directory: dir, idleTimeout: .milliseconds(400))
        // Heartbeats keep a connection alive; trickled bytes of a frame that never completes do not.
        let alive = try s.client()
        try alive.hello()
        for _ in 0..<6 {
            Thread.sleep(forTimeInterval: 0.15)
            try alive.send(.heartbeat)
            XCTAssertEqual(try alive.readFrame(), .heartbeatReply)
        }
        let trickle = try s.client()
        try trickle.hello()
        let started = Date()
        let partial = Self.orders([BinaryServed.buy(1, id: 1, org: 1)])
        var sent = 0
        while sent < 8 { Thread.sleep(forTimeInterval: 0.1); try? trickle.send([partial[sent]]); sent += 1 }
        let e = lastError(try trickle.readToEnd())
        XCTAssertEqual(e?.code, .idleTimeout)
        XCTAssertEqual(e?.message, "no frame for 400 ms; send a HEARTBEAT when there is nothing else to send")
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)

        XCTAssertEqual(lastError(try alive.readToEnd())?.code, .idleTimeout, "silent while the other trickled")

        // Draining: an open connection with nothing in flight gets GOODBYE and is closed; a new one is closed at once.
        let open = try s.client()
        try open.hello()
        s.session.server.beginDraining()
        XCTAssertEqual(try open.readToEnd(), [.goodbyeReply])
        let late = try s.client()
        XCTAssertTrue(late.isClosedByServer())
        try s.stop()
        XCTAssertEqual(try s.journal().count, 0)
    }

    func testConnectionsBeyondTheLimitAreClosedAtOnceAndTheOthersServed() throws {
        let dir = temporaryDirectory("binary-maxconn")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try BinaryServed(directory: dir, maxConnections: 2)
        let one = try s.client(), two = try s.client()
        try one.hello()
        try two.hello()
        let three = try s.client()
        XCTAssertTrue(three.isClosedByServer(), "the third connection")
        try one.send(orders: [BinaryServed.buy(1, id: 1, org: 1)])
        XCTAssertEqual(try one.answers(1)[1]?.decidedOutcome, .accepted, "the others are not disturbed")
        try two.send(.goodbye)
        XCTAssertEqual(try two.readToEnd(), [.goodbyeReply])
        // Once one closed, a new connection is served (the count drops on the server's loop: retry a little).
        var served = false
        for _ in 0..<50 where !served {
            let four = try s.client()
            try four.sendHello()
            if case .welcome = try? four.readFrame() { served = true } else { Thread.sleep(forTimeInterval: 0.02) }
        }
        XCTAssertTrue(served)
        try s.stop()
    }

    /// The flaky-CI case made certain: orders already in the server's socket, not yet read, when the drain
    /// reaches their connection (the loop was busy). They must be read and answered DRAINING before GOODBYE,
    /// not dropped with the connection.
    func testOrdersInTheSocketWhenTheDrainBeginsAreAnsweredBeforeGoodbye() throws {
        let dir = temporaryDirectory("binary-drain-unread")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try BinaryServed(directory: dir)
        let c = try s.client()
        try c.hello()
        let binary = try XCTUnwrap(s.session.binaryServer)
        let connection = try XCTUnwrap(binary.live.withLock { $0.values.first })
        // Hold the connection's loop until the orders are in its socket; then begin the drain there,
        // before the loop gets to read them.
        let sent = DispatchSemaphore(value: 0)
        let drained = connection.loop.loop.submit {
            _ = sent.wait(timeout: .now() + 10)
            binary.draining.store(true, ordering: .releasing)
            connection.serverDraining()
        }
        let n = 3000
        try c.send(orders: (1...n).map { BinaryServed.buy(UInt64($0), id: UInt64($0), org: UInt32($0 % 1000)) })
        sent.signal()
        try drained.wait()
        let frames = try c.readToEnd()
        XCTAssertEqual(frames.last, .goodbyeReply)
        var answered: [UInt64: WireAnswer.Status] = [:]
        for f in frames { if case .answers(let list) = f { for a in list { XCTAssertNil(answered.updateValue(a.status, forKey: a.clientSequence), "answered twice") } } }
        XCTAssertEqual(answered.count, n, "every order sent before GOODBYE is answered")
        XCTAssertTrue(answered.values.allSatisfy { $0 == .draining }, "\(Set(answered.values))")
        try s.stop()
        XCTAssertEqual(try s.journal().count, 0, "nothing was decided")
    }

    /// Through the binary: the ready line names the fsbin address; Ctrl-C with binary orders in flight
    /// answers every one exactly once (DECIDED or DRAINING), says GOODBYE, exits 130, and the report has
    /// the binary figures; a restart remembers every DECIDED order.
    func testTheServeCommandServesBinaryAndCtrlCAnswersEveryOrderOnce() throws {
        let dir = temporaryDirectory("binary-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let profile = dir + "/p.yaml"
        try ServedCampaign.yaml.write(toFile: profile, atomically: true, encoding: .utf8)
        let refused = try CommandRunner.run(["serve", profile, "--binary-listen", "0.0.0.0:0", "--clock", "request"])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("--binary-listen 0.0.0.0:0 is not a loopback address"), refused.stderr)

        let args = [profile, "--listen", "127.0.0.1:0", "--binary-listen", "127.0.0.1:0", "--clock", "request", "--segments", dir + "/seg",
                    "--report", dir + "/report.json"]
        var server = try CommandRunner.startServer(args)
        guard let port = server.binaryPort else { server.process.terminate(); return XCTFail("no fsbin address: \(server.readyLine)") }
        XCTAssertTrue(server.readyLine.hasPrefix("flashsale serve: http://127.0.0.1:\(server.port), binary fsbin://127.0.0.1:\(port) · campaign serve-test"),
                      server.readyLine)
        var c = try BinaryClient(port: port)
        try c.hello()
        let n = 2000
        var orders: [WireOrder] = []
        for i in 1...n { orders.append(BinaryServed.buy(UInt64(i), id: UInt64(i), org: UInt32(i % 1000), offer: UInt16(i % 2))) }
        try c.send(orders: Array(orders[0..<100]))
        let first = try c.read { if case .answers = $0 { true } else { false } }
        try c.send(orders: Array(orders[100...]))
        kill(server.process.processIdentifier, SIGINT)
        let frames = try c.readToEnd()
        server.process.waitUntilExit()
        XCTAssertEqual(server.process.terminationStatus, 130)
        XCTAssertEqual(frames.last, .goodbyeReply, "the server says GOODBYE when it stops")
        var answered = first.answers
        for f in frames { if case .answers(let list) = f { for a in list { XCTAssertNil(answered.updateValue(a, forKey: a.clientSequence), "answered twice") } } }
        XCTAssertEqual(answered.count, n, "every order answered")
        XCTAssertTrue(answered.values.allSatisfy { $0.status == .decided || $0.status == .draining }, "\(Set(answered.values.map(\.status)))")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/report.json"))) as? [String: Any]
        let binary = report?["binary"] as? [String: Any]
        XCTAssertEqual(binary?["address"] as? String, "fsbin://127.0.0.1:\(port)")
        let byStatus = binary?["answers"] as? [String: Int] ?? [:]
        XCTAssertEqual(byStatus.values.reduce(0, +), n, "every order answered: \(byStatus)")
        XCTAssertEqual(report?["decisions"] as? Int, byStatus["DECIDED"], "every decision acknowledged was answered DECIDED")

        // Restart: each DECIDED order is remembered; the DRAINING ones were never decided.
        server = try CommandRunner.startServer(args)
        defer { server.process.terminate(); server.process.waitUntilExit() }
        c = try BinaryClient(port: server.binaryPort!)
        try c.hello()
        let decided = answered.values.filter { $0.status == .decided }.map(\.clientSequence).sorted()
        var resent: [WireOrder] = []
        for (i, seq) in decided.enumerated() {
            var o = orders[Int(seq) - 1]
            o.clientSequence = UInt64(i + 1)
            resent.append(o)
        }
        try c.send(orders: resent)
        let again = try c.answers(decided.count)
        for (i, seq) in decided.enumerated() {
            XCTAssertEqual(again[UInt64(i + 1)]?.decidedOutcome, .duplicate, "order \(seq)")
            XCTAssertEqual(again[UInt64(i + 1)]?.decidedOriginalOutcome?.rawValue, answered[seq]?.outcome, "order \(seq)")
        }
    }
}

/// A disk whose fsync starts failing when told to.
private final class FailingFsyncDisk: @unchecked Sendable {  // the flag behind a lock
    let lock = NSLock()
    var failing = false

    final class Sink: SegmentSink {
        let inner: PosixSegmentSink
        let disk: FailingFsyncDisk
        init(_ inner: PosixSegmentSink, _ disk: FailingFsyncDisk) { self.inner = inner; self.disk = disk }
        var path: String { inner.path }
        var position: Int64 { inner.position }
        func write(_ bytes: UnsafeRawBufferPointer) throws { try inner.write(bytes) }
        func fsync() throws {
            disk.lock.lock()
            let fail = disk.failing
            disk.lock.unlock()
            if fail { throw SegmentError.io(file: path, offset: inner.position, operation: "fdatasync", errno: EIO) }
            try inner.fsync()
        }
        func truncate(to length: Int64) throws { try inner.truncate(to: length) }
        func close() throws { try inner.close() }
    }

    var factory: SegmentSinkFactory {
        SegmentSinkFactory(open: { path in Sink(try PosixSegmentSink(path: path), self) }, syncDirectory: SegmentSinkFactory.posix.syncDirectory)
    }
}

final class BinaryJournalAndClockTests: XCTestCase {
    /// The journal fails: orders in flight and orders after are answered JOURNAL_FAILED, never DECIDED.
    func testAJournalFailureIsAnsweredJournalFailed() throws {
        let dir = temporaryDirectory("binary-journal-failed")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rules = try CampaignRules(try LoadProfile.parse(yaml: ServedCampaign.yaml, file: "serve-test.yaml").campaign)
        let disk = FailingFsyncDisk()
        var writer = SegmentWriterOptions()
        writer.durability = .batch
        var options = PipelineOptions(lanes: 2, overloadPolicy: .shed, segmentsDirectory: dir, writer: writer)
        options.segmentSink = disk.factory
        let service = try OrderService(rules: rules, options: options)
        var config = OrderHTTPServer.Configuration()
        config.port = 0
        config.eventLoops = 2
        let http = OrderHTTPServer(service: service, configuration: config)
        _ = try http.start()
        var b = BinaryOrderServer.Configuration()
        b.port = 0
        let binary = BinaryOrderServer(attachedTo: http, configuration: b)
        let c = try BinaryClient(port: try binary.start().port!)
        try c.hello()
        try c.send(orders: [BinaryServed.buy(1, id: 1, org: 1)])
        XCTAssertEqual(try c.answers(1)[1]?.status, .decided)
        disk.lock.lock(); disk.failing = true; disk.lock.unlock()
        try c.send(orders: [BinaryServed.buy(2, id: 2, org: 2), BinaryServed.buy(3, id: 3, org: 3)])
        var a = try c.answers(2)
        XCTAssertEqual(a[2]?.status, .journalFailed)
        XCTAssertEqual(a[3]?.status, .journalFailed)
        XCTAssertEqual(a[2]?.journalSequence, 0)
        try c.send(orders: [BinaryServed.buy(4, id: 4, org: 4)])
        a = try c.answers(1)
        XCTAssertEqual(a[4]?.status, .journalFailed, "after the failure nothing is taken")
        XCTAssertThrowsError(try http.stop())
    }

    /// With a wall clock, WELCOME says so; an order must send INT64_MIN as its campaign time.
    func testAWallClockServerTakesOrdersWithoutCampaignTime() throws {
        let dir = temporaryDirectory("binary-wall")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rules = try CampaignRules(try LoadProfile.parse(yaml: ServedCampaign.yaml, file: "serve-test.yaml").campaign)
        let s = try BinaryServed(directory: dir, clock: .opening(rules.campaign.window.opensMillis, inMillis: 0))
        let c = try s.client()
        XCTAssertEqual(try c.hello().clock, .wall)
        try c.send(orders: [WireOrder(clientSequence: 1, kind: .buy, offer: 0, organisation: 1, requestId: 1),
                            WireOrder(clientSequence: 2, kind: .buy, offer: 0, organisation: 2, requestId: 2, campaignTimeMillis: ServedCampaign.open)])
        let a = try c.answers(2)
        XCTAssertEqual(a[1]?.decidedOutcome, .accepted, "campaign time from the server's clock")
        XCTAssertEqual(a[2]?.status, .invalidField, "a campaign time sent to a wall clock")
        try s.stop()
        let journal = try s.journal()
        XCTAssertEqual(journal.map(\.requestId), [1])
        XCTAssertGreaterThanOrEqual(journal.first?.campaignTimeMillis ?? 0, rules.campaign.window.opensMillis)
    }
}
