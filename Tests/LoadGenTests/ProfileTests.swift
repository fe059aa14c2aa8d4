import FlashSaleTestSupport
import XCTest
import FlashSaleCore
@testable import LoadGen

/// The repository root.
let repoRoot = CommandRunner.root

final class ShippedProfileTests: XCTestCase {
    static let shipped = ["kaigong-opening", "hardware-prestock", "campaign-month", "ci-smoke", "seckill-parity"]

    func testShippedProfilesParseAndValidate() throws {
        for name in Self.shipped {
            let path = "\(repoRoot)/LoadProfiles/\(name).yaml"
            do {
                let p = try LoadProfile.load(path: path)
                XCTAssertEqual(p.name, name)
                XCTAssertEqual(p.campaign.validate(), [], name)
                XCTAssertLessThan(p.durationSeconds, 60, "\(name) must run in under a minute by default")
                XCTAssertEqual(p.campaign.population.count, p.populationSpec.organisations)
                XCTAssertFalse(p.traffic.phases.isEmpty)
            } catch {
                XCTFail("\(name): \(error)")
            }
        }
    }

    func testBuiltInDefaultParses() throws {
        let p = try LoadProfile.parse(yaml: LoadProfile.builtInDefaultYAML, file: "<built-in>")
        XCTAssertEqual(p.durationSeconds, 10, accuracy: 1e-9)
        XCTAssertEqual(LoadProfile.builtInDefault.name, "kaigong-opening-short")
        XCTAssertEqual(LoadProfile.builtInDefault.campaign.offers.map(\.name), ["kickoff-bundle", "m1-reserve"])
    }

    func load(_ name: String) throws -> LoadProfile {
        try LoadProfile.load(path: "\(repoRoot)/LoadProfiles/\(name).yaml")
    }

    func testKaigongOpeningRushesTheBundleFarBeyondStock() throws {
        let p = try load("kaigong-opening")
        let g = TrafficGenerator(profile: p)
        // the window opens inside the run, and the rate peaks near 200k/s after it
        let opensAt = UInt64(Double(p.campaign.window.opensMillis - p.traffic.startMillis) / g.timeScale * 1e6)
        XCTAssertLessThan(opensAt, g.totalDurationNanos)
        XCTAssertGreaterThan(g.rate(atNanos: opensAt + 2_000_000_000), 150_000)
        XCTAssertLessThan(g.rate(atNanos: opensAt - 2_000_000_000), 20_000)
        // demand for the bundle is far above what its stock allows
        guard case .bundle(let components) = p.campaign.offers[0].kind else { return XCTFail("kickoff is a bundle") }
        let bundles = components.map { p.campaign.items[$0.item].initial / $0.quantityPerUnit }.min()!
        XCTAssertGreaterThan(g.expectedArrivals * 0.9, Double(bundles) * 50)
        XCTAssertEqual(p.campaign.offers[0].price.discountPercent, 50)
        XCTAssertGreaterThan(p.campaign.offers[0].price.activationExtraPercent, 0)
    }

    func testHardwarePrestockHoldsExpireInsideTheRun() throws {
        let p = try load("hardware-prestock")
        XCTAssertGreaterThanOrEqual(p.campaign.regions.count, 3)
        var tiersByModel: [String: Set<Int>] = [:]
        for item in p.campaign.items {
            if case .hardware(let model, _, let tier, _) = item.kind { tiersByModel[model, default: []].insert(tier) }
        }
        XCTAssertTrue(tiersByModel.values.allSatisfy { $0.count >= 2 }, "two vendors of different tiers per model")
        let campaignSpan = Double(p.durationSeconds) * 1000 * p.traffic.timeScale
        for offer in p.campaign.offers {
            guard case .reservation(_, let hold) = offer.kind else { return XCTFail("reservations only") }
            XCTAssertTrue((120_000...300_000).contains(hold))
            XCTAssertLessThan(Double(hold) * 2, campaignSpan, "holds expire well inside the run")
        }
        XCTAssertGreaterThan(p.traffic.behaviour.confirm, 0)
        XCTAssertGreaterThan(p.traffic.behaviour.cancel, 0)
        XCTAssertLessThan(p.traffic.behaviour.confirm + p.traffic.behaviour.cancel, 1, "some holds expire")
    }

    func testCampaignMonthCoversAMonthWithDailyWaves() throws {
        let p = try load("campaign-month")
        XCTAssertEqual(p.campaign.window.waves, [.init(startOfDayMillis: 36_000_000, endOfDayMillis: 37_800_000)])
        let reqs = drain(TrafficGenerator(profile: p))
        let first = reqs.first!.campaignTimeMillis, last = reqs.last!.campaignTimeMillis
        XCTAssertLessThan(first, SaleWindow.dayMillis)
        XCTAssertGreaterThan(last, 29 * SaleWindow.dayMillis)
        // the traffic surges in the waves: about 10k of 33.5k requests a day fall inside
        let inside = reqs.filter { p.campaign.window.contains($0.campaignTimeMillis) }.count
        XCTAssertEqual(Double(inside) / Double(reqs.count), 10.0 / 33.5, accuracy: 0.02)
        let days = Set(reqs.filter { p.campaign.window.contains($0.campaignTimeMillis) }.map { $0.campaignTimeMillis / SaleWindow.dayMillis })
        XCTAssertEqual(days.count, 30)
    }

    func testCiSmokeIsSmallAndExercisesBundlesAndReservations() throws {
        let p = try load("ci-smoke")
        XCTAssertLessThanOrEqual(p.durationSeconds, 5)
        let reqs = drain(TrafficGenerator(profile: p))
        XCTAssertLessThanOrEqual(reqs.count, 50_000)
        let kinds = Set(p.campaign.offers.map { if case .bundle = $0.kind { "bundle" } else { "reservation" } })
        XCTAssertEqual(kinds, ["bundle", "reservation"])
        XCTAssertTrue(reqs.contains { $0.kind == .confirm })
        XCTAssertTrue(reqs.contains { $0.kind == .cancel })
    }
}
