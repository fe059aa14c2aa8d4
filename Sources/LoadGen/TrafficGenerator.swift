import Dispatch
import FlashSaleCore
import Synchronization

/// Open-model traffic for a profile: a deterministic stream of `OrderRequest`s, each stamped with the
/// time an open-model client intends to send it and the campaign time it carries.
///
/// - Arrivals follow the phases' rate curve λ(t): arrival k happens when Λ(t) = ∫λ reaches the k-th
///   point of a unit-rate process (exponential gaps for `poisson`, gaps of 1 for `uniform`), so the
///   number offered over any stretch is the integral of the rate (± Poisson noise). Λ is evaluated in
///   closed form at 1 ms steps of run time and is linear in between.
/// - Each new request picks an offer (alias table over the popularity), a quantity (alias table), and an
///   organisation: uniform over those eligible for the offer, or below its minimum level for the
///   `ineligible` share (organisation ids are kept sorted by level, so both are O(1)).
/// - An arrival is, with probability `retransmit`, an exact copy of the previous request (same id,
///   organisation, offer, kind, quantity, reference) sent at the arrival's time.
/// - A reservation may schedule a follow-up confirm or cancel (same organisation, `reference` = the
///   reservation's id, a new id) at campaign time + delay; follow-ups wait in a time-bucketed queue and
///   are emitted in campaign-time order, interleaved with arrivals. Follow-ups due after the run are not sent.
/// - Closed loop (`startClosedLoop()`, as every run and client does): a scheduled follow-up is sent
///   only if its reservation's answer granted a hold (HELD, or DUPLICATE of a HELD); otherwise it is
///   dropped. It keeps its place in the stream: if the answer has not come when the follow-up is due,
///   `fill` stops there (`isAwaitingAnswers`) until it comes, and the follow-up is sent no earlier than
///   the answer arrived. So the requests a run sends do not depend on the machine's speed, only on the
///   answers; with one lane and `--clock request` the answers do not either, and a run is reproducible
///   request for request. Open loop (never started): follow-ups are drawn without looking at answers.
/// - Same profile + seed (+ the same answers, closed loop) ⇒ the same stream, request for request,
///   whatever the buffer sizes.
///
/// `fill` costs 10–25 ns per request in release (more when most arrivals schedule follow-ups):
/// xoshiro256**, no allocation per request, no Foundation.
///
/// Not thread-safe: one caller at a time (it is `Sendable` so that it can be handed to the stage that owns it).
public final class TrafficGenerator: ClosedLoopSource, @unchecked Sendable {
    public let profile: LoadProfile
    public let seed: UInt64
    /// The phases as run (scaled to the run length, or the constant `--rate`).
    public let phases: [TrafficSpec.Phase]
    /// Campaign milliseconds per run millisecond, as run (the profile's time scale, stretched when the
    /// run length is changed so that the run covers the same campaign time).
    public let timeScale: Double
    /// The run length in nanoseconds.
    public let totalDurationNanos: UInt64
    /// Cap on the number of requests, if any.
    public let requestLimit: Int?
    /// Arrivals the phases offer on average (the rate integral), before any cap; follow-ups come on top.
    public let expectedArrivals: Double
    /// Campaign time at run start.
    public let startMillis: Int64

    private var engine: Engine
    private let answers = AnswerChannel()
    private let phaseStartNanos: [Double]
    private let phaseCumulative: [Double]

    /// Where each phase starts, seconds into the run (the timeline is cut there; the report's `phases`).
    public var phaseStartsSeconds: [Double] { phaseStartNanos.map { $0 / 1e9 } }

    /// Requests written by `fill` so far.
    public var offered: Int { engine.offered }
    /// True once `fill` has returned 0.
    public var isFinished: Bool { engine.finished }

    /// - Parameters:
    ///   - seed: replaces the profile's seed for the traffic (the population stays the profile's).
    ///   - durationSeconds: run length; the phases are scaled proportionally to it (and the time scale
    ///     with them, so the run still covers the same campaign time).
    ///   - constantRate: `--rate N`: one constant phase of N requests/s over the run replaces the phases.
    ///   - requestLimit: caps the total number of requests (replaces the profile's `traffic.requests`).
    public init(profile: LoadProfile, seed: UInt64? = nil, durationSeconds: Double? = nil,
                constantRate: Double? = nil, requestLimit: Int? = nil) {
        self.profile = profile
        let seed = seed ?? profile.seed
        self.seed = seed
        let traffic = profile.traffic
        let baseSeconds = profile.durationSeconds > 0 ? profile.durationSeconds : traffic.phaseSeconds
        let runSeconds = durationSeconds.map { max($0, 1e-6) } ?? baseSeconds
        var phases: [TrafficSpec.Phase]
        if let constantRate {
            phases = [.constant(rate: max(0, constantRate), seconds: runSeconds)]
        } else {
            let f = runSeconds / max(traffic.phaseSeconds, 1e-12)
            phases = abs(f - 1) > 1e-12 ? traffic.phases.map { $0.scaled(by: f) } : traffic.phases
        }
        self.phases = phases
        let timeScale = traffic.timeScale * baseSeconds / runSeconds
        self.timeScale = timeScale
        let total = UInt64((runSeconds * 1e9).rounded())
        totalDurationNanos = total
        self.requestLimit = requestLimit ?? traffic.requestLimit
        startMillis = traffic.startMillis

        var starts: [Double] = [], cum: [Double] = []
        var t = 0.0, c = 0.0
        for p in phases {
            starts.append(t); cum.append(c)
            t += p.seconds * 1e9
            c += p.integral(to: p.seconds)
        }
        phaseStartNanos = starts
        phaseCumulative = cum
        expectedArrivals = c

        engine = Engine(profile: profile, seed: seed, phases: phases, phaseStartNanos: starts, phaseCumulative: cum,
                        timeScale: timeScale, totalNanos: total, requestLimit: self.requestLimit)
    }

    /// Writes up to `buffer.count` next requests, in order; returns how many (0 when the run is over,
    /// or, closed loop, while `isAwaitingAnswers`).
    public func fill(_ buffer: UnsafeMutableBufferPointer<OrderRequest>) -> Int {
        if engine.closedLoop { answers.take { engine.awaited.answer($0.requestId, granted: $0.holdGranted, atNanos: $0.atNanos) } }
        return engine.fill(buffer)
    }

    // MARK: closed loop

    @discardableResult public func startClosedLoop() -> Bool {
        engine.closedLoop = engine.schedulesFollowUps
        return engine.closedLoop
    }

    public func receiveAnswers(_ body: (inout AnswerInbox) -> Void) { answers.put(body) }

    public var isAwaitingAnswers: Bool { engine.awaiting }

    public func waitForAnswers(timeoutNanos: UInt64) { answers.wait(timeoutNanos: timeoutNanos) }

    /// Follow-ups scheduled and still waiting for their reservation's answer or their time.
    public var pendingFollowUps: Int { engine.followUps.count + (engine.parked == nil ? 0 : 1) }
    /// Follow-ups dropped because their reservation did not get a hold (closed loop).
    public var droppedFollowUps: Int { engine.droppedFollowUps }

    /// The instantaneous arrival rate (requests/s) at `nanos` into the run (for reports).
    public func rate(atNanos nanos: UInt64) -> Double {
        let i = phaseIndex(atNanos: nanos)
        return phases[i].rate(at: (Double(nanos) - phaseStartNanos[i]) / 1e9)
    }

    /// The index in `phases` of the phase running at `nanos` into the run.
    public func phaseIndex(atNanos nanos: UInt64) -> Int {
        let t = Double(nanos)
        var lo = 0, hi = phases.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if phaseStartNanos[mid] <= t { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Arrivals the phases offer on average from the run start to `nanos` (the rate integral).
    public func expectedArrivals(toNanos nanos: UInt64) -> Double {
        let i = phaseIndex(atNanos: nanos)
        return phaseCumulative[i] + phases[i].integral(to: (Double(nanos) - phaseStartNanos[i]) / 1e9)
    }

    /// The campaign time the run reaches at `nanos` (before any early shift).
    public func campaignMillis(atNanos nanos: UInt64) -> Int64 {
        startMillis + Int64(Double(nanos) * timeScale / 1e6)
    }
}

/// All of the generator's hot state in one struct, so that `fill` is a single exclusive access
/// (no per-request exclusivity checks on class properties).
private struct Engine {
    // configuration
    let startMillis: Int64
    let msPerNanos: Double          // campaign ms per run ns
    let nanosPerMs: Double
    let opensMillis: Int64
    let endCampaign: Int64
    let totalNanos: Double
    let requestLimit: Int?
    let poisson: Bool
    let exponential = ExponentialZiggurat()
    let offerTable: AliasTable
    let quantityTable: AliasTable
    let quantityValues: [Int32]
    let retransmit: Chance, early: Chance, ineligible: Chance
    let confirm: Chance, confirmOrCancel: Chance
    let delay: TrafficSpec.Delay
    let earlySpreadMillis: UInt64 = 60_000
    /// Per offer: reservation or not, and where its eligible organisations start in `byLevel`.
    let isReservation: [Bool]
    let eligibleStart: [Int]
    let organisationCount: Int
    /// Offers whose eligibility goes beyond the level (region, tags, allow-list): an eligible arrival
    /// redraws its organisation (up to `eligibilityRedraws` times) until one is admitted.
    let eligibility: [Offer.Eligibility?]
    let organisations: [Organisation]
    let minimumLevel: [CertificationLevel]
    /// Per offer with an allow-list: its ranges clipped to the population, and how many ids they hold.
    let allowList: [(ranges: [ClosedRange<UInt32>], total: Int)?]
    static let eligibilityRedraws = 32
    /// Organisation ids sorted by certification level: "at or above L" is a suffix, "below L" a prefix.
    /// Empty when the ids already are in level order (generated populations are): then the index is the id.
    let byLevel: [UInt32]
    let phases: [TrafficSpec.Phase]
    let phaseStartNanos: [Double]
    let phaseCumulative: [Double]
    static let segmentNanos = 1_000_000.0

    // state
    var rng: Xoshiro256StarStar
    var offered = 0
    var finished = false
    var nextRequestId: UInt64 = 1
    var last = OrderRequest(requestId: 0, campaignTimeMillis: 0, organisation: 0, offer: 0)
    var hasLast = false
    var lastIntended: UInt64 = 0
    // arrival process: Λ of the next arrival, and the current segment where Λ is linear
    var lambdaTarget: Double
    var segT0 = 0.0, segT1 = 0.0, segL0 = 0.0, segL1 = 0.0, segSlope = 0.0
    var segIndex = -1
    var phaseCursor = 0
    var arrivalsDone = false
    var pendingArrival = false
    var pendingNanos = 0.0
    var pendingCampaign: Int64 = 0
    var followUps: FollowUpQueue
    // closed loop
    var closedLoop = false
    var awaited = AwaitedAnswers()
    /// A due follow-up whose reservation's answer has not come.
    var parked: FollowUp?
    var awaiting = false
    var droppedFollowUps = 0
    var schedulesFollowUps: Bool { confirmOrCancel.possible && isReservation.contains(true) }

    init(profile: LoadProfile, seed: UInt64, phases: [TrafficSpec.Phase], phaseStartNanos: [Double],
         phaseCumulative: [Double], timeScale: Double, totalNanos: UInt64, requestLimit: Int?) {
        let traffic = profile.traffic
        startMillis = traffic.startMillis
        msPerNanos = timeScale / 1e6
        nanosPerMs = 1e6 / timeScale
        opensMillis = profile.campaign.window.opensMillis
        self.totalNanos = Double(totalNanos)
        endCampaign = traffic.startMillis + Int64((Double(totalNanos) * timeScale / 1e6).rounded(.down))
        self.requestLimit = requestLimit
        poisson = traffic.arrivals == .poisson
        self.phases = phases
        self.phaseStartNanos = phaseStartNanos
        self.phaseCumulative = phaseCumulative

        let offers = profile.campaign.offers
        offerTable = AliasTable(weights: traffic.popularity.probabilities(offerCount: offers.count))
        quantityTable = AliasTable(weights: traffic.quantityProbabilities)
        quantityValues = traffic.quantities
        let b = traffic.behaviour
        retransmit = Chance(b.retransmit)
        early = Chance(b.early)
        ineligible = Chance(b.ineligible)
        confirm = Chance(b.confirm)
        confirmOrCancel = Chance(b.confirm + b.cancel)
        delay = b.confirmDelay
        isReservation = offers.map { if case .reservation = $0.kind { true } else { false } }

        let orgs = profile.campaign.population.organisations
        organisationCount = orgs.count
        organisations = orgs
        eligibility = offers.map { $0.eligibility.isEveryone ? nil : $0.eligibility }
        minimumLevel = offers.map(\.minimumLevel)
        let population = UInt32(clamping: orgs.count)
        allowList = offers.map { offer in
            guard let list = offer.eligibility.organisations, population > 0 else { return nil }
            let clipped = list.filter { $0.lowerBound < population }.map { $0.lowerBound...min($0.upperBound, population - 1) }
            let total = clipped.reduce(0) { $0 + Int($1.upperBound - $1.lowerBound) + 1 }
            return total > 0 ? (clipped, total) : nil
        }
        var levelStart = [Int](repeating: 0, count: 5)
        for o in orgs { levelStart[Int(o.level.rawValue) + 1] += 1 }
        for i in 1..<5 { levelStart[i] += levelStart[i - 1] }
        if zip(orgs, orgs.dropFirst()).allSatisfy({ $0.level <= $1.level }) {
            byLevel = []
        } else {
            var ids = [UInt32](repeating: 0, count: orgs.count)
            var next = levelStart
            for (i, o) in orgs.enumerated() {
                ids[next[Int(o.level.rawValue)]] = UInt32(i)
                next[Int(o.level.rawValue)] += 1
            }
            byLevel = ids
        }
        // an offer nobody is eligible for (possible only in hand-made populations) draws from everyone
        eligibleStart = offers.map { o in
            let start = levelStart[Int(o.minimumLevel.rawValue)]
            return start < orgs.count ? start : 0
        }

        rng = Xoshiro256StarStar(seed: seed ^ 0x7472_6166_6669_6321) // "traffic!"
        lambdaTarget = poisson ? 0 : -0.5
        let span: Int64
        switch b.confirmDelay {
        case .fixed(let ms): span = ms
        case .uniform(_, let hi): span = hi
        case .exponential(let mean): span = Int64(mean * 4)
        }
        followUps = FollowUpQueue(spanMillis: span)
    }

    /// Λ(t) with the phase cursor moving forward only (t never decreases in the arrival process).
    mutating func lambdaForward(_ nanos: Double) -> Double {
        while phaseCursor + 1 < phases.count && phaseStartNanos[phaseCursor + 1] <= nanos { phaseCursor += 1 }
        return phaseCumulative[phaseCursor] + phases[phaseCursor].integral(to: (nanos - phaseStartNanos[phaseCursor]) / 1e9)
    }

    /// The run time (ns) of the next arrival, or nil when the phases are over.
    @inline(__always)
    mutating func nextArrivalNanos() -> Double? {
        lambdaTarget += poisson ? exponential.next(&rng) : 1
        if lambdaTarget > segL1 { return advanceSegments() }
        return segT0 + (lambdaTarget - segL0) * segSlope
    }

    mutating func advanceSegments() -> Double? {
        while lambdaTarget > segL1 {
            if segIndex >= 0 && segT1 >= totalNanos { return nil }
            segIndex += 1
            segT0 = segT1
            segL0 = segL1
            segT1 = min(Double(segIndex + 1) * Self.segmentNanos, totalNanos)
            segL1 = lambdaForward(segT1)
            segSlope = segL1 > segL0 ? (segT1 - segT0) / (segL1 - segL0) : 0
        }
        return segT0 + (lambdaTarget - segL0) * segSlope
    }

    mutating func fill(_ buffer: UnsafeMutableBufferPointer<OrderRequest>) -> Int {
        guard let base = buffer.baseAddress, !finished else { return 0 }
        var n = 0
        var room = buffer.count
        if let limit = requestLimit { room = min(room, limit - offered) }
        awaiting = false
        while n < room {
            if let p = parked {
                let (state, at) = awaited.state(p.reference)
                if state == .unknown { awaiting = true; break }
                awaited.remove(p.reference)
                parked = nil
                if state == .granted {
                    followUp(p, notBeforeNanos: at, into: base + n)
                    n += 1
                } else {
                    droppedFollowUps += 1
                }
                continue
            }
            if !pendingArrival && !arrivalsDone {
                if let t = nextArrivalNanos() {
                    pendingArrival = true
                    pendingNanos = t
                    pendingCampaign = startMillis + Int64(t * msPerNanos)
                } else {
                    arrivalsDone = true
                }
            }
            let limit = pendingArrival ? pendingCampaign : endCampaign
            if followUps.count > 0 && limit >= followUps.notBefore, let f = followUps.popDue(limit: limit) {
                if closedLoop { parked = f; continue }  // sent once its reservation's answer says HELD
                followUp(f, notBeforeNanos: 0, into: base + n)
            } else if pendingArrival {
                pendingArrival = false
                arrival(nanos: pendingNanos, campaign: pendingCampaign, into: base + n)
            } else {
                finished = true
                break
            }
            n += 1
        }
        offered += n
        if let limit = requestLimit, offered >= limit { finished = true }
        return n
    }

    /// Writes the request of follow-up `f` at `p` (uninitialized).
    @inline(__always)
    mutating func followUp(_ f: FollowUp, notBeforeNanos: UInt64, into p: UnsafeMutablePointer<OrderRequest>) {
        var intended = UInt64(max(0, Double(f.campaignMillis - startMillis) * nanosPerMs))
        // never before the answer that granted the hold arrived: a client could not have sent it earlier
        if intended < notBeforeNanos { intended = notBeforeNanos }
        if intended < lastIntended { intended = lastIntended }
        lastIntended = intended
        let r = OrderRequest(requestId: nextRequestId, campaignTimeMillis: f.campaignMillis, intendedSendNanos: intended,
                             organisation: f.organisation, offer: f.offer, kind: RequestKind(rawValue: f.kind) ?? .confirm,
                             quantity: f.quantity, reference: f.reference)
        nextRequestId &+= 1
        p.initialize(to: r)
        last = r
        hasLast = true
    }

    /// Writes the next arrival's request at `p` (uninitialized). Written in place, from registers: returned
    /// by value it was assembled field by field in a stack slot that `fill` then copied with 16-byte loads,
    /// which cannot take their data from the smaller stores (a store-forwarding stall: half of `fill`'s time).
    @inline(__always)
    mutating func arrival(nanos: Double, campaign: Int64, into p: UnsafeMutablePointer<OrderRequest>) {
        let intended = UInt64(nanos)
        lastIntended = intended
        if hasLast && retransmit.possible && retransmit.hit(rng.next()) {
            var r = last
            r.intendedSendNanos = intended
            r.campaignTimeMillis = campaign
            p.initialize(to: r)
            return
        }
        let offer = offerTable.sample(rng.next())
        let quantity = quantityValues[quantityTable.sample(rng.next())]
        let start = eligibleStart[offer]
        let rOrg = rng.next()
        let index: Int
        var deliberatelyIneligible = false
        if start == 0 {
            index = Int(UInt64(organisationCount).multipliedFullWidth(by: rOrg).high)
        } else if ineligible.possible && ineligible.hit(rng.next()) {
            index = Int(UInt64(start).multipliedFullWidth(by: rOrg).high)
            deliberatelyIneligible = true
        } else {
            index = start + Int(UInt64(organisationCount - start).multipliedFullWidth(by: rOrg).high)
        }
        var organisation = byLevel.isEmpty ? UInt32(truncatingIfNeeded: index) : byLevel[index]
        if let rule = eligibility[offer], !deliberatelyIneligible {
            // Beyond the level: redraw until the rules and the level admit one (a few tries; a rule that
            // admits almost nobody then shows as INELIGIBLE answers, not as a stall). With an allow-list
            // the draws come from the list itself, so a short list of a large population is still served.
            let level = minimumLevel[offer]
            func admitted(_ id: UInt32) -> Bool {
                organisations[Int(id)].level >= level && rule.admits(organisations[Int(id)], id: id)
            }
            var tries = 0
            while !admitted(organisation) && tries < Self.eligibilityRedraws {
                if let list = allowList[offer] {
                    var k = UInt64(list.total).multipliedFullWidth(by: rng.next()).high
                    for r in list.ranges {
                        let size = UInt64(r.upperBound - r.lowerBound) + 1
                        if k < size { organisation = r.lowerBound + UInt32(k); break }
                        k -= size
                    }
                } else {
                    let i = start + Int(UInt64(organisationCount - start).multipliedFullWidth(by: rng.next()).high)
                    organisation = byLevel.isEmpty ? UInt32(truncatingIfNeeded: i) : byLevel[i]
                }
                tries += 1
            }
        }
        var sentAt = campaign
        if early.possible && early.hit(rng.next()) {
            sentAt = opensMillis - 1 - Int64(rng.below(earlySpreadMillis))
        }
        let id = nextRequestId
        nextRequestId &+= 1
        let r = OrderRequest(requestId: id, campaignTimeMillis: sentAt, intendedSendNanos: intended,
                             organisation: organisation, offer: UInt16(truncatingIfNeeded: offer), kind: .buy,
                             quantity: quantity, reference: 0)
        if isReservation[offer] {
            let u = rng.next()
            if confirmOrCancel.hit(u) {
                let kind: RequestKind = confirm.hit(u) ? .confirm : .cancel
                let at = campaign + drawDelay()
                if at <= endCampaign {
                    if closedLoop { awaited.expect(id) }
                    followUps.push(FollowUp(campaignMillis: at, reference: id, organisation: organisation,
                                            offer: UInt16(truncatingIfNeeded: offer), kind: kind.rawValue, quantity: quantity),
                                   now: campaign)
                }
            }
        }
        p.initialize(to: r)
        last = r
        hasLast = true
    }

    /// A campaign-time delay ≥ 1 ms.
    mutating func drawDelay() -> Int64 {
        switch delay {
        case .fixed(let ms): return max(1, ms)
        case .uniform(let lo, let hi): return max(1, lo + Int64(rng.below(UInt64(hi - lo + 1))))
        case .exponential(let mean): return max(1, Int64(-mean * Math.log(rng.unitOpenZero())))
        }
    }
}

/// Answers on their way from the consumer's threads to the generator's: one lock per batch of answers
/// and one per `fill`, never per answer. `wait` sleeps until a batch is put (or the time-out).
private final class AnswerChannel: @unchecked Sendable {  // state behind `inbox`; the semaphore is thread-safe
    private let inbox = Mutex(AnswerInbox())
    private let arrived = DispatchSemaphore(value: 0)
    private let sleeping = Atomic<Bool>(false)
    private var taken = AnswerInbox()  // the generator's side (one thread)

    func put(_ body: (inout AnswerInbox) -> Void) {
        inbox.withLock { body(&$0) }
        if sleeping.exchange(false, ordering: .acquiringAndReleasing) { arrived.signal() }
    }

    /// Drains everything put so far (on the generator's thread).
    func take(_ body: (AnswerInbox.Entry) -> Void) {
        inbox.withLock { swap(&$0, &taken) }
        taken.drain(body)
    }

    func wait(timeoutNanos: UInt64) {
        sleeping.store(true, ordering: .releasing)
        if !inbox.withLock({ $0.isEmpty }) { sleeping.store(false, ordering: .releasing); return }
        _ = arrived.wait(timeout: .now() + .nanoseconds(Int(min(timeoutNanos, UInt64(Int.max)))))
        sleeping.store(false, ordering: .releasing)
    }
}
