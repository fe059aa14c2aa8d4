import XCTest
import FlashSaleCore
@testable import LoadGen

/// A valid profile using every campaign rule (issue 11 item 6); each case below edits it.
///
/// Items as the parser expands them (indices into `campaign.items`):
/// 0–2 `lic@day0…2` (per day, carry-over) · 3 `pool` (capped) · 4–8 `m1-east@day0-10:00 …
/// day2-10:00` (per wave, no carry-over; day 2's 14:00 wave is after the window closes) ·
/// 9 `m1-north` · 10 `m2-east`.
private let rulesBase = """
name: rules
seed: 5
campaign:
  window: { opens: "day 0 00:00", closes: "day 2 12:00", waves: ["10:00-10:30", "14:00-14:30"] }
  regions: [east, north]
  tags: [manufacturing, retail, large]
  items:
    - { id: lic, kind: license, stock: 2500, allotment: { units: 1000, per: day } }
    - { id: pool, kind: subsidy, stock: 100000, per-organisation-cap: 50000 }
    - { id: m1-east, kind: hardware, model: M1, vendor: deli, tier: 2, region: east, stock: 450,
        allotment: { units: 100, per: wave, carry-over: false } }
    - { id: m1-north, kind: hardware, model: M1, vendor: comix, tier: 1, region: north, stock: 300 }
    - { id: m2-east, kind: hardware, model: M2, vendor: deli, tier: 1, region: east, stock: 50 }
  offers:
    - id: kick
      kind: bundle
      components:
        - { item: lic, quantity: 1 }
        - { model: M1, quantity: 10 }
        - { item: pool, quantity: 20000 }
      limit: 3
    - id: m2-reserve
      kind: reservation
      model: M2
      hold: 5m
      eligibility: { regions: [north] }
      waves: ["10:00-10:15"]
    - id: factory
      kind: bundle
      components: [ { item: m1-east, quantity: 5 } ]
      eligibility: { tags: [manufacturing], any-tags: [retail, large], organisations: [3, "100-199", " 500 - 599 "] }
    - { id: pilot, kind: bundle, item: lic }
population:
  organisations: 1000
  regions: { east: 0.5, north: 0.5 }
  tags: { manufacturing: 0.3, retail: 0.25, large: 0.1 }
traffic:
  start: "day 0"
  time-scale: 21600
  phases:
    - { constant: 1000/s, for: 10s }
"""

private let day: Int64 = 86_400_000
private let hour: Int64 = 3_600_000
private let minute: Int64 = 60_000

private func edited(_ edits: [(String, String)], file: StaticString = #filePath, line: UInt = #line) -> String {
    var yaml = rulesBase
    for (old, new) in edits {
        XCTAssertTrue(yaml.contains(old), "the base profile lacks \(old)", file: file, line: line)
        yaml = yaml.replacingOccurrences(of: old, with: new)
    }
    return yaml
}

private func parse(_ edits: [(String, String)] = [], file: StaticString = #filePath, line: UInt = #line) throws -> LoadProfile {
    try LoadProfile.parse(yaml: edited(edits, file: file, line: line), file: "rules.yaml")
}

/// One malformed profile: where its error must be and what it must say.
private struct RuleCase {
    let name: String
    let edits: [(String, String)]
    let kind: ProfileError.Kind
    let keyPath: String
    /// The error's line is the first line containing this text (in the edited profile)...
    let lineOf: String
    /// ...and its column is where this text starts in that line.
    let columnAt: String
    let message: String
}

private let ruleCases: [RuleCase] = [
    RuleCase(name: "eligibility that admits nobody certified enough",
             edits: [("organisations: [3, \"100-199\", \" 500 - 599 \"]", "organisations: [3]")],
             kind: .invalidValue, keyPath: "campaign.offers[2].eligibility", lineOf: "organisations: [3]", columnAt: "{ tags:",
             message: "no organisation of the population passes this offer's eligibility"),
    RuleCase(name: "an item id with '@'", edits: [("id: lic,", "id: lic@x,")],
             kind: .invalidValue, keyPath: "campaign.items[0].id", lineOf: "id: lic@x,", columnAt: "lic@x,",
             message: "an item id may not contain '@'"),
    RuleCase(name: "allotment per wave without window waves",
             edits: [(", waves: [\"10:00-10:30\", \"14:00-14:30\"] }", " }")],
             kind: .invalidValue, keyPath: "campaign.items[2].allotment.per", lineOf: "per: wave", columnAt: "wave, carry-over",
             message: "an allotment per wave needs campaign.window.waves"),
    RuleCase(name: "unknown tag in eligibility", edits: [("tags: [manufacturing], any", "tags: [manufacturin], any")],
             kind: .invalidValue, keyPath: "campaign.offers[2].eligibility.tags[0]", lineOf: "[manufacturin]", columnAt: "manufacturin]",
             message: "unknown tag 'manufacturin' (did you mean 'manufacturing'?); expected one of campaign.tags: manufacturing, retail, large"),
    RuleCase(name: "unknown tag in any-tags", edits: [("any-tags: [retail, large]", "any-tags: [retail, huge]")],
             kind: .invalidValue, keyPath: "campaign.offers[2].eligibility.any-tags[1]", lineOf: "any-tags:", columnAt: "huge]",
             message: "unknown tag 'huge'"),
    RuleCase(name: "unknown tag in population.tags", edits: [("{ manufacturing: 0.3, retail", "{ manufactoring: 0.3, retail")],
             kind: .unknownKey, keyPath: "population.tags.manufactoring", lineOf: "manufactoring: 0.3", columnAt: "manufactoring: 0.3",
             message: "unknown tag 'manufactoring' (did you mean 'manufacturing'?); expected one of campaign.tags: manufacturing, retail, large"),
    RuleCase(name: "population.tags without campaign.tags",
             edits: [("  tags: [manufacturing, retail, large]\n", ""),
                     ("eligibility: { tags: [manufacturing], any-tags: [retail, large], ", "eligibility: { ")],
             kind: .unknownKey, keyPath: "population.tags.manufacturing", lineOf: "manufacturing: 0.3", columnAt: "manufacturing: 0.3",
             message: "unknown tag 'manufacturing'; expected one of campaign.tags (none declared)"),
    RuleCase(name: "cap on an item a reservation's model reaches",
             edits: [("region: east, stock: 50 }", "region: east, stock: 50, per-organisation-cap: 5 }")],
             kind: .invalidValue, keyPath: "campaign.offers[1].model", lineOf: "      model: M2", columnAt: "M2",
             message: "item m2-east of model M2 has a per-organisation-cap; caps apply to bundles only"),
    RuleCase(name: "cap on an allotted item a reservation's model reaches (named as declared)",
             edits: [("region: east, stock: 50 }", "region: east, stock: 50, per-organisation-cap: 5, allotment: { units: 10, per: day } }")],
             kind: .invalidValue, keyPath: "campaign.offers[1].model", lineOf: "      model: M2", columnAt: "M2",
             message: "item m2-east of model M2 has a per-organisation-cap"),
    RuleCase(name: "offer wave outside the campaign's waves", edits: [("waves: [\"10:00-10:15\"]", "waves: [\"10:00-10:15\", \"09:50-10:10\"]")],
             kind: .windowOrder, keyPath: "campaign.offers[1].waves[1]", lineOf: "09:50-10:10", columnAt: "\"09:50-10:10\"",
             message: "the offer's wave 09:50-10:10 is not inside one of campaign.window.waves (10:00-10:30, 14:00-14:30)"),
    RuleCase(name: "allow-list id beyond the population", edits: [("\" 500 - 599 \"", "\"500-1000\"")],
             kind: .invalidValue, keyPath: "campaign.offers[2].eligibility.organisations[2]", lineOf: "\"500-1000\"", columnAt: "\"500-1000\"",
             message: "organisation 1000 is beyond the population (1000 organisations, ids 0-999)"),
    RuleCase(name: "allow-list single id beyond the population", edits: [("organisations: [3,", "organisations: [1000,")],
             kind: .invalidValue, keyPath: "campaign.offers[2].eligibility.organisations[0]", lineOf: "[1000,", columnAt: "1000,",
             message: "organisation 1000 is beyond the population"),
    RuleCase(name: "allow-list range that ends before it starts", edits: [("\"100-199\"", "\"5-2\"")],
             kind: .invalidValue, keyPath: "campaign.offers[2].eligibility.organisations[1]", lineOf: "\"5-2\"", columnAt: "\"5-2\"",
             message: "the range \"5-2\" ends before it starts; expected \"low-high\" with low ≤ high"),
    RuleCase(name: "allow-list entry that is no id", edits: [("\"100-199\"", "x")],
             kind: .wrongType, keyPath: "campaign.offers[2].eligibility.organisations[1]", lineOf: "[3, x,", columnAt: "x,",
             message: "expected an organisation id (0…4294967295) or a range like \"100-199\", got \"x\""),
    RuleCase(name: "a picked component's items under different caps",
             edits: [("region: north, stock: 300 }", "region: north, stock: 300, per-organisation-cap: 100 }")],
             kind: .invalidValue, keyPath: "campaign.offers[0].components[1].model", lineOf: "{ model: M1, quantity: 10 }", columnAt: "M1, quantity",
             message: "the items this component may take from are under different per-organisation caps"),
    RuleCase(name: "more than 4 picked components",
             edits: [("        - { model: M1, quantity: 10 }\n",
                      "        - { model: M1, quantity: 10 }\n        - { model: M2, quantity: 1 }\n        - { item: m1-east, quantity: 1 }\n        - { model: M2, quantity: 2 }\n")],
             kind: .invalidValue, keyPath: "campaign.offers[0].components", lineOf: "      components:", columnAt: "components:",
             message: "5 components are chosen at decision time (models or allotted items); expected at most 4"),
    RuleCase(name: "an item and a model in one component", edits: [("{ model: M1, quantity: 10 }", "{ item: pool, model: M1, quantity: 10 }")],
             kind: .invalidValue, keyPath: "campaign.offers[0].components[1].model", lineOf: "model: M1, quantity: 10", columnAt: "M1, quantity",
             message: "give either 'item' or 'model' in a component, not both"),
    RuleCase(name: "allotment per other than wave or day", edits: [("per: day }", "per: week }")],
             kind: .invalidValue, keyPath: "campaign.items[0].allotment.per", lineOf: "per: week", columnAt: "week",
             message: "expected wave or day, got \"week\""),
    RuleCase(name: "cap of zero", edits: [("per-organisation-cap: 50000", "per-organisation-cap: 0")],
             kind: .notPositive, keyPath: "campaign.items[1].per-organisation-cap", lineOf: "per-organisation-cap: 0", columnAt: "0 }",
             message: "expected a positive integer"),
]

final class CampaignRulesProfileTests: XCTestCase {
    // MARK: reading the keys

    func testTagsCapsAndTheExpandedItems() throws {
        let c = try parse().campaign
        XCTAssertEqual(c.validate(), [])
        XCTAssertEqual(c.tags, ["manufacturing", "retail", "large"])
        XCTAssertEqual(c.caps, [Campaign.Cap(name: "pool", perOrganisation: 50000)])
        XCTAssertEqual(c.items.map(\.name), ["lic@day0", "lic@day1", "lic@day2", "pool",
                                            "m1-east@day0-10:00", "m1-east@day0-14:00", "m1-east@day1-10:00",
                                            "m1-east@day1-14:00", "m1-east@day2-10:00", "m1-north", "m2-east"])
        XCTAssertEqual(c.items.map(\.cap), [nil, nil, nil, 0, nil, nil, nil, nil, nil, nil, nil])
        // Items without an allotment are on sale all campaign.
        for i in [3, 9, 10] {
            XCTAssertEqual(c.items[i].sellableFromMillis, .min, c.items[i].name)
            XCTAssertEqual(c.items[i].sellableUntilMillis, .max, c.items[i].name)
        }
        // Allotted hardware keeps its kind (model, vendor, tier, region).
        XCTAssertEqual(c.items[4].kind, .hardware(model: "M1", vendor: "deli", vendorTier: 2, region: 0))
    }

    func testAllotmentPerDaySplitsTheStockAndCarriesOverByDefault() throws {
        let closes = 2 * day + 12 * hour
        let c = try parse().campaign
        // Each allotment `units`, the last (day 2, clipped to the window's 12:00 close) what is left.
        XCTAssertEqual(c.items[0...2].map(\.initial), [1000, 1000, 500])
        XCTAssertEqual(c.items[0...2].map(\.sellableFromMillis), [0, day, 2 * day])
        XCTAssertEqual(c.items[0...2].map(\.sellableUntilMillis), [closes, closes, closes])

        // Without carry-over: each day only (the last one until the window closes).
        let own = try parse([("per: day }", "per: day, carry-over: false }")]).campaign
        XCTAssertEqual(own.items[0...2].map(\.sellableFromMillis), [0, day, 2 * day])
        XCTAssertEqual(own.items[0...2].map(\.sellableUntilMillis), [day, 2 * day, closes])
        XCTAssertEqual(own.items[0...2].map(\.initial), [1000, 1000, 500])

        // A window opening mid-day: the first day is clipped to it.
        let late = try parse([("opens: \"day 0 00:00\"", "opens: \"day 0 09:00\"")]).campaign
        XCTAssertEqual(late.items[0].sellableFromMillis, 9 * hour)
        XCTAssertEqual(late.items[0].name, "lic@day0")

        // More stock than the allotments: the last one takes the rest.
        XCTAssertEqual(try parse([("stock: 2500", "stock: 4200")]).campaign.items[0...2].map(\.initial), [1000, 1000, 2200])

        // Less: later days get nothing (no item), and the picks take from the allotments there are.
        let short = try parse([("stock: 2500", "stock: 1500")]).campaign
        XCTAssertEqual(short.items.prefix(3).map(\.name), ["lic@day0", "lic@day1", "pool"])
        XCTAssertEqual(short.items.prefix(2).map(\.initial), [1000, 500])
        XCTAssertEqual(short.offers[0].picks[0], Offer.Pick(source: .items([0, 1]), quantityPerUnit: 1))
        XCTAssertEqual(short.validate(), [])
    }

    func testAllotmentPerWaveWithAndWithoutCarryOver() throws {
        let closes = 2 * day + 12 * hour
        let c = try parse().campaign
        let waves = Array(c.items[4...8])
        // Day 2's 14:00 wave comes after the window closes (day 2 12:00): five allotments.
        let starts = [10 * hour, 14 * hour, day + 10 * hour, day + 14 * hour, 2 * day + 10 * hour]
        XCTAssertEqual(waves.map(\.initial), [100, 100, 100, 100, 50])
        XCTAssertEqual(waves.map(\.sellableFromMillis), starts)
        XCTAssertEqual(waves.map(\.sellableUntilMillis), starts.map { $0 + 30 * minute })
        XCTAssertEqual(waves.map { $0.isSellable(at: 10 * hour + 29 * minute) }, [true, false, false, false, false])
        XCTAssertEqual(waves.map { $0.isSellable(at: 10 * hour + 30 * minute) }, [false, false, false, false, false])

        let carried = try parse([("carry-over: false", "carry-over: true")]).campaign
        XCTAssertEqual(carried.items[4...8].map(\.sellableFromMillis), starts)
        XCTAssertEqual(carried.items[4...8].map(\.sellableUntilMillis), [closes, closes, closes, closes, closes])
        XCTAssertEqual(carried.items[4...8].map { $0.isSellable(at: day + 14 * hour) }, [true, true, true, true, false])
        // carry-over takes true/false, yes/no.
        XCTAssertEqual(try parse([("carry-over: false", "carry-over: no")]).campaign.items[4].sellableUntilMillis, 10 * hour + 30 * minute)
    }

    func testBundleComponentsOfAModelAndOfAllottedItems() throws {
        let offers = try parse().campaign.offers
        // Fixed components stay components; a model and an allotted item become picks, in order.
        XCTAssertEqual(offers[0].kind, .bundle(components: [Offer.Component(item: 3, quantityPerUnit: 20000)]))
        XCTAssertEqual(offers[0].picks, [Offer.Pick(source: .items([0, 1, 2]), quantityPerUnit: 1),
                                         Offer.Pick(source: .model("M1"), quantityPerUnit: 10)])
        XCTAssertEqual(offers[2].kind, .bundle(components: []))
        XCTAssertEqual(offers[2].picks, [Offer.Pick(source: .items([4, 5, 6, 7, 8]), quantityPerUnit: 5)])
        // The one-item shorthand on an allotted item is a pick too.
        XCTAssertEqual(offers[3].kind, .bundle(components: []))
        XCTAssertEqual(offers[3].picks, [Offer.Pick(source: .items([0, 1, 2]), quantityPerUnit: 1)])
        // A model pick may take from every item of the model, allotments included, in item order.
        XCTAssertEqual(Campaign.candidates(of: offers[0].picks[1], in: try parse().campaign.items), [4, 5, 6, 7, 8, 9])
    }

    func testEligibilityAndOfferWaves() throws {
        let offers = try parse().campaign.offers
        XCTAssertEqual(offers[0].eligibility, .everyone)
        XCTAssertEqual(offers[0].waves, [])
        XCTAssertEqual(offers[1].eligibility, Offer.Eligibility(regions: [1]))
        XCTAssertEqual(offers[1].waves, [SaleWindow.Wave(startOfDayMillis: 10 * hour, endOfDayMillis: 10 * hour + 15 * minute)])
        // tags: all of them (bit 0: manufacturing); any-tags: at least one (bits 1, 2: retail, large).
        XCTAssertEqual(offers[2].eligibility, Offer.Eligibility(allTags: 0b001, anyTags: 0b110,
                                                                organisations: [3...3, 100...199, 500...599]))
        let e = offers[2].eligibility
        XCTAssertTrue(e.admits(Organisation(level: .none, region: 0, activated: false, tags: 0b011), id: 150))
        XCTAssertFalse(e.admits(Organisation(level: .none, region: 0, activated: false, tags: 0b001), id: 150), "no any-tag")
        XCTAssertFalse(e.admits(Organisation(level: .none, region: 0, activated: false, tags: 0b110), id: 150), "no manufacturing")
        XCTAssertFalse(e.admits(Organisation(level: .none, region: 0, activated: false, tags: 0b101), id: 200), "not on the allow-list")
        // Several regions; an offer's waves in a campaign without waves may be anything.
        let more = try parse([("regions: [north] }", "regions: [north, east] }"),
                              (", waves: [\"10:00-10:30\", \"14:00-14:30\"] }", " }"), ("per: wave, ", "per: day, "),
                              ("[\"10:00-10:15\"]", "[\"08:00-09:00\", \"20:00-21:30\"]")]).campaign.offers
        XCTAssertEqual(more[1].eligibility.regions, [1, 0])
        XCTAssertEqual(more[1].waves.map(\.startOfDayMillis), [8 * hour, 20 * hour])
        // An offer wave equal to a campaign wave is inside it.
        XCTAssertEqual(try parse([("[\"10:00-10:15\"]", "[\"14:00-14:30\"]")]).campaign.offers[1].waves.map(\.startOfDayMillis), [14 * hour])
    }

    // MARK: population tags

    func testPopulationTagsAreIndependentSharesWithinTwoPercent() throws {
        let p = try parse([("organisations: 1000", "organisations: 100000"), ("\" 500 - 599 \"", "\"500-99999\"")])
        let orgs = p.campaign.population.organisations
        XCTAssertEqual(orgs.count, 100_000)
        XCTAssertEqual(p.populationSpec.tags, [0.3, 0.25, 0.1])
        func share(_ mask: UInt32) -> Double { Double(orgs.filter { $0.tags & mask == mask }.count) / Double(orgs.count) }
        XCTAssertEqual(share(0b001), 0.3, accuracy: 0.02)
        XCTAssertEqual(share(0b010), 0.25, accuracy: 0.02)
        XCTAssertEqual(share(0b100), 0.1, accuracy: 0.02)
        // Independent: both manufacturing and retail ≈ 0.3 × 0.25.
        XCTAssertEqual(share(0b011), 0.075, accuracy: 0.02)
        XCTAssertTrue(orgs.allSatisfy { $0.tags >> 3 == 0 }, "only declared tags")
        // A tag left out of population.tags is never drawn; 0 and 1 are exact.
        // (large: 1 keeps offer 2's eligibility satisfiable: a rule nobody passes is refused at load.)
        let exact = try parse([("{ manufacturing: 0.3, retail: 0.25, large: 0.1 }", "{ manufacturing: 1, retail: 0%, large: 1 }")]).campaign.population
        XCTAssertTrue(exact.organisations.allSatisfy { $0.tags == 0b101 })
    }

    /// A profile without tags keeps the population (and fingerprint) it had before `tags` existed; declaring
    /// tags, or drawing them, leaves every organisation's level, region and activation as they were.
    func testAProfileWithoutTagsKeepsItsPopulationAndFingerprint() throws {
        let plain = """
        name: plain
        seed: 11
        campaign:
          window: { opens: "day 0 10:00", closes: "day 0 12:00" }
          regions: [east, north, south]
          items: [ { id: lic, kind: license, stock: 100 } ]
          offers: [ { id: o, kind: bundle, item: lic, min-level: basic } ]
        population:
          organisations: 5000
          certification: { none: 0.2, basic: 0.5, advanced: 0.3 }
          regions: { east: 0.5, north: 0.3, south: 0.2 }
          activated: 0.4
        traffic:
          phases: [ { constant: 10/s, for: 1s } ]
        """
        let before = try LoadProfile.parse(yaml: plain, file: "plain.yaml")
        XCTAssertTrue(before.campaign.population.organisations.allSatisfy { $0.tags == 0 })
        XCTAssertEqual(before.populationSpec.tags, [])
        // The value the pre-tags code (before the campaign rules) gave this profile.
        XCTAssertEqual(before.campaign.fingerprint, Self.plainFingerprint, String(before.campaign.fingerprint, radix: 16))

        func attributes(_ p: LoadProfile) -> [[UInt8]] {
            p.campaign.population.organisations.map { [$0.level.rawValue, $0.region, $0.activated ? 1 : 0] }
        }
        let declared = try LoadProfile.parse(yaml: plain.replacingOccurrences(of: "  regions: [east, north, south]\n",
                                                                               with: "  regions: [east, north, south]\n  tags: [a, b]\n"),
                                             file: "declared.yaml")
        XCTAssertEqual(attributes(declared), attributes(before))
        XCTAssertTrue(declared.campaign.population.organisations.allSatisfy { $0.tags == 0 })
        let drawn = try LoadProfile.parse(yaml: plain.replacingOccurrences(of: "  regions: [east, north, south]\n", with: "  regions: [east, north, south]\n  tags: [a, b]\n")
                                            .replacingOccurrences(of: "  activated: 0.4\n", with: "  activated: 0.4\n  tags: { a: 0.5, b: 0.2 }\n"),
                                          file: "drawn.yaml")
        XCTAssertEqual(attributes(drawn), attributes(before))
        XCTAssertTrue(drawn.campaign.population.organisations.contains { $0.tags != 0 })
        XCTAssertNotEqual(drawn.campaign.fingerprint, before.campaign.fingerprint)
        // Reseeding keeps the tags' shares (the spec regenerates them).
        let reseeded = drawn.reseeded(99).campaign.population.organisations
        XCTAssertEqual(Double(reseeded.filter { $0.tags & 1 != 0 }.count) / 5000, 0.5, accuracy: 0.03)
    }

    /// `plain`'s fingerprint, as computed before population tags and the campaign rules were added
    /// (commit 80965c9^; checked against a model of that code): FNV-1a over the window, regions, items, offers and organisations.
    static let plainFingerprint: UInt64 = 0x3610_B6E4_0FFF_D50A

    // MARK: errors

    func testEveryNewErrorIsLocatedAtItsKey() {
        for c in ruleCases {
            let yaml = edited(c.edits)
            let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
            guard let lineIndex = lines.firstIndex(where: { $0.contains(c.lineOf) }),
                  let at = lines[lineIndex].range(of: c.columnAt) else {
                XCTFail("\(c.name): no line contains \(c.lineOf) and \(c.columnAt)"); continue
            }
            let line = lineIndex + 1
            let column = lines[lineIndex].unicodeScalars.distance(from: lines[lineIndex].startIndex, to: at.lowerBound) + 1
            do {
                _ = try LoadProfile.parse(yaml: yaml, file: "bad.yaml")
                XCTFail("\(c.name): parsed, expected \(c.kind)")
            } catch {
                XCTAssertEqual(error.kind, c.kind, "\(c.name): \(error)")
                XCTAssertEqual(error.keyPath, c.keyPath, "\(c.name): \(error)")
                XCTAssertEqual(error.line, line, "\(c.name): \(error)")
                XCTAssertEqual(error.column, column, "\(c.name): \(error)")
                XCTAssertTrue(error.message.contains(c.message), "\(c.name): \(error.message)")
                XCTAssertTrue(error.description.hasPrefix("bad.yaml:\(line):\(column): error: \(c.keyPath): "), "\(c.name): \(error.description)")
            }
        }
    }

    func testBaseProfileIsValid() throws {
        let p = try parse()
        XCTAssertEqual(p.campaign.validate(), [])
        XCTAssertEqual(p.warnings, [])
        _ = try CampaignRules(p.campaign)
    }

    // MARK: the shipped profile

    func testKickoffSeasonUsesEveryRule() throws {
        let p = try LoadProfile.load(path: "\(repoRoot)/LoadProfiles/kickoff-season.yaml")
        let c = p.campaign
        XCTAssertEqual(p.name, "kickoff-season")
        XCTAssertEqual(c.validate(), [])
        XCTAssertEqual(p.warnings, [])
        XCTAssertEqual(p.durationSeconds, 8.4, accuracy: 1e-9)
        XCTAssertEqual(c.tags.count, 6)
        XCTAssertEqual(c.caps, [Campaign.Cap(name: "subsidy-pool", perOrganisation: 50000)])
        // 7 days of licences and of the pool, 14 waves of Deli's east M1, 4 plain hardware items.
        XCTAssertEqual(c.items.count, 7 + 7 + 14 + 4)
        XCTAssertEqual(c.items.filter { $0.name.hasPrefix("subsidy-pool@") }.map(\.initial),
                       [2_860_000, 2_860_000, 2_860_000, 2_860_000, 2_860_000, 2_860_000, 2_840_000])
        XCTAssertTrue(c.items.filter { $0.name.hasPrefix("m1-deli-east@") }.allSatisfy { $0.initial == 1000 && $0.sellableUntilMillis - $0.sellableFromMillis == 30 * minute })
        XCTAssertEqual(c.offers.map { $0.picks.count }, [3, 0, 2, 1])
        XCTAssertEqual(c.offers[3].eligibility.organisations, [0...4999])
        XCTAssertEqual(c.offers[1].waves, [SaleWindow.Wave(startOfDayMillis: 10 * hour, endOfDayMillis: 10 * hour + 15 * minute)])
        XCTAssertEqual(MachineMemory.bytesPerOrganisation(offerCount: 4, capCount: 1), 72)
    }
}
