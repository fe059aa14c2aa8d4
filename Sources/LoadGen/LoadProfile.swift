import FlashSaleCore

/// A load profile: a campaign (what is sold, to whom, when) and the traffic thrown at it.
///
/// Profiles are YAML files (schema in docs/profiles.md); `parse` validates them completely, so a
/// profile that loads is runnable.
public struct LoadProfile: Sendable {
    public var name: String
    /// Seeds the organisation population and the traffic stream.
    public var seed: UInt64
    /// Default run length in seconds (the phases, scaled to it).
    public var durationSeconds: Double
    public var campaign: Campaign
    public var traffic: TrafficSpec
    /// How `campaign.population` was generated (so `reseeded(_:)` can regenerate it).
    public var populationSpec: PopulationSpec
    /// Where the profile came from (a path, or a label such as "<built-in>").
    public var file: String

    public init(name: String, seed: UInt64, durationSeconds: Double, campaign: Campaign,
                traffic: TrafficSpec, populationSpec: PopulationSpec, file: String) {
        self.name = name
        self.seed = seed
        self.durationSeconds = durationSeconds
        self.campaign = campaign
        self.traffic = traffic
        self.populationSpec = populationSpec
        self.file = file
    }

    /// Valid but almost certainly not meant: traffic that never meets the sale window (every order would
    /// be OUTSIDE_WINDOW). Empty for a sensible profile; `flashsale` prints them as warnings.
    public var warnings: [String] {
        let seconds = durationSeconds > 0 ? durationSeconds : traffic.phaseSeconds
        let start = traffic.startMillis
        let end = start + Int64((seconds * traffic.timeScale * 1000).rounded())
        let window = campaign.window
        let time = SaleWindow.describe
        let span = "the traffic covers campaign time \(time(start)) to \(time(end))"
        if end <= window.opensMillis {
            return ["traffic: \(span), before campaign.window opens (\(time(window.opensMillis))): every order will be OUTSIDE_WINDOW"]
        }
        if start >= window.closesMillis {
            return ["traffic: \(span), after campaign.window closes (\(time(window.closesMillis))): every order will be OUTSIDE_WINDOW"]
        }
        return []
    }

    /// The same profile with another seed: the population is regenerated from it too.
    public func reseeded(_ seed: UInt64) -> LoadProfile {
        var p = self
        p.seed = seed
        p.campaign.population = populationSpec.generate(regionCount: campaign.regions.count, seed: seed)
        return p
    }
}

/// The organisation population, as distributions; `generate` makes it deterministically from a seed.
public struct PopulationSpec: Sendable, Equatable {
    public var organisations: Int
    /// Probability of each certification level, indexed by `CertificationLevel.rawValue`.
    public var certification: [Double]
    /// Probability of each region, indexed like `Campaign.regions`.
    public var regions: [Double]
    /// Probability that an organisation completed the activation task.
    public var activated: Double
    /// Probability of each of `Campaign.tags`, drawn independently per organisation (empty: no tags).
    public var tags: [Double]

    public init(organisations: Int, certification: [Double], regions: [Double], activated: Double, tags: [Double] = []) {
        self.organisations = organisations
        self.certification = certification
        self.regions = regions
        self.activated = activated
        self.tags = tags
    }

    /// Dense ids `0..<organisations`; the same seed gives the same population.
    ///
    /// Certification levels come in id blocks (none first, then basic, intermediate, advanced) with
    /// exactly the configured shares (rounded), so "organisations at or above level L" is an id range and
    /// the generator picks eligible organisations without a lookup table. Regions and activation are
    /// drawn independently per organisation (one SplitMix64 draw: 21 bits each). A million organisations
    /// take a few milliseconds.
    public func generate(regionCount: Int, seed: UInt64) -> Population {
        let n = organisations
        let levelEnd = Self.cumulative(certification, total: UInt64(n)).map(Int.init)
        let regionCut = regions.isEmpty ? [UInt64(1) << 21] : Self.cumulative(regions, total: 1 << 21)
        let activeCut = UInt64((activated * Double(1 << 21)).rounded())
        var rng = SplitMix64(seed: seed ^ 0x6F72_6761_6E69_7361) // "organisa"
        let orgs = [Organisation](unsafeUninitializedCapacity: n) { buffer, initialized in
            var level = 0
            for i in 0..<n {
                while level < levelEnd.count - 1 && i >= levelEnd[level] { level += 1 }
                let r = rng.next()
                let b = r & 0x1F_FFFF, c = (r >> 21) & 0x1F_FFFF
                var region = 0
                while region < regionCut.count - 1 && b >= regionCut[region] { region += 1 }
                buffer.initializeElement(at: i, to: Organisation(
                    level: CertificationLevel(rawValue: UInt8(level)) ?? .none,
                    region: UInt8(truncatingIfNeeded: region), activated: c < activeCut))
            }
            initialized = n
        }
        guard tags.contains(where: { $0 > 0 }) else { return Population(orgs) }
        // Tags from a stream of their own, so a profile without tags keeps its population.
        var tagged = orgs
        var tagRng = SplitMix64(seed: seed ^ 0x7461_6773_7461_6773) // "tagstags"
        let cuts = tags.map { UInt64(($0 * Double(1 << 32)).rounded()) }
        for i in 0..<n {
            var bits: UInt32 = 0
            for (t, cut) in cuts.enumerated() where tagRng.next() >> 32 < cut { bits |= 1 << UInt32(t) }
            tagged[i].tags = bits
        }
        return Population(tagged)
    }

    /// Cumulative thresholds on `0..<total` (the last is exactly `total`).
    static func cumulative(_ p: [Double], total: UInt64) -> [UInt64] {
        let sum = p.reduce(0, +)
        var acc = 0.0
        var out = p.map { acc += $0 / sum; return UInt64((acc * Double(total)).rounded()) }
        if !out.isEmpty { out[out.count - 1] = total }
        return out
    }
}

/// The traffic a profile offers: arrival rate over run time, what is asked for, and client behaviour.
public struct TrafficSpec: Sendable, Equatable {
    /// One stretch of the arrival-rate curve, over run time (seconds since the run started).
    public enum Phase: Sendable, Equatable {
        /// `rate` requests per second for `seconds` (rate 0 is a pause).
        case constant(rate: Double, seconds: Double)
        /// Linear from `from` to `to` requests per second over `seconds`.
        case ramp(from: Double, to: Double, seconds: Double)
        /// A smoothed step (logistic) from `base` to `peak`, centred `atSeconds` into the phase;
        /// `riseSeconds` is the 10%→90% rise time (like Gatling's stressPeakUsers heaviside).
        case spike(base: Double, peak: Double, atSeconds: Double, riseSeconds: Double, seconds: Double)

        public var seconds: Double {
            switch self {
            case .constant(_, let s), .ramp(_, _, let s), .spike(_, _, _, _, let s): s
            }
        }

        /// The phase in words, as run: "constant 5000/s", "ramp 0→50000/s", "spike 1000→200000/s at 2.5 s".
        public var summary: String {
            func r(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? "\(Int64(v))/s" : "\((v * 10).rounded() / 10)/s" }
            func s(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? "\(Int64(v)) s" : "\((v * 1000).rounded() / 1000) s" }
            switch self {
            case .constant(let rate, _): return rate == 0 ? "pause" : "constant \(r(rate))"
            case .ramp(let a, let b, _): return "ramp \(r(a).dropLast(2))→\(r(b))"
            case .spike(let base, let peak, let at, _, _): return "spike \(r(base).dropLast(2))→\(r(peak)) at \(s(at))"
            }
        }

        /// The instantaneous rate `t` seconds into the phase.
        public func rate(at t: Double) -> Double {
            switch self {
            case .constant(let r, _): return r
            case .ramp(let a, let b, let s): return a + (b - a) * min(max(t / s, 0), 1)
            case .spike(let base, let peak, let at, let rise, _):
                let w = Self.logisticWidth(rise)
                return base + (peak - base) / (1 + Math.exp(-(t - at) / w))
            }
        }

        /// Requests offered from the phase start to `t` seconds into it: the integral of the rate.
        public func integral(to t: Double) -> Double {
            let t = min(max(t, 0), seconds)
            switch self {
            case .constant(let r, _): return r * t
            case .ramp(let a, let b, let s): return a * t + (b - a) * t * t / (2 * s)
            case .spike(let base, let peak, let at, let rise, _):
                let w = Self.logisticWidth(rise)
                return base * t + (peak - base) * w * (Self.softplus((t - at) / w) - Self.softplus(-at / w))
            }
        }

        public func scaled(by f: Double) -> Phase {
            switch self {
            case .constant(let r, let s): .constant(rate: r, seconds: s * f)
            case .ramp(let a, let b, let s): .ramp(from: a, to: b, seconds: s * f)
            case .spike(let base, let peak, let at, let rise, let s):
                .spike(base: base, peak: peak, atSeconds: at * f, riseSeconds: rise * f, seconds: s * f)
            }
        }

        /// Logistic scale such that the 10%→90% rise takes `rise` (= 2 ln 9 · w).
        static func logisticWidth(_ rise: Double) -> Double { max(rise, 1e-9) / (2 * 2.1972245773362196) }
        static func softplus(_ x: Double) -> Double { x > 30 ? x : Math.log1p(Math.exp(x)) }
    }

    public enum Arrivals: String, Sendable, Equatable {
        /// Exponential inter-arrival times at the instantaneous rate (a non-homogeneous Poisson process).
        case poisson
        /// Evenly spaced arrivals at the instantaneous rate.
        case uniform
    }

    public enum Popularity: Sendable, Equatable {
        case uniform
        /// Rank k (the k-th offer in `campaign.offers`, from 1) is chosen with probability ∝ 1/k^s.
        case zipf(s: Double)
        /// One probability per offer, indexed like `campaign.offers` (sums to 1).
        case weights([Double])

        public func probabilities(offerCount n: Int) -> [Double] {
            switch self {
            case .uniform: return [Double](repeating: 1 / Double(n), count: n)
            case .zipf(let s):
                let w = (1...n).map { 1 / Math.pow(Double($0), s) }
                let t = w.reduce(0, +)
                return w.map { $0 / t }
            case .weights(let w): return w
            }
        }
    }

    /// A campaign-time delay (follow-up confirms and cancels).
    public enum Delay: Sendable, Equatable {
        case fixed(millis: Int64)
        case uniform(minMillis: Int64, maxMillis: Int64)
        case exponential(meanMillis: Double)
    }

    public struct Behaviour: Sendable, Equatable {
        /// Probability that an arrival is an exact retransmit of the previous request.
        public var retransmit: Double
        /// Share of arrivals whose campaign time is moved before the window opens.
        public var early: Double
        /// Share of arrivals deliberately from organisations below the offer's minimum level.
        public var ineligible: Double
        /// For each reservation sent: probability a confirm follows.
        public var confirm: Double
        /// For each reservation sent: probability a cancel follows (instead of a confirm).
        public var cancel: Double
        public var confirmDelay: Delay

        public init(retransmit: Double = 0, early: Double = 0, ineligible: Double = 0, confirm: Double = 0,
                    cancel: Double = 0, confirmDelay: Delay = .exponential(meanMillis: 60_000)) {
            self.retransmit = retransmit
            self.early = early
            self.ineligible = ineligible
            self.confirm = confirm
            self.cancel = cancel
            self.confirmDelay = confirmDelay
        }
    }

    /// Campaign time at run start (ms since the campaign epoch).
    public var startMillis: Int64
    /// Campaign milliseconds per run millisecond.
    public var timeScale: Double
    /// Optional cap on the total number of requests (arrivals and follow-ups).
    public var requestLimit: Int?
    public var arrivals: Arrivals
    /// In sequence over run time; never empty in a parsed profile.
    public var phases: [Phase]
    public var popularity: Popularity
    /// Quantities asked for and their probabilities.
    public var quantities: [Int32]
    public var quantityProbabilities: [Double]
    public var behaviour: Behaviour

    public init(startMillis: Int64, timeScale: Double = 1, requestLimit: Int? = nil, arrivals: Arrivals = .poisson,
                phases: [Phase], popularity: Popularity = .uniform, quantities: [Int32] = [1],
                quantityProbabilities: [Double] = [1], behaviour: Behaviour = Behaviour()) {
        self.startMillis = startMillis
        self.timeScale = timeScale
        self.requestLimit = requestLimit
        self.arrivals = arrivals
        self.phases = phases
        self.popularity = popularity
        self.quantities = quantities
        self.quantityProbabilities = quantityProbabilities
        self.behaviour = behaviour
    }

    /// Sum of the phase lengths, in seconds.
    public var phaseSeconds: Double { phases.reduce(0) { $0 + $1.seconds } }

    /// Expected number of arrivals (the integral of the rate over all phases), before any request cap.
    public var expectedArrivals: Double { phases.reduce(0) { $0 + $1.integral(to: $1.seconds) } }
}
