import Pipeline
import XCTest
@testable import Reports

/// The live progress line: rates since the previous line, latency in µs (the one unit), and against a
/// server what is unanswered instead of a durable watermark this process does not have.
final class ProgressLineTests: XCTestCase {
    func testRatesAreSinceThePreviousLineAndATargetRunShowsWhatIsUnanswered() {
        var line = ProgressLine(offerCount: 2)
        _ = line.render(ProgressSnapshot(elapsedSeconds: 1, offered: 1000, acknowledged: 900, accepted: 10, soldOutOffers: 0,
                                         p99Micros: 850, durableWatermark: 900))
        let local = line.render(ProgressSnapshot(elapsedSeconds: 2, offered: 3000, acknowledged: 2900, accepted: 20, soldOutOffers: 1,
                                                 p99Micros: 1250, durableWatermark: 2900))
        XCTAssertTrue(local.contains("offered 2000/s") && local.contains("achieved 2000/s"), local)
        XCTAssertTrue(local.contains("p99 1250 µs") && local.contains("sold-out 1/2 offers") && local.contains("durable #2900"), local)

        var remote = ProgressLine(offerCount: 2)
        let target = remote.render(ProgressSnapshot(elapsedSeconds: 1, offered: 500, acknowledged: 497, accepted: 3, soldOutOffers: 0,
                                                    p99Micros: 700, durableWatermark: 0, unanswered: 3))
        XCTAssertTrue(target.contains("unanswered 3"), target)
        XCTAssertFalse(target.contains("durable #") || target.contains("sold-out"), "the server's journal and stock are not the client's: \(target)")
    }
}
