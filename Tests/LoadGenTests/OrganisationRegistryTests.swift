import FlashSaleCore
@testable import LoadGen
import XCTest

/// `serve --organisations FILE`: a registry read with every field checked and every problem located.
final class OrganisationRegistryTests: XCTestCase {
    let campaign = Campaign(name: "c", window: SaleWindow(opensMillis: 0, closesMillis: 1), regions: ["east", "north"],
                            items: [], offers: [], population: Population([]), tags: ["manufacturing", "large"])

    func testCSVAndNDJSONReadTheSameOrganisations() throws {
        let csv = "id,level,region,activated,tags\n2,advanced,north,true,manufacturing;large\n0,none,east,,\n1,basic,east,false,large\n"
        let ndjson = """
        {"id": 1, "level": "basic", "region": "east", "activated": false, "tags": "large"}
        {"id": 0, "level": "none", "region": "east"}

        {"id": 2, "level": "advanced", "region": "north", "activated": true, "tags": "manufacturing;large"}
        """
        let a = try OrganisationRegistry.parse(csv, file: "o.csv", campaign: campaign)
        let b = try OrganisationRegistry.parse(ndjson, file: "o.ndjson", campaign: campaign)
        XCTAssertEqual(a.organisations, b.organisations)
        XCTAssertEqual(a.organisations, [
            Organisation(level: .none, region: 0, activated: false, tags: 0),
            Organisation(level: .basic, region: 0, activated: false, tags: 0b10),
            Organisation(level: .advanced, region: 1, activated: true, tags: 0b11),
        ])
    }

    func testEveryProblemNamesTheFileLineAndField() {
        let cases: [(String, String)] = [
            ("id,level\n0,basic\n", "o.csv:1: header: missing column 'region'; expected id,level,region[,activated][,tags]"),
            ("id,level,region,colour\n", "o.csv:1: header: unknown column 'colour'; expected id, level, region, activated, tags"),
            ("id,level,region\n0,basic\n", "o.csv:2: line: 2 fields; the header has 3"),
            ("id,level,region\nx,basic,east\n", "o.csv:2: id: expected an organisation id, a non-negative integer, got 'x'"),
            ("id,level,region\n-1,basic,east\n", "o.csv:2: id: expected an organisation id, a non-negative integer, got '-1'"),
            ("id,level,region\n0,gold,east\n", "o.csv:2: level: expected none, basic, intermediate or advanced, got 'gold'"),
            ("id,level,region\n0,basic,west\n", "o.csv:2: region: expected one of the campaign's regions (east, north), got 'west'"),
            ("id,level,region,activated\n0,basic,east,maybe\n", "o.csv:2: activated: expected true or false, got 'maybe'"),
            ("id,level,region,tags\n0,basic,east,retail\n", "o.csv:2: tags: unknown tag 'retail'; expected campaign.tags: manufacturing, large"),
            ("id,level,region\n0,basic,east\n0,basic,east\n", "o.csv:3: id: 0 appears twice"),
            ("id,level,region\n0,basic,east\n5,basic,east\n", "o.csv:3: id: 5 with 2 organisations; ids are 0…1, each once"),
            ("id,level,region\n\"0,basic,east\n", "o.csv:2: line: unterminated quoted field 1"),
            ("id,level,region\n", "o.csv:0: file: no organisations"),
            ("{\"id\": 0, \"level\": \"basic\", \"region\": \"east\", \"size\": 3}\n", "o.csv:1: size: unknown field; expected id, level, region, activated, tags"),
            ("{\"id\": 0, \"level\": \"basic\"\n", "o.csv:1: line: expected ',' or '}' at column 27"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try OrganisationRegistry.parse(text, file: "o.csv", campaign: campaign), expected) { error in
                XCTAssertEqual("\(error)", expected)
            }
        }
    }
}
