import FlashSaleCore

/// One answer a server gave, as the client needs it: which of the connection's requests it answers,
/// whether it carries a decision, and the status to count it under.
struct ClientAnswer {
    /// The connection's own number for the request (its order of sending, from 1); 0 = the oldest
    /// unanswered one (HTTP answers come in order).
    var sequence: UInt64
    /// The decision, when the server decided the request (HTTP 200, binary DECIDED).
    var outcome: Outcome?
    var originalOutcome: Outcome?
    /// Index into `OrderCodec.statusNames` (an HTTP status, a binary status).
    var status: Int
}

/// A protocol a `TargetClient` speaks: how requests become bytes and bytes become answers. One per
/// connection (it may keep the connection's parse state). Nothing allocates per request.
protocol OrderCodec {
    /// The names answers are counted under, e.g. "200", "429" or "DECIDED", "OVERLOADED".
    static var statusNames: [String] { get }
    /// Bytes to send right after connecting (a hello), if any.
    mutating func greet(into out: inout [UInt8])
    /// Whether the greeting was answered and requests may be sent.
    var isReady: Bool { get }
    /// Requests the server lets one connection have unanswered (its welcome's limit; `Int.max` if none).
    var maxInFlight: Int { get }
    /// The largest answer the server may send in one piece (the input buffer holds at least that).
    static var largestAnswerBytes: Int { get }
    /// Appends one request, numbered `sequence` on this connection.
    mutating func append(_ r: OrderRequest, sequence: UInt64, into out: inout [UInt8])
    /// Ends a burst of `append`s (the binary protocol puts a burst in one frame).
    mutating func endBurst(into out: inout [UInt8])
    /// Parses what arrived; returns the bytes used (the rest waits for more). Throws on bytes that are
    /// not the protocol: the connection is then closed and its requests counted as errors.
    mutating func parse(_ bytes: UnsafeRawBufferPointer, answer: (ClientAnswer) -> Void) throws(ClientProtocolError) -> Int
}

/// The server sent something the client cannot read, or refused the connection.
struct ClientProtocolError: Error, CustomStringConvertible {
    var message: String
    /// The server said the campaign or the version is not its own: retrying cannot help.
    var fatal = false
    var description: String { message }
}

/// Decimal digits without Foundation (request bodies are made per request).
@inline(__always)
func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
    if value < 10 { out.append(0x30 &+ UInt8(value)); return }
    var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // room for 20 digits, written backwards
    var n = 0
    var v = value
    withUnsafeMutableBytes(of: &digits) { raw in
        while v > 0 { raw[19 - n] = 0x30 &+ UInt8(v % 10); v /= 10; n += 1 }
        out.append(contentsOf: raw[(20 - n)..<20])
    }
}

@inline(__always)
func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
    if value < 0 { out.append(0x2D); appendDecimal(UInt64(bitPattern: 0 &- value), to: &out) } else { appendDecimal(UInt64(value), to: &out) }
}
