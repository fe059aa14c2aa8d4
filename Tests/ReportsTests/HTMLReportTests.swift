import XCTest
@testable import Pipeline
@testable import Reports

/// The HTML report's size bound (issue 14): a 10-minute run's timeline at 1 s keeps the page ≤ 200 KB.
final class HTMLReportTests: XCTestCase {
    func testATenMinuteRunStaysUnder200KB() {
        var r = RunReportFixture.make(decisionsPerSecond: 120_000, p99: 2_500)
        r.outcomes = ["ACCEPTED": 50_000_000, "SOLD_OUT": 20_000_000, "HELD": 3_000_000, "LIMIT": 1_000_000, "DUPLICATE": 900_000,
                      "CONFIRMED": 800_000, "RELEASED": 700_000]
        // 8 items selling over the run, two phases: the sell-out curve and the phase table are drawn too.
        r.items = (0..<8).map { RunReport.ItemLine(id: "item-\($0)", initial: 1_000_000, sold: 600_000, held: 0, remaining: 400_000) }
        let phaseLatency = RunReport.Latency(kind: "acknowledgement", recorder: LatencyRecorder())
        r.phases = [RunReport.PhaseLine(index: 0, shape: "constant 120000/s", startSeconds: 0, seconds: 300, offered: 36_000_000,
                                        acknowledged: 36_000_000, shed: 0, outcomes: ["ACCEPTED": 36_000_000], latencyMicros: phaseLatency),
                    RunReport.PhaseLine(index: 1, shape: "ramp 120000→0/s", startSeconds: 300, seconds: 300, offered: 18_000_000,
                                        acknowledged: 18_000_000, shed: 0, outcomes: ["SOLD_OUT": 18_000_000], latencyMicros: phaseLatency)]
        r.timeline = (0..<600).map { i in
            TimelineInterval(startSeconds: Double(i), seconds: 1, offered: 120_000 + i, decided: 120_000, acknowledged: 119_990 + i % 7,
                             outcomes: ["ACCEPTED": 80_000 + i, "SOLD_OUT": 30_000, "HELD": 5_000 + i % 100, "LIMIT": 2_000, "DUPLICATE": 1_500,
                                        "CONFIRMED": 900, "RELEASED": 600],
                             shed: i % 13, p50Micros: 600 + UInt64(i % 50), p90Micros: 900, p99Micros: 2_400 + UInt64(i % 300),
                             p999Micros: 5_000, maxMicros: 9_000 + UInt64(i * 7), inFlight: 3_000, durableLagRecords: 900, rssBytes: 80_000_000,
                             phase: i < 300 ? 0 : 1, remaining: (0..<r.items.count).map { Int64(1_000_000 - i * 1000 - $0) })
        }
        var latency = LatencyRecorder()
        for us in 1...20_000 { latency.record(nanos: UInt64(us) * 1000) }
        let html = HTMLReport.render(r, latency: latency)
        XCTAssertLessThan(html.utf8.count, 200_000, "\(html.utf8.count) bytes")
        XCTAssertFalse(html.contains("<script"), "the page needs no script")
        XCTAssertFalse(html.contains("src=") || html.contains("href=") || html.contains("url("), "the page loads nothing")
        XCTAssertTrue(html.contains("id=\"p99\">2500<"))
        XCTAssertTrue(html.contains("sell-out curve") && html.contains("id=\"phase-1-offered\">18000000<"), "the stock curve and the phase table")
    }
}
