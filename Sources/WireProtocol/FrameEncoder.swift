/// Appends whole frames to a byte array: ORDERS, ANSWERS and the empty frames. One reservation per
/// call, nothing allocated per order or answer.
public enum FrameEncoder {
    /// Appends `orders` as ORDERS frames of at most `WireProtocol.maxOrdersWithinFrameLimit` orders each
    /// (one frame for up to 21,845 orders; nothing for none: a frame carries at least one).
    public static func appendOrders(_ orders: UnsafeBufferPointer<WireOrder>, into out: inout [UInt8]) {
        appendRecords(count: orders.count, type: .orders, size: WireProtocol.orderBytes, into: &out) { i, p in orders[i].write(to: p) }
    }

    /// `appendOrders` of an array.
    public static func appendOrders(_ orders: [WireOrder], into out: inout [UInt8]) {
        orders.withUnsafeBufferPointer { appendOrders($0, into: &out) }
    }

    /// Appends `answers` as ANSWERS frames of at most `WireProtocol.maxOrdersWithinFrameLimit` answers each
    /// (nothing for none).
    public static func appendAnswers(_ answers: UnsafeBufferPointer<WireAnswer>, into out: inout [UInt8]) {
        appendRecords(count: answers.count, type: .answers, size: WireProtocol.answerBytes, into: &out) { i, p in answers[i].write(to: p) }
    }

    /// `appendAnswers` of an array.
    public static func appendAnswers(_ answers: [WireAnswer], into out: inout [UInt8]) {
        answers.withUnsafeBufferPointer { appendAnswers($0, into: &out) }
    }

    /// Appends a frame with an empty payload (HEARTBEAT, GOODBYE and their replies): `01 00 00 00 TYPE`.
    public static func appendEmpty(_ type: FrameType, into out: inout [UInt8]) {
        out.appendHeader(type, payloadBytes: 0)
    }

    /// The bytes `count` records of `size` take as frames (headers and counts included).
    public static func framedBytes(count: Int, size: Int) -> Int {
        let perFrame = WireProtocol.maxOrdersWithinFrameLimit
        let frames = (count + perFrame - 1) / perFrame
        return frames * (WireProtocol.headerBytes + 4) + count * size
    }

    private static func appendRecords(count: Int, type: FrameType, size: Int, into out: inout [UInt8],
                                      _ write: (Int, UnsafeMutableRawPointer) -> Void) {
        guard count > 0 else { return }
        let start = out.count
        let total = framedBytes(count: count, size: size)
        out.append(contentsOf: repeatElement(0, count: total))
        out.withUnsafeMutableBytes { buffer in
            var p = buffer.baseAddress! + start
            var i = 0
            while i < count {
                let n = min(count - i, WireProtocol.maxOrdersWithinFrameLimit)
                p.storeLE(UInt32(1 + 4 + n * size), at: 0)
                p.storeLE(type.rawValue, at: 4)
                p.storeLE(UInt32(n), at: 5)
                p += WireProtocol.headerBytes + 4
                for k in 0..<n {
                    write(i + k, p)
                    p += size
                }
                i += n
            }
        }
    }
}
