import Foundation
import WireProtocol

/// A blocking `fsbin` client over a plain POSIX socket, for tests that need exact bytes on the wire:
/// garbage, truncated frames, half-closes. Frames are split with the codec's `FrameSplitter` and decoded
/// with `FrameDecoder.serverFrame`, so anything the server sends that is not a valid server frame fails.
final class BinaryClient {
    /// Socket failures are `LoopbackSocket.Failure` (`closed`, `timeout`); these are streams that are not fsbin.
    enum ClientError: Error { case trailingBytes(Int), bad(WireFault) }

    let socket: LoopbackSocket
    var fd: Int32 { socket.fd }
    private var buffer: [UInt8] = []
    private var splitter = FrameSplitter()

    init(port: Int, timeoutSeconds: Int = 10) throws {
        socket = try LoopbackSocket(port: port, timeoutSeconds: timeoutSeconds)
    }

    func send(_ bytes: [UInt8]) throws { try socket.send(bytes) }

    /// Shuts the sending side (the server answers what it got, then closes).
    func shutdownWrite() { socket.shutdownWrite() }

    func sendHello(fingerprint: UInt64 = 0, token: String = "", version: UInt16 = 1) throws {
        var b: [UInt8] = []
        WireHello(version: version, campaignFingerprint: fingerprint, token: token).encode(into: &b)
        try send(b)
    }

    /// HELLO, and the WELCOME it must get.
    @discardableResult
    func hello(fingerprint: UInt64 = 0, token: String = "") throws -> WireWelcome {
        try sendHello(fingerprint: fingerprint, token: token)
        let f = try readFrame()
        guard case .welcome(let w) = f else { throw ClientError.bad(WireFault(.helloExpected, "expected WELCOME, got \(f)")) }
        return w
    }

    func send(orders: [WireOrder]) throws {
        var b: [UInt8] = []
        FrameEncoder.appendOrders(orders, into: &b)
        try send(b)
    }

    func send(_ type: FrameType) throws {
        var b: [UInt8] = []
        FrameEncoder.appendEmpty(type, into: &b)
        try send(b)
    }

    private func fill() throws { try socket.receive(into: &buffer) }

    /// The next server frame (`closed` at the end of the stream, `trailingBytes` if it ends inside a frame).
    func readFrame() throws -> FrameDecoder.ServerFrame {
        while true {
            do {
                if let f = try buffer.withUnsafeBytes({ try splitter.next(in: $0) }) {
                    let frame = try buffer.withUnsafeBytes { try FrameDecoder.serverFrame(type: f.type, payload: UnsafeRawBufferPointer(rebasing: $0[f.payload])) }
                    buffer.removeFirst(f.frameEnd)
                    splitter.rebase(removed: f.frameEnd)
                    return frame
                }
            } catch let e as WireFault {
                throw ClientError.bad(e)
            }
            do { try fill() } catch LoopbackSocket.Failure.closed {
                if buffer.isEmpty { throw LoopbackSocket.Failure.closed }
                throw ClientError.trailingBytes(buffer.count)
            }
        }
    }

    /// Every frame until the server closes.
    func readToEnd() throws -> [FrameDecoder.ServerFrame] {
        var frames: [FrameDecoder.ServerFrame] = []
        while true {
            do { frames.append(try readFrame()) } catch LoopbackSocket.Failure.closed { return frames }
        }
    }

    /// Frames until `stop` says so (that frame included); the answers among them, by client sequence
    /// (a second answer for one sequence fails the caller's check: `duplicates` counts them).
    func read(until stop: (FrameDecoder.ServerFrame) -> Bool) throws -> (answers: [UInt64: WireAnswer], frames: [FrameDecoder.ServerFrame], duplicates: Int) {
        var answers: [UInt64: WireAnswer] = [:]
        var frames: [FrameDecoder.ServerFrame] = []
        var duplicates = 0
        while true {
            let f = try readFrame()
            frames.append(f)
            if case .answers(let list) = f {
                for a in list { if answers.updateValue(a, forKey: a.clientSequence) != nil { duplicates += 1 } }
            }
            if stop(f) { return (answers, frames, duplicates) }
        }
    }

    /// Frames until `count` answers have come in.
    func answers(_ count: Int) throws -> [UInt64: WireAnswer] {
        var got: [UInt64: WireAnswer] = [:]
        while got.count < count {
            let r = try read { if case .answers = $0 { true } else { false } }
            precondition(r.duplicates == 0, "an order was answered twice")
            for (k, v) in r.answers { precondition(got.updateValue(v, forKey: k) == nil, "an order was answered twice") }
        }
        return got
    }

    /// Whether the server closed the connection (EOF, nothing else, within the timeout).
    func isClosedByServer() -> Bool {
        do { try fill(); return false } catch LoopbackSocket.Failure.closed { return buffer.isEmpty } catch { return false }
    }
}
