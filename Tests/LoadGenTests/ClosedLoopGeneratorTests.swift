import XCTest
import FlashSaleCore
@testable import LoadGen

/// Closed-loop follow-ups (issue 13): a confirm or cancel goes out only for a hold an answer granted.
final class ClosedLoopGeneratorTests: XCTestCase {
    private func reservationProfile() throws -> LoadProfile {
        try makeProfile(offers: 1, reservation: true, traffic: """
          start: "day 0 10:00"
          time-scale: 20
          phases: [ { constant: 20k/s, for: 2s } ]
          popularity: uniform
          behaviour:
            retransmit: 0.05
            confirm: 0.6
            cancel: 0.2
            confirm-delay: { uniform: [1s, 20s] }
        """)
    }

    /// A follow-up's identity that does not depend on request ids (dropping follow-ups shifts the ids of
    /// everything after them): the index of its reservation among the arrivals, its kind and its time.
    private struct Signature: Hashable { var arrival: Int; var kind: UInt8; var campaignMillis: Int64 }

    /// Runs `g` to the end; closed loop when `grant` is given: after every fill, each new buy is answered
    /// at once, granted when `grant(its arrival index)`.
    private func signatures(_ g: TrafficGenerator, grant: ((Int) -> Bool)?) -> (followUps: [Signature], arrivals: Int, requests: [OrderRequest]) {
        if grant != nil { g.startClosedLoop() }
        var arrivalIndex: [UInt64: Int] = [:]
        var follow: [Signature] = []
        var followIds = Set<UInt64>()  // a retransmitted follow-up is the same request: counted once
        var all: [OrderRequest] = []
        let buffer = UnsafeMutableBufferPointer<OrderRequest>.allocate(capacity: 1000)
        defer { buffer.deallocate() }
        while true {
            let n = g.fill(buffer)
            if n == 0 {
                if grant != nil && g.isAwaitingAnswers && !g.isFinished { XCTFail("waits although every buy was answered"); break }
                break
            }
            var answers: [(UInt64, Bool)] = []
            for r in buffer[0..<n] {
                all.append(r)
                if r.kind == .buy {
                    if arrivalIndex[r.requestId] == nil { arrivalIndex[r.requestId] = arrivalIndex.count }
                    if let grant { answers.append((r.requestId, grant(arrivalIndex[r.requestId]!))) }
                } else if followIds.insert(r.requestId).inserted {
                    follow.append(Signature(arrival: arrivalIndex[r.reference] ?? -1, kind: r.kind.rawValue, campaignMillis: r.campaignTimeMillis))
                }
            }
            if !answers.isEmpty { g.receiveAnswers { inbox in for (id, ok) in answers { inbox.add(requestId: id, holdGranted: ok) } } }
        }
        return (follow, arrivalIndex.count, all)
    }

    /// Closed loop sends exactly the open-loop follow-ups whose reservation was granted, and nothing else.
    func testFollowUpsAreTheOpenLoopOnesOfGrantedHoldsOnly() throws {
        let p = try reservationProfile()
        let grant: (Int) -> Bool = { $0 % 3 != 0 }
        let open = signatures(TrafficGenerator(profile: p), grant: nil)
        let closed = signatures(TrafficGenerator(profile: p), grant: grant)
        XCTAssertGreaterThan(open.followUps.count, 5_000)
        XCTAssertEqual(open.arrivals, closed.arrivals, "closing the loop changed the arrivals")
        XCTAssertTrue(closed.followUps.allSatisfy { $0.arrival >= 0 && grant($0.arrival) },
                      "a follow-up was sent for a reservation that was not granted")
        let expected = open.followUps.filter { grant($0.arrival) }
        let missing = Set(expected).subtracting(closed.followUps).count, extra = Set(closed.followUps).subtracting(expected).count
        XCTAssertTrue(missing == 0 && extra == 0, "\(missing) granted follow-ups not sent, \(extra) sent that open loop never drew")
        XCTAssertEqual(closed.followUps.count, expected.count)
        XCTAssertLessThan(closed.followUps.count, open.followUps.count)
    }

    /// Unanswered, a due follow-up stops the stream (no guess); once answered, it goes out no earlier
    /// than the answer arrived.
    func testADueFollowUpWaitsForItsReservationsAnswer() throws {
        let p = try reservationProfile()
        let g = TrafficGenerator(profile: p)
        g.startClosedLoop()
        let buffer = UnsafeMutableBufferPointer<OrderRequest>.allocate(capacity: 1000)
        defer { buffer.deallocate() }
        var buys: [UInt64] = []
        var sent = 0
        while true {
            let n = g.fill(buffer)
            sent += n
            for r in buffer[0..<n] {
                XCTAssertEqual(r.kind, .buy, "a follow-up went out before its reservation was answered")
                buys.append(r.requestId)
            }
            if n == 0 { break }
        }
        XCTAssertTrue(g.isAwaitingAnswers)
        XCTAssertFalse(g.isFinished)
        XCTAssertGreaterThan(sent, 1_000)
        XCTAssertEqual(g.fill(buffer), 0, "still waiting")
        // Answer everything, granted, "arriving" late: 5 s after the run started.
        let late: UInt64 = 5_000_000_000
        g.receiveAnswers { inbox in
            inbox.arrivedAtNanos = late
            for id in buys { inbox.add(requestId: id, holdGranted: true) }
        }
        let n = g.fill(buffer)
        XCTAssertGreaterThan(n, 0)
        let firstFollowUp = buffer[0..<n].first { $0.kind != .buy }
        XCTAssertNotNil(firstFollowUp)
        XCTAssertGreaterThanOrEqual(firstFollowUp!.intendedSendNanos, late, "sent before its answer arrived")
    }

    /// A source never started stays open loop: the generator's stream is what it always was.
    func testOpenLoopIsUnchangedWhenNotStarted() throws {
        let p = try reservationProfile()
        XCTAssertEqual(drain(TrafficGenerator(profile: p)), drain(TrafficGenerator(profile: p)))
        let follow = drain(TrafficGenerator(profile: p)).filter { $0.kind != .buy }
        XCTAssertGreaterThan(follow.count, 5_000)
    }
}
