/// A source whose follow-ups depend on earlier answers (closed loop): it sends a confirm or cancel only
/// for a hold that an answer granted.
///
/// The consumer (the in-process pipeline, a network client) calls `startClosedLoop()` once before the
/// first `fill`, then reports the answers of the source's buy requests through `receiveAnswers`, from any
/// thread, one call per batch of answers (one lock per call, none per answer). Every buy the source
/// produced must eventually be reported: decided, or refused without a decision (shed, an error
/// answer, a time-out), else a follow-up that waits for it waits until the run is stopped.
///
/// `fill` may then return 0 without being finished: a follow-up is due and its reservation's answer has
/// not come. The consumer hands over everything it was given, calls `waitForAnswers`, and fills again.
/// A source that was never started stays open-loop (follow-ups drawn without answers).
public protocol ClosedLoopSource: RequestSource, Sendable {
    /// Switches the source to closed-loop follow-ups; call before the first `fill`. Returns false when
    /// the source never sends follow-ups (no reservation, or no confirm or cancel): it needs no answers.
    @discardableResult func startClosedLoop() -> Bool
    /// Reports answers: `body` adds them to the inbox (one lock for the whole call).
    func receiveAnswers(_ body: (inout AnswerInbox) -> Void)
    /// True when the last `fill` stopped before a due follow-up whose reservation is unanswered.
    var isAwaitingAnswers: Bool { get }
    /// Blocks until an answer is reported or `timeoutNanos` passed.
    func waitForAnswers(timeoutNanos: UInt64)
    /// True once the source has nothing more to offer (a `fill` of 0 then means the end).
    var isFinished: Bool { get }
}

/// Answers on their way back to a `ClosedLoopSource`: the buy requests' ids and whether each got a hold.
/// Storage is reused from one batch to the next (nothing is allocated per answer once it has grown).
public struct AnswerInbox: Sendable {
    public struct Entry: Sendable, Equatable {
        public var requestId: UInt64
        public var holdGranted: Bool
        /// When the answer arrived, on the requests' `intendedSendNanos` timeline.
        public var atNanos: UInt64
    }

    public private(set) var entries: [Entry] = []
    /// When the answers being added arrived (set by the caller before `add`), on the requests'
    /// `intendedSendNanos` timeline.
    public var arrivedAtNanos: UInt64 = 0

    public init() { entries.reserveCapacity(4096) }

    /// A buy's answer: whether it granted a hold (HELD, or DUPLICATE of a HELD).
    @inline(__always)
    public mutating func add(requestId: UInt64, holdGranted: Bool) {
        entries.append(Entry(requestId: requestId, holdGranted: holdGranted, atNanos: arrivedAtNanos))
    }

    /// A decision: added when it answers a buy (other kinds never have follow-ups).
    @inline(__always)
    public mutating func add(_ d: Decision) {
        guard d.kind == .buy else { return }
        add(requestId: d.requestId, holdGranted: d.grantsHold)
    }

    /// A buy that got no decision (shed, refused, timed out): its follow-ups are not sent.
    @inline(__always)
    public mutating func refused(requestId: UInt64) { add(requestId: requestId, holdGranted: false) }

    /// Takes the entries out, leaving the storage for the next batch.
    public mutating func drain(_ body: (Entry) -> Void) {
        for e in entries { body(e) }
        entries.removeAll(keepingCapacity: true)
    }

    public var isEmpty: Bool { entries.isEmpty }
}

extension Decision {
    /// Whether this answer means the organisation holds units now: HELD, or a DUPLICATE of a HELD.
    @inlinable
    public var grantsHold: Bool {
        outcome == .held || (outcome == .duplicate && originalOutcome == .held)
    }
}
