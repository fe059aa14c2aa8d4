import XCTest
import FlashSaleCore
@testable import LoadGen

/// The repository root (Tests/LoadGenTests/ThisFile.swift → ../..).
public let repoRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

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
}
