import FlashSaleCore
import NIOCore
import Pipeline
import WireProtocol

/// One binary (`fsbin`) connection: frames split as they arrive, validated whole, their orders handed
/// to the loop's ingress; answers written as they are decided (any order, several per ANSWERS frame, one
/// write per burst). Confined to the connection's event loop.
///
/// Guarantees: a frame is judged whole before any of its orders is submitted (a fatal fault decides
/// nothing of its frame); every submitted order is answered exactly once, before any ERROR or GOODBYE
/// the connection ends with; the bytes received never trap (the codec throws, this handler answers).
final class BinaryConnection: ChannelInboundHandler, DecisionReceiver, @unchecked Sendable {  // confined to its event loop
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// `hello`: waiting for HELLO. `open`: orders are taken. `closing`: nothing more is read; the last
    /// frame (`last`) is sent and the connection closed once nothing is in flight. `closed`: done.
    private enum Phase { case hello, open, closing, closed }
    /// What a closing connection ends with.
    private enum Last { case error(WireError), goodbye, nothing }

    let server: BinaryOrderServer
    let loop: BinaryLoopState
    private var context: ChannelHandlerContext?
    private var phase = Phase.hello
    private var last = Last.nothing
    private var counted = false
    private var registered = false
    /// Bytes of a frame not complete yet (empty while reads end on frame boundaries, the usual case).
    private var inbound = ByteBuffer()
    private var lastSequence: UInt64 = 0
    /// With tokens: the organisation the HELLO's token acts for.
    private var organisation: UInt32?
    /// Orders submitted and not answered yet.
    private var inFlight = 0
    private var serverIsDraining = false
    private let maxInFlight: Int
    private let maxPerFrame = WireProtocol.maxOrdersWithinFrameLimit

    /// Answers and replies written since the last flush; an ANSWERS frame is open from
    /// `answersFrameStart` (−1: none) with `answersInFrame` answers, its length and count set on closing.
    private var out = ByteBuffer()
    private var answersFrameStart = -1
    private var answersInFrame = 0
    private var unflushed = false

    /// When the last complete frame arrived (one clock reading per read that brought one); the idle
    /// timer is armed at `lastFrame + idleTimeout` and, firing early, re-armed (not once per frame).
    private var lastFrame = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    /// Draining: when it began, when the last bytes came since, and the timer that says GOODBYE once quiet.
    private var drainBegan = NIODeadline.distantPast
    private var lastRead = NIODeadline.distantPast
    private var quietTimer: Scheduled<Void>?
    /// The read being handled: when it arrived (service clock) and, with a wall clock, its campaign time.
    private var readNanos: UInt64 = 0
    private var readCampaignTime: Int64?

    init(server: BinaryOrderServer, loop: BinaryLoopState) {
        self.server = server
        self.loop = loop
        maxInFlight = server.configuration.maxInFlightPerConnection
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelActive(context: ChannelHandlerContext) {
        counted = true
        if server.connections.add(1, ordering: .relaxed).newValue > server.configuration.maxConnections
            || server.draining.load(ordering: .acquiring) {
            phase = .closed
            context.close(promise: nil)  // refused cleanly: the others are not disturbed
            return
        }
        loop.figures.binaryConnectionsAccepted += 1
        server.register(self)
        registered = true
        lastFrame = .now()
        armIdleTimer()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        phase = .closed
        idleTimer?.cancel()
        idleTimer = nil
        quietTimer?.cancel()
        quietTimer = nil
        if counted { server.connections.subtract(1, ordering: .relaxed); counted = false }
        if registered { server.unregister(self); registered = false }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A socket error (reset by the peer, …): nothing more can be sent. Orders in flight are decided
        // all the same; their answers are dropped (a retransmit gets DUPLICATE).
        phase = .closed
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            // The client shut its side: what it sent is answered, then the connection is closed.
            if phase == .hello || phase == .open { beginClosing(.nothing) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Backpressure: a client that does not read its answers is not read from either (memory stays bounded).
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        _ = context.channel.setOption(ChannelOptions.autoRead, value: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    // MARK: reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase == .hello || phase == .open else { return }  // input is done: the rest is ignored
        var bytes = unwrapInboundIn(data)
        if serverIsDraining { lastRead = .now() }
        readNanos = server.service.nanosSinceStart()
        readCampaignTime = server.campaignTime(nanosSinceStart: readNanos)
        if inbound.readableBytes == 0 {
            process(&bytes)
            if bytes.readableBytes > 0 && (phase == .hello || phase == .open) { inbound.writeBuffer(&bytes) }
        } else {
            inbound.writeBuffer(&bytes)
            process(&inbound)
            if inbound.readableBytes == 0 {
                // Do not keep a large frame's buffer for the connection's life.
                if inbound.capacity > 64 * 1024 { inbound = ByteBuffer() } else { inbound.clear() }
            } else if inbound.readerIndex > 0 {
                inbound.discardReadBytes()
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushAnswers()
        context.fireChannelReadComplete()
    }

    /// Handles every whole frame in `buffer` (consuming them), stopping at a fault.
    private func process(_ buffer: inout ByteBuffer) {
        var consumed = 0
        var fault: WireFault?
        var sawFrame = false
        buffer.withUnsafeReadableBytes { raw in
            var splitter = FrameSplitter()
            do {
                while phase == .hello || phase == .open, let f = try splitter.next(in: raw) {
                    sawFrame = true
                    consumed = f.frameEnd
                    try handle(type: f.type, payload: UnsafeRawBufferPointer(rebasing: raw[f.payload]))
                }
            } catch let e as WireFault {
                fault = e
            } catch {
                fault = WireFault(.malformedFrame, "\(error)")
            }
        }
        buffer.moveReaderIndex(forwardBy: consumed)
        if sawFrame { lastFrame = .now() }
        if let fault { self.fault(fault) }
    }

    private func handle(type: UInt8, payload: UnsafeRawBufferPointer) throws(WireFault) {
        loop.figures.binaryFrames[ServerMetrics.binaryFrameIndex(type)] += 1
        if phase == .hello {
            guard type == FrameType.hello.rawValue else { throw WireFault.helloExpected(got: type) }
            let hello = try WireHello.decode(payload: payload)
            if hello.campaignFingerprint != 0 && hello.campaignFingerprint != server.campaignFingerprint {
                throw WireFault.fingerprintMismatch(hello: hello.campaignFingerprint, campaign: server.campaignFingerprint)
            }
            if let tokens = server.http.configuration.tokens {
                guard !hello.token.isEmpty else {
                    throw WireFault(.unauthenticated, "this server needs a token: HELLO's token is empty")
                }
                guard let org = tokens.organisation(forToken: hello.token) else {
                    throw WireFault(.unauthenticated, "HELLO's token is not a token of this campaign")
                }
                organisation = org
            }
            var bytes: [UInt8] = []
            WireWelcome(campaignFingerprint: server.campaignFingerprint, maxOrdersPerFrame: UInt32(maxPerFrame),
                        maxInFlight: UInt32(clamping: maxInFlight), clock: readCampaignTime == nil ? .request : .wall).encode(into: &bytes)
            writeFrame(bytes)
            phase = .open
            return
        }
        switch FrameType(rawValue: type) {
        case .orders:
            try orders(payload)
        case .heartbeat:
            try FrameDecoder.expectEmpty(.heartbeat, payload: payload)
            writeEmptyFrame(.heartbeatReply)
        case .goodbye:
            try FrameDecoder.expectEmpty(.goodbye, payload: payload)
            beginClosing(.goodbye)
        case .hello:
            throw WireFault(.malformedFrame, "a second HELLO: it comes once, as the connection's first frame")
        default:
            throw WireFault.notAClientFrame(type)
        }
    }

    /// An ORDERS frame: checked whole (count, size, sequences), then each order judged and submitted.
    private func orders(_ payload: UnsafeRawBufferPointer) throws(WireFault) {
        let n = try FrameDecoder.orderCount(payload: payload)
        let base = payload.baseAddress! + 4
        var previous = lastSequence
        for i in 0..<n {
            let s = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i * WireProtocol.orderBytes, as: UInt64.self))
            guard s > previous else {
                throw WireFault(.sequenceNotIncreasing, "client_sequence \(s) (order \(i + 1) of \(n) in the frame) is not above the previous one, \(previous)",
                                clientSequence: s)
            }
            previous = s
        }
        lastSequence = previous
        let draining = serverIsDraining || server.draining.load(ordering: .relaxed)
        let wallTime = readCampaignTime
        for i in 0..<n {
            let p = base + i * WireProtocol.orderBytes
            let o = WireOrder.read(from: p)
            if let refusal = refusal(o, at: p, wallTime: wallTime) {
                appendAnswer(.notDecided(o.clientSequence, refusal))
                continue
            }
            if draining {
                appendAnswer(.notDecided(o.clientSequence, .draining))
                continue
            }
            if inFlight >= maxInFlight {
                appendAnswer(.notDecided(o.clientSequence, .overloaded))
                continue
            }
            let r = OrderRequest(requestId: o.requestId, campaignTimeMillis: wallTime ?? o.campaignTimeMillis, intendedSendNanos: readNanos,
                                 organisation: o.organisation, offer: o.offer, kind: RequestKind(rawValue: o.kind)!,
                                 quantity: o.quantity, reference: o.reference)
            if loop.submit(r, from: self, sequence: o.clientSequence) {
                inFlight += 1
            } else {
                let service = server.service
                appendAnswer(.notDecided(o.clientSequence, service.journalFailed ? .journalFailed : service.isAccepting ? .overloaded : .draining))
            }
        }
    }

    /// Why an order is not handed over (INVALID_FIELD, FORBIDDEN), or nil. HTTP's 400 rules, then its 403.
    @inline(__always)
    private func refusal(_ o: WireOrder, at p: UnsafeRawPointer, wallTime: Int64?) -> WireAnswer.Status? {
        guard WireOrder.reservedBytesAreZero(at: p), o.kind <= RequestKind.cancel.rawValue, Int(o.offer) < server.offerCount,
              o.quantity >= 1, o.requestId != 0,
              o.kind == RequestKind.buy.rawValue ? o.reference == 0 : o.reference != 0 else { return .invalidField }
        if wallTime != nil {
            guard o.campaignTimeMillis == WireProtocol.noCampaignTime else { return .invalidField }
        } else {
            guard o.campaignTimeMillis >= 0, o.campaignTimeMillis <= WireProtocol.maxCampaignTimeMillis else { return .invalidField }
        }
        if let organisation, organisation != o.organisation { return .forbidden }
        return nil
    }

    // MARK: answering

    /// A submitted order's decision, from the loop (`LoopState.complete`).
    func deliver(_ sequence: UInt64, _ d: Decision, journalSequence: UInt64, durable: Bool) -> Bool {
        inFlight -= 1
        guard phase != .closed, context != nil else { return false }
        let hadUnflushed = unflushed
        if durable {
            let holdId = d.holdExpiryMillis != 0 || d.kind == .confirm || d.kind == .cancel ? d.reference : 0
            appendAnswer(WireAnswer(clientSequence: sequence, status: .decided, outcome: d.outcome.rawValue,
                                    originalOutcome: d.originalOutcome.rawValue, priceFen: d.priceFen, holdId: holdId,
                                    holdExpiresAtMillis: d.holdExpiryMillis, journalSequence: journalSequence))
            let now = loop.deliveredNanos
            loop.figures.recordLatency(nanos: now > d.intendedSendNanos ? now &- d.intendedSendNanos : 0)
        } else {
            appendAnswer(.notDecided(sequence, .journalFailed))
        }
        return !hadUnflushed  // the first answer since the last flush: the loop flushes this connection once
    }

    private func appendAnswer(_ a: WireAnswer) {
        if answersFrameStart < 0 || answersInFrame == maxPerFrame {
            closeAnswersFrame()
            answersFrameStart = out.writerIndex
            out.writeInteger(UInt32(0), endianness: .little)  // length and count: set on closing
            out.writeInteger(FrameType.answers.rawValue)
            out.writeInteger(UInt32(0), endianness: .little)
        }
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: WireProtocol.answerBytes) { p in
            a.write(to: p.baseAddress!)
            return WireProtocol.answerBytes
        }
        answersInFrame += 1
        loop.figures.binaryAnswers[Int(a.status.rawValue)] += 1
        unflushed = true
    }

    private func closeAnswersFrame() {
        guard answersFrameStart >= 0 else { return }
        out.setInteger(UInt32(1 + 4 + WireProtocol.answerBytes * answersInFrame), at: answersFrameStart, endianness: .little)
        out.setInteger(UInt32(answersInFrame), at: answersFrameStart + WireProtocol.headerBytes, endianness: .little)
        answersFrameStart = -1
        answersInFrame = 0
    }

    private func writeFrame(_ bytes: [UInt8]) {
        closeAnswersFrame()
        out.writeBytes(bytes)
        unflushed = true
    }

    private func writeEmptyFrame(_ type: FrameType) {
        closeAnswersFrame()
        out.writeInteger(UInt32(1), endianness: .little)
        out.writeInteger(type.rawValue)
        unflushed = true
    }

    /// Writes what was given out since the last flush; a closing connection with nothing in flight
    /// sends its last frame and closes; a draining one with nothing in flight says GOODBYE.
    func flushAnswers() {
        guard let context, phase != .closed else { return }
        closeAnswersFrame()
        if inFlight == 0 {
            if phase == .closing { return finish() }
            if serverIsDraining { goodbyeWhenQuiet() }
        }
        guard phase != .closed, unflushed else { return }
        unflushed = false
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        out.clear()  // no copy once the socket took the bytes (the usual case: written at once)
    }

    // MARK: ending

    /// A fatal fault: nothing more is read; the orders in flight are answered, then the ERROR, then close.
    private func fault(_ f: WireFault) {
        guard phase == .hello || phase == .open else { return }
        beginClosing(.error(WireError(f)))
    }

    private func beginClosing(_ last: Last) {
        guard phase == .hello || phase == .open else { return }
        self.last = last
        phase = .closing
        idleTimer?.cancel()
        idleTimer = nil
        quietTimer?.cancel()
        quietTimer = nil
        if inFlight == 0 { finish() }
    }

    /// Sends the answers still unwritten and the last frame, then closes.
    private func finish() {
        guard let context, phase == .closing else { return }
        closeAnswersFrame()
        switch last {
        case .error(let e):
            var bytes: [UInt8] = []
            e.encode(into: &bytes)
            out.writeBytes(bytes)
            loop.figures.binaryErrors[Int(e.code.rawValue)] += 1
        case .goodbye:
            out.writeInteger(UInt32(1), endianness: .little)
            out.writeInteger(FrameType.goodbyeReply.rawValue)
        case .nothing:
            break
        }
        phase = .closed
        unflushed = false
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
        out = ByteBuffer()
    }

    /// The server began draining: orders that come are answered DRAINING; once nothing is in flight and no
    /// byte came for `drainQuiet` (at most `drainLinger` after now), GOODBYE and close. Reading on until the
    /// socket is quiet answers the orders a client sent just before the drain instead of dropping them
    /// unread. `final` (the server is stopping): with nothing in flight, GOODBYE now.
    func serverDraining(final: Bool = false) {
        if !serverIsDraining {
            serverIsDraining = true
            drainBegan = .now()
        }
        switch phase {
        case .hello, .open: if inFlight == 0 { if final { beginClosing(.goodbye) } else { goodbyeWhenQuiet() } }
        case .closing: if inFlight == 0 { finish() }
        case .closed: break
        }
    }

    /// Draining with nothing in flight: GOODBYE if the socket has been quiet for `drainQuiet` (or the
    /// linger is over), else a check when it would be.
    private func goodbyeWhenQuiet() {
        guard let context, phase == .hello || phase == .open, quietTimer == nil else { return }
        let configuration = server.configuration
        let goodbyeAt = min(max(drainBegan, lastRead) + configuration.drainQuiet, drainBegan + configuration.drainLinger)
        if NIODeadline.now() >= goodbyeAt { return beginClosing(.goodbye) }
        quietTimer = context.eventLoop.scheduleTask(deadline: goodbyeAt) { [self] in
            quietTimer = nil
            if inFlight == 0 { goodbyeWhenQuiet() }
        }
    }

    // MARK: idle

    private func armIdleTimer() {
        guard let context else { return }
        idleTimer = context.eventLoop.scheduleTask(deadline: lastFrame + server.configuration.idleTimeout) { [self] in idleTimerFired() }
    }

    private func idleTimerFired() {
        idleTimer = nil
        guard phase == .hello || phase == .open else { return }
        let timeout = server.configuration.idleTimeout
        guard NIODeadline.now() >= lastFrame + timeout else { return armIdleTimer() }
        fault(WireFault(.idleTimeout, "no frame for \(OrderHTTPHandler.show(timeout)); send a HEARTBEAT when there is nothing else to send"))
        flushAnswers()
    }

}
