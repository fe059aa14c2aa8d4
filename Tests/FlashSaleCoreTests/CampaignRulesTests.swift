import XCTest
@testable import FlashSaleCore

/// The kickoff campaign's rules (per-organisation caps, allotments, model components, eligibility,
/// offers' own waves), each with exact stock accounting, live and after a rebuild from the journal.
final class CampaignRulesTests: XCTestCase {
    typealias Lane = LateRetransmitAndRebuildTests.JournaledLane
    let hour = CampaignFixtures.hour
    let day = SaleWindow.dayMillis
    var open: Int64 { 10 * hour + 1 }

    func campaign(items: [StockItem], offers: [Offer], organisations: [Organisation]? = nil, caps: [Campaign.Cap] = [],
                  tags: [String] = [], closes: Int64 = 3 * SaleWindow.dayMillis, waves: [SaleWindow.Wave] = []) -> Campaign {
        let orgs = organisations ?? (0..<40).map { Organisation(level: .basic, region: UInt8($0 % 2), activated: false) }
        return Campaign(name: "rules", window: SaleWindow(opensMillis: 10 * hour, closesMillis: closes, waves: waves),
                        regions: ["east", "north"], items: items, offers: offers, population: Population(orgs),
                        tags: tags, caps: caps)
    }

    /// Replays `lane`'s journal into a fresh lane of `c` and checks it rebuilt the same units.
    func rebuilt(_ c: Campaign, _ lane: Lane, file: StaticString = #filePath, line: UInt = #line) throws -> Lane {
        let (_, fresh) = try Lane.make(c)
        for d in lane.journal { XCTAssertTrue(fresh.engine.replay(d), "rebuild of \(d.outcome)", file: file, line: line) }
        XCTAssertEqual(fresh.engine.soldUnits, lane.engine.soldUnits, file: file, line: line)
        XCTAssertEqual(fresh.engine.heldUnits, lane.engine.heldUnits, file: file, line: line)
        return fresh
    }

    func assertConserved(_ ledger: StockLedger, _ e: LaneEngine, _ c: Campaign, file: StaticString = #filePath, line: UInt = #line) {
        for i in c.items.indices {
            XCTAssertEqual(ledger.remaining(i) + e.soldUnits[i] + e.heldUnits[i], c.items[i].initial,
                           "conservation of \(c.items[i].name)", file: file, line: line)
        }
    }

    // MARK: per-organisation caps

    /// Items: 0 licence, 1 subsidy pool (fen) capped at 50,000 per organisation. Offers: 0 licence +
    /// 20,000 fen (limit 3, up to 3 per order), 1 30,000 fen alone (limit 2).
    func cappedCampaign(subsidy: Int64 = 1_000_000, organisations: Int = 40) -> Campaign {
        campaign(items: [StockItem(name: "license", kind: .license, initial: 100),
                         StockItem(name: "subsidy", kind: .subsidy, initial: subsidy, cap: 0)],
                 offers: [Offer(name: "bundle", kind: .bundle(components: [.init(item: 0, quantityPerUnit: 1), .init(item: 1, quantityPerUnit: 20_000)]),
                                limitPerOrganisation: 3, maxQuantity: 3, price: .init(listPriceFen: 100)),
                          Offer(name: "grant", kind: .bundle(components: [.init(item: 1, quantityPerUnit: 30_000)]), limitPerOrganisation: 2)],
                 organisations: (0..<organisations).map { Organisation(level: .basic, region: UInt8($0 % 2), activated: false) },
                 caps: [Campaign.Cap(name: "subsidy", perOrganisation: 50_000)])
    }

    func testACapAcrossOffersStopsTheOrganisationNotTheOthersAndTakesNothing() throws {
        let c = cappedCampaign()
        let (ledger, lane) = try Lane.make(c)
        let d = lane.decide
        XCTAssertEqual(d(request(1, org: 0, offer: 0)).outcome, .accepted)
        XCTAssertEqual(d(request(2, org: 0, offer: 0)).outcome, .accepted)   // 40,000 fen
        let third = d(request(3, org: 0, offer: 0))
        XCTAssertEqual(third.outcome, .capReached, "60,000 fen would pass the 50,000 cap")
        XCTAssertEqual(third.priceFen, 0)
        XCTAssertEqual(d(request(4, org: 0, offer: 1)).outcome, .capReached, "the cap counts every offer's units")
        XCTAssertEqual(d(request(5, org: 1, offer: 1)).outcome, .accepted)   // 30,000
        XCTAssertEqual(d(request(6, org: 1, offer: 0)).outcome, .accepted)   // 50,000: exactly the cap
        XCTAssertEqual(d(request(7, org: 1, offer: 0)).outcome, .capReached)
        XCTAssertEqual(d(request(8, org: 2, offer: 0, qty: 3)).outcome, .capReached, "one order of 60,000 fen")
        XCTAssertEqual(d(request(9, org: 2, offer: 0, qty: 2)).outcome, .accepted)
        XCTAssertEqual(ledger.remaining(0), 100 - 5)
        XCTAssertEqual(ledger.remaining(1), 1_000_000 - 40_000 - 50_000 - 40_000)
        assertConserved(ledger, lane.engine, c)
        // The cap survives a restart: the rebuilt lane refuses org 0 too, and still serves org 3.
        let fresh = try rebuilt(c, lane)
        XCTAssertEqual(fresh.decide(request(10, org: 0, offer: 0)).outcome, .capReached)
        XCTAssertEqual(fresh.decide(request(11, org: 2, offer: 0)).outcome, .capReached)
        XCTAssertEqual(fresh.decide(request(12, org: 3, offer: 0)).outcome, .accepted)
    }

    /// Four lanes on four threads hammer two capped offers (retransmits, quantities 1–3, scarce stock):
    /// no organisation ever takes more than its cap, and every unit is accounted for.
    func testFourThreadsHammeringNeverPassTheCapAndConserveStock() throws {
        let lanes = 4
        let c = cappedCampaign(subsidy: 4_000_000, organisations: 200)
        let (_, ledger, engines) = try CampaignFixtures.engines(c, lanes: lanes)
        final class Journal { var decisions: [Decision] = [] }  // one per lane: each thread writes its own
        let perLane = (0..<lanes).map { _ in Journal() }
        DispatchQueue.concurrentPerform(iterations: lanes) { lane in
            var rng = SplitMix64(seed: 99 + UInt64(lane))
            var out: [Decision] = []
            var last: OrderRequest?
            for n in 1...60_000 {
                var r: OrderRequest
                if let p = last, rng.next() % 10 == 0 { r = p } else {
                    let org = UInt32(Int(rng.next() % 50) * lanes + lane)
                    r = request(UInt64(n), org: org, offer: UInt16(rng.next() % 2), qty: Int32(1 + rng.next() % 3))
                }
                last = r
                engines[lane].process(r, into: &out)
            }
            perLane[lane].decisions = out
        }
        let journals = perLane.map(\.decisions)
        var subsidyBy = [UInt32: Int64]()
        for d in journals.joined() where d.outcome == .accepted {
            subsidyBy[d.organisation, default: 0] += Int64(d.quantity) * (d.offer == 0 ? 20_000 : 30_000)
        }
        XCTAssertGreaterThan(subsidyBy.count, 50)
        for (org, units) in subsidyBy { XCTAssertLessThanOrEqual(units, 50_000, "organisation \(org) passed its cap") }
        let capped = journals.joined().filter { $0.outcome == .capReached }.count
        XCTAssertGreaterThan(capped, 1_000, "the cap must bind")
        for i in c.items.indices {
            let sold = engines.map { $0.soldUnits[i] }.reduce(0, +)
            XCTAssertEqual(ledger.remaining(i) + sold, c.items[i].initial, "conservation of \(c.items[i].name)")
            XCTAssertGreaterThanOrEqual(ledger.remaining(i), 0)
        }
        XCTAssertEqual(subsidyBy.values.reduce(0, +), engines.map { $0.soldUnits[1] }.reduce(0, +))
    }

    // MARK: allotments

    /// A licence released 10 a day over days 0–2: allotment items on sale from their day on, until the
    /// window closes (carry-over) or the day ends. Offer 0 takes one per unit ordered (a pick).
    func allotted(carryOver: Bool, stocks: [Int64] = [10, 10, 10]) -> Campaign {
        let items = stocks.enumerated().map { k, units in
            StockItem(name: "license@day\(k)", kind: .license, initial: units,
                      sellableFromMillis: k == 0 ? 10 * hour : Int64(k) * day,
                      sellableUntilMillis: carryOver ? 3 * day : Int64(k + 1) * day)
        }
        return campaign(items: items,
                        offers: [Offer(name: "license", kind: .bundle(components: []), limitPerOrganisation: 5, maxQuantity: 3,
                                       price: .init(listPriceFen: 100),
                                       picks: [.init(source: .items(Array(stocks.indices)), quantityPerUnit: 1)])])
    }

    func testAnAllotmentIsOnSaleFromItsDayAndCarriesOverOnlyWhenAsked() throws {
        for carry in [true, false] {
            let c = allotted(carryOver: carry)
            let (ledger, lane) = try Lane.make(c)
            var id: UInt64 = 0
            func buy(_ n: Int, at t: Int64) -> Int {
                (0..<n).filter { _ in id += 1; return lane.decide(request(id, org: UInt32(id % 40), offer: 0, at: t)).outcome == .accepted }.count
            }
            XCTAssertEqual(buy(4, at: open), 4, "day 0 sells from its own allotment")
            XCTAssertEqual(buy(12, at: day + 11 * hour), carry ? 12 : 10, "day 1: its 10, plus day 0's 6 left only with carry-over")
            XCTAssertEqual(ledger.remaining(0), carry ? 0 : 6)
            XCTAssertEqual(ledger.remaining(1), carry ? 4 : 0)
            XCTAssertEqual(ledger.remaining(2), 10, "day 2's units are not on sale before day 2")
            XCTAssertEqual(lane.engine.soldUnits, carry ? [10, 6, 0] : [4, 10, 0])
            assertConserved(ledger, lane.engine, c)
            _ = try rebuilt(c, lane)
        }
    }

    func testAnOrderSpanningTwoAllotmentsJournalsBothPiecesAndRebuilds() throws {
        let c = allotted(carryOver: true, stocks: [1, 10, 10])
        let (ledger, lane) = try Lane.make(c)
        let d = lane.decide(request(1, org: 0, offer: 0, qty: 3, at: day + hour))
        XCTAssertEqual(d.outcome, .accepted)
        XCTAssertEqual(d.pieces.count, 2)
        XCTAssertEqual([d.pieces[0].item, d.pieces[1].item], [0, 1], "the earliest allotment first")
        XCTAssertEqual([d.pieces[0].quantity, d.pieces[1].quantity], [1, 2])
        XCTAssertEqual(ledger.remaining(1), 8)
        let fresh = try rebuilt(c, lane)
        XCTAssertEqual(fresh.engine.soldUnits, [1, 2, 0])
        // A journaled order whose pieces do not add up to the offer's components is refused by a rebuild.
        var forged = d
        forged.requestId = 2
        forged.pieces = HoldPieces()
        forged.pieces.append(item: 1, quantity: 2)
        XCTAssertFalse(fresh.engine.replay(forged))
    }

    /// A reservation of a model whose items are allotted takes only from the allotments on sale now.
    func testAReservationTakesOnlyFromAllotmentsOnSale() throws {
        let items = (0..<2).map { k in
            StockItem(name: "x1@day\(k)", kind: .hardware(model: "X1", vendor: "deli", vendorTier: 1, region: 0), initial: 5,
                      sellableFromMillis: Int64(k) * day, sellableUntilMillis: Int64(k + 1) * day)
        }
        let c = campaign(items: items, offers: [Offer(name: "x1", kind: .reservation(model: "X1", holdMillis: 60_000), limitPerOrganisation: 1, maxQuantity: 5)])
        let (ledger, lane) = try Lane.make(c)
        XCTAssertEqual(lane.decide(request(1, org: 0, offer: 0, qty: 5, at: open)).outcome, .held)
        XCTAssertEqual(lane.decide(request(2, org: 1, offer: 0, qty: 1, at: open)).outcome, .soldOut, "day 1's units are not on sale yet")
        XCTAssertEqual(ledger.remaining(1), 5)
        let h = lane.decide(request(3, org: 1, offer: 0, qty: 2, at: day + hour))
        XCTAssertEqual(h.outcome, .held)
        XCTAssertEqual(h.pieces[0].item, 1)
        assertConserved(ledger, lane.engine, c)
        _ = try rebuilt(c, lane)
    }

    // MARK: model components

    /// A bundle of a licence + 3 units of model X1: own region first, then higher tier, then the rest.
    func testAModelComponentIsAllocatedLikeAReservationAllOrNothing() throws {
        let c = campaign(items: [
            StockItem(name: "license", kind: .license, initial: 10),
            StockItem(name: "x1-hik-east", kind: .hardware(model: "X1", vendor: "hik", vendorTier: 1, region: 0), initial: 2),
            StockItem(name: "x1-deli-north", kind: .hardware(model: "X1", vendor: "deli", vendorTier: 2, region: 1), initial: 3),
            StockItem(name: "x1-deli-east", kind: .hardware(model: "X1", vendor: "deli", vendorTier: 2, region: 0), initial: 2),
        ], offers: [Offer(name: "kit", kind: .bundle(components: [.init(item: 0, quantityPerUnit: 1)]), limitPerOrganisation: 1,
                          maxQuantity: 1, price: .init(listPriceFen: 5_000), picks: [.init(source: .model("X1"), quantityPerUnit: 3)])])
        let (ledger, lane) = try Lane.make(c)
        // Organisation 0 is in the east: deli east (tier 2), then hik east, then north.
        let a = lane.decide(request(1, org: 0, offer: 0))
        XCTAssertEqual(a.outcome, .accepted)
        XCTAssertEqual((0..<a.pieces.count).map { a.pieces[$0].item }, [3, 1])
        XCTAssertEqual((0..<a.pieces.count).map { a.pieces[$0].quantity }, [2, 1])
        // Organisation 1 is in the north: deli north first.
        let b = lane.decide(request(2, org: 1, offer: 0))
        XCTAssertEqual((0..<b.pieces.count).map { b.pieces[$0].item }, [2])
        // 1 east + 0 north left: an order of 3 units cannot be served and the licence goes back.
        XCTAssertEqual(lane.decide(request(3, org: 2, offer: 0)).outcome, .soldOut)
        XCTAssertEqual(ledger.remaining(0), 8, "all or nothing: the licence of the refused order is back")
        XCTAssertEqual([ledger.remaining(1), ledger.remaining(2), ledger.remaining(3)], [1, 0, 0])
        assertConserved(ledger, lane.engine, c)
        _ = try rebuilt(c, lane)
    }

    // MARK: eligibility and waves

    func testEligibilityByRegionTagsAndAllowListRefusesWithoutTakingStock() throws {
        let orgs = [
            Organisation(level: .basic, region: 0, activated: false, tags: 0b011),  // east, manufacturing + large
            Organisation(level: .basic, region: 1, activated: false, tags: 0b001),  // north, manufacturing
            Organisation(level: .basic, region: 1, activated: false, tags: 0b110),  // north, large + retail
            Organisation(level: .none, region: 0, activated: false, tags: 0b011),   // uncertified
        ]
        func offer(_ name: String, _ e: Offer.Eligibility) -> Offer {
            Offer(name: name, kind: .bundle(components: [.init(item: 0, quantityPerUnit: 1)]), minimumLevel: .basic,
                  limitPerOrganisation: 5, eligibility: e)
        }
        let c = campaign(items: [StockItem(name: "license", kind: .license, initial: 100)],
                         offers: [offer("north-only", .init(regions: [1])),
                                  offer("large-manufacturers", .init(allTags: 0b011)),
                                  offer("large-or-retail", .init(anyTags: 0b110)),
                                  offer("pilot", .init(organisations: [1...2]))],
                         organisations: orgs, tags: ["manufacturing", "large", "retail"])
        let (ledger, lane) = try Lane.make(c)
        let expected: [[Outcome]] = [  // per organisation, per offer
            [.ineligible, .accepted, .accepted, .ineligible],
            [.accepted, .ineligible, .ineligible, .accepted],
            [.accepted, .ineligible, .accepted, .accepted],
            [.ineligible, .ineligible, .ineligible, .ineligible],
        ]
        var id: UInt64 = 0
        for org in 0..<4 {
            for o in 0..<4 {
                id += 1
                XCTAssertEqual(lane.decide(request(id, org: UInt32(org), offer: UInt16(o))).outcome, expected[org][o], "org \(org), offer \(c.offers[o].name)")
            }
        }
        let accepted = expected.joined().filter { $0 == .accepted }.count
        XCTAssertEqual(ledger.remaining(0), 100 - Int64(accepted), "refusals take nothing")
        assertConserved(ledger, lane.engine, c)
    }

    func testAnOffersOwnWavesReplaceTheCampaignsInsideTheWindow() throws {
        let lic = [StockItem(name: "license", kind: .license, initial: 100)]
        let c = campaign(items: lic, offers: [
            Offer(name: "all-wave", kind: .bundle(components: [.init(item: 0, quantityPerUnit: 1)]), limitPerOrganisation: 9),
            Offer(name: "first-ten-minutes", kind: .bundle(components: [.init(item: 0, quantityPerUnit: 1)]), limitPerOrganisation: 9,
                  waves: [.init(startOfDayMillis: 10 * hour, endOfDayMillis: 10 * hour + 600_000)]),
        ], waves: [.init(startOfDayMillis: 10 * hour, endOfDayMillis: 10 * hour + 1_800_000)])
        let (ledger, lane) = try Lane.make(c)
        let at5 = 10 * hour + 300_000, at15 = 10 * hour + 900_000, at40 = 10 * hour + 2_400_000
        XCTAssertEqual(lane.decide(request(1, org: 0, offer: 1, at: at5)).outcome, .accepted)
        XCTAssertEqual(lane.decide(request(2, org: 0, offer: 1, at: at15)).outcome, .outsideWindow)
        XCTAssertEqual(lane.decide(request(3, org: 0, offer: 0, at: at15)).outcome, .accepted)
        XCTAssertEqual(lane.decide(request(4, org: 0, offer: 0, at: at40)).outcome, .outsideWindow)
        XCTAssertEqual(lane.decide(request(5, org: 0, offer: 1, at: day + at5)).outcome, .accepted, "daily")
        XCTAssertEqual(ledger.remaining(0), 97)
    }

    /// What the rules can refuse at the model level (the profile parser locates these in the file).
    func testValidationRefusesCapsOnReservationsAndMixedCapsInAPick() {
        let x1 = StockItem(name: "x1", kind: .hardware(model: "X1", vendor: "v", vendorTier: 1, region: 0), initial: 5, cap: 0)
        let lic = StockItem(name: "license", kind: .license, initial: 5)
        let c1 = campaign(items: [x1], offers: [Offer(name: "r", kind: .reservation(model: "X1", holdMillis: 1000))],
                          caps: [.init(name: "x1", perOrganisation: 1)])
        XCTAssertTrue(c1.validate().contains { $0.contains("caps apply to bundles only") }, "\(c1.validate())")
        var x2 = x1
        x2.cap = nil
        let c2 = campaign(items: [x1, x2, lic], offers: [Offer(name: "b", kind: .bundle(components: [.init(item: 2, quantityPerUnit: 1)]),
                                                               picks: [.init(source: .model("X1"), quantityPerUnit: 1)])],
                          caps: [.init(name: "x1", perOrganisation: 1)])
        XCTAssertTrue(c2.validate().contains { $0.contains("different caps") }, "\(c2.validate())")
    }
}
