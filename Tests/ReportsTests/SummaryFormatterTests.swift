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

    /// Offers of a Chinese campaign are named in Chinese: their table columns must still line up on a
    /// terminal, where each of those characters takes two columns.
    func testTablesStayAlignedWithWideIds() {
        var r = RunReportFixture.make(decisionsPerSecond: 1000, p99: 500)
        r.offers = [
            .init(id: "开工季专业版套餐", kind: "bundle", initial: 100, sold: 100, held: 0, remaining: 0, soldOutAtSeconds: 1),
            .init(id: "m1-reserve", kind: "reservation", initial: 1150, sold: 10, held: 40, remaining: 100, soldOutAtSeconds: nil),
            .init(id: "考勤机🔥", kind: "reservation", initial: 7, sold: 1, held: 2, remaining: 4, soldOutAtSeconds: nil),
            .init(id: "café-e\u{301}", kind: "bundle", initial: 3, sold: 0, held: 0, remaining: 3, soldOutAtSeconds: nil),
        ]
        r.items = [
            .init(id: "专业版", initial: 100, sold: 100, held: 0, remaining: 0),
            .init(id: "m1", initial: 1150, sold: 1010, held: 40, remaining: 100),
        ]
        let lines = SummaryFormatter.render(r).split(separator: "\n").map(String.init)
        /// The terminal column where each all-digit word of `line` ends.
        func numberEnds(_ line: String) -> [Int] {
            var ends: [Int] = [], column = 0, word = ""
            for c in line + " " {
                if c == " " {
                    if !word.isEmpty, word.allSatisfy({ $0.isASCII && $0.isNumber }) { ends.append(column) }
                    word = ""
                } else {
                    word.append(c)
                }
                column += TerminalColumns.width(of: String(c))
            }
            return ends
        }
        for table in [["开工季专业版套餐", "m1-reserve", "考勤机🔥", "café"], ["专业版", "m1 "]] {
            let rows = table.map { id in lines.first { $0.hasPrefix("  " + id) } ?? "" }
            let ends = rows.map { Array(numberEnds($0).prefix(4)) }
            XCTAssertTrue(rows.allSatisfy { !$0.isEmpty }, lines.joined(separator: "\n"))
            XCTAssertEqual(Set(ends.map { $0.description }).count, 1, "columns end at one place:\n" + rows.joined(separator: "\n"))
        }
        XCTAssertEqual(TerminalColumns.width(of: "开工季"), 6)
        XCTAssertEqual(TerminalColumns.width(of: "e\u{301}"), 1, "a combining accent takes no column")
        XCTAssertEqual(TerminalColumns.width(of: "👨‍👩‍👧"), 2, "a joined emoji family is one picture")
        XCTAssertEqual(TerminalColumns.width(of: "ｍ１"), 4, "fullwidth forms")
        XCTAssertEqual(TerminalColumns.width(of: "1\u{FE0F}\u{20E3}"), 2, "a keycap emoji")
        XCTAssertEqual(TerminalColumns.width(of: "\u{A9}\u{FE0F}"), 2, "© asked for as a picture")
        XCTAssertEqual(TerminalColumns.width(of: "\u{A9}"), 1, "© as text")
        XCTAssertEqual(TerminalColumns.width(of: "a\u{200B}b"), 2, "a zero-width space takes no column")
        XCTAssertEqual(TerminalColumns.padded("开工", to: 6), "开工  ")
        XCTAssertEqual(TerminalColumns.leftPadded("7", to: 3), "  7")
    }

    /// The gate's verdict table lines up with wide characters in a check too.
    func testGateTableAlignsWideChecks() {
        let results = [
            GateCheckResult(check: "offer.开工季.sold>=1", expected: ">= 1", measured: "100", passed: true),
            GateCheckResult(check: "p(99)<5ms", expected: "< 5 ms", measured: "3.1 ms", passed: true),
        ]
        let lines = Gate.table(results).split(separator: "\n").map(String.init)
        func column(of needle: String, in line: String) -> Int? {
            guard let r = line.range(of: needle) else { return nil }
            return TerminalColumns.width(of: String(line[..<r.lowerBound]))
        }
        XCTAssertEqual(column(of: ">= 1", in: lines[2]), column(of: "< 5 ms", in: lines[3]), lines.joined(separator: "\n"))
        XCTAssertEqual(column(of: "expected", in: lines[0]), column(of: "< 5 ms", in: lines[3]), lines.joined(separator: "\n"))
    }
}
