import FlashSaleCore
import Foundation
import OrderLog
@testable import OrderServer
import WireProtocol
import XCTest

/// Seeded mutations of valid `fsbin` sessions (SplitMix64: reproducible), each on its own connection:
/// whatever the bytes, the server answers as the protocol says (checked against a model of the rules
/// written here), stays up, and decides exactly the orders it answered DECIDED: nothing of a rejected frame.
final class BinaryFuzzTests: XCTestCase {
    /// What the document says a server does with a client's byte stream (half-closed after it).
    struct Expected {
        enum Last: Equatable { case error(WireError.Code), goodbye, nothing }
        var welcome = false
        /// Orders handed over (of frames that were accepted whole), by client sequence: true when the
        /// order itself is INVALID_FIELD.
        var orders: [UInt64: Bool] = [:]
        var heartbeats = 0
        var last = Last.nothing
    }

    static func model(_ bytes: [UInt8], fingerprint: UInt64, offers: Int) -> Expected {
        var e = Expected()
        var splitter = FrameSplitter()
        var hello = true
        var lastSequence: UInt64 = 0
        bytes.withUnsafeBytes { raw in
            while true {
                let f: (type: UInt8, payload: Range<Int>, frameEnd: Int)
                do {
                    guard let next = try splitter.next(in: raw) else { return }
                    f = next
                } catch {
                    e.last = .error((error as? WireFault)?.code ?? .malformedFrame)
                    return
                }
                let payload = UnsafeRawBufferPointer(rebasing: raw[f.payload])
                if hello {
                    guard f.type == 1 else { e.last = .error(.helloExpected); return }
                    do {
                        let h = try WireHello.decode(payload: payload)
                        if h.campaignFingerprint != 0 && h.campaignFingerprint != fingerprint { e.last = .error(.fingerprintMismatch); return }
                    } catch {
                        e.last = .error((error as? WireFault)?.code ?? .malformedFrame)
                        return
                    }
                    e.welcome = true
                    hello = false
                    continue
                }
                switch f.type {
                case 2:
                    guard payload.count >= 4 else { e.last = .error(.malformedFrame); return }
                    let n = Int(payload.load(as: UInt32.self).littleEndian)
                    guard n >= 1, n <= 65_536, payload.count == 4 + 48 * n else { e.last = .error(.malformedFrame); return }
                    var previous = lastSequence
                    var frame: [(UInt64, Bool)] = []
                    for i in 0..<n {
                        let o = payload.baseAddress! + 4 + 48 * i
                        func u<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T { T(littleEndian: o.loadUnaligned(fromByteOffset: at, as: T.self)) }
                        let seq = u(0, UInt64.self)
                        guard seq > previous else { e.last = .error(.sequenceNotIncreasing); return }
                        previous = seq
                        let kind = u(8, UInt8.self), reference = u(32, UInt64.self), time = u(40, Int64.self)
                        let valid = u(9, UInt8.self) == 0 && u(20, UInt32.self) == 0 && kind <= 2 && Int(u(10, UInt16.self)) < offers
                            && u(16, Int32.self) >= 1 && u(24, UInt64.self) != 0 && (kind == 0 ? reference == 0 : reference != 0)
                            && time >= 0 && time <= 8_640_000_000_000
                        frame.append((seq, !valid))
                    }
                    lastSequence = previous
                    for (seq, invalid) in frame { e.orders[seq] = invalid }
                case 3:
                    guard payload.isEmpty else { e.last = .error(.malformedFrame); return }
                    e.heartbeats += 1
                case 4:
                    guard payload.isEmpty else { e.last = .error(.malformedFrame); return }
                    e.last = .goodbye
                    return
                case 1:
                    e.last = .error(.malformedFrame)
                    return
                default:
                    e.last = .error(.unknownFrameType)
                    return
                }
            }
        }
        return e
    }

    /// A valid session (HELLO, 1–3 ORDERS frames of 1–4 buys, heartbeats, maybe GOODBYE) and where its frames start.
    static func session(_ rng: inout SplitMix64, fingerprint: UInt64) -> (bytes: [UInt8], starts: [Int]) {
        var b: [UInt8] = []
        var starts = [0]
        let token = rng.next() % 8 == 0 ? String(repeating: "k", count: 16) : ""  // ignored by a server without tokens
        WireHello(campaignFingerprint: rng.next() % 4 == 0 ? fingerprint : 0, token: token).encode(into: &b)
        var seq: UInt64 = 0
        for _ in 0..<(1 + rng.next() % 3) {
            if rng.next() % 4 == 0 {
                starts.append(b.count)
                FrameEncoder.appendEmpty(.heartbeat, into: &b)
            }
            var orders: [WireOrder] = []
            for _ in 0..<(1 + rng.next() % 4) {
                seq += 1 + rng.next() % 3
                orders.append(WireOrder(clientSequence: seq, kind: .buy, offer: rng.next() % 5 == 0 ? 1 : 0, organisation: UInt32(rng.next() % 1100),
                                        quantity: 1, requestId: rng.next() | 1, campaignTimeMillis: ServedCampaign.open + Int64(rng.next() % 1000)))
            }
            starts.append(b.count)
            FrameEncoder.appendOrders(orders, into: &b)
        }
        if rng.next() % 2 == 0 {
            starts.append(b.count)
            FrameEncoder.appendEmpty(.goodbye, into: &b)
        }
        return (b, starts)
    }

    /// 1–3 mutations: bits, bytes, insertions, deletions, truncation, lengths, types, a frame twice, fields.
    static func mutate(_ b: inout [UInt8], starts: [Int], _ rng: inout SplitMix64) {
        func index() -> Int { b.isEmpty ? 0 : Int(rng.next() % UInt64(b.count)) }
        func randomBytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        for _ in 0..<(1 + rng.next() % 3) {
            let start = starts[Int(rng.next() % UInt64(starts.count))]
            switch rng.next() % 9 {
            case 0: if !b.isEmpty { b[index()] ^= 1 << UInt8(rng.next() % 8) }
            case 1: if !b.isEmpty { b[index()] = UInt8(truncatingIfNeeded: rng.next()) }
            case 2: b.insert(contentsOf: randomBytes(1 + Int(rng.next() % 8)), at: b.isEmpty ? 0 : index())
            case 3: if !b.isEmpty { let i = index(); b.removeSubrange(i..<min(b.count, i + 1 + Int(rng.next() % 8))) }
            case 4: if !b.isEmpty { b.removeSubrange(index()...) }
            case 5:  // a frame's length: off by a little, zero, huge, or anything
                guard start + 4 <= b.count else { continue }
                let old = UInt32(b[start]) | UInt32(b[start + 1]) << 8 | UInt32(b[start + 2]) << 16 | UInt32(b[start + 3]) << 24
                let new: UInt32
                switch rng.next() % 4 {
                case 0: new = old &+ UInt32(truncatingIfNeeded: Int(rng.next() % 9) - 4)
                case 1: new = 0
                case 2: new = 1_048_577 + UInt32(rng.next() % 1000)
                default: new = UInt32(truncatingIfNeeded: rng.next())
                }
                for k in 0..<4 { b[start + k] = UInt8(truncatingIfNeeded: new >> (8 * UInt32(k))) }
            case 6: if start + 4 < b.count { b[start + 4] = rng.next() % 2 == 0 ? UInt8(rng.next() % 8) : UInt8(truncatingIfNeeded: rng.next()) }
            case 7:  // a frame sent twice (its client sequences again)
                let end = starts.first(where: { $0 > start }) ?? b.count
                if start < end, end <= b.count { b.insert(contentsOf: Array(b[start..<end]), at: end) }
            default:  // a field inside an order: kind, offer, quantity, request id, reference, time, a reserved byte, or the count
                guard start + 9 + 48 <= b.count, b[start + 4] == 2 else { continue }
                let o = start + 9 + 48 * Int(rng.next() % 4)
                guard o + 48 <= b.count else { continue }
                let at = [8, 9, 10, 16, 20, 24, 32, 40, 47][Int(rng.next() % 9)]
                b[o + at] = UInt8(truncatingIfNeeded: rng.next())
                if rng.next() % 4 == 0 { b[start + 5] = UInt8(truncatingIfNeeded: rng.next()) }
            }
        }
    }

    func testMutatedFramesGetErrorsOrAnswersAndDecideNothingTheyReject() throws {
        let dir = temporaryDirectory("binary-fuzz")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try BinaryServed(directory: dir, durability: .none)
        let offers = s.rules.campaign.offers.count
        let cases = 10_000
        var rng = SplitMix64(seed: 0x0F5B_1713)
        var decided: [UInt8: Int] = [:]  // outcome → DECIDED answers received
        var byLast: [String: Int] = [:]
        var invalidAnswers = 0
        let started = Date()
        for n in 0..<cases {
            var (bytes, starts) = Self.session(&rng, fingerprint: s.fingerprint)
            Self.mutate(&bytes, starts: starts, &rng)
            let expected = Self.model(bytes, fingerprint: s.fingerprint, offers: offers)
            let frames: [FrameDecoder.ServerFrame]
            do {
                let c = try s.client()
                try c.send(bytes)
                c.shutdownWrite()
                frames = try c.readToEnd()
            } catch {
                return XCTFail("case \(n): \(error); bytes \(bytes)")
            }
            // The frames: WELCOME first iff the HELLO was good; answers and heartbeat replies; the last frame as expected.
            var rest = frames[...]
            if expected.welcome {
                guard case .welcome = rest.first else { return XCTFail("case \(n): no WELCOME first: \(frames)") }
                rest = rest.dropFirst()
            }
            var answers: [UInt64: WireAnswer] = [:]
            var heartbeats = 0
            var last = Expected.Last.nothing
            for (i, f) in rest.enumerated() {
                let isLast = i == rest.count - 1
                switch f {
                case .answers(let list):
                    for a in list where answers.updateValue(a, forKey: a.clientSequence) != nil {
                        return XCTFail("case \(n): order \(a.clientSequence) answered twice")
                    }
                case .heartbeatReply: heartbeats += 1
                case .error(let e) where isLast && e.fatal: last = .error(e.code)
                case .goodbyeReply where isLast: last = .goodbye
                default: return XCTFail("case \(n): unexpected \(f) in \(frames)")
                }
            }
            XCTAssertEqual(last, expected.last, "case \(n): \(frames); bytes \(bytes)")
            XCTAssertEqual(heartbeats, expected.heartbeats, "case \(n)")
            XCTAssertEqual(Set(answers.keys), Set(expected.orders.keys), "case \(n): the orders answered are those of the frames accepted; bytes \(bytes)")
            for (seq, a) in answers {
                if expected.orders[seq] == true {
                    XCTAssertEqual(a.status, .invalidField, "case \(n), order \(seq)")
                    invalidAnswers += 1
                } else if a.status == .decided {
                    decided[a.outcome, default: 0] += 1
                } else {
                    XCTAssertEqual(a.status, .overloaded, "case \(n), order \(seq)")
                }
            }
            switch expected.last {
            case .error(let code): byLast[code.name, default: 0] += 1
            case .goodbye: byLast["GOODBYE", default: 0] += 1
            case .nothing: byLast["closed", default: 0] += 1
            }
            if testRun?.failureCount ?? 0 > 20 { return XCTFail("stopping after 20 failures") }
        }
        let seconds = Date().timeIntervalSince(started)
        // A clean connection still works.
        let c = try s.client()
        try c.hello(fingerprint: s.fingerprint)
        try c.send(orders: [BinaryServed.buy(1, id: 7_777_777, org: 3)])
        guard let a = try c.answers(1)[1] else { return XCTFail("no answer") }
        XCTAssertEqual(a.status, .decided)
        decided[a.outcome, default: 0] += 1
        try s.stop()

        // Nothing decided that was not answered DECIDED: the journal's client decisions (hold expiries aside) are the answers.
        var journaled: [UInt8: Int] = [:]
        for r in try s.journal() where r.kind != RequestKind.expire.rawValue { journaled[r.outcome, default: 0] += 1 }
        XCTAssertEqual(journaled, decided, "journaled decisions by outcome vs DECIDED answers received")
        let total = decided.values.reduce(0, +)
        print("binary fuzz: \(cases) cases in \(String(format: "%.1f", seconds)) s; endings \(byLast.sorted { $0.key < $1.key }); "
              + "\(total) DECIDED answers, \(invalidAnswers) INVALID_FIELD")
        // The cases reach both sides: many decisions, many refusals of each kind.
        XCTAssertGreaterThan(total, cases / 2)
        XCTAssertGreaterThan(invalidAnswers, 100)
        for code in ["MALFORMED_FRAME", "FRAME_TOO_LARGE", "SEQUENCE_NOT_INCREASING", "UNKNOWN_FRAME_TYPE", "HELLO_EXPECTED", "UNSUPPORTED_VERSION"] {
            XCTAssertGreaterThan(byLast[code] ?? 0, 20, code)
        }
    }
}
