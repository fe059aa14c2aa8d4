import ArgumentParser
import FlashSaleCore
import FlashSaleRun
import Foundation
import LoadGen
import OrderLog
import Pipeline
import Reports

/// `flashsale replay CAPTURE`: sends captured traffic through the pipeline again, faster or slower.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a capture (from `run --capture` or `capture import`) through the pipeline.",
        discussion: """
        Pacing: by default each request is sent after its recorded gap (the difference of the recorded \
        intended send times), so the replay takes as long as the capture; --speed X divides every gap by X \
        (--speed 2: twice as fast); --rate N sends N requests per second whatever the recorded gaps; \
        --rate max as fast as the pipeline takes them. --max-idle S caps every gap at S seconds of replay \
        time (a night without traffic does not make the replay wait).
        --loop N sends the capture N times: loop k (from 0) adds k × (largest request id in the capture) to \
        request ids and references, and k × (campaign-time span of the capture + 1 ms) to campaign times, so \
        loops are new orders later in the campaign, not retransmits (docs/capture-format.md, "Replay").
        The campaign comes from --profile (default: the built-in default profile). A capture records the \
        fingerprint of the campaign it was made for; another campaign is refused (exit 2) unless --force.
        Replaying a capture of a one-lane run with one lane reproduces its decisions exactly.
        """)

    @Argument(help: "A capture file.")
    var capture: String

    @Option(help: "Speed multiplier: recorded send gaps are divided by X (default 1: as recorded).")
    var speed: Double?

    @Option(help: "Fixed rate instead of the recorded gaps: requests per second, or 'max'.")
    var rate: RateOption?

    @Option(help: "Cap every gap of the replay at S seconds.")
    var maxIdle: Double?

    @Option(help: "Send the capture N times (fresh request ids and later campaign times each loop).")
    var loop: Int = 1

    @Option(help: ArgumentHelp("Only send matching requests: offer=NAME|INDEX[,…], org=ID[,…], kind=buy|confirm|cancel[,…]. Repeat to combine: every field given must match; values of one field, in one --filter or repeated, are alternatives (kind=buy --filter kind=cancel sends both).",
                               valueName: "field=values"))
    var filter: [String] = []

    @Option(help: "The campaign's profile (YAML). Default: the built-in default profile.")
    var profile: String?

    @Flag(help: "Replay even if the capture was made for another campaign (fingerprint differs).")
    var force = false

    @OptionGroup(title: "Pipeline and reports")
    var pipeline: PipelineRunOptions

    mutating func validate() throws {
        try PipelineRunOptions.checkReplayPacing(speed: speed, rate: rate)
        if let m = maxIdle, !(m >= 0 && m.isFinite) { throw ValidationError("--max-idle must be ≥ 0 seconds (got \(m))") }
        if loop < 1 { throw ValidationError("--loop must be ≥ 1 (got \(loop))") }
        try pipeline.checkOutputs(notOverwriting: [capture, profile])
    }

    func run() throws {
        let named = try LoadedProfile(path: profile, generatesTraffic: false)
        let loaded = named.profile, profileLabel = named.label
        let source = try Self.makeSource(capture: capture, loaded: loaded, profileLabel: profileLabel,
                                         speed: speed, rate: rate, maxIdle: maxIdle, loop: loop, filter: filter, force: force)
        let pace: PipelineOptions.Pace = rate == .max ? .max : .open
        var execution = RunExecution(configuration: pipeline.configuration(profile: loaded, label: "replay:\(capture) on \(profileLabel)",
                                                                           rate: rate == .max ? .max : nil, duration: nil, seed: nil),
                                     progress: pipeline.progress, timeline: pipeline.timeline)
        execution.configuration.source = source
        execution.configuration.paceOverride = pace
        let outcome = try execution.execute()
        if let failure = source.failure {
            FileHandle.standardError.write("flashsale: the capture changed or broke during the replay: \(failure)\n")
            throw ExitCodes.runtimeFailure
        }
        if outcome.report.requests == 0 && !filter.isEmpty && !outcome.interrupted {
            FileHandle.standardError.write("flashsale: warning: no request of \(capture) passed --filter \(filter.joined(separator: " --filter "))\n")
        }
        try outcome.write(report: pipeline.report, hgrm: pipeline.hgrm, json: pipeline.json, replay: true, html: pipeline.html)
        FileHandle.standardError.write("flashsale: replayed \(source.offered) requests (\(source.requestsPerLoop) per loop × \(loop)) from \(capture)\n")
        if !outcome.report.invariants.passed {
            FileHandle.standardError.write("flashsale: INVARIANTS FAILED (see the summary)\n")
            throw ExitCodes.checkFailed
        }
        if outcome.interrupted { throw outcome.interruptedExit }
    }

    /// Opens `capture` as a replay source for `loaded`'s campaign, checking filters and the campaign
    /// fingerprint; prints the problem and throws the exit code (2) when it cannot.
    static func makeSource(capture: String, loaded: LoadProfile, profileLabel: String, speed: Double?, rate: RateOption?,
                           maxIdle: Double?, loop: Int, filter: [String], force: Bool,
                           fix: String = "pass the profile it was captured with (--profile) or --force") throws -> ReplaySource {
        var options = ReplayOptions(speed: speed ?? 1, maxIdleSeconds: maxIdle, loops: loop)
        if case .perSecond(let r) = rate { options.rate = r }
        let offerNames = loaded.campaign.offers.map(\.name)
        do {
            for clause in filter { try options.filter.add(clause, offerNames: offerNames) }
        } catch {
            FileHandle.standardError.write("flashsale: \(error)\n")
            throw ExitCodes.badInput
        }
        let source: ReplaySource
        try requireRegularCapture(capture)
        do {
            source = try ReplaySource(path: capture, options: options)
        } catch let e as SegmentError {
            if case .io = e { FileHandle.standardError.write("flashsale: cannot read the capture: \(e)\n") } else {
                FileHandle.standardError.write("flashsale: the capture is damaged: \(e)\n")
            }
            throw ExitCodes.badInput
        } catch {
            FileHandle.standardError.write("flashsale: \(error)\n")
            throw ExitCodes.badInput
        }
        let mine = loaded.campaign.fingerprint
        if let theirs = source.summary.header.campaignFingerprint, theirs != mine {
            let hex = { (v: UInt64) in String(v, radix: 16) }
            let message = "\(capture) was captured for campaign \(hex(theirs)) (\(source.summary.header.label)), "
                + "the profile \(profileLabel) is campaign \(hex(mine)) (\(loaded.campaign.name))"
            if !force {
                FileHandle.standardError.write("flashsale: \(message); \(fix)\n")
                throw ExitCodes.badInput
            }
            FileHandle.standardError.write("flashsale: warning: \(message); replaying anyway (--force)\n")
        }
        return source
    }
}
