import FlashSaleCore
import Foundation
import LoadClient
import LoadGen
import OrderLog
import Pipeline
import Reports
import Synchronization

/// What one run is: a profile (or another source) through the pipeline, and how.
public struct RunConfiguration {
    public var profile: LoadProfile
    /// How the profile is named in the report and in messages (a path, or "built-in …").
    public var profileLabel: String
    /// nil: the profile's phases; `.max`: as fast as the pipeline takes them; `.perSecond`: a constant rate.
    public var rate: RunRate?
    /// Run length in seconds (the profile's phases are scaled to it).
    public var duration: Double?
    public var lanes: Int
    public var seed: UInt64?
    /// nil: a temporary journal, removed on every way out but SIGKILL.
    public var segments: String?
    public var durability: Durability
    public var lz4Acceleration: Int32 = 1
    /// How segment files are written (`--segment-io`).
    public var segmentIO: SegmentIO = .auto
    public var overload: PipelineOptions.OverloadPolicy?
    /// Report progress once a second (to the `progress` callback of `execute`).
    public var showProgress = false
    public var batchSize: Int?
    public var batchesPerLane: Int?
    /// Test hook: a slow lane (nanoseconds per request).
    public var injectedLaneDelayNanos: UInt64 = 0
    /// A source other than the profile's generator (a replay, a capturing generator).
    public var source: RequestSource?
    public var paceOverride: PipelineOptions.Pace?
    /// The timeline's interval in seconds, and a callback for each interval as it closes (`--timeline`).
    public var timelineInterval: Double = 1
    public var onTimelineInterval: (@Sendable (TimelineInterval) -> Void)?
    /// Load a running server instead of the in-process pipeline (`--target`): lanes, segments and
    /// durability are then the server's.
    public var target: TargetOptions?

    public init(profile: LoadProfile, profileLabel: String, rate: RunRate? = nil, duration: Double? = nil, lanes: Int,
                seed: UInt64? = nil, segments: String? = nil, durability: Durability) {
        self.profile = profile
        self.profileLabel = profileLabel
        self.rate = rate
        self.duration = duration
        self.lanes = lanes
        self.seed = seed
        self.segments = segments
        self.durability = durability
    }
}

/// `--rate max` or a constant rate in requests per second.
public enum RunRate: Equatable, Sendable {
    case max
    case perSecond(Double)
}

/// What a finished run gives back.
public struct RunOutcome {
    public var report: RunReport
    public var latency: LatencyRecorder
    /// The run was ended early by `stop()` (everything offered was still decided and journaled).
    public var interrupted = false
}

/// Why a run could not give a report. `badInput` (a profile or a directory that cannot be used) and
/// `runtimeFailure` (the disk, the system) map to the CLI's exit codes 2 and 3.
public struct RunFailure: Error, CustomStringConvertible {
    public enum Kind: Sendable { case badInput, runtimeFailure }
    public let kind: Kind
    /// One line, without the program's name.
    public let message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    public var description: String { message }
}

/// One run of a source through the pipeline with everything the README promises around it: the
/// temporary journal (removed on every way out), the audit of the segments read back, the report with its
/// invariants, and the warnings a user should hear (rate not reached, nothing offered, nothing left).
/// Shared by `run`, `replay` and `gate`, by the tests and by the benchmarks.
///
/// `execute` runs once, on the calling thread; `stop()` and `abandon()` may be called from any thread
/// (signal handlers).
public final class RunSession: @unchecked Sendable {  // `pipeline` is behind a Mutex; the rest is set once in init
    public let configuration: RunConfiguration
    /// Where the journal goes when the configuration names none (removed when the run ends).
    public let temporarySegments: String?
    /// Messages for the user (warnings, recovery, audit problems): one line each, without the program's name.
    private let diagnostics: @Sendable (String) -> Void
    /// The running pipeline (its `stop()` is thread-safe); set and read under `lock`.
    private let lock = Mutex(())
    nonisolated(unsafe) private var running: OrderPipeline?
    nonisolated(unsafe) private var client: TargetClient?
    private let stopRequested = Atomic<Bool>(false)

    public init(_ configuration: RunConfiguration, diagnostics: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.diagnostics = diagnostics
        temporarySegments = configuration.segments == nil ? OrderPipeline.temporaryDirectory() : nil
    }

    /// Ends the run early: no new requests are offered, what is in flight is decided, journaled and
    /// reported (`RunOutcome.interrupted`).
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        lock.withLock { _ in running?.stop(); client?.stop() }
    }

    /// Whether `stop()` was called.
    public var wasStopped: Bool { stopRequested.load(ordering: .acquiring) }

    /// For an abort (the process ends now): removes the temporary journal and an unfinished capture, and
    /// says what became of the segments.
    public func abandon() -> String {
        // An unfinished capture never replaces the file it was going to become.
        if let partial = (configuration.source as? CapturingSource)?.writer.partialPath { unlink(partial) }
        guard let temporarySegments else {
            return "segments left unsealed (the next run on them recovers what was written)"
        }
        return Self.removeTemporarySegments(temporarySegments) ? "temporary segments removed"
            : "could not remove the temporary segments \(temporarySegments)"
    }

    /// Runs to the end (or to `stop()`), reads the segments back and builds the report.
    /// - Parameter progress: called once a second on the journal's queue when `showProgress` is set.
    public func execute(progress: (@Sendable (ProgressSnapshot) -> Void)? = nil) throws(RunFailure) -> RunOutcome {
        let started = Date()
        var outcome = try run(progress: progress)
        outcome.report.metadata = RunMetadata.current(startedAt: started, interrupted: outcome.interrupted)
        return outcome
    }

    private func run(progress: (@Sendable (ProgressSnapshot) -> Void)?) throws(RunFailure) -> RunOutcome {
        let c = configuration
        let rules: CampaignRules
        do { rules = try CampaignRules(c.profile.campaign) } catch {
            throw RunFailure(.badInput, "\(c.profileLabel): \(error)")
        }
        if let target = c.target { return try executeTarget(target, rules: rules, progress: c.showProgress ? progress : nil) }
        let effectiveSeed = c.seed ?? c.profile.seed
        let pace: PipelineOptions.Pace = c.paceOverride ?? (c.rate == .max ? .max : .open)
        var writer = SegmentWriterOptions()
        writer.durability = c.durability
        writer.acceleration = c.lz4Acceleration
        var options = PipelineOptions(lanes: c.lanes, pace: pace, overloadPolicy: c.overload, segmentsDirectory: c.segments,
                                      writer: writer, batchCapacity: c.batchSize, batchesPerLane: c.batchesPerLane,
                                      progressInterval: c.showProgress ? 1.0 : nil)
        options.injectedLaneDelayNanos = c.injectedLaneDelayNanos
        options.segmentIO = c.segmentIO
        options.timelineInterval = c.timelineInterval
        options.onTimelineInterval = c.onTimelineInterval
        if let temporarySegments { options.segmentsDirectory = temporarySegments }
        defer { if let temporarySegments { _ = Self.removeTemporarySegments(temporarySegments) } }
        let source = makeSource(seed: effectiveSeed)
        var phaseLabels: [String] = []
        if pace == .open, let generator = source as? TrafficGenerator {
            // The timeline is cut at each phase's start; the report then has a line per phase.
            options.timelinePhaseStartsSeconds = generator.phaseStartsSeconds
            phaseLabels = generator.phases.map(\.summary)
        }
        let run = OrderPipeline(rules: rules, options: options)
        lock.withLock { _ in running = run }
        if wasStopped { run.stop() }   // stopped before the pipeline existed
        let result: PipelineResult
        do {
            result = try run.run(source: source, progress: c.showProgress ? progress : nil)
        } catch let e as PipelineError {
            switch e {
            case .logDoesNotMatchCampaign, .journalCannotBeResumed: throw RunFailure(.badInput, "\(e)")
            case .journalFailed, .cannotWrite: throw RunFailure(.runtimeFailure, "\(e)")   // I/O
            }
        } catch let e as SegmentError {
            // A damaged or foreign --segments directory is bad input (2), like another campaign's; a
            // failing disk is a runtime failure (3).
            var message = "\(e)"
            if case .io(let file, _, let operation, let code) = e, [EROFS, EPERM, EACCES].contains(code),
               !["read", "fstat", "opendir", "lseek"].contains(operation) {
                // A read-only, immutable or forbidden directory: one line naming the file (exit 3, I/O).
                message = "cannot write \(file): \(String(cString: strerror(code)))"
            }
            // A directory or a symlink loop where a segment file should be is a damaged directory too.
            if case .io(_, _, _, let code) = e, code != EISDIR && code != ELOOP { throw RunFailure(.runtimeFailure, message) }
            throw RunFailure(.badInput, message)
        } catch {
            throw RunFailure(.runtimeFailure, "\(error)")
        }
        if result.recovery.cutBytes > 0 {
            // Whether the cut records had been acknowledged depends on the durability of the run that
            // wrote them (segments do not record it), so the message does not claim either way.
            let records = result.recovery.cutRecords.map { "\($0) records by the cut blocks' headers" }
                ?? "record count unknown: no readable block header at the cut"
            diagnostics("recovered \(result.segmentsDirectory): cut a torn tail of \(result.recovery.cutBytes) bytes (" + records + ")")
        }
        let audit: SegmentAudit?
        do {
            audit = try SegmentAudit.read(directory: result.segmentsDirectory, rules: rules,
                                          countingAfter: result.resumedLastSequence)
        } catch {
            diagnostics("reading back \(result.segmentsDirectory) failed: \(error)")
            audit = nil
        }
        var report = ReportBuilder.build(profile: c.profileLabel, seed: effectiveSeed, options: options, rules: rules,
                                         result: result, audit: audit, keepSegments: c.segments != nil, phaseLabels: phaseLabels)
        if audit == nil { report.invariants.segmentMismatches += 1 }
        warn(report: report, result: result, audit: audit, rules: rules, pace: pace, stopped: run.wasStopped)
        return RunOutcome(report: report, latency: result.latency, interrupted: run.wasStopped)
    }

    /// The configuration's source, or the profile's generator at its rate and length.
    private func makeSource(seed: UInt64) -> RequestSource {
        let c = configuration
        if let given = c.source { return given }
        var constantRate: Double?
        if case .perSecond(let r) = c.rate { constantRate = r }
        return TrafficGenerator(profile: c.profile, seed: seed, durationSeconds: c.duration, constantRate: constantRate)
    }

    /// A `--target` run: the source through a `TargetClient` against a running server.
    private func executeTarget(_ given: TargetOptions, rules: CampaignRules,
                               progress: (@Sendable (ProgressSnapshot) -> Void)?) throws(RunFailure) -> RunOutcome {
        let c = configuration
        let effectiveSeed = c.seed ?? c.profile.seed
        var options = given
        options.pace = c.paceOverride ?? (c.rate == .max ? .max : .open)
        let campaign = rules.campaign
        options.campaignFingerprint = campaign.fingerprint
        options.timelineIntervalNanos = UInt64(max(0.01, c.timelineInterval) * 1e9)
        options.onTimelineInterval = c.onTimelineInterval
        if options.url.scheme == .http {
            // Before anything is sent: the server runs this campaign, and says where campaign time comes from.
            let probe: ServerProbe
            do { probe = try ServerProbe.probe(host: options.url.host, port: options.url.port) } catch {
                throw RunFailure(.runtimeFailure, error.message)
            }
            if let f = probe.fingerprint, f != campaign.fingerprint {
                throw RunFailure(.badInput, "\(options.url) serves another campaign (fingerprint \(String(f, radix: 16)), "
                                 + "\(c.profileLabel) has \(String(campaign.fingerprint, radix: 16))): start it with the same profile")
            }
            options.sendsCampaignTime = probe.clockFromRequests
        }
        let source = makeSource(seed: effectiveSeed)
        let client = TargetClient(options: options, offerNames: campaign.offers.map(\.name))
        lock.withLock { _ in self.client = client }
        if wasStopped { client.stop() }
        let result: TargetResult
        // The live line, once a second on the client's thread: sent, answered, p99 so far, unanswered.
        let start = Date()
        let onProgress: ((TargetResult) -> Void)? = progress.map { progress in
            { r in
                let accepted = r.outcomeCounts[Int(Outcome.accepted.rawValue)] + r.outcomeCounts[Int(Outcome.held.rawValue)]
                progress(ProgressSnapshot(elapsedSeconds: Date().timeIntervalSince(start), offered: r.sent, acknowledged: r.answered,
                                          accepted: accepted, soldOutOffers: 0, p99Micros: r.latency.micros(atPercentile: 99),
                                          durableWatermark: 0, unanswered: r.sent - r.answered - r.timeouts - r.connectionErrors))
            }
        }
        do { result = try client.run(source: source, progress: onProgress) } catch {
            throw RunFailure(.runtimeFailure, error.message)
        }
        let seconds = Double(result.wallNanos) / 1e9
        var outcomes: [String: Int] = [:]
        for o in Outcome.allCases { outcomes[o.name] = result.outcomeCounts[Int(o.rawValue)] }
        let span = Double(result.sendSpanNanos) / 1e9
        // What the schedule asked for against what was sent, over the same stretch (follow-ups included).
        let expected = result.requestedPerSecond
        let target = RunReport.Target(
            url: options.url.description, connections: options.connections, pipeline: options.pipeline, sent: result.sent,
            answered: result.answered, statuses: result.statusCounts, connectErrors: result.connectErrors, timeouts: result.timeouts,
            connectionErrors: result.connectionErrors, protocolErrors: result.protocolErrors, reconnects: result.reconnects,
            requestedPerSecond: expected, achievedPerSecond: result.achievedPerSecond, maxBacklog: result.maxBacklog)
        var report = RunReport(
            profile: c.profileLabel, seed: effectiveSeed, lanes: 0, durationSeconds: seconds, requests: result.sent,
            decisionsPerSecond: seconds > 0 ? Double(result.decided) / seconds : 0, decisions: result.decided, outcomes: outcomes,
            latencyMicros: .init(kind: options.pace == .open ? "answer" : "round-trip", recorder: result.latency),
            offers: [], items: [], invariants: RunReport.Invariants(),
            segments: .init(dir: nil, files: 0, bytes: 0, records: 0, rawBytes: 0, compressionRatio: 0, durability: "server's",
                            lz4Acceleration: 0, fsyncs: 0, io: "server's"),
            memory: MemoryStats.current(),
            load: .init(mode: options.pace.rawValue, overloadPolicy: "server's", offered: result.offered,
                        offeredPerSecond: span > 0 ? Double(result.sent) / span : 0, shed: result.shed, sourceWaitSeconds: 0),
            resumedRecords: 0, timeline: result.timeline)
        report.target = target
        if result.sent == 0 && !wasStopped { diagnostics("warning: nothing was sent to \(options.url)") }
        if let want = expected, want > 0, target.achievedPerSecond < want * 0.98, !wasStopped {
            diagnostics("warning: requested \(SummaryFormatter.human(want))/s, achieved \(SummaryFormatter.human(target.achievedPerSecond))/s "
                        + "(\(SummaryFormatter.fixed(100 * target.achievedPerSecond / want, 1))%): the rate did not hold"
                        + (result.maxBacklog > 0 ? "; requests waited for a free connection: raise --connections or --pipeline" : ""))
        }
        return RunOutcome(report: report, latency: result.latency, interrupted: wasStopped)
    }

    /// What a user should hear about a run that completed.
    private func warn(report: RunReport, result: PipelineResult, audit: SegmentAudit?, rules: CampaignRules,
                      pace: PipelineOptions.Pace, stopped: Bool) {
        let c = configuration
        // An open-model run lasts its traffic's length unless the source or the pipeline could not keep up:
        // then every late request was still offered (and its lateness counted), but the user asked for a
        // rate this machine did not reach, and should hear so.
        let planned = c.duration ?? (c.profile.durationSeconds > 0 ? c.profile.durationSeconds : c.profile.traffic.phaseSeconds)
        let generated = c.source == nil || c.source is CapturingSource   // not a replay: the profile's traffic
        if pace == .open && generated && !stopped && report.durationSeconds > planned * 1.25 + 0.5 {
            diagnostics("warning: the run took \(SummaryFormatter.fixed(report.durationSeconds, 1)) s for "
                + "\(SummaryFormatter.fixed(planned, 1)) s of traffic: the requested rate was not reached "
                + "(\(SummaryFormatter.human(Double(report.requests) / report.durationSeconds))/s offered); latencies include the backlog")
        }
        // The profile's request cap can end a run long before its traffic's length (`--rate 50k --duration
        // 10` on a profile capped at 50,000 requests lasts 1 s): say so rather than let it look like the run.
        if generated && !stopped, let cap = c.profile.traffic.requestLimit, report.requests >= cap,
           report.durationSeconds < planned * 0.9 {
            diagnostics("note: the profile's request cap (traffic.requests: \(cap)) ended the run after "
                + "\(SummaryFormatter.fixed(report.durationSeconds, 1)) s of the \(SummaryFormatter.fixed(planned, 1)) s of traffic; "
                + "remove or raise it in the profile to run the whole length")
        }
        if generated && report.requests == 0 && result.resumedRecords == 0 && !stopped {
            diagnostics("warning: the traffic offered no request: its rate × duration gives none; raise --rate or --duration")
        }
        if let audit {
            // Say exactly what disagrees, so a failed check can be chased.
            for problem in audit.problems.prefix(5) { diagnostics("segments: \(problem)") }
            if audit.problems.count > 5 { diagnostics("segments: … \(audit.problems.count - 5) more") }
            for (i, item) in rules.campaign.items.enumerated()
            where audit.soldUnits[i] != result.soldUnits[i] || audit.heldUnits[i] != result.heldUnits[i] {
                diagnostics("\(item.name): ledger sold \(result.soldUnits[i]) held \(result.heldUnits[i]),"
                            + " segments sold \(audit.soldUnits[i]) held \(audit.heldUnits[i])")
            }
        }
        if result.resumedRecords > 0 && result.offered == 0 && !stopped {
            diagnostics("nothing left to offer: the campaign in \(result.segmentsDirectory) already ran past the "
                        + "traffic's last request (a restart continues where the journal stops); "
                        + "give a new --segments directory to run it again")
        }
    }

    /// Removes a run's temporary segment directory; true when nothing of it remains. It is renamed first,
    /// so that a segment a still-running writer rolls to cannot appear in the directory being removed.
    public static func removeTemporarySegments(_ directory: String) -> Bool {
        let doomed = directory + ".removing"
        if rename(directory, doomed) != 0 { return errno == ENOENT }   // never created: nothing to remove
        return (try? FileManager.default.removeItem(atPath: doomed)) != nil
    }
}
