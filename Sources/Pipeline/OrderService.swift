import Dispatch
import FlashSaleCore
import Foundation
import OrderLog
import Synchronization

/// The pipeline as a long-running service: requests arrive from many producers (network event loops),
/// each through its own `Ingress`, in lane batches; every batch goes back to the producer that filled it,
/// in one completion, once its decisions are durable per the journal's durability.
///
/// The machinery is the in-process run's: `LaneEngine`s, the `JournalStage`, `LaneBatch`es recycled
/// through per-lane pools whose size bounds the work in flight (an ingress that finds no free batch
/// answers OVERLOAD without deciding anything). Unlike the run, the lanes do not get queues of their own:
/// every engine is confined to the journal's serial queue, and a producer hands a batch over with
/// `queue.sync`, which runs the decisions and the journal append on the producer's own thread when the
/// queue is idle (no thread hop and no wake-up per batch; on a 2-core machine the event loops already
/// use both cores, and a lane decides in ~0.1 µs per order). With `sync` durability, whose commit is an
/// fsync, the batch goes to the queue asynchronously instead, so that no producer waits for the disk. A restart on a segment directory
/// rebuilds the campaign from it first, exactly as `OrderPipeline.run` does (the same code), so a retry
/// after a restart gets its original decision. `stop()` drains: everything accepted is decided, journaled,
/// answered, and the segments are sealed.
public final class OrderService: @unchecked Sendable {  // configuration immutable; state confined to queues
    public let rules: CampaignRules
    public let options: PipelineOptions
    public var ledger: StockLedger { core.ledger }
    public var engines: [LaneEngine] { core.engines }
    /// Records rebuilt from the segment directory at start (0 for a fresh campaign).
    public private(set) var resumedRecords = 0
    public let segmentsDirectory: String
    /// Monotonic time the service started: `OrderRequest.intendedSendNanos` counts from it.
    public let startNanos: UInt64

    let core: OrderPipeline
    let writer: SegmentWriter
    let journal: JournalStage
    let pools: [BatchPool]
    /// `options.lanes` for routing (organisation id mod lanes) without a divide per request.
    let laneDivisor: LaneDivisor
    /// Decide and journal on the producer's thread (`queue.sync`); false with `sync` durability.
    let decidesInline: Bool
    private var timers: [DispatchSourceTimer] = []
    private let ownsDirectory: Bool
    /// Holds expire on a timer (a wall clock); otherwise only requests move the lanes' clocks.
    private let hasWallClock: Bool
    private let draining = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    /// Batches handed to lanes and not yet completed (drain waits for 0).
    private let inFlight = Atomic<Int>(0)
    /// Requests refused for want of a free batch (answered OVERLOAD by the server, never decided).
    private let refused = Atomic<Int>(0)
    /// The timeline's timer and stream (`startTimeline`).
    private var timelineTimer: DispatchSourceTimer?
    private var onTimelineInterval: (@Sendable (TimelineInterval) -> Void)?

    /// Opens (or resumes) the campaign's journal and starts the lanes.
    /// - Parameter expireEveryMillis: with a wall clock, how often each lane's clock is advanced to
    ///   `clock()` so holds expire even when no traffic comes (nil: only requests advance the clocks).
    public init(rules: CampaignRules, options: PipelineOptions, clock: (@Sendable () -> Int64)? = nil,
                expireEveryMillis: Int? = nil) throws {
        self.rules = rules
        self.options = options
        hasWallClock = clock != nil && expireEveryMillis != nil
        core = OrderPipeline(rules: rules, options: options)
        let directory = options.segmentsDirectory ?? OrderPipeline.temporaryDirectory()
        ownsDirectory = options.segmentsDirectory == nil
        segmentsDirectory = directory
        let opened = try core.openJournal(in: directory)
        writer = opened.writer
        resumedRecords = opened.resumedRecords
        let lanes = options.lanes
        laneDivisor = LaneDivisor(lanes)
        pools = (0..<lanes).map { BatchPool(lane: $0, batches: options.batchesPerLane, capacity: options.batchCapacity) }
        decidesInline = options.writer.durability != .sync
        startNanos = monotonicNanos()
        journal = JournalStage(writer: writer, ledger: core.ledger, returnsReleasedUnits: OrderPipeline.releasesAfterJournal(lanes: lanes),
                               pools: pools, pace: .open, runStartNanos: startNanos, offerCount: rules.offerCount,
                               batchCapacity: options.batchCapacity)
        let journal = self.journal
        // On the fsync's own thread, synchronously: when the journal's queue is idle (the common case for a
        // server) the acknowledgement and the next commit run right there, without waking another thread
        // per fsync (asynchronously cost ~8% of keep-alive throughput). Safe: the writer never queues an
        // fsync behind this callback, and its owner's waits (a roll, `stop`) wait only for an fsync itself.
        writer.onDurable = { _ in journal.queue.sync { journal.acknowledgeDurable() } }
        if options.writer.durability == .batch { timers.append(journal.startGroupCommitTimer(everyMillis: options.writer.groupCommitMillis)) }
        if let clock, let every = expireEveryMillis {
            let t = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "flashsale.service.expiry"))
            t.schedule(deadline: .now() + .milliseconds(every), repeating: .milliseconds(every))
            t.setEventHandler { [weak self] in self?.advanceClocks(to: clock()) }
            t.resume()
            timers.append(t)
        }
    }

    deinit {
        writer.onDurable = nil
        for t in timers { t.cancel() }
    }

    /// Whether the service takes new requests (not draining, not stopped, journal sound).
    public var isAccepting: Bool {
        !draining.load(ordering: .acquiring) && !journal.failed.value.load(ordering: .acquiring)
    }

    /// Lane batches handed to lanes and not yet answered.
    public var batchesInFlight: Int { inFlight.load(ordering: .relaxed) }

    /// Whether the journal failed (nothing more is acknowledged).
    public var journalFailed: Bool { journal.failed.value.load(ordering: .acquiring) }

    /// Monotonic nanoseconds since the service started (for `OrderRequest.intendedSendNanos`).
    public func nanosSinceStart() -> UInt64 { monotonicNanos() &- startNanos }

    // MARK: producers

    /// One producer's way in: fills a batch per lane and hands them over on `flush()`. Not thread-safe:
    /// one per producer thread (an event loop), used only there.
    public final class Ingress: @unchecked Sendable {  // confined to its producer
        let service: OrderService
        /// Made once: every batch of this producer completes through it (no closure made per batch).
        let completion: @Sendable (LaneBatch, Bool) -> Void
        private var current: [LaneBatch?]

        init(service: OrderService, deliver: @escaping @Sendable (DecidedBatch) -> Void) {
            self.service = service
            completion = { [unowned service] b, durable in deliver(DecidedBatch(batch: b, service: service, durable: durable)) }
            current = Array(repeating: nil, count: service.options.lanes)
        }

        /// Adds a request; its answer comes back with `token`. False when the request is not taken:
        /// the lane has no free batch (overload) or the service is draining or failed. Nothing is decided then.
        public func add(_ r: OrderRequest, token: UInt64) -> Bool {
            guard service.isAccepting else { return false }
            let lane = Int(service.laneDivisor.remainder(r.organisation))
            if current[lane] == nil {
                guard let b = service.pools[lane].acquire(wait: false) else {
                    service.refused.add(1, ordering: .relaxed)   // the overload path only: no atomic per accepted order
                    return false
                }
                current[lane] = b
            }
            let b = current[lane]!
            b.requests[b.count] = r
            b.tokens[b.count] = token
            b.count &+= 1
            if b.isFull {
                current[lane] = nil
                service.dispatch(b, completion: completion)
            }
            return true
        }

        /// Hands every partly filled batch to its lane (call at the end of each burst of reads).
        public func flush() {
            for lane in current.indices {
                if let b = current[lane] {
                    current[lane] = nil
                    service.dispatch(b, completion: completion)
                }
            }
        }
    }

    /// A producer's ingress; `deliver` is called once per batch, on the journal's queue or, when the batch
    /// is acknowledged as it is journaled (`none` durability), inside the producer's own `flush()`: hop to
    /// the producer's thread (or queue the batch) there, read the decisions later, then call
    /// `DecidedBatch.done()`. Never read the decisions inside `deliver` itself.
    public func makeIngress(deliver: @escaping @Sendable (DecidedBatch) -> Void) -> Ingress {
        Ingress(service: self, deliver: deliver)
    }

    /// A batch's answers, in request order: `forEach` gives each request's token and decision.
    public struct DecidedBatch: @unchecked Sendable {  // owned by one thread at a time, until `done()`
        let batch: LaneBatch
        let service: OrderService
        /// False after a journal failure: nothing in the batch is acknowledged (answer 503).
        public let durable: Bool

        /// Every request's token, decision and journal sequence (a hold expiry the lane journaled first is
        /// skipped: it is nobody's answer).
        public func forEach(_ body: (UInt64, Decision, UInt64) -> Void) {
            var k = 0
            let n = batch.decisions.count
            batch.decisions.withUnsafeBufferPointer { ds in
                for (i, d) in ds.enumerated() where !d.isLaneExpiry {
                    guard k < batch.count else { break }
                    body(batch.tokens[k], d, durable ? batch.lastSequence &- UInt64(n &- 1 &- i) : 0)
                    k += 1
                }
            }
            // A batch abandoned before its lane decided it has no decisions: its tokens still need answers.
            if !durable && k < batch.count {
                for j in k..<batch.count {
                    body(batch.tokens[j], Decision(request: batch.requests[j], outcome: .overload, lane: batch.lane), 0)
                }
            }
        }

        public var count: Int { batch.count }

        /// Gives the batch back to its pool. Call exactly once, after `forEach`.
        public func done() {
            service.pools[batch.lane].release(batch)
            service.inFlight.subtract(1, ordering: .releasing)
        }
    }

    func dispatch(_ batch: LaneBatch, completion: @escaping @Sendable (LaneBatch, Bool) -> Void) {
        inFlight.add(1, ordering: .relaxed)
        batch.completion = completion
        batch.dispatchedNanos = monotonicNanos()
        let engine = core.engines[batch.lane]
        let journal = self.journal
        if decidesInline {
            journal.queue.sync {
                journal.offeredToLanes &+= batch.count
                engine.process(UnsafeBufferPointer(rebasing: batch.requests[0..<batch.count]), into: &batch.decisions)
                journal.submit(batch)
            }
        } else {
            journal.queue.async {
                journal.offeredToLanes &+= batch.count
                engine.process(UnsafeBufferPointer(rebasing: batch.requests[0..<batch.count]), into: &batch.decisions)
                journal.submit(batch)
            }
        }
    }

    // MARK: clocks, reads, stop

    /// Advances every lane's campaign clock to `t` (holds expire on time with no traffic); the releases
    /// are journaled like any decision.
    public func advanceClocks(to t: Int64) {
        guard !stopped.load(ordering: .acquiring), !journal.failed.value.load(ordering: .acquiring) else { return }
        let engines = core.engines, pools = self.pools, journal = self.journal
        journal.queue.async {
            for lane in engines.indices {
                let engine = engines[lane]
                guard t > engine.clockMillis || engine.hasExpiredHolds(at: t), let b = pools[lane].acquire(wait: false) else { continue }
                engine.advanceClock(to: t, into: &b.decisions)
                if b.decisions.isEmpty { pools[lane].release(b) } else { journal.submit(b) }
            }
        }
    }

    /// What the owning lane remembers of an earlier request; `answer` is called on the journal's queue
    /// (where the lanes live).
    public func lookup(organisation: UInt32, requestId: UInt64, answer: @escaping @Sendable (LaneEngine.Remembered?) -> Void) {
        let lane = Int(organisation % UInt32(options.lanes))
        let engine = core.engines[lane]
        journal.queue.async { answer(engine.lookup(organisation: organisation, requestId: requestId)) }
    }

    /// Units of `item` in stock now (atomics; cheap).
    public func remaining(item: Int) -> Int64 { core.ledger.remaining(item) }

    /// Decisions acknowledged so far, per outcome (read on the journal's queue).
    public func outcomeCounts() -> [Int] { journal.queue.sync { journal.outcomeCounts } }

    /// Latency of every acknowledged request, arrival (`intendedSendNanos`) to durable (on the journal's queue).
    public func latency() -> LatencyRecorder { journal.queue.sync { journal.mergedLatency } }

    /// The journal's figures (on its queue).
    public func journalFigures() -> (acknowledged: Int, durableWatermark: UInt64, stats: WriterStats) {
        journal.queue.sync { (journal.acknowledged, writer.durableWatermark, writer.stats) }
    }

    // MARK: timeline

    /// Starts the service's timeline (`serve --timeline`, its report's `timeline`): an interval closed every
    /// `seconds` on the journal's queue, passed to `onInterval` as it closes; the newest `keep` are kept.
    public func startTimeline(every seconds: Double, keep: Int, onInterval: (@Sendable (TimelineInterval) -> Void)?) {
        let journal = self.journal
        journal.queue.sync {
            journal.timeline = TimelineRecorder(runStartNanos: startNanos, keep: keep)
            onTimelineInterval = onInterval
        }
        let t = DispatchSource.makeTimerSource(queue: journal.queue)
        let every = DispatchTimeInterval.nanoseconds(Int(max(0.01, seconds) * 1e9))
        t.schedule(deadline: .now() + every, repeating: every)
        t.setEventHandler { [unowned self] in
            let interval = journal.cutTimeline(offered: journal.offeredToLanes, refused: self.refused.load(ordering: .relaxed))
            self.onTimelineInterval?(interval)
        }
        t.resume()
        timelineTimer = t
    }

    /// The timeline so far (the newest intervals `startTimeline` keeps); empty without `startTimeline`.
    public func timeline() -> [TimelineInterval] { journal.queue.sync { timelineTimer == nil ? [] : journal.timeline.intervals } }

    /// Waits until every batch handed over was decided and answered (or `deadline`).
    private func waitForLanes(until deadline: ContinuousClock.Instant) {
        while ContinuousClock.now < deadline {
            let pending = journal.queue.sync { () -> Int in journal.syncAndAcknowledge(); return journal.unacknowledgedBatches }
            if pending == 0 && inFlight.load(ordering: .acquiring) == 0 { return }
            usleep(1_000)
        }
    }

    /// Stops taking requests (call `Ingress.flush()` on every producer first, or let them flush).
    public func beginDraining() { draining.store(true, ordering: .releasing) }

    /// Drains and seals: waits until every batch handed to a lane was answered (up to `timeout`), then
    /// fsyncs, seals the segments and stops the timers. Idempotent.
    public func stop(timeout: Duration = .seconds(30)) throws {
        beginDraining()
        guard !stopped.load(ordering: .acquiring) else { return }
        if !hasWallClock {
            // As an in-process run ends: every hold that expired by the latest campaign time any lane saw
            // is released (and journaled) before the seal, so that a served campaign journals what the
            // same requests journal in-process. (A wall clock's timer does this as time passes.)
            waitForLanes(until: ContinuousClock.now + timeout)
            let latest = journal.queue.sync { core.engines.map(\.clockMillis).max() ?? .min }
            if latest != .min { advanceClocks(to: latest) }
        }
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        waitForLanes(until: ContinuousClock.now + timeout)
        let failure: Error? = journal.queue.sync {
            for t in timers { t.cancel() }
            if let t = timelineTimer {
                // The last, partial interval: with it the timeline adds up to the served totals.
                t.cancel()
                onTimelineInterval?(journal.cutTimeline(offered: journal.offeredToLanes, refused: refused.load(ordering: .relaxed)))
            }
            if journal.failure == nil {
                do { try writer.close() } catch { return error }
            } else {
                try? writer.close()
            }
            return journal.failure
        }
        if ownsDirectory { try? FileManager.default.removeItem(atPath: segmentsDirectory) }
        if let failure { throw PipelineError.journalFailed(underlying: failure, acknowledged: journal.acknowledged) }
    }
}
