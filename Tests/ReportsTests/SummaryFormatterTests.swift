import XCTest
@testable import Reports

final class SummaryFormatterTests: XCTestCase {
    /// Offers that draw on shared items cannot add up on their own line; the summary marks them and
    /// prints the per-item table, where initial = sold + held + remaining holds for every item,
    /// so no reader mistakes units taken by another offer for stranded stock.
    func testSharedItemsAreMarkedAndItemsAddUp() {
        var r = RunReportFixture.make(decisionsPerSecond: 1000, p99: 500)
        r.offers = [
            .init(id: "kickoff-bundle", kind: "bundle", initial: 100, sold: 100, held: 0, remaining: 0, soldOutAtSeconds: 1),
            .init(id: "m1-reserve", kind: "reservation", initial: 1150, sold: 10, held: 40, remaining: 100, soldOutAtSeconds: nil),
        ]
        r.items = [
            .init(id: "license", initial: 100, sold: 100, held: 0, remaining: 0),
            .init(id: "m1", initial: 1150, sold: 1010, held: 40, remaining: 100),
        ]
        let text = SummaryFormatter.render(r)
        XCTAssertTrue(text.contains("m1-reserve*"), text)
        XCTAssertFalse(text.contains("kickoff-bundle*"), text)
        XCTAssertTrue(text.contains("* shares items with other offers"), text)
        let m1 = text.split(separator: "\n").first { $0.hasPrefix("  m1 ") }.map(String.init) ?? ""
        XCTAssertEqual(m1.split(separator: " ").map(String.init), ["m1", "1150", "1010", "40", "100"], text)

        r.offers.removeLast()
        XCTAssertFalse(SummaryFormatter.render(r).contains("shares items"), "no footnote when every offer adds up")
        r.items = (0..<30).map { .init(id: "i\($0)", initial: 1, sold: 1, held: 0, remaining: 0) }
        XCTAssertTrue(SummaryFormatter.render(r).contains("Items: 30 (per-item units in the JSON report"))
    }
}
