import Foundation
import FlashSaleTestSupport
import XCTest

/// `run --html FILE` (issue 14) opened in a real headless Chromium with the network cut: the rendered
/// page shows the JSON report's throughput, p99 and outcome counts, and no script error occurs.
final class HTMLReportBrowserTests: XCTestCase {
    func testTheHTMLReportRendersTheJSONReportsFigures() throws {
        let dir = CommandRunner.temporaryDirectory("html")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try CommandRunner.run(["run", "LoadProfiles/hardware-prestock.yaml", "--duration", "3", "--html", dir + "/r.html",
                                         "--report", dir + "/r.json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        if !FileManager.default.fileExists(atPath: "/usr/bin/chromium") {
            _ = CommandRunner.shell("/usr/bin/env", ["DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "chromium"])
        }
        let chromium = Process()
        chromium.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
        // No network: every host resolves nowhere and every request goes to a closed proxy.
        chromium.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                              "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--user-data-dir=" + dir + "/profile",
                              "--dump-dom", "file://" + dir + "/r.html"]
        let out = Pipe(), err = Pipe()
        chromium.standardOutput = out
        chromium.standardError = err
        try chromium.run()
        let dom = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        chromium.waitUntilExit()
        XCTAssertEqual(chromium.terminationStatus, 0, log)
        XCTAssertFalse(log.contains("Uncaught") || log.contains(":CONSOLE("), "script errors: \(log)")

        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))) as! [String: Any]
        func shown(_ id: String) -> String? {
            guard let r = dom.range(of: "id=\"\(id)\"") else { return nil }
            let after = dom[r.upperBound...]
            guard let gt = after.firstIndex(of: ">"), let lt = after[gt...].firstIndex(of: "<") else { return nil }
            return String(after[after.index(after: gt)..<lt])
        }
        let throughput = Int((report["decisions_per_second"] as! Double).rounded())
        XCTAssertEqual(shown("throughput"), "\(throughput)", dom.prefix(2000).description)
        let latency = report["latency_micros"] as! [String: Any]
        XCTAssertEqual(shown("p99"), "\(latency["p99"] as! Int)")
        XCTAssertEqual(shown("invariants"), "PASS")
        for (name, count) in report["outcomes"] as! [String: Int] where count > 0 {
            XCTAssertEqual(shown("outcome-\(name)"), "\(count)", name)
        }
        // The phase table and every item's units (the sell-out curve's end) equal the JSON's.
        let phases = try XCTUnwrap(report["phases"] as? [[String: Any]])
        XCTAssertFalse(phases.isEmpty)
        for p in phases {
            let k = p["index"] as! Int
            XCTAssertEqual(shown("phase-\(k)-offered"), "\(p["offered"] as! Int)", "phase \(k)")
            XCTAssertEqual(shown("phase-\(k)-p99"), "\((p["latency_micros"] as! [String: Any])["p99"] as! Int)", "phase \(k)")
        }
        for item in report["items"] as! [[String: Any]] {
            XCTAssertEqual(shown("remaining-\(item["id"] as! String)"), "\(item["remaining"] as! Int)")
        }
        XCTAssertTrue(dom.contains("sell-out curve"), "the remaining-stock chart is drawn")
        XCTAssertTrue(dom.contains("<svg"), "the charts were not rendered")
    }
}
