import ArgumentParser
import Foundation
import Reports

/// `flashsale compare A.json B.json`: two runs' reports side by side.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two run reports (or two sets of runs): throughput, each percentile, outcomes, memory, journal bytes.",
        discussion: """
        A and B are JSON reports written by `run --report` (or `replay`, `gate --report`). A file may also \
        hold a JSON array of reports, several runs of one configuration: each metric is then the median, \
        shown with the runs' spread [min…max], and a difference inside either side's spread is marked \
        "within noise". Latency is lower-is-better, throughput higher-is-better: a difference says \
        better or worse. Exit codes: 0 compared, 2 a file that cannot be read or is not a report.
        """)

    @Argument(help: "The first report (the baseline).")
    var a: String

    @Argument(help: "The second report (the candidate).")
    var b: String

    func run() throws {
        let runsA: [RunReport], runsB: [RunReport]
        do {
            runsA = try RunComparison.load(a)
            runsB = try RunComparison.load(b)
        } catch {
            FileHandle.standardError.write("flashsale: compare: \(error)\n")
            throw ExitCodes.badInput
        }
        let c = RunComparison(a: runsA, b: runsB)
        FileHandle.standardOutput.write(c.table(aName: "A", bName: "B"))
        FileHandle.standardOutput.write("A: \(a) (\(describe(runsA)))\nB: \(b) (\(describe(runsB)))\n")
    }

    private func describe(_ runs: [RunReport]) -> String {
        let r = runs[0]
        var s = "\(r.profile), \(runs.count == 1 ? "1 run" : "\(runs.count) runs")"
        if let m = r.metadata { s += ", \(m.startedAt), \(m.cpuModel)" + (m.commit.map { ", \($0.prefix(12))" } ?? "") }
        return s
    }
}
