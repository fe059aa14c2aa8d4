// A source of order requests (Core: the pipeline consumes it, LoadGen and captures provide it).
/// Where a run's requests come from: the open-model generator, or a capture being replayed.
///
/// `fill` writes the next requests, in intended-send-time order, and returns how many (0 = done).
/// `intendedSendNanos` is an offset from the run's start.
public protocol RequestSource: AnyObject {
    func fill(_ buffer: UnsafeMutableBufferPointer<OrderRequest>) -> Int
}
