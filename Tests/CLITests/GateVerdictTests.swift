import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import FlashSaleTestSupport
import XCTest

/// `gate --junit` and `--json` (issue 14): the verdict in the forms CI systems read.
final class GateVerdictTests: XCTestCase {
    /// A gate with one failing and one passing check: the JUnit file validates against the common JUnit
    /// XML schema (xmllint, Tests/CLITests/junit.xsd), has a test case per check, and names the failing
    /// one in its failure; the JSON has every check with expected, measured and verdict.
    func testJUnitAndJSONNameTheFailingCheck() throws {
        let dir = CommandRunner.temporaryDirectory("gate-verdict")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CommandRunner.run(["gate", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--runs", "1",
                                       "--check", "p(99)<1us", "--check", "requests>0",
                                       "--junit", dir + "/gate.xml", "--json", dir + "/gate.json"])
        XCTAssertEqual(r.status, 99, r.stderr + r.stdout)
        let xml = try String(contentsOfFile: dir + "/gate.xml", encoding: .utf8)

        if CommandRunner.shell("/usr/bin/which", ["xmllint"]) != 0 {
            _ = CommandRunner.shell("/usr/bin/env", ["DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "libxml2-utils"])
        }
        let schema = CommandRunner.root + "/Tests/CLITests/junit.xsd"
        XCTAssertEqual(CommandRunner.shell("/usr/bin/xmllint", ["--noout", "--schema", schema, dir + "/gate.xml"]), 0,
                       "the JUnit file does not validate:\n\(xml)")
        // A broken document must not validate (the check can fail).
        try xml.replacingOccurrences(of: "<testcase ", with: "<testcase bogus=\"1\" ").write(toFile: dir + "/bad.xml", atomically: true, encoding: .utf8)
        XCTAssertNotEqual(CommandRunner.shell("/usr/bin/xmllint", ["--noout", "--schema", schema, dir + "/bad.xml"]), 0)

        let doc = try XMLDocument(xmlString: xml)
        let cases = try doc.nodes(forXPath: "//testcase")
        XCTAssertEqual(cases.count, 4, xml)   // answers/invariants, runs offered requests, and the two checks
        let failed = try doc.nodes(forXPath: "//testcase[failure]").compactMap { ($0 as? XMLElement)?.attribute(forName: "name")?.stringValue }
        XCTAssertEqual(failed, ["p(99)<1us"], xml)
        let message = try doc.nodes(forXPath: "//failure/@message").first?.stringValue ?? ""
        XCTAssertTrue(message.contains("p(99)<1us") && message.contains("measured"), message)
        XCTAssertEqual(try doc.nodes(forXPath: "//testsuite/@failures").first?.stringValue, "1")

        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/gate.json"))) as! [String: Any]
        XCTAssertEqual(json["verdict"] as? String, "fail")
        let checks = json["checks"] as! [[String: String]]
        XCTAssertEqual(checks.count, 4)
        XCTAssertEqual(checks.first { $0["check"] == "p(99)<1us" }?["verdict"], "fail")
        XCTAssertEqual(checks.first { $0["check"] == "requests>0" }?["verdict"], "pass")
        XCTAssertNotNil(checks.first { $0["check"] == "p(99)<1us" }?["measured"])
    }
}
