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

/// Why a run could not complete.
public enum PipelineError: Error, CustomStringConvertible {
    /// The segment directory holds records this campaign cannot apply (another campaign's log).
    case logDoesNotMatchCampaign(directory: String, sequence: UInt64, detail: String)
    /// The journal failed (disk full, I/O error): decisions after the failure were not acknowledged.
    case journalFailed(underlying: Error, acknowledged: Int)
    /// The segment directory holds records the campaign's state cannot be rebuilt from (its first
    /// segments were removed, or nothing says which campaign wrote it).
    case journalCannotBeResumed(directory: String, reason: String)
    /// A file of the segment directory (other than a segment) cannot be written, e.g. the directory is
    /// read-only or immutable: `reason` is the system's.
    case cannotWrite(file: String, reason: String)

    public var description: String {
        switch self {
        case .logDoesNotMatchCampaign(let dir, let seq, let detail):
            "\(dir): record \(seq) does not fit this campaign (\(detail)); use an empty --segments directory or the profile that wrote it"
        case .journalFailed(let e, let acked):
            "journal failed after \(acked) acknowledged decisions: \(e)"
        case .journalCannotBeResumed(let dir, let reason):
            "\(dir): cannot continue this journal: \(reason); use an empty --segments directory"
        case .cannotWrite(let file, let reason):
            "cannot write \(file): \(reason)"
        }
    }
}

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
}

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
        var writerOptions = options.writer
        // Group commit fsyncs in the background: the journal keeps encoding while the disk syncs.
        if writerOptions.durability == .batch {
            writerOptions.backgroundSync = true
            writerOptions.continuousGroupCommit = true
        }
        let writer = try SegmentWriter(directory: directory, options: writerOptions, sink: options.segmentSink)
        let sameLanesThroughout = try checkCampaignFingerprint(in: directory, hasRecords: writer.nextSequence > 1)

        // Restart: rebuild the campaign from what the directory already holds.
        let (resumed, resumedLast, resumedClock, resumeMarkers) = try rebuild(from: directory, lastSequence: writer.nextSequence &- 1,
                                                                              markLanes: sameLanesThroughout)
        try recordCampaignFingerprint(in: directory, sameLanes: sameLanesThroughout)

        let pools = (0..<lanes).map { BatchPool(lane: $0, batches: options.batchesPerLane, capacity: options.batchCapacity) }
        let laneQueues = (0..<lanes).map { DispatchQueue(label: "flashsale.lane\($0)", qos: .userInteractive) }
        let start = monotonicNanos()
        let journal = JournalStage(writer: writer, ledger: ledger, returnsReleasedUnits: Self.releasesAfterJournal(lanes: lanes), pools: pools, pace: options.pace, runStartNanos: start,
                                   offerCount: rules.offerCount, batchCapacity: options.batchCapacity)
        let offeredCounter = SharedCounter()
        writer.onDurable = { _ in journal.queue.async { journal.acknowledgeDurable() } }
        defer { writer.onDurable = nil }  // the callback holds the journal, which holds the writer
        let engines = self.engines

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

        let injectedDelay = options.injectedLaneDelayNanos
        func dispatch(_ batch: LaneBatch) {
            batch.dispatchedNanos = monotonicNanos()
            let engine = engines[batch.lane]
            laneQueues[batch.lane].async {
                engine.process(UnsafeBufferPointer(rebasing: batch.requests[0..<batch.count]), into: &batch.decisions)
                if injectedDelay > 0 {
                    let until = monotonicNanos() &+ injectedDelay &* UInt64(batch.count)
                    while monotonicNanos() < until {}
                }
                journal.queue.async { journal.submit(batch) }
            }
        }

        // Source and router, on this thread.
        let chunk = UnsafeMutableBufferPointer<OrderRequest>.allocate(capacity: 16_384)
        defer { chunk.deallocate() }
        var current = [LaneBatch?](repeating: nil, count: lanes)
        var offered = 0, shed = 0
        var waitNanos: UInt64 = 0
        // `--rate max` defaults to wait (PipelineOptions); an explicit shed is honoured.
        let wait = options.overloadPolicy == .wait
        let flushNanos = UInt64(options.flushMicros) * 1000
        // A restart offers exactly what the stopped run had not decided. Each lane decided a prefix of its
        // own requests (routing is by organisation), so with the lane count the directory was written with,
        // a lane's requests are skipped up to its last journaled one. Otherwise (lanes changed, or a
        // directory from before the lane count was recorded) the restart continues after the last
        // journaled campaign time, which drops the undecided rest of that millisecond and of slower lanes.
        var skipping = resumeMarkers.map { $0 != nil }
        var copiesToSkip = resumeMarkers.map { $0?.copies ?? 0 }
        var skipBefore = resumed > 0 && resumeMarkers.isEmpty ? resumedClock : Int64.min
        var rebase: UInt64? = resumed > 0 ? nil : 0

        func route(_ r: OrderRequest) {
            let lane = Int(r.organisation % UInt32(lanes))
            if current[lane] == nil {
                let t0 = wait ? monotonicNanos() : 0
                current[lane] = pools[lane].acquire(wait: wait)
                if wait { waitNanos &+= monotonicNanos() &- t0 }
                if current[lane] == nil { shed += 1; return }
            }
            let b = current[lane]!
            b.requests[b.count] = r
            b.count &+= 1
            if b.isFull {
                dispatch(b)
                current[lane] = nil
            }
        }
        // When the oldest request now waiting in a partial batch was routed (open model).
        var pendingSince: UInt64?
        func flushAll() {
            for lane in 0..<lanes { if let b = current[lane], b.count > 0 { dispatch(b); current[lane] = nil } }
            pendingSince = nil
        }

        var lastShedReported = 0
        while !journal.failed.value.load(ordering: .acquiring) && !stopRequested.value.load(ordering: .acquiring) {
            let n = source.fill(chunk)
            if n == 0 { break }
            var i = 0
            while i < n {
                var r = chunk[i]
                i += 1
                if !resumeMarkers.isEmpty {
                    let lane = Int(r.organisation % UInt32(lanes))
                    // Later than anything the lane journaled without meeting its marker, the traffic is not the
                    // stopped run's (another seed, duration or capture): the lane continues from there, as by
                    // campaign time. (Not the marker's own time: early requests run against the clock.)
                    if skipping[lane], let marker = resumeMarkers[lane], r.campaignTimeMillis <= marker.laneLatestMillis {
                        // The marker's retransmits sit next to it in the lane: skip every copy the lane journaled.
                        if marker.key == ResumeMarker.Key(r) {
                            copiesToSkip[lane] -= 1
                            if copiesToSkip[lane] == 0 { skipping[lane] = false }
                        }
                        continue
                    }
                    skipping[lane] = false
                } else if skipBefore != .min {
                    // A restarted campaign continues after the last journaled campaign time.
                    if r.campaignTimeMillis <= skipBefore { continue }
                    skipBefore = .min
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
                            if shed > lastShedReported {
                                let s = shed - lastShedReported
                                lastShedReported = shed
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
                route(r)
            }
            offeredCounter.value.store(offered, ordering: .relaxed)
        }
        flushAll()
        if shed > lastShedReported { let s = shed - lastShedReported; journal.queue.async { journal.countShed(s) } }

        // Drain the lanes, then release every hold that expired by the campaign's last instant.
        for q in laneQueues { q.sync {} }
        let endClock = journal.queue.sync { journal.maxCampaignTime }
        let lastClock = max(endClock, engines.map(\.clockMillis).max() ?? .min, resumedClock)
        for lane in 0..<lanes {
            let b = pools[lane].acquire(wait: true)!
            laneQueues[lane].sync { engines[lane].advanceClock(to: lastClock, into: &b.decisions) }
            if b.decisions.isEmpty { pools[lane].release(b) } else { b.dispatchedNanos = monotonicNanos(); journal.queue.async { journal.submit(b) } }
        }
        let (failure, sealError): (Error?, Error?) = journal.queue.sync {
            journal.syncAndAcknowledge()
            for t in timers { t.cancel() }
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
                wallNanos: end - start, offered: offered, shed: shed, sourceWaitNanos: waitNanos,
                decisions: journal.acknowledged, outcomeCounts: journal.outcomeCounts, latency: journal.mergedLatency,
                soldOutAtNanos: journal.soldOutAtNanos,
                // Saturating: a total past 64 bits (never in a sound run) fails the invariants, not the process.
                soldUnits: (0..<items).map { i in engines.map { $0.soldUnits[i] }.saturatingSum() },
                heldUnits: (0..<items).map { i in engines.map { $0.heldUnits[i] }.saturatingSum() },
                remainingUnits: (0..<items).map { ledger.remaining($0) },
                minShardUnits: (0..<items).map { i in (0..<lanes).map { ledger.remaining(i, shard: $0) }.min() ?? 0 },
                writer: writer.stats, recovery: writer.recovery, resumedRecords: resumed,
                resumedLastSequence: resumedLast, durableWatermark: writer.durableWatermark,
                segmentsDirectory: directory, lastCampaignTimeMillis: lastClock)
        }
    }

    /// Applies every record already in `directory` to the engines and the ledger. Returns (records, last
    /// sequence, last campaign time, markers): with `markLanes` (every run on the directory used this lane
    /// count) the markers are, per lane, the last request it journaled (nil for a lane that journaled
    /// none); otherwise there are none.
    func rebuild(from directory: String, lastSequence: UInt64,
                         markLanes: Bool) throws -> (Int, UInt64, Int64, [ResumeMarker?]) {
        guard lastSequence > 0 else { return (0, 0, .min, []) }
        let reader = try SegmentReader(directory: directory)
        var count = 0
        var clock = Int64.min
        var bad: (UInt64, String)?
        var markers = [ResumeMarker?](repeating: nil, count: options.lanes)
        var laneLatest = [Int64](repeating: .min, count: options.lanes)
        var firstSequence: UInt64?
        try reader.forEachRecord { record in
            guard bad == nil else { return }
            if firstSequence == nil { firstSequence = record.sequence }
            guard firstSequence == 1 else { return }
            guard let d = Decision(record) else { bad = (record.sequence, "unknown outcome or kind code"); return }
            let lane = Int(d.organisation % UInt32(options.lanes))
            // Expiries are the lanes' own decisions, not requests (a client's request of kind expire is one).
            if !d.isLaneExpiry {
                let key = ResumeMarker.Key(d)
                if markers[lane]?.key == key { markers[lane]!.copies += 1 } else { markers[lane] = ResumeMarker(key: key) }
                laneLatest[lane] = max(laneLatest[lane], d.campaignTimeMillis)
            }
            if d.outcome == .overload { return }
            guard engines[lane].replay(d) else {
                bad = (record.sequence, "\(d.outcome) of offer \(d.offer) by organisation \(d.organisation) cannot be applied")
                return
            }
            count += 1
            clock = max(clock, d.campaignTimeMillis)
        }
        // Stock and per-organisation limits are rebuilt from every decision since the sale opened: a
        // journal whose first segments were removed would sell their units again.
        if let first = firstSequence, first != 1 {
            throw PipelineError.journalCannotBeResumed(
                directory: directory,
                reason: "its first record is sequence \(first): the segments with records 1...\(first - 1) were removed, and the stock they sold cannot be rebuilt without them")
        }
        if let bad { throw PipelineError.logDoesNotMatchCampaign(directory: directory, sequence: bad.0, detail: bad.1) }
        let items = rules.itemCount
        // Summed over lanes without trapping: a sum past Int64 becomes Int64.min, which `restore` refuses.
        func total(_ units: (LaneEngine) -> [Int64]) -> [Int64] {
            (0..<items).map { i in
                var sum: Int64 = 0
                for e in engines {
                    let (s, overflow) = sum.addingReportingOverflow(units(e)[i])
                    if overflow { return .min }
                    sum = s
                }
                return sum
            }
        }
        let impossible = ledger.restore(sold: total(\.soldUnits), held: total(\.heldUnits))
        if let item = impossible.first {
            throw PipelineError.logDoesNotMatchCampaign(directory: directory, sequence: lastSequence,
                                                        detail: "it uses more of \(rules.campaign.items[item].name) than the campaign has")
        }
        // Holds that expired before the crash without a journaled release are released (and journaled)
        // by the first request after `clock`, or at the end of this run.
        for lane in markers.indices { markers[lane]?.laneLatestMillis = laneLatest[lane] }
        return (count, lastSequence, clock, markLanes ? markers : [])
    }

    /// Whether lanes leave released units to the journal (see `LaneEngine.releasesAfterJournal`).
    static func releasesAfterJournal(lanes: Int) -> Bool { lanes > 1 }

    /// The file in a segment directory naming the campaign that writes it.
    public static let fingerprintFile = "campaign.fingerprint"

    /// Refuses a directory written by another campaign (or by an unknown one). Returns whether every run
    /// on the directory, this one included, has this run's lane count.
    func checkCampaignFingerprint(in directory: String, hasRecords: Bool) throws -> Bool {
        let path = directory + "/" + Self.fingerprintFile
        let mine = String(rules.campaign.fingerprint, radix: 16)
        var sameLanes = !hasRecords
        if hasRecords && !FileManager.default.fileExists(atPath: path) {
            // Segments copied without their fingerprint: whose records they are is unknown, and another
            // campaign's would be booked onto this campaign's items.
            throw PipelineError.journalCannotBeResumed(
                directory: directory,
                reason: "it holds records but no \(Self.fingerprintFile) naming the campaign that wrote them (copy that file with the segments)")
        }
        if hasRecords, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let lines = text.split(separator: "\n")
            let theirs = lines.first.map(String.init) ?? ""
            if theirs != mine {
                throw PipelineError.logDoesNotMatchCampaign(
                    directory: directory, sequence: 1,
                    detail: "written by campaign \(theirs), this is campaign \(mine) (\(rules.campaign.name))")
            }
            sameLanes = lines.count > 2 && lines[2] == "lanes \(options.lanes)"
        }
        return sameLanes
    }

    /// Records this campaign's fingerprint and the lane count of every run on the directory ("lanes N",
    /// or "lanes mixed" once runs differed). Written once the directory is known to be usable, so a
    /// refused restart changes nothing.
    func recordCampaignFingerprint(in directory: String, sameLanes: Bool) throws {
        let mine = String(rules.campaign.fingerprint, radix: 16)
        let lanes = sameLanes ? "lanes \(options.lanes)" : "lanes mixed"
        try Self.replaceFile(directory + "/" + Self.fingerprintFile, with: mine + "\n" + rules.campaign.name + "\n" + lanes + "\n")
    }

    /// Writes `text` to `path` atomically (a temporary file renamed over it). A failure throws
    /// `PipelineError.cannotWrite` naming `path` and the system's reason, and leaves `path` as it was.
    static func replaceFile(_ path: String, with text: String) throws {
        let temporary = path + ".tmp"
        func fail() -> PipelineError {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            return .cannotWrite(file: path, reason: reason)
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail() }
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { let e = fail(); close(fd); throw e }
            done += n
        }
        guard close(fd) == 0 else { throw fail() }
        guard rename(temporary, path) == 0 else { throw fail() }
    }

    /// A fresh path under `$TMPDIR` (or /tmp) for a run's segments when none is given.
    public static func temporaryDirectory() -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        return "\(base)/flashsale-\(getpid())-\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000)"
    }
}

/// A lane's last journaled request, as the journal names it: enough to find it again in the regenerated
/// traffic of a restart.
struct ResumeMarker {
    /// What identifies a request in the journal and in the traffic alike.
    struct Key: Equatable {
        let requestId: UInt64, organisation: UInt32, offer: UInt16, kind: RequestKind, campaignTimeMillis: Int64
        init(_ d: Decision) {
            (requestId, organisation, offer, kind, campaignTimeMillis) = (d.requestId, d.organisation, d.offer, d.kind, d.campaignTimeMillis)
        }
        init(_ r: OrderRequest) {
            (requestId, organisation, offer, kind, campaignTimeMillis) = (r.requestId, r.organisation, r.offer, r.kind, r.campaignTimeMillis)
        }
    }
    let key: Key
    /// How many identical copies end the lane's journal (a request and its retransmits, which the
    /// generator sends right after it: adjacent in the lane).
    var copies = 1
    /// The latest campaign time among the lane's journaled requests.
    var laneLatestMillis: Int64 = .min
}

/// An atomic counter that closures on other queues can hold.
final class SharedCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// An atomic flag that closures on other queues can hold.
final class SharedFlag: Sendable {
    let value = Atomic<Bool>(false)
}
