import ArgumentParser
import FlashSaleCore
import FlashSaleRun
import Foundation
import LoadGen
import OrderLog
import Pipeline
import Reports
import Synchronization

/// The command line's side of a run (`run`, `replay`, `gate`): its options become a `RunConfiguration`;
/// signals, the progress line on stderr, messages and exit codes go around the `RunSession`.
struct RunExecution {
    var configuration: RunConfiguration
    var progress: ProgressMode
    /// `--timeline FILE`: each interval written as it closes (NDJSON, or CSV for a .csv name).
    var timeline: String?

    struct Outcome {
        var report: RunReport
        var latency: LatencyRecorder
        /// The run was ended early by Ctrl-C or SIGTERM (everything offered was still decided and journaled).
        var interrupted = false
        /// By SIGTERM (exit 143) rather than Ctrl-C (130).
        var terminated = false

        /// The exit code of an interrupted run, after its report was written.
        var interruptedExit: ExitCode { terminated ? ExitCodes.terminated : ExitCodes.interrupted }

        func write(report path: String?, hgrm: String?, json: Bool, replay: Bool = false, html: String? = nil) throws {
            if json {
                FileHandle.standardOutput.write(try report.jsonData())
                FileHandle.standardOutput.write("\n")
            } else {
                FileHandle.standardOutput.write(SummaryFormatter.render(report, replay: replay))
            }
            if let path { try Self.writeOutput(try report.jsonData(), to: path, option: "--report") }
            if let hgrm { try Self.writeOutput(Data(latency.percentileSpectrum(kind: report.latencyMicros.kind).utf8), to: hgrm, option: "--hgrm") }
            if let html { try Self.writeOutput(Data(HTMLReport.render(report, latency: latency).utf8), to: html, option: "--html") }
        }

        /// Writes `data` in place (see `OutputFile`); a failure names the option, the file and the
        /// system's reason, and exits 3.
        static func writeOutput(_ data: Data, to path: String, option: String) throws {
            do { try OutputFile.write(data, to: path, option: option) } catch {
                FileHandle.standardError.write("flashsale: \(error.message)\n")
                throw ExitCodes.runtimeFailure
            }
        }
    }

    func execute() throws -> Outcome {
        var c = configuration
        let stream = try TimelineStream.open(timeline)
        if let stream { c.onTimelineInterval = { stream.write($0) } }
        defer { stream?.close() }
        c.showProgress = progress == .always || (progress == .auto && isatty(STDERR_FILENO) != 0)
        // A progress line drawn in place on a terminal is ended before any other message.
        let drawing = c.showProgress && isatty(STDERR_FILENO) != 0
        let lineOpen = Atomic<Bool>(false)
        let endLine: @Sendable () -> Void = { if lineOpen.exchange(false, ordering: .relaxed) { FileHandle.standardError.write("\n") } }
        let session = RunSession(c) { message in
            endLine()
            FileHandle.standardError.write("flashsale: \(message)\n")
        }
        // Ends the process at once (a second Ctrl-C, SIGTERM). Dispatch keeps the signals blocked in its
        // threads, so re-raising one would stay pending: exit instead.
        let abort: @Sendable (String, Int32) -> Void = { why, code in
            FileHandle.standardError.write("\nflashsale: \(why): \(session.abandon())\n")
            _exit(code)
        }
        // Ctrl-C or SIGTERM (a CI time-out, `kill`): stop offering, drain, seal and write the summary and the
        // reports, marked interrupted (exit 130, or 143 for SIGTERM). A second signal aborts at once,
        // without leaving a temporary journal.
        let terminatedBy = Atomic<Int32>(0)
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { sig in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if session.wasStopped { abort("aborted", sig == SIGTERM ? 143 : 130) }
                terminatedBy.store(sig, ordering: .relaxed)
                let name = sig == SIGTERM ? "terminated (SIGTERM)" : "interrupted"
                FileHandle.standardError.write("\nflashsale: \(name): finishing what is in flight, sealing the segments and reporting (again to abort)\n")
                session.stop()
            }
            source.resume()
            return source
        }
        defer {
            for s in sources { s.cancel() }
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
        }
        let line = Mutex(ProgressLine(offerCount: c.profile.campaign.offers.count))  // touched once a second, from the journal's queue
        let progressLine: @Sendable (ProgressSnapshot) -> Void = { p in
            let text = line.withLock { $0.render(p) }
            if drawing { lineOpen.store(true, ordering: .relaxed) }
            FileHandle.standardError.write(drawing ? "\r\u{1B}[K" + text : text + "\n")
        }
        do {
            let outcome = try session.execute(progress: progressLine)
            endLine()
            return Outcome(report: outcome.report, latency: outcome.latency, interrupted: outcome.interrupted,
                           terminated: outcome.interrupted && terminatedBy.load(ordering: .relaxed) == SIGTERM)
        } catch {
            endLine()
            FileHandle.standardError.write("flashsale: \(error.message)\n")
            throw error.kind == .badInput ? ExitCodes.badInput : ExitCodes.runtimeFailure
        }
    }
}

/// `--timeline FILE`: one line per interval, written as the interval closes (so a long run can be tailed).
final class TimelineStream: @unchecked Sendable {  // written on the journal's queue only
    let handle: FileHandle
    let csv: Bool
    let encoder = ReportJSON.encoder(pretty: false)

    /// `--timeline PATH` opened (nil without one); a file that cannot be made is said, with why, and exits 3.
    static func open(_ path: String?) throws -> TimelineStream? {
        guard let path else { return nil }
        do { return try TimelineStream(path: path) } catch {
            FileHandle.standardError.write("flashsale: --timeline \(path): \(error.localizedDescription)\n")
            throw ExitCodes.runtimeFailure
        }
    }

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        csv = path.lowercased().hasSuffix(".csv")
        if csv { handle.write(TimelineInterval.csvHeader + "\n") }
    }

    func write(_ i: TimelineInterval) {
        if csv {
            handle.write(i.csvLine + "\n")
        } else if let data = try? encoder.encode(i) {
            handle.write(data)
            handle.write("\n")
        }
    }

    func close() { try? handle.close() }
}
