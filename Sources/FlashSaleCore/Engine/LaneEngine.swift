import CShims

/// Decides the requests of the organisations routed to one lane.
///
/// One engine per lane, used by one thread at a time (its lane's serial queue): per-organisation
/// limits, retransmit memory and holds live here with a single writer and no locks. Stock is the
/// only shared state, reached through the `StockLedger`'s atomics.
///
/// Rules apply in this order, and a refused request never touches stock:
/// retransmit (a request id seen among the organisation's last `retransmitMemory` requests gets
/// DUPLICATE with the original outcome; so does, however late and whatever the offer's limit, a buy
/// whose id was ACCEPTED or HELD, with the original price and hold: `orders`), sale window (buys only),
/// offer and quantity validity, eligibility, per-organisation limit, stock.
///
/// Confirms and cancels get one answer per situation (docs/profiles.md, "Holds: every edge case"):
/// CONFIRMED / RELEASED for an active hold before its expiry, HOLD_EXPIRED once it expired, DUPLICATE
/// (original CONFIRMED / RELEASED) when it already ended the same way, HOLD_CONFIRMED / HOLD_CANCELLED
/// when it ended the other way, NO_HOLD when the organisation never held it under that offer.
///
/// Memory is O(organisations × offers) bytes for limits plus O(organisations) for retransmit
/// memory plus O(active holds) plus O(orders sold + holds granted) in `orders`; never O(requests).
public final class LaneEngine: @unchecked Sendable {  // confined: one lane queue at a time
    /// How many recent request ids each organisation's retransmit memory keeps.
    public static let retransmitMemory = 4

    public let lane: Int
    public let laneCount: Int
    /// `laneCount` as a multiply-and-shift divisor (`LaneDivisor`): the hot path divides without `div`.
    @usableFromInline let lanes: LaneDivisor
    public let rules: CampaignRules
    public let ledger: StockLedger
    /// Organisations owned by this lane: ids with `id % laneCount == lane`, stored at `id / laneCount`.
    public let localOrganisations: Int

    /// Everything the lane knows about one organisation, in one cache-line-aligned record so that a
    /// request costs one cache miss, not one per array:
    /// `[0,32)` recent request ids · `[32,36)` their outcomes · `36` flags (`endedHoldFlag`,
    /// `activatedFlag`, `indexedFlag`) · `37` ring cursor · `38` level · `39` region · `[40,44)` a 32-bit
    /// filter of the request ids in `orders` · `[44,48)` head of its chain in `orders` · from `48` the accepted count per
    /// offer, each in as few bits as its limit needs (1 bit for a limit of 1, then 2, 4 or 8: a field never
    /// crosses a byte) · then, 8-byte aligned, units taken per cap. (Tags, needed by few offers, are read
    /// from the population.) With few offers or small limits the record is one cache line: 64 offers of
    /// limit 1 take 8 bytes, where a byte per offer made it two lines (the second one missed on every
    /// request for the offers past the 16th).
    @usableFromInline let orgState: UnsafeMutableRawPointer
    @usableFromInline let orgStride: Int
    /// Where each offer's accepted count lives: `byte offset << 16 | shift << 8 | mask` (mask of the field
    /// once shifted down), one entry per offer.
    @usableFromInline let acceptedFields: UnsafeMutablePointer<UInt32>
    /// The huge-page mapping behind `orgState` (nil: an ordinary allocation).
    private let orgMapping: (base: UnsafeMutableRawPointer, bytes: Int)?
    @usableFromInline var holds = HoldBook()
    /// Every order this lane ACCEPTED or HELD, with its price, hold and what became of the hold: a
    /// retransmit that has left the retransmit memory is answered from here, never bought twice, and a
    /// confirm of an ended hold learns how it ended. A buy looks its id up only when its organisation uses
    /// a slot of the offer's limit or had a hold end, so a first purchase costs one append, no lookup.
    @usableFromInline var orders: OrderMemory

    /// Units this lane sold, per item (lane-local; sum over lanes for totals).
    public private(set) var soldUnits: [Int64]
    /// Units held by this lane's active holds, per item.
    public private(set) var heldUnits: [Int64]
    @usableFromInline let counts: UnsafeMutablePointer<Int>
    /// When true, units of ended holds (cancel, expiry) are not returned to the ledger by the lane: the
    /// RELEASED decision carries them (`pieces`) and whoever journals it calls `ledger.release` once the
    /// decision is durable. Another lane can then never take units whose release a crash could lose.
    public var releasesAfterJournal = false

    /// Latest campaign time seen; holds expire against it.
    public private(set) var clockMillis: Int64 = .min
    /// Hold expiries decided (RELEASED decisions of kind `expire`), for the lane's batch summaries.
    public private(set) var expiryCount = 0
    /// Per offer: this lane has answered SOLD_OUT for it (each offer is reported once, `takeNewlySoldOut`).
    @usableFromInline var soldOutAnswered: [Bool]
    /// Offers answered SOLD_OUT for the first time since the last `takeNewlySoldOut`.
    @usableFromInline var newlySoldOut: [Int] = []

    @usableFromInline static let outcomesOffset = 32, flagsOffset = 36, cursorOffset = 37
    @usableFromInline static let levelOffset = 38, regionOffset = 39, orderFilterOffset = 40, ordersHeadOffset = 44
    @usableFromInline static let acceptedOffset = 48
    /// Flag: the organisation completed the activation task (extra discount).
    @usableFromInline static let activatedFlag: UInt8 = 2
    /// Where the per-cap units taken start in an organisation's record.
    @usableFromInline let capsOffset: Int
    /// Flag: one of the organisation's holds ended unsold (cancelled or expired), so a retransmit of its
    /// reservation can come while the offer's slot is free again.
    @usableFromInline static let endedHoldFlag: UInt8 = 1
    /// Flag: the organisation's orders are in `orders`' hash index (a lookup walked a long chain).
    @usableFromInline static let indexedFlag: UInt8 = 4

    /// Bytes of decision state one organisation takes at most with `offerCount` offers (a 64-byte-aligned
    /// record: recent request ids, outcomes, level, region, and up to one accepted-count byte per offer).
    public static func stateBytesPerOrganisation(offerCount: Int, capCount: Int = 0) -> Int {
        stateBytesPerOrganisation(limits: Array(repeating: 255, count: offerCount), capCount: capCount)
    }

    /// Bytes of decision state one organisation takes with offers of these limits (accepted orders per
    /// organisation, 1...255).
    public static func stateBytesPerOrganisation(limits: [Int], capCount: Int = 0) -> Int {
        (capsOffset(limits: limits) + 8 * capCount + 63) / 64 * 64
    }

    /// Bits of an accepted-count field for an offer of this limit: 1, 2, 4 or 8.
    static func acceptedBits(limit: Int) -> Int { limit <= 1 ? 1 : limit <= 3 ? 2 : limit <= 15 ? 4 : 8 }

    /// Bit offsets (from `acceptedOffset`) of the offers' accepted-count fields, each aligned to its width.
    static func acceptedBitOffsets(limits: [Int]) -> (offsets: [Int], bits: Int) {
        var at = 0
        let offsets = limits.map { limit -> Int in
            let w = acceptedBits(limit: limit)
            at = (at + w - 1) / w * w
            defer { at += w }
            return at
        }
        return (offsets, at)
    }

    static func capsOffset(limits: [Int]) -> Int {
        (acceptedOffset + (acceptedBitOffsets(limits: limits).bits + 7) / 8 + 7) / 8 * 8
    }

    public init(rules: CampaignRules, ledger: StockLedger, lane: Int, laneCount: Int) {
        precondition(lane >= 0 && lane < laneCount && laneCount <= 255)
        self.rules = rules
        self.ledger = ledger
        self.lane = lane
        self.laneCount = laneCount
        lanes = LaneDivisor(laneCount)
        let orgs = rules.organisations.count
        localOrganisations = orgs / laneCount + (lane < orgs % laneCount ? 1 : 0)
        let limits = rules.limit.map(Int.init)
        orgStride = Self.stateBytesPerOrganisation(limits: limits, capCount: rules.capCount)
        capsOffset = Self.capsOffset(limits: limits)
        acceptedFields = .allocate(capacity: max(1, limits.count))
        let bitOffsets = Self.acceptedBitOffsets(limits: limits).offsets
        for (offer, limit) in limits.enumerated() {
            let bit = bitOffsets[offer], w = Self.acceptedBits(limit: limit)
            acceptedFields[offer] = UInt32(Self.acceptedOffset + bit / 8) << 16 | UInt32(bit % 8) << 8 | UInt32((1 << w) - 1)
        }
        let bytes = max(1, localOrganisations) * orgStride
        // Large tables (read at random, one record per request) go on transparent huge pages where the
        // kernel has them: fewer TLB misses on top of the cache miss. mmap hands out zeroed memory.
        var mapping: UnsafeMutableRawPointer?, mappingBytes = 0
        if bytes >= 4 << 20, let p = flashsale_map_huge(bytes, &mapping, &mappingBytes), let mapping {
            orgState = p
            orgMapping = (mapping, mappingBytes)
        } else {
            orgState = .allocate(byteCount: bytes, alignment: 64)
            orgState.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            orgMapping = nil
        }
        for local in 0..<localOrganisations {
            let org = rules.organisations[local * laneCount + lane]
            let p = orgState + local * orgStride
            p.storeBytes(of: org.level.rawValue, toByteOffset: Self.levelOffset, as: UInt8.self)
            p.storeBytes(of: org.region, toByteOffset: Self.regionOffset, as: UInt8.self)
            p.storeBytes(of: org.activated ? Self.activatedFlag : 0, toByteOffset: Self.flagsOffset, as: UInt8.self)
        }
        soldUnits = Array(repeating: 0, count: rules.itemCount)
        heldUnits = Array(repeating: 0, count: rules.itemCount)
        soldOutAnswered = Array(repeating: false, count: rules.offerCount)
        newlySoldOut.reserveCapacity(rules.offerCount)
        orders = OrderMemory(expected: Self.expectedOrders(rules, laneCount: laneCount))
        counts = .allocate(capacity: Outcome.count)
        counts.initialize(repeating: 0, count: Outcome.count)
    }

    /// This lane's share of the orders the stock allows (orders of one unit; a reservation's units can be
    /// held once each), up to 2^21 (64 MiB of address space, touched only as orders come): `orders` is
    /// reserved for it up front, so it does not grow mid-sale unless expired holds are held again or the
    /// traffic favours this lane.
    static func expectedOrders(_ rules: CampaignRules, laneCount: Int) -> Int {
        let enough = Int64(1 << 21) * Int64(laneCount)
        var sales: Int64 = 0  // each term is capped at `enough`, so the sum cannot overflow
        let items = rules.campaign.items
        for o in rules.campaign.offers.indices where sales < enough {
            sales += min(rules.campaign.wholeUnits(ofOffer: o) { items[$0].initial }, enough)
        }
        return Int(min(sales, enough) / Int64(laneCount))
    }

    deinit {
        if let m = orgMapping { flashsale_unmap(m.base, m.bytes) } else { orgState.deallocate() }
        acceptedFields.deallocate()
        counts.deallocate()
    }

    /// Makes the memory this lane will write as orders come (its order arena) resident now, before a
    /// run's clock starts (`PipelineOptions.prefaultsMemory`).
    public func prefault() { orders.prefault() }

    /// Adds (or, `negated`, subtracts) the decisions made so far, per outcome raw value, to the
    /// `Outcome.count` counters at `p`: a lane's counts over one batch without reading its decisions.
    public func addOutcomeCounts(to p: UnsafeMutablePointer<Int>, negated: Bool) {
        for i in 0..<Outcome.count { p[i] = negated ? p[i] &- counts[i] : p[i] &+ counts[i] }
    }

    /// Decisions made, per outcome raw value.
    public var outcomeCounts: [Int] { Array(UnsafeBufferPointer(start: counts, count: Outcome.count)) }

    @inlinable @inline(__always)
    func org(_ local: Int) -> UnsafeMutableRawPointer { orgState + local &* orgStride }

    @inlinable @inline(__always)
    func recentId(_ o: UnsafeMutableRawPointer, _ i: Int) -> UInt64 { o.load(fromByteOffset: i &* 8, as: UInt64.self) }

    /// The organisation's accepted orders (or active-or-confirmed holds) of `offer`.
    @inlinable @inline(__always)
    func accepted(_ o: UnsafeMutableRawPointer, _ offer: Int) -> UInt8 {
        let f = acceptedFields[offer]
        let byte = o.load(fromByteOffset: Int(f >> 16), as: UInt8.self)
        return (byte &>> UInt8(truncatingIfNeeded: f >> 8)) & UInt8(truncatingIfNeeded: f)
    }

    /// Adds `delta` (+1 or −1) to the organisation's accepted count of `offer`; the count stays within
    /// 0...limit, which its field holds (callers check the limit before adding).
    @inlinable @inline(__always)
    func addAccepted(_ o: UnsafeMutableRawPointer, _ offer: Int, _ delta: Int8) {
        let f = acceptedFields[offer]
        let p = (o + Int(f >> 16)).assumingMemoryBound(to: UInt8.self)
        let shift = UInt8(truncatingIfNeeded: f >> 8), mask = UInt8(truncatingIfNeeded: f)
        let value = ((p.pointee &>> shift) & mask) &+ UInt8(bitPattern: delta)
        p.pointee = (p.pointee & ~(mask &<< shift)) | ((value & mask) &<< shift)
    }

    /// Answers a retransmit of a remembered order: DUPLICATE with the original outcome, price and hold.
    @inlinable @inline(__always)
    func answerRetransmit(_ e: OrderMemory.Entry, _ d: inout Decision) {
        d.outcome = .duplicate
        d.originalOutcome = e.originalOutcome
        d.priceFen = e.priceFen
        if e.state != .accepted {
            d.reference = e.requestId
            d.holdExpiryMillis = e.holdExpiryMillis
        }
    }

    /// The remembered order `requestId` of `offer` by the organisation at `o` (local index `local`), if any.
    @inlinable @inline(__always)
    func findOrder(_ o: UnsafeMutableRawPointer, local: Int, _ requestId: UInt64, offer: UInt16) -> OrderMemory.Entry? {
        // A clear filter bit proves the id is none of the organisation's orders without walking the chain
        // (a cache miss per entry: ~8% of seckill-parity's time when every LIMIT walked it).
        guard o.load(fromByteOffset: Self.orderFilterOffset, as: UInt32.self) & Self.filterBit(requestId) != 0 else { return nil }
        guard let i = orderIndex(o, local: local, requestId, offer: offer) else { return nil }
        return orders[i]
    }

    /// Where in `orders` the order `requestId` of `offer` by the organisation at `o` is: from the hash index
    /// once the organisation's orders are in it, else by walking its chain. A walk that passes
    /// `OrderMemory.indexThreshold` entries puts the whole chain into the index (its entries are in the
    /// cache then): only organisations whose lookups are long pay for the index, once each.
    @inlinable @inline(__always)
    func orderIndex(_ o: UnsafeMutableRawPointer, local: Int, _ requestId: UInt64, offer: UInt16) -> Int? {
        let flags = (o + Self.flagsOffset).assumingMemoryBound(to: UInt8.self)
        let key = UInt32(truncatingIfNeeded: local)
        if flags.pointee & Self.indexedFlag != 0 {
            return orders.findIndexed(organisation: key, requestId: requestId, offer: offer)
        }
        let head = o.load(fromByteOffset: Self.ordersHeadOffset, as: UInt32.self)
        guard head != 0 else { return nil }
        let (found, walked) = orders.walk(head: head, requestId: requestId, offer: offer)
        if walked >= OrderMemory.indexThreshold {
            orders.indexChain(head: head, organisation: key)
            flags.pointee |= Self.indexedFlag
        }
        return found
    }

    /// The bit of `requestId` in an organisation's order filter.
    @inlinable @inline(__always)
    static func filterBit(_ requestId: UInt64) -> UInt32 { 1 << UInt32((requestId &* 0x9E37_79B9_7F4A_7C15) >> 59) }

    /// Remembers an ACCEPTED or HELD order of the organisation at `o` (local index `local`); in the hash
    /// index too once the organisation's orders are there (`orderIndex`).
    @inlinable @inline(__always)
    func rememberOrder(_ o: UnsafeMutableRawPointer, local: Int, _ requestId: UInt64, offer: UInt16,
                       _ state: OrderMemory.State, priceFen: Int64, holdExpiryMillis: Int64) {
        let filter = (o + Self.orderFilterOffset).assumingMemoryBound(to: UInt32.self)
        filter.pointee |= Self.filterBit(requestId)
        let head = o.load(fromByteOffset: Self.ordersHeadOffset, as: UInt32.self)
        let newHead = orders.append(head: head, requestId: requestId, offer: offer, state: state, priceFen: priceFen,
                                    holdExpiryMillis: holdExpiryMillis)
        o.storeBytes(of: newHead, toByteOffset: Self.ordersHeadOffset, as: UInt32.self)
        if o.load(fromByteOffset: Self.flagsOffset, as: UInt8.self) & Self.indexedFlag != 0 {
            orders.index(Int(newHead &- 1), organisation: UInt32(truncatingIfNeeded: local))
        }
    }

    /// Records how a hold ended; an unsold end also sets the organisation's `endedHoldFlag`.
    func holdEnded(local: Int, reference: UInt64, offer: UInt16, _ state: OrderMemory.State) {
        let o = org(local)
        if state != .confirmed { (o + Self.flagsOffset).assumingMemoryBound(to: UInt8.self).pointee |= Self.endedHoldFlag }
        if let i = orderIndex(o, local: local, reference, offer: offer) { orders[i].stateRaw = state.rawValue }
    }

    // MARK: - Deciding

    /// Decides `r` and appends its decision to `out`, preceded by a RELEASED decision for every hold of
    /// this lane that expired at or before `r`'s campaign time or the lane's clock, whichever is later.
    public func process(_ r: OrderRequest, into out: inout [Decision]) {
        if r.campaignTimeMillis > clockMillis {
            advanceClock(to: r.campaignTimeMillis, into: &out)
        } else if holds.earliestExpiry <= clockMillis {
            // A hold decided after the clock had passed its expiry (campaign times out of order), or
            // rebuilt so: it ends before anything else is decided, as if the clock had just reached it.
            advanceClock(to: clockMillis, into: &out)
        }
        // Decided where it lies in `out`: built on the stack and copied in 16-byte moves, the decision's
        // field-by-field stores could not forward to those loads (a stall per request).
        out.append(Decision(request: r, outcome: .invalid, lane: lane))
        out.withUnsafeMutableBufferPointer { b in
            let d = b.baseAddress.unsafelyUnwrapped + (b.count &- 1)
            decide(r, &d.pointee)
            counts[Int(d.pointee.outcome.rawValue)] &+= 1
        }
    }

    /// Decides a batch of requests in order (see `process(_:into:)`), prefetching each organisation's
    /// state a few requests ahead.
    public func process(_ requests: UnsafeBufferPointer<OrderRequest>, into out: inout [Decision]) {
        let ahead = 6
        let n = requests.count
        guard let base = requests.baseAddress else { return }
        // The requests themselves were written by the router on another core, often long before (a
        // batch waits in its lane's queue): fetching them further ahead than the organisation records
        // keeps the record prefetch below from stalling on the request it reads.
        let requestsAhead = ahead &+ 16
        for i in 0..<min(requestsAhead, n) { flashsale_prefetch(base + i) }
        for i in 0..<min(ahead, n) { prefetch(requests[i]) }
        for i in 0..<n {
            if i &+ requestsAhead < n { flashsale_prefetch(base + (i &+ requestsAhead)) }
            if i &+ ahead < n { prefetch(requests[i &+ ahead]) }
            process(requests[i], into: &out)
        }
    }

    /// Starts loading the request's organisation record, and, when the record spans more than one cache
    /// line, the line with the offer's accepted count too.
    @inline(__always)
    func prefetch(_ r: OrderRequest) {
        let local = Int(lanes.quotient(r.organisation))
        guard local < localOrganisations else { return }
        let o = org(local)
        flashsale_prefetch(o)
        if orgStride > 64, Int(r.offer) < rules.offerCount { flashsale_prefetch(o + Int(acceptedFields[Int(r.offer)] >> 16)) }
    }

    /// SOLD_OUT, noting the first such answer per offer for `takeNewlySoldOut` (no work per decision
    /// beyond one load once the offer was reported).
    @inlinable @inline(__always)
    func answerSoldOut(_ offer: Int, _ d: inout Decision) {
        d.outcome = .soldOut
        if !soldOutAnswered[offer] {
            soldOutAnswered[offer] = true
            newlySoldOut.append(offer)
        }
    }

    /// Appends to `offers` every offer this lane answered SOLD_OUT for the first time since the last call
    /// (each offer once per engine), in the order of those first answers.
    public func takeNewlySoldOut(into offers: inout [Int]) {
        guard !newlySoldOut.isEmpty else { return }
        offers.append(contentsOf: newlySoldOut)
        newlySoldOut.removeAll(keepingCapacity: true)
    }

    /// Whether a hold of this lane expires at or before `t` (one may have already ended: then a clock
    /// advance releases nothing).
    public func hasExpiredHolds(at t: Int64) -> Bool { holds.earliestExpiry <= t }

    /// Advances the lane's campaign clock to `t`, releasing every hold that expired by then.
    public func advanceClock(to t: Int64, into out: inout [Decision]) {
        if t > clockMillis { clockMillis = t }
        while let slot = holds.popExpired(upTo: t) {
            let hold = holds.remove(slot)
            releaseUnits(of: hold)
            let local = localIndex(hold.organisation)
            addAccepted(org(local), Int(hold.offer), -1)
            holdEnded(local: local, reference: hold.reference, offer: hold.offer, .expired)
            let d = Decision(requestId: hold.reference, campaignTimeMillis: hold.expiryMillis,
                             organisation: hold.organisation, offer: hold.offer, kind: .expire,
                             outcome: .released, quantity: hold.quantity, reference: hold.reference,
                             pieces: hold.pieces, lane: UInt8(lane))
            counts[Int(Outcome.released.rawValue)] &+= 1
            expiryCount &+= 1
            out.append(d)
        }
    }

    @usableFromInline @inline(__always)
    func localIndex(_ org: UInt32) -> Int { Int(lanes.quotient(org)) }

    @usableFromInline
    func decide(_ r: OrderRequest, _ d: inout Decision) {
        let orgIndex = Int(r.organisation)
        guard orgIndex < rules.organisations.count else { d.outcome = .unknownOrganisation; d.originalOutcome = .unknownOrganisation; return }
        guard r.requestId != 0, Int(lanes.remainder(r.organisation)) == lane else { d.outcome = .invalid; return }
        let local = localIndex(r.organisation)
        let o = org(local)
        let k = Self.retransmitMemory
        // 1. Retransmit: the original outcome comes back, nothing is taken.
        for i in 0..<k where recentId(o, i) == r.requestId {
            d.outcome = .duplicate
            let original = Outcome(rawValue: o.load(fromByteOffset: Self.outcomesOffset &+ i, as: UInt8.self)) ?? .invalid
            d.originalOutcome = original
            if original == .accepted || original == .held, let e = findOrder(o, local: local, r.requestId, offer: r.offer) {
                answerRetransmit(e, &d)
            } else if r.kind == .confirm || r.kind == .cancel, Self.answersAboutAHold(original),
                      let e = findOrder(o, local: local, r.reference, offer: r.offer), e.state != .accepted {
                d.priceFen = e.priceFen  // an answer about a hold carries the hold's price, repeated too
            }
            return
        }
        // A buy whose id was ACCEPTED or HELD is a retransmit however long ago that was: deciding it
        // afresh would buy twice, or tell a client that retried after a time-out that its order failed
        // (LIMIT), or make a second hold under the same (organisation, id). Only an organisation that
        // uses a slot of this offer's limit, or had a hold end, can have such an order, so the others skip
        // the lookup. (An id reused for another offer is another order.)
        if r.kind == .buy, Int(r.offer) < rules.offerCount,
           accepted(o, Int(r.offer)) > 0
            || (rules.isReservation[Int(r.offer)] && o.load(fromByteOffset: Self.flagsOffset, as: UInt8.self) & Self.endedHoldFlag != 0),
           let e = findOrder(o, local: local, r.requestId, offer: r.offer) {
            answerRetransmit(e, &d)
            return
        }
        decideFresh(r, local: local, o, &d)
        // A DUPLICATE answered from `orders` (a repeated confirm or cancel) is not put in the ring: a
        // rebuild does not put journaled duplicates there either, and its retransmit gets the same answer.
        guard d.outcome != .duplicate else { return }
        d.originalOutcome = d.outcome
        remember(o, requestId: r.requestId, outcome: d.outcome)
    }

    /// Outcomes of a confirm or cancel that name an existing hold (and carry its price).
    @inlinable
    static func answersAboutAHold(_ o: Outcome) -> Bool {
        o == .confirmed || o == .released || o == .holdExpired || o == .holdCancelled || o == .holdConfirmed
    }

    /// Puts a request into the organisation's retransmit ring (forgetting the oldest of its last k).
    @usableFromInline @inline(__always)
    func remember(_ o: UnsafeMutableRawPointer, requestId: UInt64, outcome: Outcome) {
        let c = Int(o.load(fromByteOffset: Self.cursorOffset, as: UInt8.self))
        o.storeBytes(of: requestId, toByteOffset: c &* 8, as: UInt64.self)
        o.storeBytes(of: outcome.rawValue, toByteOffset: Self.outcomesOffset &+ c, as: UInt8.self)
        o.storeBytes(of: UInt8((c &+ 1) % Self.retransmitMemory), toByteOffset: Self.cursorOffset, as: UInt8.self)
    }

    @usableFromInline
    func decideFresh(_ r: OrderRequest, local: Int, _ o: UnsafeMutableRawPointer, _ d: inout Decision) {
        let offer = Int(r.offer)
        switch r.kind {
        case .buy: break
        case .confirm, .cancel:
            guard offer < rules.offerCount else { d.outcome = .unknownOffer; return }
            endHold(r, local: local, &d)
            return
        case .expire:
            d.outcome = .invalid
            return
        }
        // 2. Window (and the offer's own waves, when it has them).
        let t = r.campaignTimeMillis
        if offer < rules.offerCount && rules.hasOwnWaves[offer] {
            guard rules.window.contains(t, waves: rules.offerWaves[offer]) else { d.outcome = .outsideWindow; return }
        } else {
            guard rules.window.contains(t) else { d.outcome = .outsideWindow; return }
        }
        // 3. Offer and quantity.
        guard offer < rules.offerCount else { d.outcome = .unknownOffer; return }
        guard r.quantity > 0 && r.quantity <= rules.maxQuantity[offer] else { d.outcome = .invalid; return }
        // 4. Eligibility: certification level, then region, tags and allow-list.
        guard o.load(fromByteOffset: Self.levelOffset, as: UInt8.self) >= rules.minimumLevel[offer].rawValue
        else { d.outcome = .ineligible; return }
        let region = Int(o.load(fromByteOffset: Self.regionOffset, as: UInt8.self))
        if rules.hasEligibility[offer] {
            guard rules.admits(organisation: r.organisation, tags: rules.organisations[Int(r.organisation)].tags,
                               region: region, offer: offer) else { d.outcome = .ineligible; return }
        }
        // 5. Limit.
        guard accepted(o, offer) < rules.limit[offer] else { d.outcome = .limit; return }
        // 6. Caps (bundles only; checked at load).
        let qty = Int64(r.quantity)
        if rules.hasCaps[offer] {
            guard withinCaps(o, offer: offer, qty) else { d.outcome = .capReached; return }
        }
        // 7. Stock.
        let activated = o.load(fromByteOffset: Self.flagsOffset, as: UInt8.self) & Self.activatedFlag != 0
        let unitPrice = rules.price[offer].unitPrice(activated: activated)
        if rules.isReservation[offer] {
            var pieces = HoldPieces()
            guard take(qty, candidates: rules.candidateRange[offer &* rules.regionCount &+ region], at: t, into: &pieces)
            else { answerSoldOut(offer, &d); return }
            addAccepted(o, offer, 1)
            for i in 0..<pieces.count { heldUnits[pieces[i].item] &+= pieces[i].quantity }
            let expiry = r.campaignTimeMillis &+ rules.holdMillis[offer]
            holds.insert(reference: r.requestId, organisation: r.organisation, offer: r.offer, quantity: r.quantity,
                         priceFen: unitPrice &* qty, expiryMillis: expiry, pieces: pieces)
            rememberOrder(o, local: local, r.requestId, offer: r.offer, .held, priceFen: unitPrice &* qty,
                          holdExpiryMillis: expiry)
            d.outcome = .held
            d.priceFen = unitPrice &* qty
            d.reference = r.requestId
            d.holdExpiryMillis = expiry
            d.pieces = pieces
        } else {
            let components = rules.bundleComponents(offer)
            guard ledger.takeAll(components, times: qty, home: lane) else { answerSoldOut(offer, &d); return }
            var pieces = HoldPieces()
            for p in rules.pickRange[offer] {
                let range = rules.candidateRange[rules.picks[p].candidateBase &+ region]
                guard take(rules.picks[p].quantityPerUnit &* qty, candidates: range, at: t, into: &pieces) else {
                    // All or nothing: what the earlier components took goes back.
                    for i in 0..<pieces.count { ledger.release(pieces[i].quantity, of: pieces[i].item, to: lane) }
                    for c in components { ledger.release(c.quantityPerUnit &* qty, of: c.item, to: lane) }
                    answerSoldOut(offer, &d)
                    return
                }
            }
            addAccepted(o, offer, 1)
            for c in components { soldUnits[c.item] &+= c.quantityPerUnit &* qty }
            for i in 0..<pieces.count { soldUnits[pieces[i].item] &+= pieces[i].quantity }
            if rules.hasCaps[offer] { addToCaps(o, offer: offer, qty) }
            rememberOrder(o, local: local, r.requestId, offer: r.offer, .accepted, priceFen: unitPrice &* qty,
                          holdExpiryMillis: 0)
            d.outcome = .accepted
            d.priceFen = unitPrice &* qty
            d.pieces = pieces
        }
    }

    /// Takes `need` units from the items of `candidates` (a range of `rules.candidates`) that are on sale
    /// at `t`, in that order, adding a piece per item it took from; or takes nothing more and returns false
    /// (also when the pieces would pass `HoldPieces.capacity`).
    @usableFromInline
    func take(_ need: Int64, candidates: Range<Int>, at t: Int64, into pieces: inout HoldPieces) -> Bool {
        var need = need
        let first = pieces.count
        for idx in candidates {
            let item = Int(rules.candidates[idx])
            if rules.hasAllotments && !rules.isSellable(item, at: t) { continue }
            let got = ledger.takeAvailable(need, of: item, home: lane)
            if got > 0 {
                guard pieces.append(item: item, quantity: got) else {
                    ledger.release(got, of: item, to: lane)
                    break
                }
                need &-= got
                if need == 0 { return true }
            }
        }
        for i in first..<pieces.count { ledger.release(pieces[i].quantity, of: pieces[i].item, to: lane) }
        pieces.removeLast(pieces.count - first)
        return false
    }

    @inlinable @inline(__always)
    func capUsed(_ o: UnsafeMutableRawPointer, _ cap: Int) -> UnsafeMutablePointer<Int64> {
        (o + (capsOffset &+ cap &* 8)).assumingMemoryBound(to: Int64.self)
    }

    /// Whether an order of `qty` of bundle `offer` keeps the organisation within every cap it touches.
    /// (Every item of a pick is under the pick's cap, so the units per cap are known before any is taken.)
    @usableFromInline
    func withinCaps(_ o: UnsafeMutableRawPointer, offer: Int, _ qty: Int64) -> Bool {
        for cap in 0..<rules.capCount {
            var units: Int64 = 0
            for c in rules.bundleComponents(offer) where rules.itemCap[c.item] == Int32(cap) { units &+= c.quantityPerUnit &* qty }
            for p in rules.pickRange[offer] where rules.picks[p].cap == Int32(cap) { units &+= rules.picks[p].quantityPerUnit &* qty }
            if units > 0 && units > rules.capLimit[cap] &- capUsed(o, cap).pointee { return false }
        }
        return true
    }

    /// Adds an accepted order's units to the organisation's caps.
    @usableFromInline
    func addToCaps(_ o: UnsafeMutableRawPointer, offer: Int, _ qty: Int64) {
        for c in rules.bundleComponents(offer) where rules.itemCap[c.item] >= 0 {
            capUsed(o, Int(rules.itemCap[c.item])).pointee &+= c.quantityPerUnit &* qty
        }
        for p in rules.pickRange[offer] where rules.picks[p].cap >= 0 {
            capUsed(o, Int(rules.picks[p].cap)).pointee &+= rules.picks[p].quantityPerUnit &* qty
        }
    }

    /// Confirm or cancel of the hold created by reservation `r.reference`.
    @usableFromInline
    func endHold(_ r: OrderRequest, local: Int, _ d: inout Decision) {
        d.reference = r.reference
        if let slot = holds.slot(organisation: r.organisation, reference: r.reference), holds[slot].offer == r.offer {
            let hold = holds.remove(slot)
            d.quantity = hold.quantity
            d.priceFen = hold.priceFen
            if r.kind == .confirm {
                for i in 0..<hold.pieces.count {
                    heldUnits[hold.pieces[i].item] &-= hold.pieces[i].quantity
                    soldUnits[hold.pieces[i].item] &+= hold.pieces[i].quantity
                }
                holdEnded(local: local, reference: hold.reference, offer: hold.offer, .confirmed)
                d.outcome = .confirmed
            } else {
                releaseUnits(of: hold)
                addAccepted(org(local), Int(hold.offer), -1)
                    holdEnded(local: local, reference: hold.reference, offer: hold.offer, .cancelled)
                d.outcome = .released
                d.pieces = hold.pieces
            }
            return
        }
        // No active hold: it ended (how tells the answer), or this organisation never held it here.
        guard let e = findOrder(org(local), local: local, r.reference, offer: r.offer), e.state != .accepted
        else { d.outcome = .noHold; return }
        d.priceFen = e.priceFen
        switch (e.state, r.kind) {
        case (.expired, _): d.outcome = .holdExpired
        case (.confirmed, .confirm): d.outcome = .duplicate; d.originalOutcome = .confirmed
        case (.confirmed, _): d.outcome = .holdConfirmed
        case (.cancelled, .cancel): d.outcome = .duplicate; d.originalOutcome = .released
        case (.cancelled, _): d.outcome = .holdCancelled
        default: d.outcome = .noHold  // .held is always in `holds`; not reached
        }
    }

    func releaseUnits(of hold: HoldBook.Hold, toLedger: Bool = true) {
        for i in 0..<hold.pieces.count {
            if toLedger && !releasesAfterJournal { ledger.release(hold.pieces[i].quantity, of: hold.pieces[i].item, to: lane) }
            heldUnits[hold.pieces[i].item] &-= hold.pieces[i].quantity
        }
    }

    /// What this lane remembers of an earlier request: its outcome (the original one), and for an order
    /// ACCEPTED or HELD its offer, price and hold (and what became of the hold). nil when the request is
    /// neither among the organisation's last `retransmitMemory` requests nor an order sold or held.
    public struct Remembered: Sendable, Equatable {
        public var outcome: Outcome
        public var offer: UInt16?
        public var priceFen: Int64
        public var holdExpiryMillis: Int64
        public var holdState: OrderMemory.State?
    }

    /// Looks up an earlier request of an organisation of this lane (on the lane's queue).
    public func lookup(organisation: UInt32, requestId: UInt64) -> Remembered? {
        let orgIndex = Int(organisation)
        guard requestId != 0, orgIndex < rules.organisations.count, orgIndex % laneCount == lane else { return nil }
        let o = org(localIndex(organisation))
        let head = o.load(fromByteOffset: Self.ordersHeadOffset, as: UInt32.self)
        if head != 0, let i = orders.find(head: head, requestId: requestId) {
            let e = orders[i]
            return Remembered(outcome: e.originalOutcome, offer: e.offer, priceFen: e.priceFen,
                              holdExpiryMillis: e.holdExpiryMillis, holdState: e.state == .accepted ? nil : e.state)
        }
        for i in 0..<Self.retransmitMemory where recentId(o, i) == requestId {
            let outcome = Outcome(rawValue: o.load(fromByteOffset: Self.outcomesOffset &+ i, as: UInt8.self)) ?? .invalid
            return Remembered(outcome: outcome, offer: nil, priceFen: 0, holdExpiryMillis: 0, holdState: nil)
        }
        return nil
    }

    /// Accepted orders (or active-or-confirmed holds) of `organisation` on `offer`.
    public func acceptedCount(organisation: UInt32, offer: Int) -> Int {
        Int(accepted(org(localIndex(organisation)), offer))
    }

    /// Every active hold of this lane.
    public func forEachActiveHold(_ body: (HoldBook.Hold) -> Void) { holds.forEachActive(body) }
}

// MARK: - Rebuilding from the log

extension LaneEngine {
    /// Re-applies a journaled decision to this lane's state, without deciding anything: the way a
    /// restarted run rebuilds the campaign from its segments. Stock is not touched here: the net effect
    /// of all records is applied once, by `StockLedger.restore(sold:held:)`, so the rebuild does not
    /// depend on how the lanes' records interleave in the journal.
    ///
    /// Returns false when the decision cannot be applied (the log does not belong to this campaign).
    public func replay(_ d: Decision) -> Bool {
        if d.campaignTimeMillis > clockMillis { clockMillis = d.campaignTimeMillis }
        let orgIndex = Int(d.organisation)
        let known = orgIndex < rules.organisations.count && orgIndex % laneCount == lane
        let local = known ? localIndex(d.organisation) : 0
        func remember() {
            guard known, d.requestId != 0, !d.isLaneExpiry, d.outcome != .duplicate, d.outcome != .overload else { return }
            self.remember(org(local), requestId: d.requestId, outcome: d.outcome)
        }
        switch d.outcome {
        case .accepted:
            guard known, Int(d.offer) < rules.offerCount, !rules.isReservation[Int(d.offer)],
                  d.quantity > 0, d.quantity <= rules.maxQuantity[Int(d.offer)] else { return false }
            let components = rules.bundleComponents(Int(d.offer))
            // Checked sums: a journal that would pass Int64 sold more than any campaign has (wrapped, it
            // could look like nothing sold and pass `StockLedger.restore`). On overflow the rebuild is
            // abandoned, so the counters left half-updated are never used (and no copy is made per record).
            for c in components {
                let (units, o1) = c.quantityPerUnit.multipliedReportingOverflow(by: Int64(d.quantity))
                let (sum, o2) = soldUnits[c.item].addingReportingOverflow(units)
                guard !o1, !o2 else { return false }
                soldUnits[c.item] = sum
            }
            // The picked components' units are the pieces, in pick order, each from one of its items.
            var next = 0
            for p in rules.pickRange[Int(d.offer)] {
                let (units, o1) = rules.picks[p].quantityPerUnit.multipliedReportingOverflow(by: Int64(d.quantity))
                guard !o1 else { return false }
                var need = units
                while need > 0 {
                    guard next < d.pieces.count, rules.pickItems[p].contains(Int32(truncatingIfNeeded: d.pieces[next].item)),
                          d.pieces[next].quantity > 0, d.pieces[next].quantity <= need else { return false }
                    need -= d.pieces[next].quantity
                    next += 1
                }
            }
            guard next == d.pieces.count else { return false }
            for i in 0..<d.pieces.count {
                let (sum, overflow) = soldUnits[d.pieces[i].item].addingReportingOverflow(d.pieces[i].quantity)
                guard !overflow else { return false }
                soldUnits[d.pieces[i].item] = sum
            }
            // A journal of this campaign never holds more than the limit (a field holds no more either).
            guard accepted(org(local), Int(d.offer)) < rules.limit[Int(d.offer)] else { return false }
            addAccepted(org(local), Int(d.offer), 1)
            if rules.hasCaps[Int(d.offer)] { addToCaps(org(local), offer: Int(d.offer), Int64(d.quantity)) }
            rememberOrder(org(local), local: local, d.requestId, offer: d.offer, .accepted, priceFen: d.priceFen,
                          holdExpiryMillis: 0)
            remember()
        case .held:
            guard known, Int(d.offer) < rules.offerCount, rules.isReservation[Int(d.offer)] else { return false }
            for i in 0..<d.pieces.count where d.pieces[i].item >= rules.itemCount { return false }
            for i in 0..<d.pieces.count {
                let (sum, overflow) = heldUnits[d.pieces[i].item].addingReportingOverflow(d.pieces[i].quantity)
                guard !overflow else { return false }
                heldUnits[d.pieces[i].item] = sum
            }
            // A journal of this campaign never holds more than the limit (a field holds no more either).
            guard accepted(org(local), Int(d.offer)) < rules.limit[Int(d.offer)] else { return false }
            addAccepted(org(local), Int(d.offer), 1)
            holds.insert(reference: d.requestId, organisation: d.organisation, offer: d.offer, quantity: d.quantity,
                         priceFen: d.priceFen, expiryMillis: d.holdExpiryMillis, pieces: d.pieces)
            rememberOrder(org(local), local: local, d.requestId, offer: d.offer, .held, priceFen: d.priceFen,
                          holdExpiryMillis: d.holdExpiryMillis)
            remember()
        case .confirmed, .released:
            guard known, let slot = holds.slot(organisation: d.organisation, reference: d.reference) else { return false }
            let hold = holds.remove(slot)
            if d.outcome == .confirmed {
                for i in 0..<hold.pieces.count {
                    let (sum, overflow) = soldUnits[hold.pieces[i].item].addingReportingOverflow(hold.pieces[i].quantity)
                    guard !overflow else { return false }
                    heldUnits[hold.pieces[i].item] &-= hold.pieces[i].quantity
                    soldUnits[hold.pieces[i].item] = sum
                }
                remember()
                holdEnded(local: local, reference: hold.reference, offer: hold.offer, .confirmed)
            } else {
                releaseUnits(of: hold, toLedger: false)
                addAccepted(org(local), Int(hold.offer), -1)
                    remember()
                holdEnded(local: local, reference: hold.reference, offer: hold.offer, d.kind == .expire ? .expired : .cancelled)
            }
        default:
            remember()
        }
        return true
    }
}
