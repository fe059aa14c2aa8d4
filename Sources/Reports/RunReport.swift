import Foundation
import Pipeline

/// Everything a run reports, as written by `--report FILE.json` (schema: docs/report.md).
///
/// The keys named in ARCHITECTURE.md are a contract: they always exist. Keys may be added.
public struct RunReport: Codable, Sendable, Equatable {
    public struct Latency: Codable, Sendable, Equatable {
        /// `acknowledgement`: ack time − intended send time (open model, paced runs).
        /// `queueing`: ack time − time the request entered the pipeline (`--rate max`).
        public var kind: String
        public var count: UInt64
        public var p50: UInt64
        public var p90: UInt64
        public var p99: UInt64
        public var p999: UInt64
        public var p9999: UInt64
        public var max: UInt64
        /// The fastest request (absent in reports from before 0.13).
        public var min: UInt64?
        public var mean: Double

        public init(kind: String, recorder: LatencyRecorder) {
            self.kind = kind
            count = recorder.count
            p50 = recorder.micros(atPercentile: 50)
            p90 = recorder.micros(atPercentile: 90)
            p99 = recorder.micros(atPercentile: 99)
            p999 = recorder.micros(atPercentile: 99.9)
            p9999 = recorder.micros(atPercentile: 99.99)
            max = recorder.maxMicros
            min = recorder.minMicros
            mean = (recorder.meanMicros * 10).rounded() / 10
        }

        // One percentile spelling everywhere (summary, JSON, gate, baseline): `p99.9`, not `p999`.
        private enum CodingKeys: String, CodingKey {
            case kind, count, p50, p90, p99, p999 = "p99.9", p9999 = "p99.99", max, min, mean
            case oldP999 = "p999", oldP9999 = "p9999"   // reports written before 0.14
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            kind = try c.decode(String.self, forKey: .kind)
            count = try c.decode(UInt64.self, forKey: .count)
            p50 = try c.decode(UInt64.self, forKey: .p50)
            p90 = try c.decode(UInt64.self, forKey: .p90)
            p99 = try c.decode(UInt64.self, forKey: .p99)
            p999 = try c.decodeIfPresent(UInt64.self, forKey: .p999) ?? c.decode(UInt64.self, forKey: .oldP999)
            p9999 = try c.decodeIfPresent(UInt64.self, forKey: .p9999) ?? c.decode(UInt64.self, forKey: .oldP9999)
            max = try c.decode(UInt64.self, forKey: .max)
            min = try c.decodeIfPresent(UInt64.self, forKey: .min)
            mean = try c.decode(Double.self, forKey: .mean)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(kind, forKey: .kind)
            try c.encode(count, forKey: .count)
            try c.encode(p50, forKey: .p50)
            try c.encode(p90, forKey: .p90)
            try c.encode(p99, forKey: .p99)
            try c.encode(p999, forKey: .p999)
            try c.encode(p9999, forKey: .p9999)
            try c.encode(max, forKey: .max)
            try c.encodeIfPresent(min, forKey: .min)
            try c.encode(mean, forKey: .mean)
        }
    }

    /// One offer, in units of the offer (a bundle's units are whole bundles).
    public struct OfferLine: Codable, Sendable, Equatable {
        public var id: String
        public var kind: String
        public var initial: Int64
        public var sold: Int64
        public var held: Int64
        public var remaining: Int64
        /// Seconds into the run of the first SOLD_OUT decision, if any.
        public var soldOutAtSeconds: Double?
        public init(id: String, kind: String, initial: Int64, sold: Int64, held: Int64, remaining: Int64, soldOutAtSeconds: Double?) {
            self.id = id
            self.kind = kind
            self.initial = initial
            self.sold = sold
            self.held = held
            self.remaining = remaining
            self.soldOutAtSeconds = soldOutAtSeconds
        }
    }

    /// One stock item: the unit of conservation (`initial = remaining + held + sold`).
    public struct ItemLine: Codable, Sendable, Equatable {
        public var id: String
        public var initial: Int64
        public var sold: Int64
        public var held: Int64
        public var remaining: Int64
        public init(id: String, initial: Int64, sold: Int64, held: Int64, remaining: Int64) {
            self.id = id
            self.initial = initial
            self.sold = sold
            self.held = held
            self.remaining = remaining
        }
    }

    public struct Invariants: Codable, Sendable, Equatable {
        /// Items whose stock went below zero or sold more than they had.
        public var oversold: Int
        /// Items where initial ≠ remaining + held + sold, from the ledger.
        public var conservationViolations: Int
        /// Whether the segments written were read back and checked too.
        public var checkedSegments: Bool
        /// Items whose sold/held units rebuilt from the segments differ from the ledger's.
        public var segmentMismatches: Int
        /// Outcomes whose counts in the segments differ from the counts reported.
        public var outcomeMismatches: Int
        public var passed: Bool { oversold == 0 && conservationViolations == 0 && segmentMismatches == 0 && outcomeMismatches == 0 }
        public init(oversold: Int = 0, conservationViolations: Int = 0, checkedSegments: Bool = false,
                    segmentMismatches: Int = 0, outcomeMismatches: Int = 0) {
            self.oversold = oversold
            self.conservationViolations = conservationViolations
            self.checkedSegments = checkedSegments
            self.segmentMismatches = segmentMismatches
            self.outcomeMismatches = outcomeMismatches
        }
    }

    public struct Segments: Codable, Sendable, Equatable {
        public var dir: String?
        public var files: Int
        public var bytes: Int
        public var records: Int
        public var rawBytes: Int
        public var compressionRatio: Double
        public var durability: String
        /// LZ4 acceleration the blocks were compressed with (1 = best compression).
        public var lz4Acceleration: Int
        public var fsyncs: Int
        /// How this run's writer wrote its segments: `direct` (O_DIRECT), `buffered` (page cache), `mixed`
        /// (a file system refused direct I/O for some), or `server's` (a `--target` run).
        public var io: String
        public init(dir: String?, files: Int, bytes: Int, records: Int, rawBytes: Int, compressionRatio: Double, durability: String,
                    lz4Acceleration: Int = 1, fsyncs: Int, io: String = "buffered") {
            self.dir = dir
            self.files = files
            self.bytes = bytes
            self.records = records
            self.rawBytes = rawBytes
            self.compressionRatio = compressionRatio
            self.durability = durability
            self.lz4Acceleration = lz4Acceleration
            self.fsyncs = fsyncs
            self.io = io
        }

        private enum CodingKeys: String, CodingKey {
            case dir, files, bytes, records, rawBytes, compressionRatio, durability, lz4Acceleration, fsyncs, io
        }

        /// Reports written before `lz4Acceleration` or `io` existed (`RunReport.decode` of older JSON files)
        /// read as acceleration 1 and buffered I/O (the only kind there was).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            dir = try c.decodeIfPresent(String.self, forKey: .dir)
            files = try c.decode(Int.self, forKey: .files)
            bytes = try c.decode(Int.self, forKey: .bytes)
            records = try c.decode(Int.self, forKey: .records)
            rawBytes = try c.decode(Int.self, forKey: .rawBytes)
            compressionRatio = try c.decode(Double.self, forKey: .compressionRatio)
            durability = try c.decode(String.self, forKey: .durability)
            lz4Acceleration = try c.decodeIfPresent(Int.self, forKey: .lz4Acceleration) ?? 1
            fsyncs = try c.decode(Int.self, forKey: .fsyncs)
            io = try c.decodeIfPresent(String.self, forKey: .io) ?? "buffered"
        }

        /// Every key, always: `dir` is null (not absent) for a temporary directory (docs/report.md).
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(dir, forKey: .dir)
            try c.encode(files, forKey: .files)
            try c.encode(bytes, forKey: .bytes)
            try c.encode(records, forKey: .records)
            try c.encode(rawBytes, forKey: .rawBytes)
            try c.encode(compressionRatio, forKey: .compressionRatio)
            try c.encode(durability, forKey: .durability)
            try c.encode(lz4Acceleration, forKey: .lz4Acceleration)
            try c.encode(fsyncs, forKey: .fsyncs)
            try c.encode(io, forKey: .io)
        }
    }

    public struct Load: Codable, Sendable, Equatable {
        /// `open` (paced on intended send times) or `max` (as fast as possible).
        public var mode: String
        /// `shed` (OVERLOAD outcome) or `wait` (the source slows down) when the pipeline is full.
        public var overloadPolicy: String
        public var offered: Int
        public var offeredPerSecond: Double
        public var shed: Int
        /// Seconds the source spent waiting for room (policy `wait`).
        public var sourceWaitSeconds: Double
        public init(mode: String, overloadPolicy: String, offered: Int, offeredPerSecond: Double, shed: Int, sourceWaitSeconds: Double) {
            self.mode = mode
            self.overloadPolicy = overloadPolicy
            self.offered = offered
            self.offeredPerSecond = offeredPerSecond
            self.shed = shed
            self.sourceWaitSeconds = sourceWaitSeconds
        }
    }

    /// One traffic phase of a paced run (the timeline is cut at each phase's start): what was offered in
    /// it, what was acknowledged in it by outcome, and the latency of those acknowledgements.
    public struct PhaseLine: Codable, Sendable, Equatable {
        public var index: Int
        /// The phase as run, e.g. "constant 5000/s", "ramp 0→50000/s".
        public var shape: String
        public var startSeconds: Double
        public var seconds: Double
        public var offered: Int
        public var acknowledged: Int
        public var shed: Int
        public var outcomes: [String: Int]
        public var latencyMicros: Latency
        public init(index: Int, shape: String, startSeconds: Double, seconds: Double, offered: Int, acknowledged: Int, shed: Int,
                    outcomes: [String: Int], latencyMicros: Latency) {
            self.index = index
            self.shape = shape
            self.startSeconds = startSeconds
            self.seconds = seconds
            self.offered = offered
            self.acknowledged = acknowledged
            self.shed = shed
            self.outcomes = outcomes
            self.latencyMicros = latencyMicros
        }
    }

    /// A `--target` run: the server measured from the client's side (nil for in-process runs).
    public struct Target: Codable, Sendable, Equatable {
        public var url: String
        public var connections: Int
        public var pipeline: Int
        /// Requests written to a connection.
        public var sent: Int
        /// Answers read, of any status.
        public var answered: Int
        /// Answers by status: HTTP codes ("200", "429", "503") or binary statuses ("DECIDED", "OVERLOADED").
        public var statuses: [String: Int]
        public var connectErrors: Int
        /// Requests without an answer within the time-out.
        public var timeouts: Int
        /// Requests lost with a connection that failed or was closed.
        public var connectionErrors: Int
        /// Answers the client could not read (the connection was then closed).
        public var protocolErrors: Int
        public var reconnects: Int
        /// The rate the traffic asked for (its arrivals over its length), when it has one.
        public var requestedPerSecond: Double?
        /// Requests sent per second, from the first intended send time to the last send.
        public var achievedPerSecond: Double
        /// The most requests that were due at once and waited for a connection with room.
        public var maxBacklog: Int

        public init(url: String, connections: Int, pipeline: Int, sent: Int, answered: Int, statuses: [String: Int],
                    connectErrors: Int, timeouts: Int, connectionErrors: Int, protocolErrors: Int, reconnects: Int,
                    requestedPerSecond: Double?, achievedPerSecond: Double, maxBacklog: Int) {
            self.url = url
            self.connections = connections
            self.pipeline = pipeline
            self.sent = sent
            self.answered = answered
            self.statuses = statuses
            self.connectErrors = connectErrors
            self.timeouts = timeouts
            self.connectionErrors = connectionErrors
            self.protocolErrors = protocolErrors
            self.reconnects = reconnects
            self.requestedPerSecond = requestedPerSecond
            self.achievedPerSecond = achievedPerSecond
            self.maxBacklog = maxBacklog
        }
    }

    public var profile: String
    public var seed: UInt64
    public var lanes: Int
    public var durationSeconds: Double
    public var requests: Int
    /// Decisions (including hold expiries) per second of wall time, from first request to final fsync.
    public var decisionsPerSecond: Double
    public var decisions: Int
    public var outcomes: [String: Int]
    public var latencyMicros: Latency
    public var offers: [OfferLine]
    public var items: [ItemLine]
    public var invariants: Invariants
    public var segments: Segments
    public var memory: MemoryStats
    public var load: Load
    /// Records found in the segment directory before the run (a restarted campaign), 0 for a fresh one.
    public var resumedRecords: Int
    /// Set for a `--target` run: the client's figures. Its invariants, offers and segments are the
    /// server's (`serve --report`), not checked here.
    public var target: Target?
    /// Version, commit, start time, host, CPU, cores, kernel and whether the run was interrupted.
    public var metadata: RunMetadata?
    /// The run interval by interval (1 s unless `--interval`): the intervals add up to the totals.
    public var timeline: [TimelineInterval]?
    /// Hold expiries among `decisions` (journaled RELEASED decisions of the lanes, not answers to requests).
    public var expiries: Int?
    /// A line per traffic phase of a paced run (nil for `--rate max`, replays and `--target` runs).
    public var phases: [PhaseLine]?

    public init(profile: String, seed: UInt64, lanes: Int, durationSeconds: Double, requests: Int,
                decisionsPerSecond: Double, decisions: Int, outcomes: [String: Int], latencyMicros: Latency,
                offers: [OfferLine], items: [ItemLine], invariants: Invariants, segments: Segments,
                memory: MemoryStats, load: Load, resumedRecords: Int, timeline: [TimelineInterval]? = nil, expiries: Int? = nil,
                phases: [PhaseLine]? = nil) {
        self.phases = phases
        self.profile = profile
        self.seed = seed
        self.lanes = lanes
        self.durationSeconds = durationSeconds
        self.requests = requests
        self.decisionsPerSecond = decisionsPerSecond
        self.decisions = decisions
        self.outcomes = outcomes
        self.latencyMicros = latencyMicros
        self.offers = offers
        self.items = items
        self.invariants = invariants
        self.segments = segments
        self.memory = memory
        self.load = load
        self.resumedRecords = resumedRecords
        self.timeline = timeline
        self.expiries = expiries
    }

    /// Pretty, key-sorted JSON with snake_case keys (`ReportJSON`).
    public func jsonData() throws -> Data {
        try ReportJSON.encoder().encode(self)
    }

    public static func decode(_ data: Data) throws -> RunReport {
        try ReportJSON.decoder().decode(RunReport.self, from: data)
    }
}
