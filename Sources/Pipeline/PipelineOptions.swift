import OrderLog

/// How a run drives the pipeline.
public struct PipelineOptions: Sendable {
    /// `open`: each request is sent at its intended time (open model, latency from the intended time).
    /// `max`: as fast as the pipeline allows (latency is queueing time inside the pipeline).
    public enum Pace: String, Sendable {
        case open, max

        /// What latency measures at this pace (the report's `latencyMicros.kind`): from each
        /// request's intended send time to its acknowledgement, or, at max, queueing in the pipeline.
        public var latencyKind: String { self == .open ? "acknowledgement" : "queueing" }
    }

    /// What happens when a lane has no free batch (its in-flight work is at the bound).
    /// `shed`: the requests are refused with OVERLOAD and never reach the lane (open model only).
    /// `wait`: the source waits for room, falling behind its schedule (latency shows it).
    public enum OverloadPolicy: String, Sendable, CaseIterable { case shed, wait }

    public var lanes: Int
    public var pace: Pace
    public var overloadPolicy: OverloadPolicy
    /// Where segments go. nil: a temporary directory that `run` removes before it returns (pass a
    /// directory to read the segments afterwards, or to continue the campaign later).
    public var segmentsDirectory: String?
    public var writer: SegmentWriterOptions
    /// Requests per lane batch.
    public var batchCapacity: Int
    /// Batches per lane: bounds in-flight work (and memory) per lane.
    public var batchesPerLane: Int
    /// Open model: requests due within this window are dispatched together.
    public var flushMicros: Int
    /// Progress callback period, seconds (nil: none).
    public var progressInterval: Double?
    /// The timeline's interval (seconds; the report's `timeline`, `--timeline FILE`).
    public var timelineInterval: Double = 1
    /// Called with each interval of the timeline as it closes (on the journal's queue), e.g. to stream it.
    public var onTimelineInterval: (@Sendable (TimelineInterval) -> Void)?
    /// Where the traffic's phases start, seconds into the run (paced runs of generated traffic; empty:
    /// none): the timeline is cut there too, and each interval says its phase.
    public var timelinePhaseStartsSeconds: [Double] = []
    /// Queued lanes (`--rate max`, or `sync` durability) encode and compress their own journal blocks,
    /// leaving the serial journal only to number and write them (`LaneBlockEncoder`). Off: the journal
    /// encodes every record itself (the same records on disk, in blocks that may end elsewhere; for A/B
    /// measurements and tests).
    public var lanesEncodeBlocks = true
    /// Memory the run will write (the lane batches, their blocks, the lanes' order arenas) is made
    /// resident before its clock starts (`flashsale_prefault`), so that the kernel's page faults and page
    /// zeroing do not land on the hot path: ~7% of a `--rate max` parity window otherwise
    /// (docs/benchmarks.md). On by default at `max`; it commits the arenas' reservation, sized by the
    /// stock (at most 64 MiB per lane), up front.
    public var prefaultsMemory: Bool
    /// Test seam: extra busy time each lane spends per request, to inject a regression that a
    /// performance gate must catch. 0 in every real run.
    public var injectedLaneDelayNanos: UInt64 = 0
    /// Test hook: once, the first batch decided `atSeconds` or more into the run stalls its lane for
    /// `nanos` (a pause that must show in the timeline's interval where it happened).
    public var injectedStall: (atSeconds: Double, nanos: UInt64)?
    /// How segment files are written (`--segment-io`): direct I/O, through the page cache, or `auto`.
    public var segmentIO: SegmentIO = .auto
    /// Where segment bytes go (a seam: tests inject a full disk or a failing fsync). nil: the files
    /// `segmentIO` chooses.
    public var segmentSink: SegmentSinkFactory?

    /// The sink factory the journal opens its segments with.
    public var effectiveSegmentSink: SegmentSinkFactory {
        if let segmentSink { return segmentSink }
        return segmentIO.writesDirect(pace: pace, durability: writer.durability) ? .direct : .posix
    }

    public init(lanes: Int, pace: Pace = .open, overloadPolicy: OverloadPolicy? = nil, segmentsDirectory: String? = nil,
                writer: SegmentWriterOptions = SegmentWriterOptions(), batchCapacity: Int? = nil,
                batchesPerLane: Int? = nil, flushMicros: Int = 100, progressInterval: Double? = nil) {
        self.lanes = lanes
        self.pace = pace
        self.overloadPolicy = overloadPolicy ?? (pace == .max ? .wait : .shed)
        self.segmentsDirectory = segmentsDirectory
        self.writer = writer
        // max: few big batches keep the lanes' caches warm. open: a flush every `flushMicros` sends small
        // partial batches, so the in-flight bound needs many of them to ride out an fsync stall
        // (512 × 256 requests per lane ≈ 0.6 s of traffic at 200k/s) before shedding.
        self.batchCapacity = batchCapacity ?? (pace == .max ? 8192 : 256)
        // max: about 64 batches in flight in all (32 per lane on 2 lanes, at least 6 per lane). A batch stays
        // out until the fsync covering it returns, so the bound must ride out the disk's slow fsyncs and a
        // lane losing its core for a scheduler slice: with 6 per lane the source waited 0.35 s of a 0.85 s
        // parity run, and 32 per lane ran it 7-11% faster (docs/benchmarks.md), for ~35 MiB more RSS.
        self.batchesPerLane = batchesPerLane ?? (pace == .max ? max(6, 64 / max(1, lanes)) : 512)
        self.flushMicros = flushMicros
        prefaultsMemory = pace == .max
        self.progressInterval = progressInterval
    }
}
