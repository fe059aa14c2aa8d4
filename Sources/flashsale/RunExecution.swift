import ArgumentParser
import FlashSaleCore
import Foundation
import LoadGen
import OrderLog
import Pipeline
import Reports
import Synchronization

/// One run of a source through the pipeline with the reporting around it; shared by `run`, `replay`
/// and `gate`.
struct RunExecution {
    var profile: LoadProfile
    var profileLabel: String
    var rate: RateOption?
    var duration: Double?
    var lanes: Int
    var seed: UInt64?
    var segments: String?
    var durability: Durability
    var lz4Acceleration: Int32 = 1
    var overload: PipelineOptions.OverloadPolicy?
    var progress: ProgressMode
    var batchSize: Int? = nil
    var batchesPerLane: Int? = nil
    var injectedLaneDelayNanos: UInt64 = 0
    /// A source other than the profile's generator (replay).
    var source: RequestSource?
    var paceOverride: PipelineOptions.Pace?

    struct Outcome {
        var report: RunReport
        var latency: LatencyRecorder
        /// The run was ended early by Ctrl-C (everything offered was still decided and journaled).
        var interrupted = false

        func write(report path: String?, hgrm: String?, json: Bool, replay: Bool = false) throws {
            if json {
                FileHandle.standardOutput.write(try report.jsonData())
                FileHandle.standardOutput.write("\n")
            } else {
                FileHandle.standardOutput.write(SummaryFormatter.render(report, replay: replay))
            }
            if let path { try Self.writeOutput(try report.jsonData(), to: path, option: "--report") }
            if let hgrm { try Self.writeOutput(Data(latency.percentileSpectrum().utf8), to: hgrm, option: "--hgrm") }
        }

        /// Writes `data` in place (a symlink is followed, /dev/stdout stays a device); a failure names the
        /// option, the file and the system's reason, and exits 3.
        static func writeOutput(_ data: Data, to path: String, option: String) throws {
            func fail(_ what: String) throws -> Never {
                let reason = String(cString: strerror(errno))
                FileHandle.standardError.write("flashsale: \(option) \(path): \(what) failed: \(reason)\n")
                throw ExitCodes.runtimeFailure
            }
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd < 0 { try fail("open") }
            do {
                var position: Int64 = 0
                try data.withUnsafeBytes { try writeFully($0, path: path, position: &position) { p, n, _ in Glibc.write(fd, p, n) } }
            } catch {
                // writeFully throws SegmentError.io with the errno of the failed write.
                let code: Int32
                if case SegmentError.io(_, _, _, let e) = error { code = e } else { code = EIO }
                close(fd)
                errno = code
                try fail("write")
            }
            if close(fd) != 0 { try fail("close") }
        }
    }

    func execute() throws -> Outcome {
        let rules: CampaignRules
        do { rules = try CampaignRules(profile.campaign) } catch {
            FileHandle.standardError.write("flashsale: \(profileLabel): \(error)\n")
            throw ExitCodes.badInput
        }
        let effectiveSeed = seed ?? profile.seed
        let pace: PipelineOptions.Pace = paceOverride ?? (rate == .max ? .max : .open)
        var writer = SegmentWriterOptions()
        writer.durability = durability
        writer.acceleration = lz4Acceleration
        let showProgress = progress == .always || (progress == .auto && isatty(STDERR_FILENO) != 0)
        let baseOptions = PipelineOptions(lanes: lanes, pace: pace, overloadPolicy: overload, segmentsDirectory: segments,
                                      writer: writer, batchCapacity: batchSize, batchesPerLane: batchesPerLane,
                                      progressInterval: showProgress ? 1.0 : nil)
        var options = baseOptions
        options.injectedLaneDelayNanos = injectedLaneDelayNanos
        // Without --segments the run journals into a temporary directory that is removed on every way
        // out but SIGKILL: success, failure, an abort by a second Ctrl-C, SIGTERM.
        let temporarySegments = segments == nil ? OrderPipeline.temporaryDirectory() : nil
        if let temporarySegments { options.segmentsDirectory = temporarySegments }
        let src: RequestSource
        if let source {
            src = source
        } else {
            var constantRate: Double?
            if case .perSecond(let r) = rate { constantRate = r }
            src = TrafficGenerator(profile: profile, seed: effectiveSeed, durationSeconds: duration, constantRate: constantRate)
        }
        let pipeline = OrderPipeline(rules: rules, options: options)
        // Ends the process at once (a second Ctrl-C, SIGTERM). Dispatch keeps the signals blocked in its
        // threads, so re-raising one would stay pending: exit instead.
        let capturePartial = (source as? CapturingSource)?.writer.partialPath
        let abort: @Sendable (String, Int32) -> Void = { why, code in
            // An unfinished capture never replaces the file it was going to become.
            if let capturePartial { unlink(capturePartial) }
            if let temporarySegments {
                let removed = Self.removeTemporarySegments(temporarySegments)
                FileHandle.standardError.write("\nflashsale: \(why): " + (removed ? "temporary segments removed"
                    : "could not remove the temporary segments \(temporarySegments)") + "\n")
            } else {
                FileHandle.standardError.write("\nflashsale: \(why): segments left unsealed (the next run on them recovers what was written)\n")
            }
            _exit(code)
        }
        // Ctrl-C: stop offering, drain, seal and report (the exit code is then 130). A second Ctrl-C aborts.
        signal(SIGINT, SIG_IGN)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        interrupt.setEventHandler {
            if pipeline.wasStopped { abort("aborted", 130) }
            FileHandle.standardError.write("\nflashsale: interrupted: finishing what is in flight and sealing the segments (Ctrl-C again to abort)\n")
            pipeline.stop()
        }
        interrupt.resume()
        // SIGTERM (a CI timeout, `kill`): end at once, as its default does, but without leaving a temporary journal.
        signal(SIGTERM, SIG_IGN)
        let terminate = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
        terminate.setEventHandler { abort("terminated", 143) }
        terminate.resume()
        defer {
            interrupt.cancel()
            terminate.cancel()
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
        }
        // Declared after the signal handlers' defer, so it runs before they are reset.
        defer { if let temporarySegments { _ = Self.removeTemporarySegments(temporarySegments) } }
        let tty = isatty(STDERR_FILENO) != 0
        let offerCount = rules.offerCount
        let previous = Mutex<ProgressSnapshot?>(nil)  // touched once a second, from the journal's queue
        let progressLine: @Sendable (ProgressSnapshot) -> Void = { p in
            let last = previous.withLock { last in defer { last = p }; return last }
            let dt = max(1e-9, p.elapsedSeconds - (last?.elapsedSeconds ?? 0))
            let offeredRate = Double(p.offered - (last?.offered ?? 0)) / dt
            let ackedRate = Double(p.acknowledged - (last?.acknowledged ?? 0)) / dt
            let h = SummaryFormatter.human
            let line = "\(SummaryFormatter.fixed(p.elapsedSeconds, 1))s  offered \(h(offeredRate))/s  achieved \(h(ackedRate))/s"
                + "  accepted/held \(h(Double(p.accepted)))  sold-out \(p.soldOutOffers)/\(offerCount) offers"
                + "  p99 \(Self.formatMicros(p.p99Micros))  durable #\(p.durableWatermark)"
            FileHandle.standardError.write(tty ? "\r\u{1B}[K" + line : line + "\n")
        }
        let result: PipelineResult
        do {
            result = try pipeline.run(source: src, progress: showProgress ? progressLine : nil)
        } catch let e as PipelineError {
            if tty && showProgress { FileHandle.standardError.write("\n") }
            FileHandle.standardError.write("flashsale: \(e)\n")
            switch e {
            case .logDoesNotMatchCampaign, .journalCannotBeResumed: throw ExitCodes.badInput
            case .journalFailed, .cannotWrite: break   // I/O: a runtime failure (3)
            }
            throw ExitCodes.runtimeFailure
        } catch let e as SegmentError {
            // A damaged or foreign --segments directory is bad input (2), like another campaign's; a
            // failing disk is a runtime failure (3).
            if tty && showProgress { FileHandle.standardError.write("\n") }
            if case .io(let file, _, let operation, let code) = e, [EROFS, EPERM, EACCES].contains(code),
               !["read", "fstat", "opendir", "lseek"].contains(operation) {
                // A read-only, immutable or forbidden directory: one line naming the file (exit 3, I/O).
                FileHandle.standardError.write("flashsale: cannot write \(file): \(String(cString: strerror(code)))\n")
            } else {
                FileHandle.standardError.write("flashsale: \(e)\n")
            }
            // A directory or a symlink loop where a segment file should be is a damaged directory too.
            if case .io(_, _, _, let code) = e, code != EISDIR && code != ELOOP { throw ExitCodes.runtimeFailure }
            throw ExitCodes.badInput
        } catch {
            if tty && showProgress { FileHandle.standardError.write("\n") }
            FileHandle.standardError.write("flashsale: \(error)\n")
            throw ExitCodes.runtimeFailure
        }
        if tty && showProgress { FileHandle.standardError.write("\n") }
        if result.recovery.cutBytes > 0 {
            // Whether the cut records had been acknowledged depends on the durability of the run that
            // wrote them (segments do not record it), so the message does not claim either way.
            let records = result.recovery.cutRecords.map { "\($0) records by the cut blocks' headers" }
                ?? "record count unknown: no readable block header at the cut"
            FileHandle.standardError.write("flashsale: recovered \(result.segmentsDirectory): cut a torn tail of \(result.recovery.cutBytes) bytes ("
                                           + records + ")\n")
        }
        let audit: SegmentAudit?
        do {
            audit = try SegmentAudit.read(directory: result.segmentsDirectory, rules: rules,
                                          countingAfter: result.resumedLastSequence)
        } catch {
            FileHandle.standardError.write("flashsale: reading back \(result.segmentsDirectory) failed: \(error)\n")
            audit = nil
        }
        var report = ReportBuilder.build(profile: profileLabel, seed: effectiveSeed, options: options, rules: rules,
                                         result: result, audit: audit, keepSegments: segments != nil)
        if audit == nil { report.invariants.segmentMismatches += 1 }
        // An open-model run lasts its traffic's length unless the source or the pipeline could not keep up:
        // then every late request was still offered (and its lateness counted), but the user asked for a
        // rate this machine did not reach, and should hear so.
        let planned = duration ?? (profile.durationSeconds > 0 ? profile.durationSeconds : profile.traffic.phaseSeconds)
        let generated = source == nil || source is CapturingSource   // not a replay: the profile's traffic
        if pace == .open && generated && !pipeline.wasStopped && report.durationSeconds > planned * 1.25 + 0.5 {
            FileHandle.standardError.write("flashsale: warning: the run took \(SummaryFormatter.fixed(report.durationSeconds, 1)) s for "
                + "\(SummaryFormatter.fixed(planned, 1)) s of traffic: the requested rate was not reached "
                + "(\(SummaryFormatter.human(Double(report.requests) / report.durationSeconds))/s offered); latencies include the backlog\n")
        }
        if generated && report.requests == 0 && result.resumedRecords == 0 && !pipeline.wasStopped {
            FileHandle.standardError.write("flashsale: warning: the traffic offered no request: its rate × duration gives none; raise --rate or --duration\n")
        }
        if let audit {
            // Say exactly what disagrees, so a failed check can be chased.
            for problem in audit.problems.prefix(5) { FileHandle.standardError.write("flashsale: segments: \(problem)\n") }
            if audit.problems.count > 5 { FileHandle.standardError.write("flashsale: segments: … \(audit.problems.count - 5) more\n") }
            for (i, item) in rules.campaign.items.enumerated()
            where audit.soldUnits[i] != result.soldUnits[i] || audit.heldUnits[i] != result.heldUnits[i] {
                FileHandle.standardError.write("flashsale: \(item.name): ledger sold \(result.soldUnits[i]) held \(result.heldUnits[i]),"
                                               + " segments sold \(audit.soldUnits[i]) held \(audit.heldUnits[i])\n")
            }
        }
        if result.resumedRecords > 0 && result.offered == 0 && !pipeline.wasStopped {
            FileHandle.standardError.write("flashsale: nothing left to offer: the campaign in \(result.segmentsDirectory) already ran past the "
                                           + "traffic's last request (a restart continues where the journal stops); "
                                           + "give a new --segments directory to run it again\n")
        }
        return Outcome(report: report, latency: result.latency, interrupted: pipeline.wasStopped)
    }

    /// Removes a run's temporary segment directory; true when nothing of it remains. It is renamed first,
    /// so that a segment a still-running writer rolls to cannot appear in the directory being removed.
    static func removeTemporarySegments(_ directory: String) -> Bool {
        let doomed = directory + ".removing"
        if rename(directory, doomed) != 0 { return errno == ENOENT }   // never created: nothing to remove
        return (try? FileManager.default.removeItem(atPath: doomed)) != nil
    }

    static func formatMicros(_ us: UInt64) -> String {
        us >= 1000 ? String(format: "%.2fms", Double(us) / 1000) : "\(us)µs"
    }
}
