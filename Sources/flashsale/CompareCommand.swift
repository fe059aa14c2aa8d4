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

    @Option(help: ArgumentHelp("Also write the comparison as one self-contained HTML page: the table, and A's and B's throughput, p99 over time and percentiles overlaid.", valueName: "file.html"))
    var html: String?

    func validate() throws {
        try PipelineRunOptions.checkOutputPath(html, option: "--html", inputs: [a, b])
    }

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
        FileHandle.standardOutput.write("A: \(a) (\(RunComparison.describe(runsA)))\nB: \(b) (\(RunComparison.describe(runsB)))\n")
        if let html {
            let page = ComparisonHTML.render(c, a: runsA, b: runsB, aName: a, bName: b)
            try RunExecution.Outcome.writeOutput(Data(page.utf8), to: html, option: "--html")
        }
    }
}
