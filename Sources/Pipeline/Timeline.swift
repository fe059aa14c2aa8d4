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

    public init(startSeconds: Double, seconds: Double, offered: Int, decided: Int, acknowledged: Int, outcomes: [String: Int],
                shed: Int, p50Micros: UInt64, p90Micros: UInt64, p99Micros: UInt64, p999Micros: UInt64, maxMicros: UInt64,
                inFlight: Int, durableLagRecords: Int, rssBytes: Int) {
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

    /// The CSV header of `csvLine` (`--timeline FILE.csv`).
    public static var csvHeader: String {
        "start_s,seconds,offered,decided,acknowledged,shed,p50_us,p90_us,p99_us,p999_us,max_us,in_flight,durable_lag_records,rss_bytes,"
            + Outcome.allCases.map { $0.name.lowercased() }.joined(separator: ",")
    }

    /// One CSV line (no line end), columns as `csvHeader`.
    public var csvLine: String {
        var s = "\(Self.fixed3(startSeconds)),\(Self.fixed3(seconds)),\(offered),\(decided),\(acknowledged),\(shed),"
        s += "\(p50Micros),\(p90Micros),\(p99Micros),\(p999Micros),\(maxMicros),\(inFlight),\(durableLagRecords),\(rssBytes),"
        return s + Outcome.allCases.map { "\(outcomes[$0.name] ?? 0)" }.joined(separator: ",")
    }

    static func fixed3(_ v: Double) -> String {
        let ms = Int64((v * 1000).rounded())
        let frac = ms % 1000
        return "\(ms / 1000)." + (frac < 10 ? "00" : frac < 100 ? "0" : "") + "\(frac)"
    }
}

/// Builds the timeline on the journal's queue: each `cut` closes the current interval from the journal's
/// cumulative figures (the difference since the previous cut) and the latency recorded since.
struct TimelineRecorder {
    let runStartNanos: UInt64
    private var lastNanos: UInt64
    private var lastOffered = 0
    private var lastDecided = 0
    private var lastAcknowledged = 0
    private var lastOutcomes = [Int](repeating: 0, count: Outcome.count)
    private(set) var intervals: [TimelineInterval] = []

    init(runStartNanos: UInt64) {
        self.runStartNanos = runStartNanos
        lastNanos = runStartNanos
    }

    /// Closes the interval ending `now`; `latency` holds what was acknowledged in it (the caller resets it).
    mutating func cut(now: UInt64, offered: Int, decided: Int, acknowledged: Int, outcomes: [Int], latency: LatencyRecorder,
                      durableLag: Int) -> TimelineInterval {
        var byName: [String: Int] = [:]
        for o in Outcome.allCases {
            let d = outcomes[Int(o.rawValue)] - lastOutcomes[Int(o.rawValue)]
            if d != 0 { byName[o.name] = d }
        }
        let shedNow = outcomes[Int(Outcome.overload.rawValue)]
        let interval = TimelineInterval(
            startSeconds: Double(lastNanos &- runStartNanos) / 1e9, seconds: Double(now &- lastNanos) / 1e9,
            offered: offered - lastOffered, decided: decided - lastDecided, acknowledged: acknowledged - lastAcknowledged,
            outcomes: byName, shed: shedNow - lastOutcomes[Int(Outcome.overload.rawValue)],
            p50Micros: latency.micros(atPercentile: 50), p90Micros: latency.micros(atPercentile: 90),
            p99Micros: latency.micros(atPercentile: 99), p999Micros: latency.micros(atPercentile: 99.9), maxMicros: latency.maxMicros,
            inFlight: max(0, offered - shedNow - acknowledged), durableLagRecords: max(0, durableLag), rssBytes: System.residentBytes())
        lastNanos = now
        lastOffered = offered
        lastDecided = decided
        lastAcknowledged = acknowledged
        lastOutcomes = outcomes
        intervals.append(interval)
        return interval
    }
}
