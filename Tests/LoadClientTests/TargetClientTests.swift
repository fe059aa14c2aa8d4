import FlashSaleCore
import Pipeline
import Synchronization
import XCTest
@testable import LoadClient
@testable import LoadGen

/// Intervals a callback collects on the client's thread.
private final class Collected: Sendable {
    let intervals = Mutex<[TimelineInterval]>([])
}

/// The load client against servers written in the test: open-model pacing and latency (a stall shows
/// in the tail, never hidden), and closed-loop follow-ups over the wire.
final class TargetClientTests: XCTestCase {
    private func profile(reservations: Bool, rate: String, seconds: Int) throws -> LoadProfile {
        let offers = reservations
            ? "    - { id: m1-hold, kind: reservation, model: M1, hold: 2m, max-quantity: 3 }\n"
            : "    - { id: sku, kind: bundle, item: sku }\n"
        let yaml = """
        name: client-test
        seed: 5
        campaign:
          window: { opens: "day 0 10:00", closes: "day 1" }
          regions: [east]
          items:
            - { id: sku, kind: license, stock: 1000000 }
            - { id: m1-east, kind: hardware, model: M1, vendor: deli, region: east, stock: 1000000 }
          offers:
        \(offers)population:
          organisations: 100000
        traffic:
          start: "day 0 10:00"
          time-scale: 20
          phases: [ { constant: \(rate), for: \(seconds)s } ]
          behaviour:
            confirm: 0.5
            cancel: 0.3
            confirm-delay: { uniform: [1s, 10s] }
        """
        return try LoadProfile.parse(yaml: yaml, file: "client-test.yaml")
    }

    /// A server that stalls every answer once for 200 ms: the client's p99 shows it (latency counts from
    /// each request's intended send time, so the requests due during the stall carry it), and the
    /// offered rate holds within 2% of 5,000/s over 5 s (the backlog is sent once the server answers).
    func testAStallShowsInTheTailAndTheRateHolds() throws {
        let server = try FakeOrderServer(stallAfter: 12_000, stallNanos: 200_000_000)
        defer { server.stop() }
        let p = try profile(reservations: false, rate: "5000/s", seconds: 5)
        var options = TargetOptions(url: TargetURL(scheme: .http, host: "127.0.0.1", port: server.port), connections: 4, pipeline: 1)
        options.pace = .open
        options.timelineIntervalNanos = 250_000_000
        let streamed = Collected()
        options.onTimelineInterval = { i in streamed.intervals.withLock { $0.append(i) } }
        let client = TargetClient(options: options, offerNames: ["sku"])
        let result = try client.run(source: TrafficGenerator(profile: p))
        XCTAssertEqual(result.answered, result.sent, "every request answered")
        XCTAssertEqual(result.timeouts + result.connectionErrors, 0)
        XCTAssertGreaterThan(result.sent, 24_000)
        let requested = try XCTUnwrap(result.requestedPerSecond)
        XCTAssertEqual(requested, 5000, accuracy: 100, "the schedule itself is 5,000/s")
        XCTAssertEqual(result.achievedPerSecond / 5000, 1, accuracy: 0.02, "achieved \(result.achievedPerSecond)/s")
        let p99 = result.latency.micros(atPercentile: 99), p50 = result.latency.micros(atPercentile: 50)
        XCTAssertGreaterThan(p99, 100_000, "a 200 ms stall of all answers must show in p99 (got \(p99) µs)")
        XCTAssertGreaterThan(result.latency.maxMicros, 180_000)
        XCTAssertLessThan(p50, 20_000, "only the stall is slow (p50 \(p50) µs)")

        // The timeline, from the client's side: it adds up to the totals, and the stall (after 12,000
        // answers, ~2.4 s in) is in the intervals where it happened, not smeared over the run.
        let t = result.timeline
        XCTAssertEqual(streamed.intervals.withLock { $0 }, t, "the stream carries the report's intervals")
        XCTAssertEqual(t.reduce(0) { $0 + $1.offered }, result.sent)
        XCTAssertEqual(t.reduce(0) { $0 + $1.acknowledged }, result.decided)
        XCTAssertEqual(t.reduce(0) { $0 + ($1.outcomes["ACCEPTED"] ?? 0) }, result.outcomeCounts[Int(Outcome.accepted.rawValue)])
        XCTAssertEqual(t.last?.inFlight, 0, "nothing unanswered at the end")
        let worst = try XCTUnwrap(t.max { $0.maxMicros < $1.maxMicros })
        XCTAssertGreaterThan(worst.maxMicros, 180_000, "\(t.map { ($0.startSeconds, $0.maxMicros) })")
        XCTAssertGreaterThan(worst.startSeconds, 1.5, "the stall came after 12,000 answers: \(t.map { ($0.startSeconds, $0.maxMicros) })")
        for i in t where i.startSeconds + i.seconds < 1.5 {
            XCTAssertLessThan(i.maxMicros, 100_000, "before the stall, at \(i.startSeconds) s")
        }
    }

    /// The same without a stall: the tail stays low (so the test above measures the stall, not the client).
    func testWithoutAStallTheTailStaysLow() throws {
        let server = try FakeOrderServer()
        defer { server.stop() }
        let p = try profile(reservations: false, rate: "5000/s", seconds: 2)
        let options = TargetOptions(url: TargetURL(scheme: .http, host: "127.0.0.1", port: server.port), connections: 4, pipeline: 1)
        let result = try TargetClient(options: options, offerNames: ["sku"]).run(source: TrafficGenerator(profile: p))
        XCTAssertEqual(result.answered, result.sent)
        XCTAssertLessThan(result.latency.micros(atPercentile: 99), 50_000)
    }

    /// Closed loop over the wire: no confirm or cancel is ever sent for a reservation whose answer was
    /// not HELD, and those that were HELD get their follow-ups.
    func testNoFollowUpForAnAnswerThatWasNotHeld() throws {
        let server = try FakeOrderServer(outcome: { id in id % 3 == 0 ? "HELD" : (id % 3 == 1 ? "SOLD_OUT" : "LIMIT") })
        defer { server.stop() }
        let p = try profile(reservations: true, rate: "4000/s", seconds: 2)
        let options = TargetOptions(url: TargetURL(scheme: .http, host: "127.0.0.1", port: server.port), connections: 2, pipeline: 8)
        let result = try TargetClient(options: options, offerNames: ["m1-hold"]).run(source: TrafficGenerator(profile: p))
        XCTAssertEqual(result.answered, result.sent)
        let seen = server.seen
        XCTAssertGreaterThan(seen.followUps.count, 100, "HELD reservations get their follow-ups")
        for f in seen.followUps {
            XCTAssertEqual(seen.buys[f.hold], "HELD", "a \(f.kind) was sent for reservation \(f.hold), answered \(seen.buys[f.hold] ?? "never")")
        }
    }

    /// A server that is not there: the run fails at once with the reason, sending nothing.
    func testNoServerFailsWithTheReason() throws {
        let server = try FakeOrderServer()
        let port = server.port
        server.stop()
        let options = TargetOptions(url: TargetURL(scheme: .http, host: "127.0.0.1", port: port), connections: 2, pipeline: 1)
        let p = try profile(reservations: false, rate: "1000/s", seconds: 1)
        XCTAssertThrowsError(try TargetClient(options: options, offerNames: ["sku"]).run(source: TrafficGenerator(profile: p))) { e in
            XCTAssertTrue("\(e)".contains("cannot connect to http://127.0.0.1:\(port)"), "\(e)")
            XCTAssertTrue("\(e)".lowercased().contains("refused"), "\(e)")
        }
    }

    func testTargetURLsParseOrSayWhatIsExpected() throws {
        XCTAssertEqual(try TargetURL(parsing: "http://127.0.0.1:8080"), TargetURL(scheme: .http, host: "127.0.0.1", port: 8080))
        XCTAssertEqual(try TargetURL(parsing: "fsbin://[::1]:9000/"), TargetURL(scheme: .fsbin, host: "::1", port: 9000))
        for bad in ["127.0.0.1:8080", "ftp://x:1", "http://x", "http://x:0", "http://x:99999", "http://:80", "http://x:80/v1/orders"] {
            XCTAssertThrowsError(try TargetURL(parsing: bad), bad) { e in XCTAssertTrue("\(e)".contains("--target \(bad)"), "\(e)") }
        }
    }
}
