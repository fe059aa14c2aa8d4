import Foundation

/// A gate's verdict in the forms CI systems read: JUnit XML (one test case per check, a failure element
/// naming what was expected and measured) and JSON (every check with its expected and measured values).
public enum GateVerdict {
    /// The checks as a JUnit XML document (the common `testsuites/testsuite/testcase/failure` shape that
    /// Jenkins, GitLab and GitHub test reporters read). `name` names the suite (e.g. the profile).
    public static func junitXML(_ results: [GateCheckResult], name: String, seconds: Double, timestamp: Date = Date()) -> String {
        let failures = results.filter { !$0.passed }.count
        let stamp = ISO8601DateFormatter.string(from: timestamp, timeZone: TimeZone(identifier: "UTC")!,
                                                 formatOptions: [.withFullDate, .withFullTime, .withDashSeparatorInDate, .withColonSeparatorInTime])
            .replacingOccurrences(of: "Z", with: "")
        let time = String(format: "%.3f", seconds)
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x += "<testsuites name=\"flashsale gate\" tests=\"\(results.count)\" failures=\"\(failures)\" errors=\"0\" time=\"\(time)\">\n"
        x += "  <testsuite name=\"\(escape(name))\" tests=\"\(results.count)\" failures=\"\(failures)\" errors=\"0\" skipped=\"0\""
        x += " time=\"\(time)\" timestamp=\"\(stamp)\" hostname=\"\(escape(ProcessInfo.processInfo.hostName))\">\n"
        for r in results {
            x += "    <testcase classname=\"flashsale.gate\" name=\"\(escape(r.check))\" time=\"0\""
            if r.passed {
                x += "/>\n"
            } else {
                x += ">\n      <failure type=\"gate\" message=\"\(escape("\(r.check): expected \(r.expected), measured \(r.measured)"))\">"
                x += escape("expected \(r.expected)\nmeasured \(r.measured)") + "</failure>\n    </testcase>\n"
            }
        }
        x += "  </testsuite>\n</testsuites>\n"
        return x
    }

    /// The checks as JSON: `{"verdict": "pass"|"fail", "checks": [{"check", "expected", "measured", "verdict"}]}`.
    public static func json(_ results: [GateCheckResult], profile: String, runs: Int) throws -> Data {
        struct Check: Encodable { var check: String; var expected: String; var measured: String; var verdict: String }
        struct Document: Encodable { var profile: String; var runs: Int; var verdict: String; var checks: [Check] }
        let doc = Document(profile: profile, runs: runs, verdict: results.allSatisfy(\.passed) ? "pass" : "fail",
                           checks: results.map { Check(check: $0.check, expected: $0.expected, measured: $0.measured,
                                                       verdict: $0.passed ? "pass" : "fail") })
        return try ReportJSON.encoder().encode(doc)
    }

    /// XML text and attribute escaping (and no control character XML 1.0 forbids).
    static func escape(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n": out += "&#10;"
            case "\t": out += "&#9;"
            case _ where u.value < 0x20: out += "?"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }
}
