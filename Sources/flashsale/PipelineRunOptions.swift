import ArgumentParser
import FlashSaleRun
import Foundation
import LoadGen
import OrderLog
import Pipeline
import Reports

/// Where decisions are made and journaled: shared by `run`, `replay` and `serve`.
struct JournalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Lanes: partitions of the organisations, each decided in order with its own state and stock shard. Default: active cores.", valueName: "n"))
    var lanes: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: ArgumentHelp("Segment directory (kept; one that holds records continues its campaign). Default: a temporary directory, removed at the end.", valueName: "dir"))
    var segments: String?

    @Option(help: ArgumentHelp("none: acknowledged once written to the OS; batch: group commit (acknowledged after an fsync, which starts as soon as the previous one returns, many decisions each); sync: an fsync before every acknowledgement.", valueName: "mode"))
    var durability: Durability = .batch

    @Option(name: .customLong("segment-io"),
            help: ArgumentHelp("How segment files are written: direct (O_DIRECT, past the page cache: no copy, fsyncs with nothing to write back; the journal's thread waits for each write), buffered (through the page cache), or auto: direct with --rate max and batch or sync durability, buffered otherwise. The same bytes and durability either way; direct falls back to buffered where the file system refuses it.", valueName: "mode"))
    var segmentIO: SegmentIO = .auto

    func validate() throws {
        if lanes < 1 || lanes > 64 { throw ValidationError("--lanes must be between 1 and 64 (got \(lanes))") }
        if segments?.isEmpty == true { throw ValidationError("--segments needs a directory name") }
        var isDirectory: ObjCBool = false
        if let segments, FileManager.default.fileExists(atPath: segments, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ValidationError("--segments \(segments): exists and is not a directory")
        }
    }
}

/// Options shared by every command that drives the pipeline and reports (`run`, `replay`).
struct PipelineRunOptions: ParsableArguments {
    @OptionGroup var journal: JournalOptions
    @OptionGroup var target: TargetArguments
    var lanes: Int { journal.lanes }
    var segments: String? { journal.segments }
    var durability: Durability { journal.durability }

    @Option(name: .customLong("lz4-acceleration"),
            help: ArgumentHelp("LZ4 acceleration of the segment blocks, 1...65537: 1 compresses best; higher values spend less journal CPU and compress less (on order records 8 runs LZ4 ~3x faster but saves ~1% of the bytes instead of ~15%).", valueName: "n"))
    var lz4Acceleration: Int32 = 1

    @Option(help: ArgumentHelp("When lanes are full: shed (outcome OVERLOAD) or wait (the source slows). Default: shed, or wait with --rate max.", valueName: "policy"))
    var overload: PipelineOptions.OverloadPolicy?

    @Option(help: ArgumentHelp("Write the JSON report here (schema: docs/report.md).", valueName: "file.json"))
    var report: String?

    @Option(help: ArgumentHelp("Write the latency percentile spectrum here (HdrHistogram .hgrm, microseconds, like every latency flashsale writes).", valueName: "file"))
    var hgrm: String?

    @Option(help: ArgumentHelp("Write a self-contained HTML report here (no network, no script): throughput and percentiles over time, outcome mix, remaining stock per item over time, a table per traffic phase, latency spectrum, the sell-out, invariants and metadata.", valueName: "file.html"))
    var html: String?

    @Option(help: ArgumentHelp("Stream the timeline here as it happens, one interval per line: NDJSON, or CSV when the name ends in .csv (the same intervals as the report's `timeline`: offered, decided, acknowledged, outcomes, shed, latency percentiles, in flight, durable lag, RSS, stock per item, phase; with --target, the client's view).", valueName: "file"))
    var timeline: String?

    @Option(help: ArgumentHelp("The timeline's interval in seconds, 0.01 to 3600.", valueName: "seconds"))
    var interval: Double = 1

    @Option(help: ArgumentHelp("Live progress line each second: auto (on a terminal), always, never.", valueName: "when"))
    var progress: ProgressMode = .auto

    @Option(help: ArgumentHelp("Requests per lane batch (tuning).", visibility: .hidden))
    var batchSize: Int?

    @Option(help: ArgumentHelp("Batches in flight per lane (tuning).", visibility: .hidden))
    var batchesPerLane: Int?

    @Flag(help: "Print the JSON report on stdout instead of the summary.")
    var json = false

    /// A run of `profile` with these options (lanes, journal, overload, tuning).
    func configuration(profile: LoadProfile, label: String, rate: RunRate?, duration: Double?, seed: UInt64?) -> RunConfiguration {
        var c = RunConfiguration(profile: profile, profileLabel: label, rate: rate, duration: duration, lanes: lanes,
                                 seed: seed, segments: segments, durability: durability)
        c.lz4Acceleration = lz4Acceleration
        c.segmentIO = journal.segmentIO
        c.overload = overload
        c.batchSize = batchSize
        c.batchesPerLane = batchesPerLane
        c.target = target.options
        c.timelineInterval = interval
        return c
    }

    func validate() throws {
        // --report and --hgrm are checked by the command (`checkOutputs`), which knows its inputs; the
        // journal options by `JournalOptions`.
        try Self.checkLZ4Acceleration(lz4Acceleration)
        try Self.checkInterval(interval)
        if let b = batchSize, b < 1 || b > 1 << 20 { throw ValidationError("--batch-size must be 1...1048576") }
        if let b = batchesPerLane, b < 1 || b > 4096 { throw ValidationError("--batches-per-lane must be 1...4096") }
        // Every request in flight has its slot reserved up front (request + decision, ~150 B): bound the
        // total, counting a tuning value not given at its larger default (8192 per batch, 512 batches).
        let inFlight = lanes * (batchSize ?? 8192) * (batchesPerLane ?? 512)
        if (batchSize != nil || batchesPerLane != nil) && inFlight > 1 << 24 {
            throw ValidationError("--lanes × --batch-size × --batches-per-lane allows \(inFlight) requests in flight; at most 16777216 (about 2.5 GB of slots)")
        }
    }

    /// LZ4 takes accelerations 1...65537 (LZ4_ACCELERATION_MAX).
    static func checkLZ4Acceleration(_ value: Int32) throws {
        if value < 1 || value > 65537 {
            throw ValidationError("--lz4-acceleration must be between 1 and 65537 (got \(value))")
        }
    }

    /// Fails before a long run, not after it, when an output file cannot be created or written, is a
    /// directory, or is one of the command's `inputs` (writing it would destroy the input).
    /// - Parameter replacedByRename: the output is written beside the destination and renamed onto it
    ///   (captures), so an existing regular file needs its directory writable too.
    /// `--interval` (the timeline's, for run, replay, gate and serve): 0.01 to 3600 seconds.
    static func checkInterval(_ interval: Double) throws {
        guard interval >= 0.01 && interval <= 3600 else { throw ValidationError("--interval must be 0.01…3600 seconds (got \(interval))") }
    }

    static func checkOutputPath(_ path: String?, option: String, inputs: [String?] = [], replacedByRename: Bool = false) throws {
        guard let path else { return }
        var st = stat()
        let exists = stat(path, &st) == 0
        if exists && (st.st_mode & S_IFMT) == S_IFDIR {
            throw ValidationError("\(option) \(path): is a directory; give a file name")
        }
        for case let input? in inputs where sameFile(path, input) {
            throw ValidationError("\(option) \(path): is also the input \(input); writing it would destroy the input")
        }
        if exists {
            // An existing file or device (/dev/stdout, /dev/null) is written as it is: it must be writable,
            // and a read-only file is not replaced behind its owner's back.
            guard access(path, W_OK) == 0 else { throw ValidationError("\(option) \(path): not writable (permission denied)") }
            if (st.st_mode & S_IFMT) != S_IFREG || !replacedByRename { return }
        }
        let parent = (path as NSString).deletingLastPathComponent
        let dir = parent.isEmpty ? "." : parent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("\(option) \(path): directory \(dir) does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: dir) else {
            throw ValidationError("\(option) \(path): directory \(dir) is not writable")
        }
    }

    /// Outputs of a pipeline run must not overwrite its inputs (the profile, a replayed capture), nor
    /// each other (`others`: more outputs of the command, such as `--capture`).
    func checkOutputs(notOverwriting inputs: [String?], others: [(option: String, path: String?)] = []) throws {
        try Self.checkOutputPath(report, option: "--report", inputs: inputs)
        try Self.checkOutputPath(hgrm, option: "--hgrm", inputs: inputs)
        try Self.checkOutputPath(timeline, option: "--timeline", inputs: inputs)
        try Self.checkOutputPath(html, option: "--html", inputs: inputs)
        try Self.checkDistinct([("--report", report), ("--hgrm", hgrm), ("--timeline", timeline), ("--html", html)] + others)
    }

    /// Two outputs naming one file would leave only the last one written.
    static func checkDistinct(_ outputs: [(option: String, path: String?)]) throws {
        let given = outputs.compactMap { o in o.path.map { (o.option, $0) } }
        for (i, a) in given.enumerated() {
            for b in given[(i + 1)...] where samePath(a.1, b.1) {
                throw ValidationError("\(a.0) and \(b.0) both name \(a.1); give each output its own file")
            }
        }
    }

    /// The same file, existing or not: equal absolute spellings, or the same inode.
    static func samePath(_ a: String, _ b: String) -> Bool {
        Paths.absolute(a) == Paths.absolute(b) || sameFile(a, b)
    }

    /// Replay pacing, for `replay` and `gate --replay`: a speed whose schedule fits 64-bit nanoseconds,
    /// and not both a speed and a rate.
    static func checkReplayPacing(speed: Double?, rate: RateOption?) throws {
        if let s = speed, !(s >= 1e-6 && s <= 1e6) { throw ValidationError("--speed must be between 0.000001 and 1000000 (got \(s))") }
        if speed != nil && rate != nil {
            throw ValidationError("--speed and --rate exclude each other: --speed scales the recorded gaps, --rate ignores them")
        }
    }

    /// A run length `TrafficGenerator` can hold in nanoseconds: positive, finite, at most 10^7 s (115 days).
    static func checkDuration(_ seconds: Double?) throws {
        guard let seconds else { return }
        if !(seconds > 0 && seconds <= 1e7) {
            throw ValidationError("--duration must be a positive number of seconds, at most 10000000 (got \(seconds))")
        }
    }

    /// True when both paths exist and name the same file (same device and inode: links and
    /// relative spellings included).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }
}
