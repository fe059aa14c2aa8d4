import XCTest
import FlashSaleCore
@testable import LoadGen

/// A small profile with `offers` single-item offers and the given traffic section.
func makeProfile(offers: Int = 4, organisations: Int = 10_000, certification: String = "{ none: 0.2, basic: 0.8 }",
                 minLevel: String = "none", reservation: Bool = false, traffic: String) throws -> LoadProfile {
    var items = "", offerLines = ""
    for i in 0..<offers {
        items += "    - { id: sku-\(i), kind: license, stock: 1000 }\n"
        offerLines += "    - { id: sku-\(i), kind: bundle, item: sku-\(i), min-level: \(minLevel) }\n"
    }
    if reservation {
        items += "    - { id: m1-east, kind: hardware, model: M1, vendor: deli, region: east, stock: 1000 }\n"
        offerLines += "    - { id: m1-hold, kind: reservation, model: M1, hold: 2m, min-level: \(minLevel), max-quantity: 3 }\n"
    }
    let yaml = """
    name: test
    seed: 9
    campaign:
      window: { opens: "day 0 10:00", closes: "day 1" }
      regions: [east, west]
      items:
    \(items)  offers:
    \(offerLines)population:
      organisations: \(organisations)
      certification: \(certification)
    traffic:
    \(traffic)
    """
    return try LoadProfile.parse(yaml: yaml, file: "test.yaml")
}

/// Everything the generator produces, in order.
func drain(_ g: TrafficGenerator, max: Int = 50_000_000) -> [OrderRequest] {
    var out: [OrderRequest] = []
    let buffer = UnsafeMutableBufferPointer<OrderRequest>.allocate(capacity: 4096)
    defer { buffer.deallocate() }
    while out.count < max {
        let n = g.fill(buffer)
        if n == 0 { break }
        out.append(contentsOf: buffer[0..<n])
    }
    return out
}

final class GeneratorTests: XCTestCase {
    func testSameSeedSameStreamDifferentSeedDifferentStream() throws {
        let p = try LoadProfile.load(path: "\(repoRoot)/LoadProfiles/ci-smoke.yaml")
        let a = drain(TrafficGenerator(profile: p))
        let b = drain(TrafficGenerator(profile: p))
        XCTAssertGreaterThan(a.count, 10_000)
        XCTAssertEqual(a.count, b.count)
        XCTAssertTrue(a == b, "same profile and seed must give the identical request stream")
        let c = drain(TrafficGenerator(profile: p, seed: p.seed + 1))
        XCTAssertFalse(a.prefix(1000).elementsEqual(c.prefix(1000)), "another seed must give another stream")
        // buffer size does not change the stream
        let g = TrafficGenerator(profile: p)
        var small: [OrderRequest] = []
        let buf = UnsafeMutableBufferPointer<OrderRequest>.allocate(capacity: 7)
        defer { buf.deallocate() }
        while case let n = g.fill(buf), n > 0 { small.append(contentsOf: buf[0..<n]) }
        XCTAssertTrue(small == a)
    }

    func testConstantPhaseOffersRateTimesDuration() throws {
        for arrivals in ["poisson", "uniform"] {
            let p = try makeProfile(traffic: """
              arrivals: \(arrivals)
              phases: [ { constant: 100k/s, for: 10s } ]
            """)
            let g = TrafficGenerator(profile: p)
            let n = drain(g).count
            XCTAssertEqual(g.expectedArrivals, 1_000_000, accuracy: 1e-3)
            XCTAssertEqual(Double(n), 1_000_000, accuracy: 10_000, "\(arrivals): R·T ± 1%")
            XCTAssertEqual(g.offered, n)
        }
    }

    func testRampOffersTheIntegralOfTheRate() throws {
        let p = try makeProfile(traffic: """
          phases:
            - { ramp: { from: 10k/s, to: 190k/s }, for: 5s }
            - { ramp: { from: 0, to: 20k/s }, for: 10s }
        """)
        let expected = (10_000.0 + 190_000) / 2 * 5 + 20_000.0 / 2 * 10  // 600,000
        let g = TrafficGenerator(profile: p)
        let reqs = drain(g)
        XCTAssertEqual(g.expectedArrivals, expected, accuracy: 1e-3)
        XCTAssertEqual(Double(reqs.count), expected, accuracy: expected * 0.01)
        // and the rate shape: the first 2.5 s of the first ramp hold (10k+100k)/2·2.5 = 137,500
        let early = reqs.filter { $0.intendedSendNanos < 2_500_000_000 }.count
        XCTAssertEqual(Double(early), 137_500, accuracy: 1_375)
    }

    func testSpikeOffersTheIntegralAndIntendedTimesAreOrdered() throws {
        let p = try makeProfile(traffic: """
          phases: [ { spike: { base: 2k/s, peak: 100k/s, at: 2s, rise: 500ms }, for: 4s } ]
        """)
        let g = TrafficGenerator(profile: p)
        let reqs = drain(g)
        // ≈ 2k·4 + 98k·2 (the logistic is symmetric around `at`)
        XCTAssertEqual(g.expectedArrivals, 204_000, accuracy: 204)
        XCTAssertEqual(Double(reqs.count), g.expectedArrivals, accuracy: g.expectedArrivals * 0.01)
        XCTAssertTrue(zip(reqs, reqs.dropFirst()).allSatisfy { $0.intendedSendNanos <= $1.intendedSendNanos })
        XCTAssertLessThanOrEqual(reqs.last!.intendedSendNanos, g.totalDurationNanos)
        XCTAssertEqual(g.totalDurationNanos, 4_000_000_000)
    }

    func testDurationOverrideScalesPhasesAndConstantRateReplacesThem() throws {
        let p = try makeProfile(traffic: """
          phases: [ { constant: 50k/s, for: 4s }, { constant: 10k/s, for: 6s } ]
        """)
        let half = TrafficGenerator(profile: p, durationSeconds: 5)
        XCTAssertEqual(half.totalDurationNanos, 5_000_000_000)
        XCTAssertEqual(half.expectedArrivals, 130_000, accuracy: 1e-6)
        XCTAssertEqual(half.timeScale, 2, accuracy: 1e-12, "the run still covers the same campaign time")
        let rated = TrafficGenerator(profile: p, durationSeconds: 2, constantRate: 30_000)
        XCTAssertEqual(Double(drain(rated).count), 60_000, accuracy: 600)
        let capped = TrafficGenerator(profile: p, requestLimit: 12_345)
        XCTAssertEqual(drain(capped).count, 12_345)
        XCTAssertEqual(capped.fill(UnsafeMutableBufferPointer<OrderRequest>.allocate(capacity: 8)), 0)
    }

    func testZipfPopularityMatchesOneOverRank() throws {
        let offers = 10
        let p = try makeProfile(offers: offers, traffic: """
          arrivals: uniform
          phases: [ { constant: 200k/s, for: 1s } ]
          popularity: { zipf: 1.0 }
        """)
        let reqs = drain(TrafficGenerator(profile: p))
        XCTAssertEqual(reqs.count, 200_000)
        var counts = [Double](repeating: 0, count: offers)
        for r in reqs { counts[Int(r.offer)] += 1 }
        let h = (1...offers).reduce(0.0) { $0 + 1 / Double($1) }
        let expected = (1...offers).map { Double(reqs.count) / (Double($0) * h) }
        XCTAssertEqual(counts[0] / Double(reqs.count), 1 / h, accuracy: 0.005, "rank 1 share")
        let chi2 = zip(counts, expected).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) / $1.1 }
        XCTAssertLessThan(chi2, 27.88, "chi-square, 9 degrees of freedom, p = 0.001")
    }

    func testWeightsPopularityAndQuantityDistribution() throws {
        let p = try makeProfile(offers: 2, traffic: """
          arrivals: uniform
          phases: [ { constant: 100k/s, for: 1s } ]
          popularity: { weights: { sku-0: 0.9, sku-1: 0.1 } }
          quantity: { 1: 0.8, 2: 0.15, 5: 0.05 }
        """)
        let reqs = drain(TrafficGenerator(profile: p))
        let n = Double(reqs.count)
        XCTAssertEqual(Double(reqs.filter { $0.offer == 0 }.count) / n, 0.9, accuracy: 0.005)
        XCTAssertEqual(Double(reqs.filter { $0.quantity == 1 }.count) / n, 0.80, accuracy: 0.005)
        XCTAssertEqual(Double(reqs.filter { $0.quantity == 2 }.count) / n, 0.15, accuracy: 0.005)
        XCTAssertEqual(Double(reqs.filter { $0.quantity == 5 }.count) / n, 0.05, accuracy: 0.005)
        XCTAssertEqual(reqs.filter { ![1, 2, 5].contains($0.quantity) }.count, 0)
    }

    func testRetransmitsAreExactCopiesOfThePreviousRequestAtTheConfiguredShare() throws {
        let p = try makeProfile(reservation: true, traffic: """
          phases: [ { constant: 100k/s, for: 2s } ]
          behaviour: { retransmit: 0.05, confirm: 0.5, cancel: 0.2, confirm-delay: 1s }
        """)
        let reqs = drain(TrafficGenerator(profile: p))
        var retransmits = 0
        var seen = Set<UInt64>()
        for (prev, r) in zip(reqs, reqs.dropFirst()) {
            seen.insert(prev.requestId)
            if seen.contains(r.requestId) {
                retransmits += 1
                XCTAssertEqual(r.requestId, prev.requestId, "a retransmit repeats the request just before it")
                XCTAssertEqual(r.organisation, prev.organisation)
                XCTAssertEqual(r.offer, prev.offer)
                XCTAssertEqual(r.kind, prev.kind)
                XCTAssertEqual(r.quantity, prev.quantity)
                XCTAssertEqual(r.reference, prev.reference)
            } else {
                XCTAssertGreaterThan(r.requestId, prev.requestId, "new requests get increasing ids")
            }
        }
        XCTAssertEqual(reqs.first?.requestId, 1)
        let arrivals = reqs.filter { $0.kind == .buy }.count
        XCTAssertEqual(Double(retransmits) / Double(arrivals), 0.05, accuracy: 0.004)
    }

    func testFollowUpsReferenceEarlierReservationsOfTheSameOrganisation() throws {
        let p = try makeProfile(reservation: true, traffic: """
          start: "day 0 10:00"
          time-scale: 60
          phases: [ { constant: 20k/s, for: 5s } ]
          popularity: { weights: { sku-0: 0.5, m1-hold: 0.5 } }
          behaviour: { confirm: 0.7, cancel: 0.1, confirm-delay: { uniform: [10s, 2m] } }
        """)
        let reqs = drain(TrafficGenerator(profile: p))
        let reservationOffer = UInt16(p.campaign.offers.firstIndex { $0.name == "m1-hold" }!)
        var reservations: [UInt64: OrderRequest] = [:]
        var confirms = 0, cancels = 0, followed = Set<UInt64>()
        for r in reqs {
            switch r.kind {
            case .buy where r.offer == reservationOffer: reservations[r.requestId] = r
            case .confirm, .cancel:
                if r.kind == .confirm { confirms += 1 } else { cancels += 1 }
                guard let res = reservations[r.reference] else { return XCTFail("follow-up \(r.requestId) references no earlier reservation") }
                XCTAssertEqual(r.organisation, res.organisation)
                XCTAssertEqual(r.offer, res.offer)
                XCTAssertGreaterThanOrEqual(r.campaignTimeMillis - res.campaignTimeMillis, 10_000)
                XCTAssertLessThanOrEqual(r.campaignTimeMillis - res.campaignTimeMillis, 120_000)
                XCTAssertTrue(followed.insert(r.reference).inserted, "one follow-up per reservation")
            default: break
            }
        }
        XCTAssertTrue(zip(reqs, reqs.dropFirst()).allSatisfy { $0.campaignTimeMillis <= $1.campaignTimeMillis },
                      "arrivals and follow-ups are interleaved in campaign-time order")
        XCTAssertTrue(zip(reqs, reqs.dropFirst()).allSatisfy { $0.intendedSendNanos <= $1.intendedSendNanos })
        // follow-ups due after the run are not sent: over 5 min of campaign time with delays ≤ 2 min,
        // about (5 − 1.1)/5 of reservations have had their follow-up drawn and sent
        let share = Double(confirms + cancels) / Double(reservations.count)
        XCTAssertEqual(share, 0.8 * (300 - 65) / 300, accuracy: 0.03)
        XCTAssertEqual(Double(confirms) / Double(confirms + cancels), 0.7 / 0.8, accuracy: 0.02)
    }

    func testCampaignTimeIsStartPlusOffsetTimesScale() throws {
        let p = try makeProfile(traffic: """
          start: "day 2 09:00"
          time-scale: 72000
          phases: [ { constant: 10k/s, for: 2s } ]
        """)
        let g = TrafficGenerator(profile: p)
        let reqs = drain(g)
        XCTAssertFalse(reqs.isEmpty)
        let start: Int64 = 2 * 86_400_000 + 9 * 3_600_000
        for r in reqs {
            let expected = Double(start) + Double(r.intendedSendNanos) / 1e6 * 72_000
            XCTAssertEqual(Double(r.campaignTimeMillis), expected, accuracy: 1.5)
        }
    }

    func testEarlyAndIneligibleShares() throws {
        let p = try makeProfile(organisations: 50_000, certification: "{ none: 0.3, basic: 0.3, advanced: 0.4 }",
                                minLevel: "basic", traffic: """
          start: "day 0 10:05"
          phases: [ { constant: 100k/s, for: 1s } ]
          behaviour: { early: 0.03, ineligible: 0.02 }
        """)
        // generated populations keep levels in id blocks; a hand-made one may not (the generator then
        // uses an id table): both must give the same shares
        var shuffled = p
        shuffled.campaign.population = Population(p.campaign.population.organisations.reversed())
        for p in [p, shuffled] {
        let reqs = drain(TrafficGenerator(profile: p))
        let orgs = p.campaign.population
        let n = Double(reqs.count)
        let ineligible = reqs.filter { orgs[$0.organisation]!.level < .basic }.count
        XCTAssertEqual(Double(ineligible) / n, 0.02, accuracy: 0.002)
        let early = reqs.filter { $0.campaignTimeMillis < p.campaign.window.opensMillis }.count
        XCTAssertEqual(Double(early) / n, 0.03, accuracy: 0.003)
        // eligible picks are uniform over the eligible organisations: basic vs advanced ≈ 3 : 4
        let basic = Double(reqs.filter { orgs[$0.organisation]!.level == .basic }.count)
        let advanced = Double(reqs.filter { orgs[$0.organisation]!.level == .advanced }.count)
        XCTAssertEqual(basic / (basic + advanced), 3.0 / 7.0, accuracy: 0.01)
        }
    }

    func testSeckillParityOffersExactlyRateTimesDuration() throws {
        let p = try LoadProfile.load(path: "\(repoRoot)/LoadProfiles/seckill-parity.yaml")
        XCTAssertEqual(p.traffic.requestLimit, 10_000_000)
        XCTAssertEqual(p.traffic.expectedArrivals, 10_000_000, accuracy: 1e-6)
        XCTAssertEqual(p.campaign.offers.count, 64)
        XCTAssertEqual(p.campaign.population.count, 1_000_000)
        XCTAssertTrue(p.campaign.population.organisations.allSatisfy { $0.level == .none })
        XCTAssertTrue(p.campaign.items.allSatisfy { $0.initial == 50_000 })
        // a 1/100 slice of the run, with evenly spaced arrivals: exactly 100,000 requests
        let g = TrafficGenerator(profile: p, durationSeconds: 0.1)
        let reqs = drain(g)
        XCTAssertEqual(reqs.count, 100_000)
        XCTAssertTrue(reqs.allSatisfy { p.campaign.window.contains($0.campaignTimeMillis) })
    }

    func testPopulationIsDeterministicAndFollowsTheDistributions() throws {
        let spec = PopulationSpec(organisations: 1_000_000, certification: [0.1, 0.5, 0.3, 0.1],
                                  regions: [0.5, 0.3, 0.2], activated: 0.3)
        let a = spec.generate(regionCount: 3, seed: 42)
        let b = spec.generate(regionCount: 3, seed: 42)
        XCTAssertEqual(a.organisations, b.organisations)
        XCTAssertNotEqual(a.organisations, spec.generate(regionCount: 3, seed: 43).organisations)
        let n = Double(a.count)
        XCTAssertEqual(Double(a.organisations.filter { $0.level == .basic }.count) / n, 0.5, accuracy: 0.003)
        XCTAssertEqual(Double(a.organisations.filter { $0.region == 0 }.count) / n, 0.5, accuracy: 0.003)
        XCTAssertEqual(Double(a.organisations.filter { $0.activated }.count) / n, 0.3, accuracy: 0.003)
        XCTAssertTrue(a.organisations.allSatisfy { $0.region < 3 })
    }
}

final class FollowUpQueueTests: XCTestCase {
    /// The bucketed queue pops exactly what a sorted reference would, under a rising limit.
    func testQueueMatchesSortedReference() {
        var rng = Xoshiro256StarStar(seed: 5)
        for span: Int64 in [1, 50, 240_000] {
            var q = FollowUpQueue(spanMillis: span, ringSize: 64)
            var reference: [FollowUp] = []
            var limit: Int64 = 36_000_000
            var ref: UInt64 = 0
            var popped: [FollowUp] = []
            var expected: [FollowUp] = []
            for step in 0..<20_000 {
                limit += Int64(rng.below(step % 1000 == 0 ? 5_000_000 : 30))
                for _ in 0..<Int(rng.below(3)) {
                    ref += 1
                    // mostly within the span, sometimes far beyond the ring's horizon
                    let d = rng.below(10) == 0 ? Int64(rng.below(UInt64(span) * 100 + 1)) : Int64(rng.below(UInt64(span) + 1))
                    let f = FollowUp(campaignMillis: limit + 1 + d, reference: ref, organisation: 0, offer: 0, kind: 1, quantity: 1)
                    q.push(f, now: limit)
                    reference.append(f)
                }
                if limit >= q.notBefore { while let f = q.popDue(limit: limit) { popped.append(f) } }
                reference.sort { $0.precedes($1) }
                let due = reference.prefix { $0.campaignMillis <= limit }
                expected.append(contentsOf: due)
                reference.removeFirst(due.count)
                XCTAssertEqual(popped.count, expected.count, "span \(span), step \(step)")
                if popped.count != expected.count { return }
            }
            XCTAssertEqual(popped.map(\.reference), expected.map(\.reference))
            XCTAssertEqual(q.count, reference.count)
        }
    }
}

final class AliasTableTests: XCTestCase {
    func testAliasTableReproducesTheWeights() {
        for weights in [[1.0], [0.9, 0.1], [0.8, 0.15, 0.05], [0, 1, 0, 3], (1...64).map { 1 / Double($0) }] {
            let t = AliasTable(weights: weights)
            let total = weights.reduce(0, +)
            for (p, w) in zip(t.probabilities, weights) { XCTAssertEqual(p, w / total, accuracy: 1e-9) }
            var rng = Xoshiro256StarStar(seed: 1)
            var counts = [Int](repeating: 0, count: weights.count)
            for _ in 0..<100_000 { counts[t.sample(rng.next())] += 1 }
            for (c, w) in zip(counts, weights) { XCTAssertEqual(Double(c) / 100_000, w / total, accuracy: 0.006) }
        }
    }
}

final class ExponentialTests: XCTestCase {
    func testZigguratDrawsExponentialOne() {
        let z = ExponentialZiggurat()
        var rng = Xoshiro256StarStar(seed: 77)
        let n = 1_000_000
        var sum = 0.0, sumSq = 0.0
        var buckets = [Int](repeating: 0, count: 6)   // [0,0.5), [0.5,1), [1,2), [2,3), [3,5), [5,∞)
        for _ in 0..<n {
            let x = z.next(&rng)
            XCTAssertGreaterThanOrEqual(x, 0)
            sum += x; sumSq += x * x
            let b = x < 0.5 ? 0 : x < 1 ? 1 : x < 2 ? 2 : x < 3 ? 3 : x < 5 ? 4 : 5
            buckets[b] += 1
        }
        let mean = sum / Double(n)
        XCTAssertEqual(mean, 1, accuracy: 0.005)
        XCTAssertEqual(sumSq / Double(n) - mean * mean, 1, accuracy: 0.01)
        let cdf = { (x: Double) in x.isInfinite ? 1 : 1 - Foundation.exp(-x) }
        let edges: [Double] = [0, 0.5, 1, 2, 3, 5, .infinity]
        for b in 0..<6 {
            let expected = (cdf(edges[b + 1]) - cdf(edges[b])) * Double(n)
            XCTAssertEqual(Double(buckets[b]), expected, accuracy: 5 * expected.squareRoot() + 1, "bucket \(b)")
        }
    }
}
