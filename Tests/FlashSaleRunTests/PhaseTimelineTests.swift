import FlashSaleCore
import FlashSaleRun
import Foundation
import LoadGen
import Pipeline
import Reports
import XCTest

/// A paced run's timeline per traffic phase (issue 14): the timeline is cut at each phase's start, so no
/// interval mixes two phases; the phase lines add up to the run's totals; a phase four times as busy
/// offers four times as much; a pause offers nothing; and the sell-out curve ends at the report's stock.
final class PhaseTimelineTests: XCTestCase {
    let yaml = """
    name: phases-test
    seed: 11
    campaign:
      window: { opens: "day 0 10:00", closes: "day 1" }
      regions: [east]
      items:
        - { id: sku, kind: license, stock: 9000 }
      offers:
        - { id: sku, kind: bundle, item: sku }
    population:
      organisations: 200000
    traffic:
      start: "day 0 10:00"
      phases:
        - { constant: 2000/s, for: 1s }
        - { constant: 8000/s, for: 1s }
        - { pause: 0.5s }
        - { ramp: { from: 2000/s, to: 4000/s }, for: 1s }
    """

    func testPhasesAddUpAndNoIntervalStraddlesABoundary() throws {
        let profile = try LoadProfile.parse(yaml: yaml, file: "phases-test.yaml")
        var c = RunConfiguration(profile: profile, profileLabel: "phases-test.yaml", lanes: 2, durability: .batch)
        c.timelineInterval = 0.3   // not a divisor of the phase lengths: the phase starts must cut it
        let r = try RunSession(c, diagnostics: { _ in }).execute().report
        XCTAssertTrue(r.invariants.passed)
        let phases = try XCTUnwrap(r.phases, "a paced run of generated traffic has phase lines")
        XCTAssertEqual(phases.map(\.startSeconds), [0, 1, 2, 2.5])
        XCTAssertEqual(phases.map(\.shape), ["constant 2000/s", "constant 8000/s", "pause", "ramp 2000→4000/s"])
        XCTAssertEqual(phases.reduce(0) { $0 + $1.offered }, r.requests)
        XCTAssertEqual(phases.reduce(0) { $0 + $1.acknowledged }, r.decisions)
        XCTAssertEqual(phases.reduce(0) { $0 + $1.latencyMicros.count }, r.latencyMicros.count, "each acknowledged request in one phase")
        // A pause offers nothing of its own: at most the few requests due just before it that a loaded
        // machine sent a little late (offered counts by the time a request was actually offered).
        XCTAssertLessThanOrEqual(phases[2].offered, phases[1].offered / 100, "a pause offers (next to) nothing: \(phases.map(\.offered))")
        let ratio = Double(phases[1].offered) / Double(max(1, phases[0].offered))
        XCTAssertEqual(ratio, 4, accuracy: 0.6, "8000/s against 2000/s: \(phases.map(\.offered))")

        let t = try XCTUnwrap(r.timeline)
        let starts = phases.map(\.startSeconds) + [Double.infinity]
        for i in t {
            let k = try XCTUnwrap(i.phase, "every interval of a phased run says its phase")
            XCTAssertGreaterThanOrEqual(i.startSeconds, starts[k] - 0.1, "interval at \(i.startSeconds) s begins before phase \(k)")
            XCTAssertLessThanOrEqual(i.startSeconds + i.seconds, starts[k + 1] + 0.1, "interval at \(i.startSeconds) s runs into phase \(k + 1)")
        }
        // The sell-out curve: stock never rises in a bundle-only sale, and ends where the report says.
        let curve = t.compactMap { $0.remaining?.first }
        XCTAssertEqual(curve.count, t.count)
        XCTAssertEqual(zip(curve, curve.dropFirst()).filter { $0.1 > $0.0 }.count, 0, "remaining rose: \(curve)")
        XCTAssertEqual(curve.last, r.items[0].remaining)
        XCTAssertEqual(r.items[0].remaining, 0, "9,000 units against ~13,000 requests sell out")
    }

    /// `--rate max` has no phases in time: no phase lines, no phase in the intervals.
    func testAMaxRateRunHasNoPhases() throws {
        let profile = try LoadProfile.parse(yaml: yaml, file: "phases-test.yaml")
        var c = RunConfiguration(profile: profile, profileLabel: "phases-test.yaml", rate: .max, lanes: 2, durability: .batch)
        c.timelineInterval = 0.3
        let r = try RunSession(c, diagnostics: { _ in }).execute().report
        XCTAssertNil(r.phases)
        XCTAssertTrue((r.timeline ?? []).allSatisfy { $0.phase == nil })
    }
}
