import Dispatch
import FlashSaleCore
import OrderLog

/// The journal and the acknowledger: one serial queue that encodes every decided batch into the
/// segment writer, applies the durability policy, and acknowledges batches once the durable
/// watermark covers them (recording latency, counting outcomes, recycling the batch).
///
/// All its state is touched only on `queue` (single writer, no locks).
final class JournalStage: @unchecked Sendable {  // confined to `queue`
    let queue = DispatchQueue(label: "flashsale.journal", qos: .userInteractive)
    let writer: SegmentWriter
    let ledger: StockLedger
    /// Lanes leave released units to the journal (see `LaneEngine.releasesAfterJournal`).
    let returnsReleasedUnits: Bool
    let pools: [BatchPool]
    let pace: PipelineOptions.Pace
    let runStartNanos: UInt64
    let offerCount: Int

    private var records: UnsafeMutableBufferPointer<OrderRecord>
    private var pending: [LaneBatch] = []
    private var pendingHead = 0
    private(set) var failure: Error? {
        didSet { if failure != nil { abandonPending() } }
    }
    /// Set once the journal failed: the source stops offering (read from the source's thread).
    let failed = SharedFlag()

    // Acknowledged results.
    private(set) var latency: [LatencyRecorder]
    private(set) var outcomeCounts = [Int](repeating: 0, count: Outcome.count)
    private(set) var acknowledged = 0
    /// Acknowledged hold expiries (a lane's RELEASED, nobody's answer).
    private(set) var expiries = 0
    private(set) var soldOutAtNanos: [UInt64?]
    private(set) var soldOutOffers = 0
    private(set) var maxCampaignTime: Int64 = .min
    /// Closed loop: the source told every acknowledged buy's answer (one call per batch).
    var answers: ClosedLoopSource?
    /// Requests a service's producers handed to the lanes (`OrderService`; a run counts its source's).
    var offeredToLanes = 0
    /// Decisions handed to the journal so far (hold expiries included).
    private(set) var journaled = 0
    /// The latency acknowledged since the timeline's last cut.
    private var intervalLatency = LatencyRecorder()
    var timeline: TimelineRecorder

    init(writer: SegmentWriter, ledger: StockLedger, returnsReleasedUnits: Bool, pools: [BatchPool], pace: PipelineOptions.Pace, runStartNanos: UInt64,
         offerCount: Int, batchCapacity: Int) {
        self.writer = writer
        self.ledger = ledger
        self.returnsReleasedUnits = returnsReleasedUnits
        self.pools = pools
        self.pace = pace
        self.runStartNanos = runStartNanos
        self.offerCount = offerCount
        records = .allocate(capacity: batchCapacity + 256)
        latency = Array(repeating: LatencyRecorder(), count: pools.count)
        soldOutAtNanos = Array(repeating: nil, count: offerCount)
        pending.reserveCapacity(pools.count * 128)
        timeline = TimelineRecorder(runStartNanos: runStartNanos)
    }

    /// Closes the timeline's current interval now (on `queue`); `offered` is the source's count so far.
    /// `refused`: requests a server refused before they reached a lane (no free batch), counted as
    /// offered and shed, never as an outcome.
    func cutTimeline(offered: Int, refused: Int = 0) -> TimelineInterval {
        let lag = Int(writer.nextSequence &- 1) - Int(writer.durableWatermark)
        let shed = outcomeCounts[Int(Outcome.overload.rawValue)]
        // In flight: offered, and neither shed nor answered (hold expiries are acknowledged, nobody's answer).
        // The sell-out curve: every item's stock (atomics, read once per interval), for campaigns of ≤ 64 items.
        let remaining: [Int64]? = ledger.itemCount <= 64 ? (0..<ledger.itemCount).map { ledger.remaining($0) } : nil
        let totals = TimelineTotals(offered: offered + refused, decided: journaled, acknowledged: acknowledged, outcomes: outcomeCounts,
                                    shed: shed + refused, inFlight: offered - shed - (acknowledged - expiries), durableLag: lag,
                                    remaining: remaining)
        let interval = timeline.cut(now: monotonicNanos(), totals: totals, latency: intervalLatency)
        intervalLatency = LatencyRecorder()
        return interval
    }

    deinit { records.deallocate() }

    /// Journals one decided batch (on `queue`).
    func submit(_ batch: LaneBatch) {
        guard failure == nil else {
            // The writer failed: nothing more is acknowledged. The batch is recycled unacknowledged.
            finish(batch, durable: false)
            return
        }
        let n = batch.decisions.count
        journaled &+= n
        if let sealed = batch.sealed, sealed.recordCount == n, n > 0 {
            // The lane encoded and compressed it: number, stamp and copy its blocks.
            batch.lastSequence = .max
            pending.append(batch)
            do {
                batch.lastSequence = try writer.append(sealed: sealed)
                acknowledge(upTo: try writer.commit())
            } catch {
                failure = error
            }
            return
        }
        if records.count < n {
            records.deallocate()
            records = .allocate(capacity: n * 2)
        }
        batch.decisions.withUnsafeBufferPointer { ds in
            for i in 0..<n { records[i] = OrderRecord(ds[i]) }
        }
        // The batch waits in `pending` until the watermark covers it; on a failure it is abandoned
        // with the rest (once: it is in `pending` exactly once either way).
        batch.lastSequence = .max  // not acknowledgeable until the writer numbered it
        pending.append(batch)
        do {
            try writer.append(UnsafeMutableBufferPointer(rebasing: records[0..<n]))
            batch.lastSequence = writer.nextSequence &- 1
            acknowledge(upTo: try writer.commit())
        } catch {
            failure = error
        }
    }

    /// After a failure nothing more is acknowledged: unacknowledged batches go back to their pools
    /// unrecorded, so that a source waiting for room wakes up and can stop.
    private func abandonPending() {
        failed.value.store(true, ordering: .releasing)
        for batch in pending[pendingHead...] { finish(batch, durable: false) }
        pending.removeAll(keepingCapacity: true)
        pendingHead = 0
    }

    /// Group-commit tick while traffic pauses: starts the fsync that is due (in the background) and
    /// acknowledges what is already durable.
    func groupCommitTick() {
        guard failure == nil, pendingHead < pending.count else { return }
        do { acknowledge(upTo: try writer.commit()) } catch { failure = error }
    }

    /// A timer on `queue` that runs `groupCommitTick` every `millis` (group commit for `batch` durability
    /// when traffic pauses); the caller keeps it and cancels it when done.
    func startGroupCommitTimer(everyMillis millis: Int) -> DispatchSourceTimer {
        let t = DispatchSource.makeTimerSource(queue: queue)
        let ms = max(1, millis)
        t.schedule(deadline: .now() + .milliseconds(ms), repeating: .milliseconds(ms))
        t.setEventHandler { [unowned self] in self.groupCommitTick() }
        t.resume()
        return t
    }

    /// A background fsync finished: acknowledge what it covered.
    func acknowledgeDurable() {
        guard failure == nil else { return }
        // Continuous group commit: what was journaled during that fsync goes into the next one at once,
        // before the acknowledgements (recording latency, answers) of what this one covered.
        // (Not after the writer closed: a late callback then only acknowledges what that fsync covered.)
        if writer.options.continuousGroupCommit, pendingHead < pending.count, !writer.isClosed {
            do { acknowledge(upTo: try writer.commit()) } catch { failure = error }
        } else {
            acknowledge(upTo: writer.durableWatermark)
        }
    }

    /// End of run: fsync everything written and acknowledge it.
    func syncAndAcknowledge() {
        guard failure == nil, pendingHead < pending.count else { return }
        do { acknowledge(upTo: try writer.syncNow()) } catch { failure = error }
    }

    /// Acknowledges every pending batch whose decisions are all at or below `watermark`.
    private func acknowledge(upTo watermark: UInt64) {
        guard pendingHead < pending.count else { return }
        let now = monotonicNanos()
        while pendingHead < pending.count, pending[pendingHead].lastSequence <= watermark {
            let batch = pending[pendingHead]
            pendingHead += 1
            record(batch, ackNanos: now)
            finish(batch, durable: true)
        }
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        }
    }

    /// Hands a served batch to its completion (which gives it back), or recycles it.
    private func finish(_ batch: LaneBatch, durable: Bool) {
        if let completion = batch.completion { completion(batch, durable) } else { pools[batch.lane].release(batch) }
    }

    private func record(_ batch: LaneBatch, ackNanos: UInt64) {
        if pace == .max, answers == nil, batch.summary.isValid {
            recordSummary(batch, ackNanos: ackNanos)
            return
        }
        var requests: UInt64 = 0
        batch.decisions.withUnsafeBufferPointer { ds in
            for d in ds {
                outcomeCounts[Int(d.outcome.rawValue)] &+= 1
                if d.outcome == .released && returnsReleasedUnits { returnUnits(of: d) }
                if d.campaignTimeMillis > maxCampaignTime { maxCampaignTime = d.campaignTimeMillis }
                if d.isLaneExpiry { expiries &+= 1; continue }
                requests &+= 1
                if pace == .open {
                    let intended = runStartNanos &+ d.intendedSendNanos
                    let l = ackNanos > intended ? ackNanos &- intended : 0
                    latency[batch.lane].record(nanos: l)
                    intervalLatency.record(nanos: l)
                }
                if d.outcome == .soldOut { noteSoldOut(Int(d.offer), ackNanos: ackNanos) }
            }
        }
        if pace == .max { recordQueueing(batch, requests: requests, ackNanos: ackNanos) }
        if let answers {
            let at = ackNanos &- runStartNanos
            answers.receiveAnswers { inbox in
                inbox.arrivedAtNanos = at
                batch.decisions.withUnsafeBufferPointer { ds in for d in ds { inbox.add(d) } }
            }
        }
        acknowledged &+= batch.decisions.count
    }

    /// `record` from what the lane counted (`BatchSummary`): the same results without reading each
    /// decision, except a RELEASED one whose units the journal returns.
    private func recordSummary(_ batch: LaneBatch, ackNanos: UInt64) {
        let s = batch.summary
        for i in 0..<Outcome.count { outcomeCounts[i] &+= s.outcomes[i] }
        if returnsReleasedUnits && s.outcomes[Int(Outcome.released.rawValue)] > 0 {
            batch.decisions.withUnsafeBufferPointer { ds in for d in ds where d.outcome == .released { returnUnits(of: d) } }
        }
        if s.clockMillis > maxCampaignTime { maxCampaignTime = s.clockMillis }
        expiries &+= s.expiries
        for offer in s.firstSoldOut { noteSoldOut(offer, ackNanos: ackNanos) }
        recordQueueing(batch, requests: UInt64(batch.decisions.count &- s.expiries), ackNanos: ackNanos)
        acknowledged &+= batch.decisions.count
    }

    /// A RELEASED decision is durable now: its units may go back to stock for every lane.
    private func returnUnits(of d: Decision) {
        for i in 0..<d.pieces.count { ledger.release(d.pieces[i].quantity, of: d.pieces[i].item, to: Int(d.lane)) }
    }

    /// The first acknowledged SOLD_OUT of `offer` dates its sell-out.
    private func noteSoldOut(_ offer: Int, ackNanos: UInt64) {
        guard offer < offerCount, soldOutAtNanos[offer] == nil else { return }
        soldOutAtNanos[offer] = ackNanos &- runStartNanos
        soldOutOffers += 1
    }

    /// `--rate max`: the batch's `requests` waited from their dispatch to the lane until now.
    private func recordQueueing(_ batch: LaneBatch, requests: UInt64, ackNanos: UInt64) {
        guard requests > 0 else { return }
        latency[batch.lane].record(nanos: ackNanos &- batch.dispatchedNanos, count: requests)
        intervalLatency.record(nanos: ackNanos &- batch.dispatchedNanos, count: requests)
    }

    /// Counts OVERLOAD decisions made by the router (never journaled: they never reached a lane).
    func countShed(_ n: Int) { outcomeCounts[Int(Outcome.overload.rawValue)] &+= n }

    var mergedLatency: LatencyRecorder {
        var all = LatencyRecorder()
        for l in latency { all.merge(l) }
        return all
    }

    var unacknowledgedBatches: Int { pending.count - pendingHead }
}
