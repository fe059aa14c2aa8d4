/// Splits a byte stream into frames, incrementally: the caller keeps the bytes received (one growing
/// buffer), and `next(in:)` returns the next whole frame in it, or nil while that frame is not all there.
///
/// Guarantees: a `length` of 0 or above `WireProtocol.maxFrameBytes` is refused (`frameTooLarge`) as soon
/// as its 4 bytes are in, without waiting for the body; the ranges returned are inside `bytes`; the
/// splitter never reads past `bytes.count`, whatever the bytes. After a fault it keeps throwing it (the
/// stream cannot be resynchronised). Cut the stream anywhere: the frames come out the same.
///
/// ```swift
/// var splitter = FrameSplitter()
/// while let f = try buffer.withUnsafeBytes({ try splitter.next(in: $0) }) { handle(f.type, f.payload) }
/// buffer.removeFirst(splitter.position); splitter.rebase(removed: splitter.position)
/// ```
public struct FrameSplitter: Sendable {
    /// Where the next frame starts in the bytes given (the end of the last frame returned).
    public private(set) var position = 0
    private var fault: WireFault?

    public init() {}

    /// The next whole frame at `position` in `bytes`: its type byte, its payload's range in `bytes`, and
    /// where it ends (the new `position`). nil when the frame is not complete yet (more bytes needed).
    public mutating func next(in bytes: UnsafeRawBufferPointer) throws(WireFault) -> (type: UInt8, payload: Range<Int>, frameEnd: Int)? {
        if let fault { throw fault }
        let available = bytes.count - position
        guard available >= 4, let base = bytes.baseAddress else { return nil }
        let length = Int(UnsafeRawPointer(base).le(position, as: UInt32.self))
        guard length >= 1, length <= WireProtocol.maxFrameBytes else {
            let f = WireFault(.frameTooLarge, length == 0
                ? "frame length 0: the length counts the type byte, so it is at least 1"
                : "frame length \(length) is above the limit of \(WireProtocol.maxFrameBytes) bytes")
            fault = f
            throw f
        }
        guard available >= 4 + length else { return nil }
        let type = base.load(fromByteOffset: position + 4, as: UInt8.self)
        let payload = (position + WireProtocol.headerBytes)..<(position + 4 + length)
        position += 4 + length
        return (type, payload, position)
    }

    /// Bytes the frame at `position` still needs beyond `bytes.count` (at least 1 when `next` returned
    /// nil; 4 − available while its length is not in yet).
    public func bytesMissing(in bytes: UnsafeRawBufferPointer) -> Int {
        let available = bytes.count - position
        guard available >= 4, let base = bytes.baseAddress else { return 4 - max(0, available) }
        let length = Int(UnsafeRawPointer(base).le(position, as: UInt32.self))
        return max(0, 4 + length - available)
    }

    /// The caller removed the first `removed` bytes of its buffer (at most `position`): positions move down.
    public mutating func rebase(removed: Int) {
        position -= min(removed, position)
    }
}
