import FlashSaleCore
import FlashSaleSystem

/// One interval of a run's timeline: what happened between `startSeconds` and `startSeconds + seconds`
/// of the run (offered, decided, acknowledged, by outcome, shed, the latency of the requests
/// acknowledged in it, and the state at its end: in flight, how far the durable watermark trails the
/// journal, RSS). The intervals of a run add up to its totals.
public struct TimelineInterval: Sendable, Codable, Equatable {
    public var startSeconds: Double
    public var seconds: Double
    /// Requests the source offered to the lanes (shed ones included).
    public var offered: Int
    /// Decisions the lanes handed to the journal (hold expiries included).
    public var decided: Int
    /// Decisions acknowledged (durable per the durability), hold expiries included.
    public var acknowledged: Int
    /// Acknowledged decisions by outcome name (OVERLOAD: requests shed, never decided); outcomes with a count only.
    public var outcomes: [String: Int]
    public var shed: Int
    /// Latency of the requests acknowledged in this interval, µs (0 when none was).
    public var p50Micros: UInt64
    public var p90Micros: UInt64
    public var p99Micros: UInt64
    public var p999Micros: UInt64
    public var maxMicros: UInt64
    /// At the interval's end: requests offered and neither acknowledged nor shed.
    public var inFlight: Int
    /// At the interval's end: records journaled and not yet durable.
    public var durableLagRecords: Int
    public var rssBytes: Int
    /// The traffic phase the interval lies in (index into the profile's phases; intervals are cut at
    /// phase boundaries); nil without phases (`--rate max`, replays, servers).
    public var phase: Int?
    /// At the interval's end: units in stock per item (the report's `items` order; the sell-out curve);
    /// nil when the stock is not this process's (`--target`) or the campaign has more than 64 items.
    public var remaining: [Int64]?

    public init(startSeconds: Double, seconds: Double, offered: Int, decided: Int, acknowledged: Int, outcomes: [String: Int],
                shed: Int, p50Micros: UInt64, p90Micros: UInt64, p99Micros: UInt64, p999Micros: UInt64, maxMicros: UInt64,
                inFlight: Int, durableLagRecords: Int, rssBytes: Int, phase: Int? = nil, remaining: [Int64]? = nil) {
        self.phase = phase
        self.remaining = remaining
        self.startSeconds = startSeconds
        self.seconds = seconds
        self.offered = offered
        self.decided = decided
        self.acknowledged = acknowledged
        self.outcomes = outcomes
        self.shed = shed
        self.p50Micros = p50Micros
        self.p90Micros = p90Micros
        self.p99Micros = p99Micros
        self.p999Micros = p999Micros
        self.maxMicros = maxMicros
        self.inFlight = inFlight
        self.durableLagRecords = durableLagRecords
        self.rssBytes = rssBytes
    }

    // JSON (the report's `timeline`, NDJSON lines): the run report's names and spelling, latency nested
    // as in its `latency_micros` (`p50` … `p99.9`, `max`).
    private enum CodingKeys: String, CodingKey {
        case startSeconds, seconds, offered, decided, acknowledged, outcomes, shed, latencyMicros, inFlight, durableLagRecords, rssBytes
        case phase, remaining
    }
    private enum LatencyKeys: String, CodingKey { case p50, p90, p99, p999 = "p99.9", max }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        startSeconds = try c.decode(Double.self, forKey: .startSeconds)
        seconds = try c.decode(Double.self, forKey: .seconds)
        offered = try c.decode(Int.self, forKey: .offered)
        decided = try c.decode(Int.self, forKey: .decided)
        acknowledged = try c.decode(Int.self, forKey: .acknowledged)
        outcomes = try c.decode([String: Int].self, forKey: .outcomes)
        shed = try c.decode(Int.self, forKey: .shed)
        let l = try c.nestedContainer(keyedBy: LatencyKeys.self, forKey: .latencyMicros)
        p50Micros = try l.decode(UInt64.self, forKey: .p50)
        p90Micros = try l.decode(UInt64.self, forKey: .p90)
        p99Micros = try l.decode(UInt64.self, forKey: .p99)
        p999Micros = try l.decode(UInt64.self, forKey: .p999)
        maxMicros = try l.decode(UInt64.self, forKey: .max)
        inFlight = try c.decode(Int.self, forKey: .inFlight)
        durableLagRecords = try c.decode(Int.self, forKey: .durableLagRecords)
        rssBytes = try c.decode(Int.self, forKey: .rssBytes)
        phase = try c.decodeIfPresent(Int.self, forKey: .phase)
        remaining = try c.decodeIfPresent([Int64].self, forKey: .remaining)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(startSeconds, forKey: .startSeconds)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(offered, forKey: .offered)
        try c.encode(decided, forKey: .decided)
        try c.encode(acknowledged, forKey: .acknowledged)
        try c.encode(outcomes, forKey: .outcomes)
        try c.encode(shed, forKey: .shed)
        var l = c.nestedContainer(keyedBy: LatencyKeys.self, forKey: .latencyMicros)
        try l.encode(p50Micros, forKey: .p50)
        try l.encode(p90Micros, forKey: .p90)
        try l.encode(p99Micros, forKey: .p99)
        try l.encode(p999Micros, forKey: .p999)
        try l.encode(maxMicros, forKey: .max)
        try c.encode(inFlight, forKey: .inFlight)
        try c.encode(durableLagRecords, forKey: .durableLagRecords)
        try c.encode(rssBytes, forKey: .rssBytes)
        try c.encodeIfPresent(phase, forKey: .phase)
        try c.encodeIfPresent(remaining, forKey: .remaining)
    }

    /// The CSV header of `csvLine` (`--timeline FILE.csv`): the JSON's names (snake_case, as every JSON
    /// flashsale writes), nested ones by their path (`latency_micros.p99.9`, `outcomes.SOLD_OUT`).
    public static var csvHeader: String {
        "start_seconds,seconds,offered,decided,acknowledged,shed,latency_micros.p50,latency_micros.p90,latency_micros.p99,"
            + "latency_micros.p99.9,latency_micros.max,in_flight,durable_lag_records,rss_bytes,phase,"
            + Outcome.allCases.map { "outcomes." + $0.name }.joined(separator: ",")
    }

    /// One CSV line (no line end), columns as `csvHeader`.
    public var csvLine: String {
        var s = "\(Self.fixed3(startSeconds)),\(Self.fixed3(seconds)),\(offered),\(decided),\(acknowledged),\(shed),"
        s += "\(p50Micros),\(p90Micros),\(p99Micros),\(p999Micros),\(maxMicros),\(inFlight),\(durableLagRecords),\(rssBytes),"
        s += phase.map { "\($0)," } ?? ","
        return s + Outcome.allCases.map { "\(outcomes[$0.name] ?? 0)" }.joined(separator: ",")
    }

    static func fixed3(_ v: Double) -> String {
        let ms = Int64((v * 1000).rounded())
        let frac = ms % 1000
        return "\(ms / 1000)." + (frac < 10 ? "00" : frac < 100 ? "0" : "") + "\(frac)"
    }
}

/// The cumulative figures a timeline is cut from: what the pipeline, a server or a load client has
/// counted since it started (`shed` apart from `outcomes`), and the state now.
public struct TimelineTotals: Sendable {
    public var offered: Int
    public var decided: Int
    public var acknowledged: Int
    /// Count per `Outcome` raw value.
    public var outcomes: [Int]
    public var shed: Int
    public var inFlight: Int
    public var durableLag: Int
    /// Units in stock per item now (nil: not this process's stock).
    public var remaining: [Int64]?
    public init(offered: Int, decided: Int, acknowledged: Int, outcomes: [Int], shed: Int, inFlight: Int, durableLag: Int,
                remaining: [Int64]? = nil) {
        self.remaining = remaining
        self.offered = offered
        self.decided = decided
        self.acknowledged = acknowledged
        self.outcomes = outcomes
        self.shed = shed
        self.inFlight = inFlight
        self.durableLag = durableLag
    }
}

/// Builds a timeline: each `cut` closes the current interval from cumulative figures (the difference
/// since the previous cut) and the latency recorded since. Used on the journal's queue (runs, `serve`)
/// and on a load client's thread (`--target`). It keeps at most `keep` intervals (the newest; a server
/// runs for days), every one still goes to the stream as it closes.
public struct TimelineRecorder: Sendable {
    public let runStartNanos: UInt64
    public let keep: Int
    private var lastNanos: UInt64
    private var last: TimelineTotals
    /// When the last interval closed (monotonic nanoseconds).
    public var lastCutNanos: UInt64 { lastNanos }
    public private(set) var intervals: [TimelineInterval] = []
    /// Intervals dropped from the front to stay within `keep`.
    public private(set) var dropped = 0
    /// Where the traffic's phases start, seconds into the run (empty: no phases); the timeline is cut at
    /// each one, so that an interval lies in one phase.
    public let phaseStartsSeconds: [Double]
    /// Latency acknowledged in each phase's intervals (merged per cut, never per request).
    public private(set) var phaseLatency: [LatencyRecorder]

    public init(runStartNanos: UInt64, keep: Int = .max, phaseStartsSeconds: [Double] = []) {
        self.runStartNanos = runStartNanos
        self.keep = max(1, keep)
        self.phaseStartsSeconds = phaseStartsSeconds
        phaseLatency = Array(repeating: LatencyRecorder(), count: phaseStartsSeconds.count)
        lastNanos = runStartNanos
        last = TimelineTotals(offered: 0, decided: 0, acknowledged: 0, outcomes: [Int](repeating: 0, count: Outcome.count),
                              shed: 0, inFlight: 0, durableLag: 0)
    }

    /// Closes the interval ending `now`; `latency` holds what was acknowledged in it (the caller resets it).
    public mutating func cut(now: UInt64, totals t: TimelineTotals, latency: LatencyRecorder) -> TimelineInterval {
        var byName: [String: Int] = [:]
        for o in Outcome.allCases where Int(o.rawValue) < t.outcomes.count {
            let d = t.outcomes[Int(o.rawValue)] - last.outcomes[Int(o.rawValue)]
            if d != 0 { byName[o.name] = d }
        }
        let start = Double(lastNanos &- runStartNanos) / 1e9, seconds = Double(now &- lastNanos) / 1e9
        // The phase holding the interval's middle (cuts at the boundaries keep an interval inside one).
        var phase: Int?
        if !phaseStartsSeconds.isEmpty {
            let middle = start + seconds / 2
            let k = max(0, (phaseStartsSeconds.lastIndex { $0 <= middle }) ?? 0)
            phase = k
            phaseLatency[k].merge(latency)
        }
        let interval = TimelineInterval(
            startSeconds: start, seconds: seconds,
            offered: t.offered - last.offered, decided: t.decided - last.decided, acknowledged: t.acknowledged - last.acknowledged,
            outcomes: byName, shed: t.shed - last.shed,
            p50Micros: latency.micros(atPercentile: 50), p90Micros: latency.micros(atPercentile: 90),
            p99Micros: latency.micros(atPercentile: 99), p999Micros: latency.micros(atPercentile: 99.9), maxMicros: latency.maxMicros,
            inFlight: max(0, t.inFlight), durableLagRecords: max(0, t.durableLag), rssBytes: System.residentBytes(),
            phase: phase, remaining: t.remaining)
        lastNanos = now
        last = t
        intervals.append(interval)
        // Trimmed in steps of half the bound (amortised O(1) per cut), exactly for small bounds.
        if intervals.count > keep && (keep < 1024 || intervals.count - keep >= keep / 2) {
            let extra = intervals.count - keep
            intervals.removeFirst(extra)
            dropped += extra
        }
        return interval
    }
}
