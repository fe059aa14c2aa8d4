import ArgumentParser
import FlashSaleCore
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

    @Option(help: "Arrival rate: 'max' (as fast as possible) or requests per second (replaces the profile's phases).")
    var rate: RateOption?

    @Option(help: "Run length in seconds (the profile's phases are scaled to it).")
    var duration: Double?

    @Option(help: "Lanes (serial decision queues). Default: active cores.")
    var lanes: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Random seed (default: the profile's).")
    var seed: UInt64?

    @Option(help: "Segment directory (kept). Default: a temporary directory, removed after the run.")
    var segments: String?

    @Option(help: "none: the OS decides; batch: group commit (one fsync every few ms); sync: fsync before every acknowledgement.")
    var durability: Durability = .batch

    @Option(help: "When lanes are full: shed (outcome OVERLOAD) or wait (the source slows). Default: shed, or wait with --rate max.")
    var overload: PipelineOptions.OverloadPolicy?

    @Option(help: "Write the JSON report here (schema: docs/report.md).")
    var report: String?

    @Option(help: "Write the latency percentile spectrum here (HdrHistogram .hgrm, milliseconds).")
    var hgrm: String?

    @Option(help: "Live progress line: auto (on a terminal), always, never.")
    var progress: ProgressMode = .auto

    @Option(help: ArgumentHelp("Requests per lane batch (tuning).", visibility: .hidden))
    var batchSize: Int?

    @Option(help: ArgumentHelp("Batches in flight per lane (tuning).", visibility: .hidden))
    var batchesPerLane: Int?

    @Flag(help: "Print the JSON report on stdout instead of the summary.")
    var json = false

    @Option(help: "Write every request sent into this capture file (docs/capture-format.md), for `flashsale replay`.")
    var capture: String?

    mutating func validate() throws {
        if lanes < 1 || lanes > 64 { throw ValidationError("--lanes must be between 1 and 64 (got \(lanes))") }
        if let d = duration, !(d > 0) { throw ValidationError("--duration must be a positive number of seconds") }
    }

    func run() throws {
        let loaded: LoadProfile
        do {
            loaded = try profile.map { try LoadProfile.load(path: $0) } ?? LoadProfile.builtInDefault
        } catch {
            FileHandle.standardError.write("flashsale: \(error)\n")
            throw ExitCodes.badInput
        }
        var execution = RunExecution(profile: loaded, profileLabel: profile ?? "built-in:\(loaded.name)", rate: rate,
                                     duration: duration, lanes: lanes, seed: seed, segments: segments,
                                     durability: durability, overload: overload, progress: progress,
                                     batchSize: batchSize, batchesPerLane: batchesPerLane)
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
            execution.source = capturing
        }
        let outcome: RunExecution.Outcome
        do {
            outcome = try execution.execute()
        } catch {
            try? capturing?.close()
            throw error
        }
        if let capturing {
            do { try capturing.close() } catch {
                FileHandle.standardError.write("flashsale: --capture \(capturing.writer.path): \(error)\n")
                throw ExitCodes.runtimeFailure
            }
        }
        try outcome.write(report: report, hgrm: hgrm, json: json)
        if let capturing {
            FileHandle.standardError.write("flashsale: captured \(capturing.writer.count) requests into \(capturing.writer.path)"
                                           + " (\(capturing.writer.bytesWritten) bytes)\n")
        }
        if !outcome.report.invariants.passed {
            FileHandle.standardError.write("flashsale: INVARIANTS FAILED (see the summary)\n")
            throw ExitCodes.checkFailed
        }
    }
}

enum ProgressMode: String, ExpressibleByArgument, CaseIterable { case auto, always, never }

/// `--rate max` or `--rate 20000`.
enum RateOption: ExpressibleByArgument, Equatable {
    case max
    case perSecond(Double)

    init?(argument: String) {
        if argument.lowercased() == "max" { self = .max; return }
        var text = argument.lowercased()
        if text.hasSuffix("/s") { text.removeLast(2) }
        var factor = 1.0
        if text.hasSuffix("k") { factor = 1e3; text.removeLast() } else if text.hasSuffix("m") { factor = 1e6; text.removeLast() }
        guard let v = Double(text), v > 0, v.isFinite else { return nil }
        self = .perSecond(v * factor)
    }
}

extension Durability: ExpressibleByArgument {}
extension PipelineOptions.OverloadPolicy: ExpressibleByArgument {}

extension FileHandle {
    func write(_ s: String) { write(s.data(using: .utf8)!) }
}
