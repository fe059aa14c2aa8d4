import FlashSaleTestSupport
import XCTest
import FlashSaleCore
@testable import LoadGen

/// A profile's `duration:` rescales its phases and the time scale with them, as `--duration` does: the
/// run covers the same campaign time. It used to keep the time scale, so a 160 s profile squeezed into
/// 20 s covered 09:58:00–09:58:20, its 10:00 spike never came, and almost every request was OUTSIDE_WINDOW.
final class DurationScalingTests: XCTestCase {
    /// Starts at 09:58; 160 s of phases with a spike at 120 s into the run (10:00, when the window opens).
    private func profile(duration: String?) throws -> LoadProfile {
        try LoadProfile.parse(yaml: """
        name: squeezed
        seed: 5
        \(duration.map { "duration: \($0)" } ?? "")
        campaign:
          window: { opens: "day 0 10:00", closes: "day 0 12:00" }
          regions: [east]
          items: [ { id: lic, kind: license, stock: 1000 } ]
          offers: [ { id: lic, kind: bundle, item: lic } ]
        population: { organisations: 1000 }
        traffic:
          start: "day 0 09:58"
          phases:
            - { constant: 100/s, for: 100s }
            - { spike: { base: 100/s, peak: 3000/s, at: 20s, rise: 2s }, for: 60s }
        """, file: "squeezed.yaml")
    }

    private func span(_ g: TrafficGenerator, window: SaleWindow) -> (first: Int64, last: Int64, outside: Double, count: Int) {
        let requests = drain(g)
        let outside = requests.filter { !window.contains($0.campaignTimeMillis) }.count
        return (requests.first!.campaignTimeMillis, requests.last!.campaignTimeMillis,
                Double(outside) / Double(requests.count), requests.count)
    }

    func testDurationKeyKeepsTheCampaignSpanAndTheOutsideWindowShare() throws {
        let plain = try profile(duration: nil)
        let squeezed = try profile(duration: "20s")
        XCTAssertEqual(squeezed.durationSeconds, 20)
        XCTAssertEqual(squeezed.traffic.timeScale, 8, accuracy: 1e-9)   // 160 s of campaign time in 20 s
        let window = plain.campaign.window
        let a = span(TrafficGenerator(profile: plain), window: window)
        let b = span(TrafficGenerator(profile: squeezed), window: window)
        // Same campaign span (09:58:00 … 10:00:40), within 2 s at either end.
        let start: Int64 = (9 * 60 + 58) * 60_000, end = start + 160_000
        for (label, s) in [("plain", a), ("duration 20s", b)] {
            XCTAssertEqual(Double(s.first), Double(start), accuracy: 2000, label)
            XCTAssertEqual(Double(s.last), Double(end), accuracy: 2000, label)
        }
        // The same share of requests falls before the window opens (about 10%), within 3 points.
        XCTAssertGreaterThan(a.outside, 0.03)
        XCTAssertLessThan(a.outside, 0.3)
        XCTAssertEqual(b.outside, a.outside, accuracy: 0.03, "plain \(a), squeezed \(b)")
        // 8× shorter at the same rates: about 1/8 of the requests.
        XCTAssertEqual(Double(b.count), Double(a.count) / 8, accuracy: Double(a.count) / 8 * 0.1)
        // --duration on top rescales from the same span.
        let c = span(TrafficGenerator(profile: squeezed, durationSeconds: 40), window: window)
        XCTAssertEqual(Double(c.last), Double(end), accuracy: 2000)
        XCTAssertEqual(c.outside, a.outside, accuracy: 0.03)
    }

    /// The shipped profiles' `duration:` equals their phases, so this changes none of them.
    func testShippedProfilesKeepTheirTimeScale() throws {
        let root = CommandRunner.root
        let written: [String: Double] = ["campaign-month": 72000, "ci-smoke": 100, "hardware-prestock": 20,
                                         "kaigong-opening": 1, "seckill-parity": 1]
        for (name, scale) in written {
            let p = try LoadProfile.load(path: "\(root)/LoadProfiles/\(name).yaml")
            XCTAssertEqual(p.traffic.timeScale, scale, accuracy: scale * 1e-9, name)
        }
        XCTAssertEqual(LoadProfile.builtInDefault.traffic.timeScale, 1, accuracy: 1e-9)
    }
}
