import CShims
import Dispatch
import FlashSaleCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import OrderLog
import Synchronization

/// The Dispatch pipeline: source → router (organisation id) → W lanes (one serial queue each) →
/// journal (segment writer, durability) → acknowledger.
///
/// Every hop moves a batch; no stage allocates, dispatches or locks per order. In-flight work is
/// bounded by each lane's batch pool: when it is exhausted the source sheds (OVERLOAD) or waits.
/// After `run` returns, stock is quiescent and `initial = remaining + held + sold` can be checked.
public final class OrderPipeline {
    public let rules: CampaignRules
    public let options: PipelineOptions
    public let ledger: StockLedger
    public let engines: [LaneEngine]
    /// Set by `stop()`: the source offers no more requests; what is in flight is decided and journaled.
    private let stopRequested = SharedFlag()

    /// Ends the run early (e.g. on Ctrl-C), from any thread: no new requests are offered, everything
    /// already offered is decided, journaled and acknowledged, and `run` returns normally.
    public func stop() { stopRequested.value.store(true, ordering: .releasing) }

    /// Whether `stop()` was called.
    public var wasStopped: Bool { stopRequested.value.load(ordering: .acquiring) }

    public init(rules: CampaignRules, options: PipelineOptions) {
        precondition(options.lanes >= 1 && options.lanes <= 64, "lanes must be 1...64")
        self.rules = rules
        self.options = options
        let ledger = StockLedger(initial: rules.campaign.items.map(\.initial), shardCount: options.lanes)
        self.ledger = ledger
        engines = (0..<options.lanes).map {
            let engine = LaneEngine(rules: rules, ledger: ledger, lane: $0, laneCount: options.lanes)
            // With several lanes, released units go back to stock only once the release is durable (the
            // journal returns them), so no lane can take units whose release a crash could still lose.
            // One lane journals its own releases before its later takes, so it may reuse them at once,
            // which keeps one-lane runs deterministic.
            engine.releasesAfterJournal = Self.releasesAfterJournal(lanes: options.lanes)
            return engine
        }
    }

    /// Whether lanes decide on the source's thread inside the journal's queue (see `LaneStage`): paced runs,
    /// unless every commit is an fsync (`sync`), which the source must not wait for (it sheds instead).
    static func decidesInline(_ options: PipelineOptions) -> Bool { options.pace == .open && options.writer.durability != .sync }

    /// Whether lanes leave released units to the journal (see `LaneEngine.releasesAfterJournal`).
    static func releasesAfterJournal(lanes: Int) -> Bool { lanes > 1 }

    private var hasRun = false

    /// Runs `source` to the end through the pipeline and returns what happened. A pipeline runs once:
    /// its lanes and ledger hold the campaign's state afterwards (make a new one for another run).
    /// - Parameter progress: called on the journal's queue every `options.progressInterval` seconds.
    public func run(source: RequestSource, progress: (@Sendable (ProgressSnapshot) -> Void)? = nil) throws -> PipelineResult {
        precondition(!hasRun, "an OrderPipeline runs once; make a new one for another run")
        hasRun = true
        let lanes = options.lanes
        let directory = options.segmentsDirectory ?? Self.temporaryDirectory()
        // A directory the pipeline made up is its own to remove (callers that read the segments pass one).
        let ownsDirectory = options.segmentsDirectory == nil
        defer { if ownsDirectory { try? FileManager.default.removeItem(atPath: directory) } }
        let opened = try openJournal(in: directory)
        let writer = opened.writer
        let (resumed, resumedLast, resumedClock, resumeMarkers) = (opened.resumedRecords, opened.resumedLastSequence,
                                                                   opened.resumedClock, opened.markers)

        let prefault = options.prefaultsMemory
        let pools = (0..<lanes).map { BatchPool(lane: $0, batches: options.batchesPerLane, capacity: options.batchCapacity, prefault: prefault) }
        if prefault { for engine in engines { engine.prefault() } }
        // What the source fills and the router reads.
        let chunk = UnsafeMutableBufferPointer<OrderRequest>.allocate(capacity: 16_384)
        if prefault { flashsale_prefault(chunk.baseAddress, chunk.count * MemoryLayout<OrderRequest>.stride) }
        defer { chunk.deallocate() }
        let start = monotonicNanos()
        let journal = JournalStage(writer: writer, ledger: ledger, returnsReleasedUnits: Self.releasesAfterJournal(lanes: lanes), pools: pools, pace: options.pace, runStartNanos: start,
                                   offerCount: rules.offerCount, batchCapacity: options.batchCapacity)
        let offeredCounter = SharedCounter()
        // Asynchronously: at `--rate max` the journal's queue is rarely idle, so a `queue.sync` (as
        // `OrderService` does) would mostly wait for it instead of hopping. (Both are safe: the writer never
        // queues an fsync behind this callback, which once deadlocked a paced run's end.)
        writer.onDurable = { _ in journal.queue.async { journal.acknowledgeDurable() } }
        defer { writer.onDurable = nil }  // the callback holds the journal, which holds the writer
        let engines = self.engines
        let laneStage = LaneStage(engines: engines, journal: journal, label: "flashsale", inline: Self.decidesInline(options),
                                  injectedDelayNanos: options.injectedLaneDelayNanos,
                                  injectedStall: options.injectedStall.map { (start &+ UInt64($0.atSeconds * 1e9), $0.nanos) },
                                  encodesBlocks: options.lanesEncodeBlocks ? writer.options : nil)

        // Group commit for `batch` durability when traffic pauses; progress reports.
        var timers: [DispatchSourceTimer] = []
        if options.writer.durability == .batch { timers.append(journal.startGroupCommitTimer(everyMillis: options.writer.groupCommitMillis)) }
        if let every = options.progressInterval, let progress {
            let t = DispatchSource.makeTimerSource(queue: journal.queue)
            t.schedule(deadline: .now() + every, repeating: every)
            t.setEventHandler {
                progress(ProgressSnapshot(
                    elapsedSeconds: Double(monotonicNanos() - start) / 1e9,
                    offered: offeredCounter.value.load(ordering: .relaxed), acknowledged: journal.acknowledged,
                    accepted: journal.outcomeCounts[Int(Outcome.accepted.rawValue)] + journal.outcomeCounts[Int(Outcome.held.rawValue)],
                    soldOutOffers: journal.soldOutOffers, p99Micros: journal.mergedLatency.micros(atPercentile: 99),
                    durableWatermark: journal.writer.durableWatermark))
            }
            t.resume()
            timers.append(t)
        }

        // The timeline: an interval closed every `timelineInterval` seconds, on the journal's queue, and at
        // each traffic phase's start (so that an interval lies in one phase: the report's per-phase figures).
        let phaseStarts = options.pace == .open ? options.timelinePhaseStartsSeconds : []
        journal.queue.sync { journal.timeline = TimelineRecorder(runStartNanos: start, phaseStartsSeconds: phaseStarts) }
        let stream = options.onTimelineInterval
        let cutAndStream: @Sendable () -> Void = {
            let interval = journal.cutTimeline(offered: offeredCounter.value.load(ordering: .relaxed))  // cut with or without a stream
            stream?(interval)
        }
        for boundary in phaseStarts.dropFirst().prefix(1000) where boundary > 0 {
            let t = DispatchSource.makeTimerSource(queue: journal.queue)
            let at = start &+ UInt64(boundary * 1e9), now = monotonicNanos()
            t.schedule(deadline: .now() + .nanoseconds(Int(at > now ? at - now : 0)), leeway: .milliseconds(1))
            t.setEventHandler(handler: cutAndStream)
            t.resume()
            timers.append(t)
        }
        do {
            let t = DispatchSource.makeTimerSource(queue: journal.queue)
            let everyNanos = UInt64(max(0.01, options.timelineInterval) * 1e9)
            let every = DispatchTimeInterval.nanoseconds(Int(everyNanos))
            t.schedule(deadline: .now() + every, repeating: every)
            t.setEventHandler {
                // Just cut at a phase's start: no sliver of an interval.
                if monotonicNanos() &- journal.timeline.lastCutNanos < everyNanos / 10 { return }
                cutAndStream()
            }
            t.resume()
            timers.append(t)
        }

        // Source and router, on this thread.
        var offered = 0
        // `--rate max` defaults to wait (PipelineOptions); an explicit shed is honoured.
        var router = Router(pools: pools, wait: options.overloadPolicy == .wait, dispatch: laneStage.decide)
        // Closed loop: acknowledged answers, shed buys and (on a restart) the answers the stopped run gave
        // go back to the source, which sends a confirm or cancel only for a granted hold.
        let closedLoop = (source as? ClosedLoopSource).flatMap { $0.startClosedLoop() ? $0 : nil }
        if let closedLoop {
            journal.answers = closedLoop
            router.collectsRefusedBuys = true
        }
        var skippedBuys: [(UInt64, Bool)] = []
        let flushNanos = UInt64(options.flushMicros) * 1000
        // A restart offers exactly what the stopped run had not decided.
        var restart = RestartFilter(resumedRecords: resumed, lastCampaignTime: resumedClock, markers: resumeMarkers, lanes: lanes)
        var rebase: UInt64? = resumed > 0 ? nil : 0

        // When the oldest request now waiting in a partial batch was routed (open model).
        var pendingSince: UInt64?
        func flushAll() {
            router.flushAll()
            pendingSince = nil
        }

        var lastShedReported = 0
        while !journal.failed.value.load(ordering: .acquiring) && !stopRequested.value.load(ordering: .acquiring) {
            let n = source.fill(chunk)
            if n == 0 {
                guard let closedLoop, closedLoop.isAwaitingAnswers, !closedLoop.isFinished else { break }
                // A due follow-up waits for its reservation's answer: hand over everything, then wait.
                flushAll()
                router.reportRefusedBuys(to: closedLoop)
                closedLoop.waitForAnswers(timeoutNanos: 1_000_000)
                continue
            }
            var i = 0
            if options.pace == .max && restart.isDone {
                // Nothing to skip, nothing to pace: the chunk goes to the lanes as it is (and the request
                // by request loop below has nothing left to do).
                if rebase == nil { rebase = chunk[0].intendedSendNanos }
                offered &+= n
                router.route(UnsafeBufferPointer(rebasing: chunk[0..<n]), rebase: rebase!)
                i = n
            }
            while i < n {
                var r = chunk[i]
                i += 1
                if restart.skips(r) {
                    // The stopped run answered it: what it answered is in the lane's memory (rebuilt from
                    // the journal; the lane decides nothing until its skipped prefix is over).
                    if closedLoop != nil && r.kind == .buy {
                        let lane = Int(r.organisation % UInt32(lanes))
                        let m = engines[lane].lookup(organisation: r.organisation, requestId: r.requestId)
                        skippedBuys.append((r.requestId, m.map { $0.holdState != nil || $0.outcome == .held } ?? false))
                    }
                    continue
                }
                if rebase == nil { rebase = r.intendedSendNanos }
                r.intendedSendNanos &-= rebase!
                if options.pace == .open {
                    // Never offer a request before its intended send time (it could then be
                    // acknowledged "before it was sent" and hide real latency). Requests wait in
                    // partial batches for about `flushNanos` at most; that wait is latency and is counted.
                    let due = start &+ r.intendedSendNanos
                    var now = monotonicNanos()
                    if due > now {
                        if due &- now > flushNanos || (pendingSince.map { due &- $0 > flushNanos } ?? false) {
                            flushAll()
                            offeredCounter.value.store(offered, ordering: .relaxed)
                            if router.shed > lastShedReported {
                                let s = router.shed - lastShedReported
                                lastShedReported = router.shed
                                journal.queue.async { journal.countShed(s) }
                            }
                        }
                        sleep(until: due) { stopRequested.value.load(ordering: .relaxed) }
                        if stopRequested.value.load(ordering: .acquiring) { break }
                        now = due
                    } else if let since = pendingSince, now &- since > flushNanos {
                        flushAll()  // on or behind schedule: the oldest pending request waited a window
                    }
                    if pendingSince == nil { pendingSince = now }
                }
                offered &+= 1
                router.route(r)
            }
            offeredCounter.value.store(offered, ordering: .relaxed)
            if let closedLoop {
                router.reportRefusedBuys(to: closedLoop)
                if !skippedBuys.isEmpty {
                    closedLoop.receiveAnswers { inbox in for (id, granted) in skippedBuys { inbox.add(requestId: id, holdGranted: granted) } }
                    skippedBuys.removeAll(keepingCapacity: true)
                }
            }
        }
        flushAll()
        let shed = router.shed
        if shed > lastShedReported { let s = shed - lastShedReported; journal.queue.async { journal.countShed(s) } }

        // Drain the lanes, then release every hold that expired by the campaign's last instant.
        laneStage.drain()
        let endClock = journal.queue.sync { journal.maxCampaignTime }
        let lastClock = max(endClock, engines.map(\.clockMillis).max() ?? .min, resumedClock)
        for lane in 0..<lanes {
            let b = pools[lane].acquire(wait: true)!
            laneStage.queues[lane].sync { engines[lane].advanceClock(to: lastClock, into: &b.decisions) }
            if b.decisions.isEmpty { pools[lane].release(b) } else { b.dispatchedNanos = monotonicNanos(); journal.queue.async { journal.submit(b) } }
        }
        offeredCounter.value.store(offered, ordering: .relaxed)
        let (failure, sealError): (Error?, Error?) = journal.queue.sync {
            journal.syncAndAcknowledge()
            for t in timers { t.cancel() }
            // The last, partial interval: with it the timeline adds up to the run's totals.
            let last = journal.cutTimeline(offered: offered)
            options.onTimelineInterval?(last)
            var sealError: Error?
            if journal.failure == nil {
                do { try writer.close() } catch { sealError = error }
            } else {
                try? writer.close()  // releases the file and the directory lock; rethrows the failure we already hold
            }
            return (journal.failure, sealError)
        }
        let end = monotonicNanos()
        if let failure = failure ?? sealError {
            throw PipelineError.journalFailed(underlying: failure, acknowledged: journal.acknowledged)
        }
        offeredCounter.value.store(offered, ordering: .relaxed)

        let items = rules.itemCount
        return journal.queue.sync {
            PipelineResult(
                wallNanos: end - start, offered: offered, shed: shed, sourceWaitNanos: router.waitNanos,
                decisions: journal.acknowledged, outcomeCounts: journal.outcomeCounts, latency: journal.mergedLatency,
                soldOutAtNanos: journal.soldOutAtNanos,
                // Saturating: a total past 64 bits (never in a sound run) fails the invariants, not the process.
                soldUnits: (0..<items).map { i in engines.map { $0.soldUnits[i] }.saturatingSum() },
                heldUnits: (0..<items).map { i in engines.map { $0.heldUnits[i] }.saturatingSum() },
                remainingUnits: (0..<items).map { ledger.remaining($0) },
                minShardUnits: (0..<items).map { i in (0..<lanes).map { ledger.remaining(i, shard: $0) }.min() ?? 0 },
                writer: writer.stats, recovery: writer.recovery, resumedRecords: resumed,
                resumedLastSequence: resumedLast, durableWatermark: writer.durableWatermark,
                segmentsDirectory: directory, lastCampaignTimeMillis: lastClock, timeline: journal.timeline.intervals,
                expiries: journal.expiries, phaseLatency: journal.timeline.phaseLatency)
        }
    }

    /// A fresh path under `$TMPDIR` (or /tmp) for a run's segments when none is given.
    public static func temporaryDirectory() -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        return "\(base)/flashsale-\(getpid())-\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000)"
    }
}

/// An atomic counter that closures on other queues can hold.
final class SharedCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// An atomic flag that closures on other queues can hold.
final class SharedFlag: Sendable {
    let value = Atomic<Bool>(false)
}
