import ArgumentParser
import FlashSaleCore
import FlashSaleRun
import Foundation
import LoadGen
import OrderLog
import Pipeline
import Reports

/// `flashsale run [PROFILE]`: a load test of one profile through the whole pipeline.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a load profile through the pipeline and report throughput, latency and stock.",
        discussion: """
        Without PROFILE, runs the built-in default: a short version of LoadProfiles/kaigong-opening.yaml.
        Requests follow the profile's arrival rate (open model: latency is measured from each request's \
        intended send time, so a stalled pipeline cannot hide its queueing). With --rate max they are sent \
        as fast as the pipeline takes them and latency is queueing time inside the pipeline.
        After the run the invariants (no oversell, initial = remaining + held + sold for every item) are \
        checked from the ledger and from the segments read back; the exit code is 1 if either fails.
        Starting on a --segments directory that already holds records continues that campaign.
        """)

    @Argument(help: "A load profile (YAML, see docs/profiles.md). Default: the built-in kaigong-opening demo.")
    var profile: String?

    @Option(help: ArgumentHelp("Arrival rate: 'max' (as fast as possible) or requests per second from 0.001 to 1G, e.g. 200000 or 200k (replaces the profile's phases).", valueName: "max|n"))
    var rate: RateOption?

    @Option(help: ArgumentHelp("Run length in seconds (the profile's phases are scaled to it).", valueName: "seconds"))
    var duration: Double?

    @Option(help: ArgumentHelp("Random seed (default: the profile's).", valueName: "n"))
    var seed: UInt64?

    @OptionGroup(title: "Pipeline and reports")
    var pipeline: PipelineRunOptions

    @Option(help: ArgumentHelp("Write every request sent into this capture file (docs/capture-format.md), for `flashsale replay`.", valueName: "file"))
    var capture: String?

    mutating func validate() throws {
        try PipelineRunOptions.checkOutputPath(capture, option: "--capture", inputs: [profile], replacedByRename: true)
        try pipeline.checkOutputs(notOverwriting: [profile], others: [("--capture", capture)])
        try PipelineRunOptions.checkDuration(duration)
    }

    func run() throws {
        let named = try LoadedProfile(path: profile)
        let loaded = named.profile, profileLabel = named.label
        var execution = RunExecution(configuration: pipeline.configuration(profile: loaded, label: profileLabel, rate: rate,
                                                                           duration: duration, seed: seed),
                                     progress: pipeline.progress, timeline: pipeline.timeline)
        var capturing: CapturingSource?
        if let capture {
            var constantRate: Double?
            if case .perSecond(let r) = rate { constantRate = r }
            let generator = TrafficGenerator(profile: loaded, seed: seed ?? loaded.seed, durationSeconds: duration,
                                             constantRate: constantRate)
            do {
                let writer = try CaptureWriter(path: capture, campaignFingerprint: loaded.campaign.fingerprint,
                                               label: "\(loaded.name) seed \(seed ?? loaded.seed)")
                capturing = CapturingSource(generator, writer: writer)
            } catch {
                FileHandle.standardError.write("flashsale: --capture: \(error)\n")
                throw ExitCodes.runtimeFailure
            }
            execution.configuration.source = capturing
        }
        let outcome: RunExecution.Outcome
        do {
            outcome = try execution.execute()
        } catch {
            // Refused or failed: an existing capture file stays as it was.
            capturing?.writer.discard()
            throw error
        }
        // A capture that could not be written does not cost the run its summary and report.
        var captureFailure: Error?
        if let capturing {
            do { try capturing.close() } catch {
                captureFailure = error
                capturing.writer.discard()   // no partial capture left behind (a complete one that could not be renamed stays)
            }
        }
        try outcome.write(report: pipeline.report, hgrm: pipeline.hgrm, json: pipeline.json, html: pipeline.html)
        if let capturing {
            if let captureFailure {
                FileHandle.standardError.write("flashsale: --capture \(capturing.writer.path): \(captureFailure); "
                    + (capturing.writer.completeButNotInPlace.map { "the complete capture is in \($0)" }
                       ?? "no capture written (an existing file is unchanged)") + "\n")
            } else {
                FileHandle.standardError.write("flashsale: captured \(SummaryFormatter.count(Int(capturing.writer.count), "request")) into \(capturing.writer.path)"
                                               + " (\(capturing.writer.bytesWritten) bytes)\n")
            }
        }
        if !outcome.report.invariants.passed {
            FileHandle.standardError.write("flashsale: INVARIANTS FAILED (see the summary)\n")
            throw ExitCodes.checkFailed
        }
        if captureFailure != nil { throw ExitCodes.runtimeFailure }
        if outcome.interrupted { throw outcome.interruptedExit }
    }
}

enum ProgressMode: String, ExpressibleByArgument, CaseIterable { case auto, always, never }

/// `--rate max` or `--rate 20000`.
typealias RateOption = RunRate

extension RunRate: ExpressibleByArgument {
    public init?(argument: String) {
        if argument.lowercased() == "max" { self = .max; return }
        var text = argument.lowercased()
        if text.hasSuffix("/s") { text.removeLast(2) }
        var factor = 1.0
        if text.hasSuffix("k") { factor = 1e3; text.removeLast() } else if text.hasSuffix("m") { factor = 1e6; text.removeLast() }
        // 1G/s bounds the schedule's arithmetic; one machine generates ~5M/s. Below 0.001/s nothing is sent.
        guard let v = Double(text), v * factor >= 0.001, v * factor <= 1e9 else { return nil }
        self = .perSecond(v * factor)
    }
}

extension Durability: ExpressibleByArgument {}
extension SegmentIO: ExpressibleByArgument {}
extension PipelineOptions.OverloadPolicy: ExpressibleByArgument {}

extension FileHandle {
    func write(_ s: String) { write(s.data(using: .utf8)!) }
}
