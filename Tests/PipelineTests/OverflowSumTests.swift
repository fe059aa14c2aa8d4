import Foundation
import XCTest
@testable import FlashSaleCore
@testable import LoadGen
@testable import OrderLog
@testable import Pipeline
import Reports

/// Sums over items, offers, lanes and records that could pass Int64: each is refused at load, reported
/// as a problem, or saturates into a failed invariant; none traps.
final class OverflowSumTests: XCTestCase {
    private func campaign(items: [StockItem], offers: [Offer]) -> Campaign {
        Campaign(name: "overflow", window: SaleWindow(opensMillis: 0, closesMillis: 86_400_000), regions: ["east", "north"],
                 items: items, offers: offers,
                 population: Population([Organisation(level: .advanced, region: 0, activated: false)]))
    }

    /// A reservation's stock (its model's items summed) past Int64 trapped report building (exit 132).
    func testAModelWhoseItemsStockMoreThanInt64IsRefusedByTheCampaign() {
        let c = campaign(items: [
            StockItem(name: "m1-east", kind: .hardware(model: "M1", vendor: "a", vendorTier: 1, region: 0), initial: .max - 10),
            StockItem(name: "m1-north", kind: .hardware(model: "M1", vendor: "b", vendorTier: 1, region: 1), initial: 11),
        ], offers: [Offer(name: "r", kind: .reservation(model: "M1", holdMillis: 1000))])
        XCTAssertTrue(c.validate().contains { $0.hasPrefix("items[1] m1-north:") && $0.contains("64 bits") }, "\(c.validate())")
        XCTAssertThrowsError(try CampaignRules(c))
        // Discounts stacking to 100% are refused the same way.
        let free = campaign(items: [StockItem(name: "l", kind: .license, initial: 1)],
                            offers: [Offer(name: "b", kind: .bundle(components: [.init(item: 0, quantityPerUnit: 1)]),
                                           price: .init(listPriceFen: 100, discountPercent: 50, activationExtraPercent: 50))])
        XCTAssertTrue(free.validate().contains { $0.hasPrefix("offers[0] b:") }, "\(free.validate())")
    }

    /// The ledger's total over shards saturates instead of trapping when refills pass 64 bits.
    func testLedgerRemainingSaturatesPastInt64() {
        let ledger = StockLedger(initial: [.max], shardCount: 2)
        ledger.refill(10, of: 0, to: 1)
        XCTAssertEqual(ledger.remaining(0), .max)
    }

    /// A report built from counts past 64 bits (a broken ledger) fails its invariants instead of trapping.
    func testReportOnCountsPastInt64FailsTheInvariantsInsteadOfTrapping() throws {
        let profile = try PipelineFixtures.profile("hardware-prestock")
        let dir = PipelineFixtures.temporaryDirectory("overflow-report")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (pipeline, r0) = try PipelineFixtures.run(profile, lanes: 1, dir: dir, duration: 1, requestLimit: 5_000)
        var result = r0
        for i in result.remainingUnits.indices { result.remainingUnits[i] = .max }
        let report = ReportBuilder.build(profile: "x", seed: 1, options: pipeline.options, rules: pipeline.rules,
                                         result: result, audit: nil, keepSegments: false)
        XCTAssertEqual(report.invariants.conservationViolations, profile.campaign.items.count)
        XCTAssertTrue(report.offers.contains { $0.kind == "reservation" && $0.remaining == .max })
        _ = SummaryFormatter.render(report)
    }

    /// A journal whose accepted units pass Int64 is a problem of the audit, not a trap.
    func testAuditOfAJournalPastInt64ReportsAProblem() throws {
        let c = campaign(items: [StockItem(name: "budget", kind: .subsidy, initial: .max)],
                         offers: [Offer(name: "b", kind: .bundle(components: [.init(item: 0, quantityPerUnit: 5_000_000_000_000_000_000)]))])
        let rules = try CampaignRules(c)
        let dir = PipelineFixtures.temporaryDirectory("overflow-audit")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try SegmentWriter(directory: dir)
        var records = (1...2).map { OrderRecord(campaignTimeMillis: 1000, requestId: UInt64($0), organisation: 0, offer: 0,
                                                kind: 0, outcome: Outcome.accepted.rawValue, quantity: 1) }
        try w.append(&records)
        _ = try w.commit()
        try w.close()
        let audit = try SegmentAudit.read(directory: dir, rules: rules)
        XCTAssertTrue(audit.problems.contains { $0.contains("pass 64 bits") }, "\(audit.problems)")
    }
}
