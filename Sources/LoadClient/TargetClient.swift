import FlashSaleCore
import FlashSaleSystem
import Pipeline
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How a `TargetClient` loads a server.
public struct TargetOptions: Sendable {
    public var url: TargetURL
    /// TCP connections, opened at the start and reopened after a failure.
    public var connections: Int
    /// Requests one connection may have unanswered (1 = plain keep-alive; more = pipelined).
    public var pipeline: Int
    /// An answer later than this after its request was sent is a time-out: the connection is closed
    /// and reopened, and its unanswered requests count as timed out.
    public var timeoutNanos: UInt64 = 10_000_000_000
    /// A bearer token (HTTP `Authorization`, the binary hello).
    public var token: String?
    /// Open model (send at each request's intended time; latency from it) or as fast as the window
    /// allows (latency from the send).
    public var pace: PipelineOptions.Pace = .open
    /// Whether requests carry their campaign time (the server runs `--clock request`).
    public var sendsCampaignTime = true
    /// The campaign's fingerprint, checked by the binary hello (0: not checked).
    public var campaignFingerprint: UInt64 = 0
    /// The timeline's interval (`TargetResult.timeline`), and a callback for each interval as it closes
    /// (on the client's thread: keep it short).
    public var timelineIntervalNanos: UInt64 = 1_000_000_000
    public var onTimelineInterval: (@Sendable (TimelineInterval) -> Void)?

    public init(url: TargetURL, connections: Int, pipeline: Int) {
        self.url = url
        self.connections = max(1, connections)
        self.pipeline = max(1, pipeline)
    }
}

/// What a target run measured, from the client's side.
public struct TargetResult: Sendable {
    public var wallNanos: UInt64 = 0
    /// Requests written to a connection.
    public var sent = 0
    /// Requests the source offered (sent, or still waiting when the run was stopped).
    public var offered = 0
    /// Answers read (any status).
    public var answered = 0
    /// Decisions by outcome (answers that carried one).
    public var outcomeCounts = [Int](repeating: 0, count: Outcome.count)
    /// Answers by status ("200", "429"; "DECIDED", "OVERLOADED").
    public var statusCounts: [String: Int] = [:]
    /// Intended send time (open model) or send (max) to answer, for every answer read.
    public var latency = LatencyRecorder()
    public var connectErrors = 0
    /// Requests that got no answer within the time-out.
    public var timeouts = 0
    /// Requests lost with a connection that failed or closed (other than time-outs).
    public var connectionErrors = 0
    /// Times the server sent bytes the client could not read.
    public var protocolErrors = 0
    public var reconnects = 0
    /// The most requests that were due and waited for a connection with room at once (open model;
    /// counted within the generator's current chunk of 4,096).
    public var maxBacklog = 0
    /// The send times' span: the first request's intended send time to the last one's actual send.
    public var sendSpanNanos: UInt64 = 0
    /// The schedule's span: the first request's intended send time to the last one's (0 with `max`).
    public var intendedSpanNanos: UInt64 = 0
    /// Requests per second the schedule asked for (over its span), and the client achieved (sends over
    /// the same start to the last send): equal when the rate held.
    public var requestedPerSecond: Double? { intendedSpanNanos > 0 && sent > 1 ? Double(sent - 1) / (Double(intendedSpanNanos) / 1e9) : nil }
    public var achievedPerSecond: Double { sendSpanNanos > 0 && sent > 1 ? Double(sent - 1) / (Double(sendSpanNanos) / 1e9) : 0 }
    /// The last failure a connection reported, for the summary ("connect 127.0.0.1:8080: Connection refused").
    public var lastError: String?
    public var decided: Int { outcomeCounts.reduce(0, +) }
    /// Answers that shed the request (HTTP 429, binary OVERLOADED): refused, nothing decided.
    public var shed = 0
    /// The run interval by interval, from the client's side: sent (offered), decided answers (decided,
    /// acknowledged, by outcome), shed answers, latency of the answers in the interval, unanswered at its end.
    public var timeline: [TimelineInterval] = []
    public init() {}
}

/// Why a target run could not run at all.
public struct TargetFailure: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The load generator pointed at a server: an open-model sender over a few TCP connections, one thread,
/// `ppoll` for readiness and pacing (nanosecond time-outs).
///
/// - Latency is measured from each request's intended send time (the open model), so a server that
///   stalls shows in the tail: requests due meanwhile wait in the client's backlog and their wait
///   counts (no coordinated omission, as in wrk2).
/// - Each connection has up to `pipeline` requests unanswered; HTTP answers come in order, binary ones
///   carry the connection's sequence.
/// - Closed loop: every buy's answer (or its loss: an error status, a time-out, a dropped connection)
///   goes back to a `ClosedLoopSource`, once per burst of reads.
/// - Nothing is allocated per request once the buffers have grown.
public final class TargetClient: @unchecked Sendable {  // run on one thread; `stop()` from any
    public let options: TargetOptions
    let offerNames: [String]
    private let stopRequested = StopFlag()

    public init(options: TargetOptions, offerNames: [String]) {
        self.options = options
        self.offerNames = offerNames
    }

    /// Stops offering new requests; those in flight are still awaited (up to the time-out).
    public func stop() { stopRequested.value.store(true, ordering: .releasing) }

    public func run(source: RequestSource, progress: ((TargetResult) -> Void)? = nil) throws(TargetFailure) -> TargetResult {
        let o = options
        let hostHeader = o.url.host.contains(":") ? "[\(o.url.host)]:\(o.url.port)" : "\(o.url.host):\(o.url.port)"
        switch o.url.scheme {
        case .http:
            let names = offerNames, token = o.token, sends = o.sendsCampaignTime
            var run = TargetRun(options: o, stop: stopRequested) {
                HTTPOrderCodec(offerNames: names, host: hostHeader, token: token, sendsCampaignTime: sends)
            }
            return try run.run(source: source, progress: progress)
        case .fsbin:
            let token = o.token ?? "", fingerprint = o.campaignFingerprint, sends = o.sendsCampaignTime
            var run = TargetRun(options: o, stop: stopRequested) {
                BinaryOrderCodec(token: token, fingerprint: fingerprint, sendsCampaignTime: sends)
            }
            return try run.run(source: source, progress: progress)
        }
    }
}

/// One request on its way: what the answer needs to be accounted.
private struct InFlight {
    var requestId: UInt64 = 0
    /// Monotonic nanoseconds latency counts from (intended send time, or the send with `max`).
    var fromNanos: UInt64 = 0
    var sentNanos: UInt64 = 0
    var isBuy = false
    var answered = true
}

/// A connection: its socket, codec, output and input buffers, and a ring of its unanswered requests
/// (request `oldest + k` is `ring[(oldest + k) % depth]`).
private final class Connection<Codec: OrderCodec> {
    var socket: ClientSocket?
    var codec: Codec
    var out: [UInt8] = []
    var outSent = 0
    let input: UnsafeMutableRawBufferPointer
    var inputCount = 0
    /// `depth` slots, allocated once (raw memory: no array bookkeeping, retain or uniqueness check per access).
    let ring: UnsafeMutablePointer<InFlight>
    /// The ring's size is the power of two at or above `depth`: slot = sequence & mask.
    let mask: UInt64
    let depth: Int
    /// Sequence of the oldest unanswered request, and of the next to send (from 1).
    var oldest: UInt64 = 1
    var next: UInt64 = 1
    var reconnectAt: UInt64 = 0
    var touched = false

    init(codec: Codec, depth: Int) {
        self.codec = codec
        self.depth = depth
        var size = 1
        while size < depth { size <<= 1 }
        mask = UInt64(size - 1)
        ring = .allocate(capacity: size)
        ring.initialize(repeating: InFlight(), count: size)
        // room for the largest answer frame and as much again behind it
        input = .allocate(byteCount: max(256 * 1024, 2 * Codec.largestAnswerBytes), alignment: 8)
        out.reserveCapacity(64 * 1024)
    }
    deinit {
        ring.deallocate()
        input.deallocate()
        socket?.close()
    }

    var unanswered: Int { Int(next - oldest) }
    var hasRoom: Bool { socket != nil && codec.isReady && unanswered < depth && unanswered < codec.maxInFlight }
    /// Requests it may take now.
    var room: Int { min(depth, codec.maxInFlight) - unanswered }
}

/// Per-answer counters in raw memory, freed with the run.
private final class Counters {
    let statuses: UnsafeMutablePointer<Int>
    let outcomes: UnsafeMutablePointer<Int>
    let statusCount: Int
    init(statuses n: Int) {
        statusCount = n
        statuses = .allocate(capacity: n)
        statuses.initialize(repeating: 0, count: n)
        outcomes = .allocate(capacity: Outcome.count)
        outcomes.initialize(repeating: 0, count: Outcome.count)
    }
    deinit {
        statuses.deallocate()
        outcomes.deallocate()
    }
}

/// Set by `TargetClient.stop()` from any thread, read by the run's loop.
final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}

private struct TargetRun<Codec: OrderCodec> {
    let options: TargetOptions
    let stop: StopFlag
    let makeCodec: () -> Codec
    private var result = TargetResult()
    /// Answers by status and decisions by outcome, counted per answer: raw memory (see `Counters`).
    private let counters: Counters
    private var connections: [Connection<Codec>] = []
    private var answeredBuys: [(UInt64, Bool)] = []
    /// The statuses that shed a request (429, OVERLOADED), by index in `statusNames`.
    private let shedStatuses: [Int]
    /// The latency of the answers since the timeline's last cut.
    private var intervalLatency = LatencyRecorder()

    init(options: TargetOptions, stop: StopFlag, makeCodec: @escaping () -> Codec) {
        self.options = options
        self.stop = stop
        self.makeCodec = makeCodec
        counters = Counters(statuses: Codec.statusNames.count)
        shedStatuses = Codec.statusNames.indices.filter { ["429", "OVERLOADED"].contains(Codec.statusNames[$0]) }
    }

    /// The cumulative figures now, for the timeline.
    private func timelineTotals() -> TimelineTotals {
        var outcomes = [Int](repeating: 0, count: Outcome.count)
        for o in 0..<Outcome.count { outcomes[o] = counters.outcomes[o] }
        let decided = outcomes.reduce(0, +)
        let unanswered = connections.reduce(0) { $0 + ($1.socket == nil ? 0 : $1.unanswered) }
        return TimelineTotals(offered: result.sent, decided: decided, acknowledged: decided, outcomes: outcomes,
                              shed: shedStatuses.reduce(0) { $0 + counters.statuses[$1] }, inFlight: unanswered, durableLag: 0)
    }
    private var stopped: Bool { stop.value.load(ordering: .acquiring) }

    mutating func run(source: RequestSource, progress: ((TargetResult) -> Void)?) throws(TargetFailure) -> TargetResult {
        let o = options
        let loop = (source as? ClosedLoopSource).flatMap { $0.startClosedLoop() ? $0 : nil }
        // Connect everything first: a server that is not there fails the run with its reason.
        for _ in 0..<o.connections { connections.append(Connection(codec: makeCodec(), depth: o.pipeline)) }
        var firstError: SystemCallError?
        for c in connections {
            do { try open(c) } catch { firstError = firstError ?? error; result.connectErrors += 1 }
        }
        if connections.allSatisfy({ $0.socket == nil }) {
            throw TargetFailure(message: "cannot connect to \(o.url): \(firstError.map { $0.reason } ?? "unknown error")")
        }
        // Wait for the greetings (binary hello → welcome), so that the run's clock starts when the server is ready.
        try awaitReady()

        let chunkCapacity = 4096
        let chunk = UnsafeMutableBufferPointer<OrderRequest>.allocate(capacity: chunkCapacity)
        defer { chunk.deallocate() }
        var chunkCount = 0, chunkIndex = 0
        var sourceDone = false
        var fds = [pollfd](repeating: pollfd(fd: -1, events: 0, revents: 0), count: connections.count)
        let start = monotonicNanos()
        var firstIntended: UInt64?
        var lastIntended: UInt64 = 0
        var lastSend: UInt64 = start
        var rr = 0
        var lastProgress = start
        var timeline = TimelineRecorder(runStartNanos: start)
        var lastCut = start

        while true {
            var now = monotonicNanos()
            if stopped && !sourceDone { sourceDone = true; chunkIndex = chunkCount }
            // 1. time-outs and reconnects
            for c in connections {
                if c.socket == nil {
                    if now >= c.reconnectAt && !sourceDone {
                        do { try open(c) } catch { result.connectErrors += 1; result.lastError = "\(error)"; c.reconnectAt = now + 100_000_000 }
                    }
                    continue
                }
                if c.unanswered > 0 {
                    let head = c.ring[Int(c.oldest & c.mask)]
                    if !head.answered && now &- head.sentNanos > o.timeoutNanos {
                        fail(c, reason: "no answer within \(o.timeoutNanos / 1_000_000) ms", timedOut: true, now: now)
                    }
                }
            }
            // 2. the source
            if chunkIndex == chunkCount && !sourceDone {
                let n = source.fill(chunk)
                if n > 0 {
                    chunkCount = n
                    chunkIndex = 0
                    result.offered += n
                } else if !(loop?.isAwaitingAnswers ?? false) || (loop?.isFinished ?? true) {
                    sourceDone = true
                }
            }
            // 3. send what is due, on connections with room
            var nextDue: UInt64 = .max
            var backlog = 0
            var sentNow = 0
            let spread = o.pace == .open  // paced: one request per connection in turn; max: fill a connection's window
            sending: while chunkIndex < chunkCount {
                if o.pace == .open && start &+ chunk[chunkIndex].intendedSendNanos > now {
                    nextDue = start &+ chunk[chunkIndex].intendedSendNanos
                    break
                }
                var picked: Connection<Codec>?
                for k in 0..<connections.count {
                    var i = rr + k
                    if i >= connections.count { i -= connections.count }
                    if connections[i].hasRoom { picked = connections[i]; rr = i + 1 == connections.count ? 0 : i + 1; break }
                }
                guard let c = picked else {
                    // Due and waiting for room (open model: later requests are not due yet).
                    if o.pace == .open {
                        var k = chunkIndex
                        while k < chunkCount && start &+ chunk[k].intendedSendNanos <= now { k += 1 }
                        backlog = k - chunkIndex
                    }
                    break
                }
                var room = spread ? 1 : c.room
                c.touched = true
                while room > 0 && chunkIndex < chunkCount {
                    let r = chunk[chunkIndex]
                    if firstIntended == nil { firstIntended = r.intendedSendNanos }
                    let due = o.pace == .open ? start &+ r.intendedSendNanos : now
                    if due > now { nextDue = due; break sending }
                    let seq = c.next
                    c.next += 1
                    c.ring[Int(seq & c.mask)] = InFlight(requestId: r.requestId, fromNanos: due, sentNanos: now,
                                                         isBuy: r.kind == .buy, answered: false)
                    c.codec.append(r, sequence: seq, into: &c.out)
                    lastIntended = r.intendedSendNanos
                    chunkIndex += 1
                    sentNow += 1
                    room -= 1
                }
            }
            result.sent += sentNow
            if sentNow > 0 { lastSend = now }
            if backlog > result.maxBacklog { result.maxBacklog = backlog }
            for c in connections where c.touched {
                c.touched = false
                c.codec.endBurst(into: &c.out)
                flushOut(c, now: now)
            }
            let inFlight = connections.reduce(0) { $0 + ($1.socket == nil ? 0 : $1.unanswered) }
            if sourceDone && chunkIndex == chunkCount && inFlight == 0 { break }
            // 4. wait: for answers, for the next due request, or for room
            var timeout: UInt64 = 1_000_000
            if chunkIndex < chunkCount && backlog == 0 && nextDue != .max { timeout = min(timeout, nextDue > now ? nextDue - now : 0) }
            if chunkIndex == chunkCount && !sourceDone && !(loop?.isAwaitingAnswers ?? false) { timeout = 0 }
            for (i, c) in connections.enumerated() {
                fds[i].fd = c.socket?.raw ?? -1
                fds[i].events = Int16(POLLIN) | (c.outSent < c.out.count ? Int16(POLLOUT) : 0)
                fds[i].revents = 0
            }
            if timeout > 0 { ClientSocket.wait(&fds, timeoutNanos: timeout) }
            now = monotonicNanos()
            // 5. read and account the answers
            for (i, c) in connections.enumerated() where c.socket != nil {
                if fds[i].revents & Int16(POLLOUT) != 0 { flushOut(c, now: now) }
                if timeout == 0 || fds[i].revents & (Int16(POLLIN) | Int16(POLLHUP) | Int16(POLLERR)) != 0 {
                    try readAnswers(c, now: now)
                }
            }
            if let loop, !answeredBuys.isEmpty {
                let batch = answeredBuys
                loop.receiveAnswers { inbox in
                    inbox.arrivedAtNanos = now &- start
                    for (id, granted) in batch { inbox.add(requestId: id, holdGranted: granted) }
                }
                answeredBuys.removeAll(keepingCapacity: true)
            }
            if now &- lastCut >= o.timelineIntervalNanos {
                lastCut = now
                let interval = timeline.cut(now: now, totals: timelineTotals(), latency: intervalLatency)
                intervalLatency = LatencyRecorder()
                o.onTimelineInterval?(interval)
            }
            if let progress, now &- lastProgress >= 1_000_000_000 {
                lastProgress = now
                snapshotStatuses()
                result.wallNanos = now &- start
                progress(result)
            }
        }
        // The last, partial interval: with it the timeline adds up to the totals.
        let end = monotonicNanos()
        let last = timeline.cut(now: end, totals: timelineTotals(), latency: intervalLatency)
        o.onTimelineInterval?(last)
        result.timeline = timeline.intervals
        for c in connections { c.socket?.close(); c.socket = nil }
        result.wallNanos = end &- start
        let first = start &+ (o.pace == .open ? (firstIntended ?? 0) : 0)
        result.sendSpanNanos = lastSend > first ? lastSend &- first : 0
        if o.pace == .open, let firstIntended, lastIntended > firstIntended { result.intendedSpanNanos = lastIntended - firstIntended }
        snapshotStatuses()
        return result
    }

    private mutating func snapshotStatuses() {
        var s: [String: Int] = [:]
        for i in 0..<Codec.statusNames.count where counters.statuses[i] > 0 { s[Codec.statusNames[i]] = counters.statuses[i] }
        for o in 0..<Outcome.count { result.outcomeCounts[o] = counters.outcomes[o] }
        result.statusCounts = s
        result.shed = shedStatuses.reduce(0) { $0 + counters.statuses[$1] }
    }

    private func open(_ c: Connection<Codec>) throws(SystemCallError) {
        let s = try ClientSocket.connect(host: options.url.host, port: options.url.port)
        c.socket = s
        c.codec = makeCodec()
        c.out.removeAll(keepingCapacity: true)
        c.outSent = 0
        c.inputCount = 0
        c.oldest = 1
        c.next = 1
        c.codec.greet(into: &c.out)
        if !c.out.isEmpty { flushOut(c, now: 0) }
    }

    private mutating func awaitReady() throws(TargetFailure) {
        let deadline = monotonicNanos() + 5_000_000_000
        while connections.contains(where: { $0.socket != nil && !$0.codec.isReady }) {
            if monotonicNanos() > deadline { throw TargetFailure(message: "\(options.url): the server did not answer the hello within 5 s") }
            var fds = connections.map { pollfd(fd: $0.socket?.raw ?? -1, events: Int16(POLLIN), revents: 0) }
            ClientSocket.wait(&fds, timeoutNanos: 10_000_000)
            for c in connections where c.socket != nil && !c.codec.isReady { try readAnswers(c, now: monotonicNanos()) }
            if let fatal = fatalMessage { throw TargetFailure(message: "\(options.url): \(fatal)") }
            if connections.allSatisfy({ $0.socket == nil }) {
                throw TargetFailure(message: "\(options.url): the server closed every connection during the hello\(result.lastError.map { ": \($0)" } ?? "")")
            }
        }
    }

    private var fatalMessage: String?

    private func flushOut(_ c: Connection<Codec>, now: UInt64) {
        guard let s = c.socket, c.outSent < c.out.count else { return }
        let sent: SystemCallError? = c.out.withUnsafeBytes { b -> SystemCallError? in
            do {
                while c.outSent < b.count {
                    switch try s.write(UnsafeRawBufferPointer(rebasing: b[c.outSent...])) {
                    case .bytes(let n): c.outSent += n
                    case .wouldBlock, .closed: return nil
                    }
                }
            } catch let e as SystemCallError { return e } catch { return nil }
            return nil
        }
        if sent != nil { return }  // the read side sees the failure and accounts it
        if c.outSent == c.out.count {
            c.out.removeAll(keepingCapacity: true)
            c.outSent = 0
        }
    }

    private mutating func readAnswers(_ c: Connection<Codec>, now: UInt64) throws(TargetFailure) {
        while let s = c.socket {
            if c.inputCount == c.input.count {
                fail(c, reason: "an answer larger than \(c.input.count) bytes", timedOut: false, now: now)
                result.protocolErrors += 1
                return
            }
            let transfer: ClientSocket.Transfer
            do {
                transfer = try s.read(into: UnsafeMutableRawBufferPointer(rebasing: c.input[c.inputCount...]))
            } catch {
                fail(c, reason: "\(error)", timedOut: false, now: now)
                return
            }
            switch transfer {
            case .wouldBlock: return
            case .closed:
                fail(c, reason: "the server closed the connection", timedOut: false, now: now)
                return
            case .bytes(let n):
                c.inputCount += n
                var failure: ClientProtocolError?
                var used = 0
                do {
                    used = try c.codec.parse(UnsafeRawBufferPointer(rebasing: c.input[0..<c.inputCount])) { a in account(a, on: c, now: now) }
                } catch { failure = error }
                if let failure {
                    result.protocolErrors += 1
                    if failure.fatal { fatalMessage = failure.message }
                    fail(c, reason: failure.message, timedOut: false, now: now)
                    if failure.fatal { throw TargetFailure(message: "\(options.url): \(failure.message)") }
                    return
                }
                if used > 0 {
                    let left = c.inputCount - used
                    if left > 0 { c.input.baseAddress!.copyMemory(from: c.input.baseAddress! + used, byteCount: left) }
                    c.inputCount = left
                }
                if n < 16 * 1024 { return }  // drained (a full read may have more behind it)
            }
        }
    }

    private mutating func account(_ a: ClientAnswer, on c: Connection<Codec>, now: UInt64) {
        let seq = a.sequence == 0 ? firstUnanswered(c) : a.sequence
        guard seq >= c.oldest && seq < c.next else { return }  // not one of ours (or already timed out)
        let slot = Int(seq & c.mask)
        guard !c.ring[slot].answered else { return }
        c.ring[slot].answered = true
        let f = c.ring[slot]
        result.answered += 1
        counters.statuses[a.status] += 1
        let nanos = now > f.fromNanos ? now &- f.fromNanos : 0
        result.latency.record(nanos: nanos)
        intervalLatency.record(nanos: nanos)
        if let outcome = a.outcome {
            counters.outcomes[Int(outcome.rawValue)] += 1
        }
        if f.isBuy {
            let granted = a.outcome == .held || (a.outcome == .duplicate && a.originalOutcome == .held)
            answeredBuys.append((f.requestId, granted))
        }
        while c.oldest < c.next && c.ring[Int(c.oldest & c.mask)].answered { c.oldest += 1 }
    }

    private func firstUnanswered(_ c: Connection<Codec>) -> UInt64 {
        var s = c.oldest
        while s < c.next && c.ring[Int(s & c.mask)].answered { s += 1 }
        return s
    }

    /// Closes a connection: its unanswered requests are lost (their buys reported as refused), and it is
    /// reopened 100 ms later.
    private mutating func fail(_ c: Connection<Codec>, reason: String, timedOut: Bool, now: UInt64) {
        var s = c.oldest
        while s < c.next {
            let f = c.ring[Int(s & c.mask)]
            if !f.answered {
                if timedOut { result.timeouts += 1 } else { result.connectionErrors += 1 }
                if f.isBuy { answeredBuys.append((f.requestId, false)) }
            }
            s += 1
        }
        c.oldest = c.next
        c.socket?.close()
        c.socket = nil
        c.reconnectAt = now &+ 100_000_000
        result.reconnects += 1
        result.lastError = reason
    }
}
