import FlashSaleCore
import OrderLog

/// The outcome of one run: counts, latency, stock, journal figures. Everything reports need.
public struct PipelineResult: Sendable {
    public var wallNanos: UInt64
    public var offered: Int
    public var shed: Int
    public var sourceWaitNanos: UInt64
    public var decisions: Int
    public var outcomeCounts: [Int]
    public var latency: LatencyRecorder
    public var soldOutAtNanos: [UInt64?]
    public var soldUnits: [Int64]
    public var heldUnits: [Int64]
    public var remainingUnits: [Int64]
    public var minShardUnits: [Int64]
    public var writer: WriterStats
    public var recovery: RecoveryReport
    public var resumedRecords: Int
    /// Sequence of the last record before this run (0 for a fresh directory).
    public var resumedLastSequence: UInt64
    public var durableWatermark: UInt64
    public var segmentsDirectory: String
    public var lastCampaignTimeMillis: Int64
    /// The run interval by interval (`PipelineOptions.timelineInterval`); the intervals add up to the totals.
    public var timeline: [TimelineInterval] = []
    /// Hold expiries among `decisions` (lanes' RELEASED decisions: journaled, but nobody's answer).
    public var expiries = 0
    /// Latency acknowledged in each traffic phase (`PipelineOptions.timelinePhaseStartsSeconds`; empty without).
    public var phaseLatency: [LatencyRecorder] = []
}

/// Live figures, delivered once per `progressInterval` on the journal's queue.
public struct ProgressSnapshot: Sendable {
    public var elapsedSeconds: Double
    public var offered: Int
    public var acknowledged: Int
    public var accepted: Int
    public var soldOutOffers: Int
    public var p99Micros: UInt64
    public var durableWatermark: UInt64
    /// A `--target` run: requests sent and not yet answered (the server's journal is not this process's:
    /// no durable watermark, no sold-out count then).
    public var unanswered: Int?

    public init(elapsedSeconds: Double, offered: Int, acknowledged: Int, accepted: Int, soldOutOffers: Int, p99Micros: UInt64,
                durableWatermark: UInt64, unanswered: Int? = nil) {
        self.elapsedSeconds = elapsedSeconds
        self.offered = offered
        self.acknowledged = acknowledged
        self.accepted = accepted
        self.soldOutOffers = soldOutOffers
        self.p99Micros = p99Micros
        self.durableWatermark = durableWatermark
        self.unanswered = unanswered
    }
}
