import FlashSaleCore
import WireProtocol
import XCTest

/// Splits `bytes` into frames with a `FrameSplitter` (all of them must be complete).
func frames(_ bytes: [UInt8]) throws -> [(type: UInt8, payload: [UInt8])] {
    var splitter = FrameSplitter()
    var out: [(UInt8, [UInt8])] = []
    try bytes.withUnsafeBytes { raw in
        while let f = try splitter.next(in: raw) { out.append((f.type, Array(raw[f.payload]))) }
    }
    XCTAssertEqual(splitter.position, bytes.count, "bytes left after the last whole frame")
    return out
}

/// The one frame of `bytes`, decoded as a server frame.
func serverFrame(_ bytes: [UInt8]) throws -> FrameDecoder.ServerFrame {
    let f = try frames(bytes)
    XCTAssertEqual(f.count, 1)
    return try f[0].payload.withUnsafeBytes { try FrameDecoder.serverFrame(type: f[0].type, payload: $0) }
}

final class WireCodecTests: XCTestCase {
    func testHelloRoundTripsWithEmptyAndLongestTokensAndExtremeFingerprints() throws {
        let tokens: [[UInt8]] = [[], Array("0123456789abcdef".utf8), [UInt8](repeating: 0xFF, count: 4096), Array("ключ-токен-🙂-long".utf8)]
        for token in tokens {
            for fingerprint: UInt64 in [0, 1, .max, 0x0123_4567_89AB_CDEF] {
                let hello = WireHello(campaignFingerprint: fingerprint, token: token)
                var bytes: [UInt8] = []
                hello.encode(into: &bytes)
                XCTAssertEqual(bytes.count, 5 + 14 + token.count)
                let f = try frames(bytes)
                XCTAssertEqual(f.count, 1)
                XCTAssertEqual(f[0].type, FrameType.hello.rawValue)
                let back = try f[0].payload.withUnsafeBytes { try WireHello.decode(payload: $0) }
                XCTAssertEqual(back, hello)
            }
        }
        XCTAssertEqual(WireHello(token: "abc").token, Array("abc".utf8))
    }

    func testHelloDecoderRefusesWhatVersionOneDoesNot() throws {
        func fault(_ mutate: (inout [UInt8]) -> Void) -> WireFault? {
            var bytes: [UInt8] = []
            WireHello(campaignFingerprint: 7, token: Array("0123456789abcdef".utf8)).encode(into: &bytes)
            mutate(&bytes)
            let payload = Array(bytes[5...])
            do { _ = try payload.withUnsafeBytes { try WireHello.decode(payload: $0) }; return nil } catch { return error as? WireFault }
        }
        let v2 = fault { $0[5] = 2 }
        XCTAssertEqual(v2?.code, .unsupportedVersion)
        XCTAssertEqual(v2?.message, "protocol version 2 is not supported; this server speaks version 1")
        XCTAssertEqual(fault { $0[5] = 9; $0.removeSubrange(7...) }?.code, .unsupportedVersion, "the version is judged as soon as it is there")
        XCTAssertEqual(fault { $0.removeSubrange(6...) }?.code, .malformedFrame)
        XCTAssertEqual(fault { $0[7] = 1 }?.code, .malformedFrame, "flags")
        XCTAssertEqual(fault { $0.removeLast() }?.code, .malformedFrame, "size ≠ 14 + token_length")
        XCTAssertEqual(fault { $0.append(0) }?.code, .malformedFrame)
        XCTAssertEqual(fault { $0[17] = 0x01; $0[18] = 0x10; $0 += [UInt8](repeating: 0x41, count: 4097 - 16) }?.message,
                       "HELLO token_length 4097 is above 4096")
        XCTAssertNil(fault { _ in })
    }

    func testWelcomeRoundTripsBothClocksAndExtremeLimits() throws {
        for clock in [WireWelcome.Clock.request, .wall] {
            for (orders, inFlight): (UInt32, UInt32) in [(0, 0), (21_845, 65_536), (.max, .max)] {
                let w = WireWelcome(campaignFingerprint: .max, maxOrdersPerFrame: orders, maxInFlight: inFlight, clock: clock)
                var bytes: [UInt8] = []
                w.encode(into: &bytes)
                XCTAssertEqual(bytes.count, 33)
                XCTAssertEqual(try serverFrame(bytes), .welcome(w))
            }
        }
        var bytes: [UInt8] = []
        WireWelcome(campaignFingerprint: 1, maxInFlight: 1, clock: .wall).encode(into: &bytes)
        bytes[5 + 20] = 2
        XCTAssertThrowsError(try serverFrame(bytes)) { XCTAssertEqual(($0 as? WireFault)?.code, .malformedFrame) }
    }

    func testErrorRoundTripsEveryCode() throws {
        for code in WireError.Code.allCases {
            for (seq, message) in [(UInt64(0), ""), (.max, "frame type 0x7f is not a client frame"), (1, "über 🙂")] {
                let e = WireError(code: code, fatal: seq != 1, clientSequence: seq, message: message)
                var bytes: [UInt8] = []
                e.encode(into: &bytes)
                XCTAssertEqual(try serverFrame(bytes), .error(e))
            }
        }
        // A message above 65,535 bytes is cut at a character boundary.
        let long = WireError(code: .malformedFrame, message: String(repeating: "é", count: 40_000))
        var bytes: [UInt8] = []
        long.encode(into: &bytes)
        guard case .error(let e) = try serverFrame(bytes) else { return XCTFail() }
        XCTAssertEqual(e.message, String(repeating: "é", count: 32_767))
        XCTAssertEqual(WireError(WireFault(.sequenceNotIncreasing, "x", clientSequence: 9)).clientSequence, 9)
    }

    func testOrdersRoundTripWithExtremeValuesAndSplitIntoFramesWithinTheLimit() throws {
        let extremes = [
            WireOrder(clientSequence: 1, kind: 0, offer: 0, organisation: 0, quantity: 1, requestId: 1, reference: 0, campaignTimeMillis: 0),
            WireOrder(clientSequence: .max, kind: .max, offer: .max, organisation: .max, quantity: .max, requestId: .max,
                      reference: .max, campaignTimeMillis: .max),
            WireOrder(clientSequence: 2, kind: .cancel, offer: 1, organisation: 42, quantity: .min, requestId: 0, reference: 77,
                      campaignTimeMillis: .min),
            WireOrder(clientSequence: 3, kind: 3, offer: 9, organisation: 1, quantity: -1, requestId: 5, campaignTimeMillis: -1),
        ]
        var bytes: [UInt8] = []
        FrameEncoder.appendOrders(extremes, into: &bytes)
        XCTAssertEqual(bytes.count, 5 + 4 + 48 * extremes.count)
        var f = try frames(bytes)
        XCTAssertEqual(f.map(\.type), [FrameType.orders.rawValue])
        XCTAssertEqual(try f[0].payload.withUnsafeBytes { try FrameDecoder.orders(payload: $0) }, extremes)
        f[0].payload.withUnsafeBytes { p in
            for i in 0..<extremes.count { XCTAssertTrue(WireOrder.reservedBytesAreZero(at: p.baseAddress! + 4 + 48 * i)) }
        }
        XCTAssertEqual(extremes[2].requestKind, .cancel)
        XCTAssertNil(extremes[3].requestKind)

        // 21,845 orders fit one frame of at most 1 MiB; one more makes two frames.
        for n in [21_845, 21_846, 50_000] {
            let many = (0..<n).map { (i: Int) -> WireOrder in
                WireOrder(clientSequence: UInt64(i + 1), offer: 1, organisation: UInt32(i), requestId: UInt64(i + 1))
            }
            bytes = []
            FrameEncoder.appendOrders(many, into: &bytes)
            f = try frames(bytes)
            XCTAssertEqual(f.count, (n + 21_844) / 21_845)
            XCTAssertTrue(f.allSatisfy { $0.payload.count + 1 <= WireProtocol.maxFrameBytes })
            var back: [WireOrder] = []
            for frame in f { back += try frame.payload.withUnsafeBytes { try FrameDecoder.orders(payload: $0) } }
            XCTAssertEqual(back, many)
        }
        bytes = []
        FrameEncoder.appendOrders([], into: &bytes)
        XCTAssertEqual(bytes, [], "no frame for no orders (a frame carries at least one)")
    }

    func testOrdersPayloadChecks() throws {
        func count(_ payload: [UInt8]) -> WireFault? {
            do { _ = try payload.withUnsafeBytes { try FrameDecoder.orderCount(payload: $0) }; return nil } catch { return error as? WireFault }
        }
        XCTAssertEqual(count([])?.code, .malformedFrame)
        XCTAssertEqual(count([0, 0, 0, 0])?.message, "ORDERS count 0: expected 1 … 65536")
        XCTAssertEqual(count([1, 0, 0, 0] + [UInt8](repeating: 0, count: 47))?.code, .malformedFrame)
        XCTAssertNil(count([1, 0, 0, 0] + [UInt8](repeating: 0, count: 48)))
        XCTAssertEqual(count([1, 0, 1, 0] + [UInt8](repeating: 0, count: 48))?.message, "ORDERS count 65537: expected 1 … 65536")
        var reserved = [1, 0, 0, 0] + [UInt8](repeating: 0, count: 48)
        reserved[4 + 21] = 1
        reserved.withUnsafeBytes { XCTAssertFalse(WireOrder.reservedBytesAreZero(at: $0.baseAddress! + 4)) }
    }

    func testAnswersRoundTripEveryStatusWithExtremeValues() throws {
        var answers: [WireAnswer] = []
        for (i, status) in WireAnswer.Status.allCases.filter({ $0 != .unknown }).enumerated() {
            answers.append(.notDecided(UInt64(i + 1), status))
        }
        answers.append(WireAnswer(clientSequence: .max, status: .decided, outcome: Outcome.duplicate.rawValue,
                                  originalOutcome: Outcome.held.rawValue, priceFen: .max, holdId: .max, holdExpiresAtMillis: .max, journalSequence: .max))
        answers.append(WireAnswer(clientSequence: 0, status: .decided, outcome: 0, originalOutcome: 0, priceFen: .min, holdId: 0,
                                  holdExpiresAtMillis: .min, journalSequence: 0))
        var bytes: [UInt8] = []
        FrameEncoder.appendAnswers(answers, into: &bytes)
        XCTAssertEqual(try serverFrame(bytes), .answers(answers))
        XCTAssertEqual(answers[answers.count - 2].decidedOutcome, .duplicate)
        XCTAssertEqual(answers[answers.count - 2].decidedOriginalOutcome, .held)
        XCTAssertNil(answers[0].decidedOutcome, "an answer that is not DECIDED has no outcome")
        XCTAssertEqual(answers[1].outcome, 0xFF)
        // A status this version does not know reads as .unknown, and the frame decoder refuses it.
        bytes[5 + 4 + 8] = 6
        XCTAssertEqual(bytes.withUnsafeBytes { WireAnswer.read(from: $0.baseAddress! + 9).status }, .unknown)
        XCTAssertThrowsError(try serverFrame(bytes)) { XCTAssertEqual(($0 as? WireFault)?.code, .malformedFrame) }
    }

    func testEmptyFramesRoundTrip() throws {
        for type in [FrameType.heartbeat, .goodbye, .heartbeatReply, .goodbyeReply] {
            var bytes: [UInt8] = []
            FrameEncoder.appendEmpty(type, into: &bytes)
            XCTAssertEqual(bytes, [1, 0, 0, 0, type.rawValue])
            let f = try frames(bytes)
            XCTAssertEqual(f.count, 1)
            XCTAssertEqual(f[0].type, type.rawValue)
            XCTAssertEqual(f[0].payload, [])
            try f[0].payload.withUnsafeBytes { try FrameDecoder.expectEmpty(type, payload: $0) }
        }
        XCTAssertEqual(try serverFrame([1, 0, 0, 0, 0x84]), .heartbeatReply)
        XCTAssertEqual(try serverFrame([1, 0, 0, 0, 0x85]), .goodbyeReply)
        XCTAssertThrowsError(try serverFrame([2, 0, 0, 0, 0x84, 0])) { XCTAssertEqual(($0 as? WireFault)?.code, .malformedFrame) }
        XCTAssertThrowsError(try serverFrame([1, 0, 0, 0, 0x01])) { XCTAssertEqual(($0 as? WireFault)?.code, .unknownFrameType) }
        XCTAssertEqual(WireFault.notAClientFrame(0x7f).message, "frame type 0x7f is not a client frame")
        XCTAssertEqual(WireFault.fingerprintMismatch(hello: 1, campaign: 0xABC).message,
                       "HELLO's campaign fingerprint 0x0000000000000001 is not this server's campaign 0x0000000000000abc")
    }
}
