import FlashSaleCore
import OrderLog

/// A `RequestSource` that writes every request its inner source produces into a capture file
/// (docs/capture-format.md), unchanged, before handing it on. Requests a restarted run skips (campaign
/// time already journaled) are captured too: the capture is what the source produced.
///
/// A write error does not stop the run: capturing stops, `failure` keeps the error, and the caller
/// reports it (and `close()` rethrows it). Nothing allocates per request. Closed loop is the inner
/// source's (the capture holds the follow-ups that were sent).
public final class CapturingSource: ClosedLoopSource, @unchecked Sendable {  // one consumer thread, like its inner source
    public let inner: RequestSource
    public let writer: CaptureWriter
    public private(set) var failure: (any Error)?

    public init(_ inner: RequestSource, writer: CaptureWriter) {
        self.inner = inner
        self.writer = writer
    }

    public func fill(_ buffer: UnsafeMutableBufferPointer<OrderRequest>) -> Int {
        let n = inner.fill(buffer)
        if failure == nil, n > 0 {
            do {
                for k in 0..<n { try writer.append(CaptureRecord(buffer[k])) }
            } catch {
                failure = error
            }
        }
        return n
    }

    private var loop: ClosedLoopSource? { inner as? ClosedLoopSource }
    @discardableResult public func startClosedLoop() -> Bool { loop?.startClosedLoop() ?? false }
    public func receiveAnswers(_ body: (inout AnswerInbox) -> Void) { loop?.receiveAnswers(body) }
    public var isAwaitingAnswers: Bool { loop?.isAwaitingAnswers ?? false }
    public func waitForAnswers(timeoutNanos: UInt64) { loop?.waitForAnswers(timeoutNanos: timeoutNanos) }
    public var isFinished: Bool { loop?.isFinished ?? false }

    /// Finishes the capture file (last block, end marker, fsync). Throws the first write error.
    public func close() throws {
        if let failure { throw failure }
        try writer.close()
    }
}
