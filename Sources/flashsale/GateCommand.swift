import ArgumentParser
import FlashSaleCore
import FlashSaleRun
import Foundation
import LoadGen
import OrderLog
import Pipeline
import Reports

/// `flashsale gate`: a CI performance gate over repeated runs.
struct GateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "Run a profile several times and fail (exit 99) when thresholds or a baseline are not met.",
        discussion: """
        Thresholds are written like k6's: METRIC OP VALUE, e.g. 'decisions_per_second>2000000', 'p99<5ms', \
        'outcome.OVERLOAD==0', 'outcome_share.SOLD_OUT<90%', 'peak_rss<1GiB'. Metric names are the JSON \
        report's (docs/report.md); k6's p(99) and 0.13's decisions_per_s are read too. Latency bounds need a \
        unit (us, ms, s): a bare number is refused, since k6 would read it as ms; verdicts show µs, as every \
        latency flashsale writes. A percentage applies only to outcome_share.* (a share of decisions). \
        Metrics: \(GateMetric.catalogue).
        A baseline is compared only with runs of the same profile (or capture), lanes, rate (or replay speed), \
        durability, LZ4 acceleration and latency kind (--rate max measures queueing); it is not written from \
        runs that offered nothing or failed their invariants.
        Every metric is judged on its median over --runs runs (noisy machines: compare medians, not single runs).
        With --baseline FILE the median throughput and p50/p99 latency are compared with the stored ones \
        (latency may rise to baseline × (1 + tolerance), throughput may fall to baseline ÷ (1 + tolerance): \
        with 10%, to 90.9%); --update-baseline writes the file instead.
        Every run's invariants must pass too.
        Exit codes: 0 pass, 99 a threshold or baseline check failed, 2 bad arguments, 3 a run failed.
        """)

    @Argument(help: "Load profile (default: the built-in default). With --replay: the capture's campaign.")
    var profile: String?

    @Option(help: "Gate a replay of this capture instead of the profile's generated traffic (paced as recorded, or --rate).")
    var replay: String?

    @Option(help: "With --replay: speed multiplier for the recorded gaps.")
    var speed: Double?

    @Option(name: .customLong("check"), help: "A threshold, e.g. 'p99<5ms'. Repeatable.")
    var checks: [String] = []

    @Option(help: "Baseline JSON to compare with (written by --update-baseline).")
    var baseline: String?

    @Option(help: "Allowed regression against the baseline, e.g. 10% (or 0.1): a factor of 1 + tolerance worse.")
    var tolerance: String = "10%"

    @Flag(help: "Write the measured medians to --baseline instead of comparing.")
    var updateBaseline = false

    @Option(help: "How many runs; the medians are judged.")
    var runs: Int = 3

    @Option(help: "Arrival rate: 'max' or requests per second.")
    var rate: RateOption?

    @Option(help: "Run length in seconds.")
    var duration: Double?

    @Option(help: "Lanes. Default: active cores.")
    var lanes: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Random seed (default: the profile's).")
    var seed: UInt64?

    @Option(help: "none, batch or sync.")
    var durability: Durability = .batch

    @Option(name: .customLong("lz4-acceleration"),
            help: "LZ4 acceleration of the journal's blocks, 1...65537 (as for run): gate the journal you deploy.")
    var lz4Acceleration: Int32 = 1

    @OptionGroup(title: "Against a running server")
    var target: TargetArguments

    @Option(help: "Write the median run's JSON report here.")
    var report: String?

    @Option(help: ArgumentHelp("Write the verdict as JUnit XML here: one test case per check, a failure naming what was expected and measured (for CI test reports).", valueName: "file.xml"))
    var junit: String?

    @Option(help: ArgumentHelp("Write the verdict as JSON here: every check with its expected and measured values and its verdict.", valueName: "file.json"))
    var json: String?

    @Option(help: ArgumentHelp("Test seam: busy nanoseconds added per request in every lane.", visibility: .hidden))
    var injectLaneDelayNs: UInt64 = 0

    /// The rate as a baseline records it: "max", "profile" (the profile's phases, or a replay's recorded pace) or "N/s".
    var rateLabel: String {
        switch rate {
        case .max: "max"
        case .perSecond(let r): "\(r)/s"
        case nil: speed.map { "recorded × \($0)" } ?? "profile"
        }
    }

    mutating func validate() throws {
        try PipelineRunOptions.checkOutputPath(report, option: "--report", inputs: [profile, replay, baseline])
        try PipelineRunOptions.checkOutputPath(junit, option: "--junit", inputs: [profile, replay, baseline])
        try PipelineRunOptions.checkOutputPath(json, option: "--json", inputs: [profile, replay, baseline])
        try PipelineRunOptions.checkDistinct([("--report", report), ("--junit", junit), ("--json", json), ("--baseline", updateBaseline ? baseline : nil)])
        if updateBaseline {
            // Written after all the runs: refused now, not after minutes of measuring.
            try PipelineRunOptions.checkOutputPath(baseline, option: "--baseline", inputs: [profile, replay])
        }
        try PipelineRunOptions.checkDuration(duration)
        if replay != nil && duration != nil { throw ValidationError("--duration does not go with --replay: a replay lasts as long as its capture") }
        if runs < 1 || runs > 99 { throw ValidationError("--runs must be 1...99") }
        try PipelineRunOptions.checkLZ4Acceleration(lz4Acceleration)
        if lanes < 1 || lanes > 64 { throw ValidationError("--lanes must be between 1 and 64") }
        if updateBaseline && baseline == nil { throw ValidationError("--update-baseline needs --baseline FILE") }
        if speed != nil && replay == nil { throw ValidationError("--speed goes with --replay") }
        try PipelineRunOptions.checkReplayPacing(speed: speed, rate: rate)
        if checks.isEmpty && baseline == nil { throw ValidationError("nothing to check: give --check THRESHOLD and/or --baseline FILE") }
        for c in checks { do { _ = try GateThreshold(parsing: c) } catch { throw ValidationError("\(error)") } }
        do { _ = try Gate.parseTolerance(tolerance) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let thresholds = try checks.map { try GateThreshold(parsing: $0) }
        let tol = try Gate.parseTolerance(tolerance)
        var stored: GateBaseline?
        if let baseline, !updateBaseline {
            do { stored = try GateBaseline.load(baseline) } catch {
                FileHandle.standardError.write("flashsale: \(error)\n")
                throw ExitCodes.badInput
            }
        }
        let named = try LoadedProfile(path: profile, generatesTraffic: replay == nil)
        let loaded = named.profile, profileLabel = named.label
        let label = replay.map { "replay:\($0) on \(profileLabel)" } ?? profileLabel
        // The workload by content: the profile's text, and a replay's capture.
        let workload = named.contentDigest + (replay.flatMap { FileManager.default.contents(atPath: $0) }.map { "+" + LoadedProfile.digest($0) } ?? "")
        func refuse(_ why: String) throws -> Never {
            FileHandle.standardError.write("flashsale: baseline \(baseline ?? ""): \(why); compare like with like, or write a new one with --update-baseline\n")
            throw ExitCodes.badInput
        }
        // The pace every run of this gate uses (replays included): it decides what latency measures.
        let pace: PipelineOptions.Pace = rate == .max ? .max : .open
        let latencyKind = pace.latencyKind
        if let stored, let why = stored.mismatch(profile: label, latencyKind: latencyKind, durability: durability.rawValue,
                                                 lz4Acceleration: Int(lz4Acceleration), lanes: lanes, rate: rateLabel,
                                                 workload: workload) { try refuse(why) }
        var reports: [RunReport] = []
        var latencies: [LatencyRecorder] = []
        if target.options != nil && runs > 1 {
            FileHandle.standardError.write("gate: note: every run sends the same request ids; a server that keeps its campaign answers "
                                           + "runs 2…\(runs) as retransmits (DUPLICATE): restart it between gates, or give each run its own server\n")
        }
        for i in 1...runs {
            var run = RunConfiguration(profile: loaded, profileLabel: label, rate: rate, duration: duration, lanes: lanes,
                                       seed: seed, durability: durability)
            run.lz4Acceleration = lz4Acceleration
            run.injectedLaneDelayNanos = injectLaneDelayNs
            run.target = target.options
            var execution = RunExecution(configuration: run, progress: .never)
            if let replay {
                // A replay source is consumed by a run: open the capture afresh each time.
                execution.configuration.source = try ReplayCommand.makeSource(capture: replay, loaded: loaded, profileLabel: profileLabel,
                                                                speed: speed, rate: rate, maxIdle: nil, loop: 1, filter: [], force: false,
                                                                fix: "give the gate the profile it was captured with (its PROFILE argument)")
                execution.configuration.paceOverride = pace
            }
            let outcome = try execution.execute()
            if outcome.interrupted {
                // A run cut short by Ctrl-C measures nothing comparable: no verdict, and the gate ends.
                FileHandle.standardError.write("gate: interrupted during run \(i)/\(runs); no verdict\n")
                throw outcome.interruptedExit
            }
            let r = outcome.report
            FileHandle.standardError.write("gate: run \(i)/\(runs): \(SummaryFormatter.human(r.decisionsPerSecond)) decisions/s, "
                                           + "p99 \(GateMetric.latencyPercentile(99).format(Double(r.latencyMicros.p99))) (\(r.latencyMicros.kind)), "
                                           + (r.target.map { "answered \($0.answered)/\($0.sent)" } ?? "invariants \(r.invariants.passed ? "pass" : "FAIL")") + "\n")
            reports.append(r)
            latencies.append(outcome.latency)
        }
        do {
            if let path = report {
                let medianRun = reports.sorted { $0.decisionsPerSecond < $1.decisionsPerSecond }[reports.count / 2]
                try RunExecution.Outcome.writeOutput(try medianRun.jsonData(), to: path, option: "--report")
            }
            if updateBaseline, let baseline {
                // A baseline from runs that offered nothing (latency 0) or broke the invariants would fail,
                // or pass, every later gate for the wrong reason.
                let next = Gate.baseline(from: reports, profile: label, rate: rateLabel, workload: workload)
                let failedChecks = Gate.evaluate(thresholds: thresholds, reports: reports, latencies: latencies, baseline: nil, tolerance: tol)
                    .filter { !$0.passed }
                if let bad = reports.first(where: { $0.requests == 0 || !$0.invariants.passed }) {
                    FileHandle.standardError.write("gate: baseline not written: a run " + (bad.requests == 0 ? "offered no request" : "failed its invariants") + "\n")
                } else if let failed = failedChecks.first {
                    // A baseline measured on runs that fail their own checks would make the failure the norm.
                    FileHandle.standardError.write("gate: baseline not written: the runs fail \(failed.check) (measured \(failed.measured))\n")
                } else if let why = next.unusableMetric() {
                    // What loading would refuse is not written either.
                    FileHandle.standardError.write("gate: baseline not written: \(why)\n")
                } else {
                    try next.write(baseline)
                    FileHandle.standardError.write("gate: baseline written to \(baseline)\n")
                }
            }
        } catch let e as ExitCode {
            throw e   // writeOutput has said what failed
        } catch {
            FileHandle.standardError.write("flashsale: cannot write \(error)\n")
            throw ExitCodes.runtimeFailure
        }
        let results = Gate.evaluate(thresholds: thresholds, reports: reports, latencies: latencies, baseline: stored, tolerance: tol)
        FileHandle.standardOutput.write(Gate.table(results))
        let seconds = reports.reduce(0) { $0 + $1.durationSeconds }
        if let junit {
            try RunExecution.Outcome.writeOutput(Data(GateVerdict.junitXML(results, name: label, seconds: seconds).utf8), to: junit, option: "--junit")
        }
        if let json {
            do {
                try RunExecution.Outcome.writeOutput(try GateVerdict.json(results, profile: label, runs: reports.count), to: json, option: "--json")
            } catch let e as ExitCode { throw e } catch {
                FileHandle.standardError.write("flashsale: --json: \(error)\n")
                throw ExitCodes.runtimeFailure
            }
        }
        if results.contains(where: { !$0.passed }) { throw ExitCodes.gateFailed }
    }
}
