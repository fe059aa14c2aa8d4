import FlashSaleCore
import NIOCore
import NIOHTTP1
import NIOPosix
import Pipeline
import Synchronization

/// `flashsale serve`: the order processor behind HTTP/1.1 (docs/http-api.md).
///
/// Guarantees: an order's 200 is sent only once its decision is durable per the service's durability;
/// pipelined requests on one connection are answered in the order they came; an error answer (4xx, 5xx)
/// never decides anything; a client that sends garbage or goes away disturbs no other connection.
public final class OrderHTTPServer: @unchecked Sendable {  // configuration immutable; state on event loops / atomics
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        /// Connections beyond this are closed as soon as they are accepted.
        public var maxConnections = 4096
        /// A request body above this gets 413 and the connection is closed.
        public var maxBodyBytes = 16 * 1024
        /// A connection that sends nothing for this long is closed (slow or half-open clients).
        public var idleTimeout: TimeAmount = .seconds(30)
        /// Once a request's first byte has arrived, its head (request line and headers) must be complete
        /// within this long; otherwise it is answered 408 and the connection is closed (slowloris: a client
        /// that trickles a byte every few seconds never trips `idleTimeout`).
        public var requestHeadTimeout: TimeAmount = .seconds(10)
        /// Once a request's head is complete, its body must be complete within this long (408 and close).
        public var requestBodyTimeout: TimeAmount = .seconds(10)
        /// Unanswered requests one connection may have in flight; more get 429.
        public var maxPendingPerConnection = 4096
        public var clock: CampaignClock = .request
        /// With tokens, orders, holds and lookups need `Authorization: Bearer TOKEN`, acting for the
        /// token's organisation only (401 without a known token, 403 for another organisation).
        public var tokens: TokenTable?
        public var eventLoops = System.coreCount
        public init() {}

        /// Sets `requestHeadTimeout` and `requestBodyTimeout` from seconds (for callers without NIOCore).
        public mutating func setRequestDeadlines(headSeconds: Double, bodySeconds: Double) {
            requestHeadTimeout = .nanoseconds(Int64((headSeconds * 1e9).rounded()))
            requestBodyTimeout = .nanoseconds(Int64((bodySeconds * 1e9).rounded()))
        }
    }

    public let service: OrderService
    public let configuration: Configuration
    let catalogue: Catalogue
    let group: MultiThreadedEventLoopGroup
    private var channel: Channel?
    let connections = Atomic<Int>(0)
    let draining = Atomic<Bool>(false)
    let metrics = ServerMetrics()
    let loopStates: LoopStates<OrderHTTPHandler>
    /// The binary protocol's server on the same loops and service, when `serve --binary-listen` (it attaches itself).
    weak var binary: BinaryOrderServer?

    public init(service: OrderService, configuration: Configuration) {
        self.service = service
        self.configuration = configuration
        catalogue = Catalogue(rules: service.rules)
        loopStates = LoopStates(service: service)
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoops))
    }

    /// Binds and starts serving; returns the bound address (port 0 picks a free one).
    public func start() throws -> SocketAddress {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            .childChannelInitializer { [unowned self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    let handler = OrderHTTPHandler(server: self, loop: self.loopState(channel.eventLoop))
                    try sync.addHandler(IdleStateHandler(readTimeout: self.configuration.idleTimeout))
                    // Before the HTTP decoder: sees when a request's first byte arrives (request deadlines).
                    try sync.addHandler(RequestStartObserver(handler))
                    // NIO's request decoder; answers are written as bytes by the handler (ResponseBytes.swift),
                    // so neither HTTPResponseEncoder nor HTTPServerProtocolErrorHandler (its 400 is the handler's).
                    try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try sync.addHandler(handler)
                }
            }
        let ch = try bootstrap.bind(host: configuration.host, port: configuration.port).wait()
        channel = ch
        return ch.localAddress!
    }

    /// The per-event-loop state (ingress, pending answers), made on first use.
    func loopState(_ loop: EventLoop) -> HTTPLoopState { loopStates.state(for: loop) }

    /// Every loop's figures added up (waits for each loop to copy its own: call it off the event loops).
    func mergedLoopFigures() -> LoopFigures { loopStates.mergedFigures() }

    /// HTTP answers written so far, by status code (call it off the event loops).
    public func answersByStatus() -> [String: Int] {
        let f = mergedLoopFigures()
        var totals: [String: Int] = [:]
        for (i, s) in ServerMetrics.statuses.enumerated() where f.answers[i] > 0 { totals[s] = f.answers[i] }
        return totals
    }

    /// Stops taking orders (`/readyz` 503, orders 503; binary orders DRAINING); what the loops already took
    /// is handed to the lanes (waits for each loop to do so: call it off the event loops).
    public func beginDraining() {
        draining.store(true, ordering: .releasing)
        service.beginDraining()
        binary?.beginDraining()
        loopStates.flushIngresses()
    }

    /// Drains (every order taken is decided, journaled and answered), closes the listener and every
    /// connection, and stops the service (seals the segments). Call it off the event loops.
    public func stop() throws {
        beginDraining()
        try service.stop()
        // Answers are written on the loops after the last completion: let each loop run them, then close.
        loopStates.runQueued()
        finalAnswers = answersByStatus()
        binary?.finishStopping()
        try? channel?.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// Answers by status when the server stopped (for the report; the loops are gone then).
    public private(set) var finalAnswers: [String: Int] = [:]

    /// The campaign time of a request arriving now, with a wall clock.
    func campaignNow() -> Int64? { configuration.clock.campaignMillis(nanosSinceStart: service.nanosSinceStart()) }
}

/// Who gets a served order's decision back: an HTTP connection (`OrderHTTPHandler`) or a binary one
/// (`BinaryConnection`). `LoopState` is generic over it, so the per-order path calls it directly
/// (specialised; no existential or closure per order).
protocol DecisionReceiver: AnyObject, Sendable {
    /// The decision of the order submitted as `sequence` (or, `durable` false, that it is not acknowledged).
    /// True when the receiver has answers to flush it did not have before: it is then flushed once, after
    /// every batch of the burst was given out.
    func deliver(_ sequence: UInt64, _ decision: Decision, journalSequence: UInt64, durable: Bool) -> Bool
    /// Writes (and flushes) what `deliver` gave it.
    func flushAnswers()
}

/// The HTTP server's per-loop state.
typealias HTTPLoopState = LoopState<OrderHTTPHandler>

/// One protocol's per-loop states (one per event loop, made on first use) and what is done to all of
/// them: their figures added up, their ingresses flushed, their queued work run. The waiting ones block
/// until each loop did it: call them off the event loops.
final class LoopStates<Receiver: DecisionReceiver>: Sendable {
    private let states: Mutex<[ObjectIdentifier: LoopState<Receiver>]> = Mutex([:])
    private let service: OrderService

    init(service: OrderService) { self.service = service }

    /// `loop`'s state, made on first use.
    func state(for loop: EventLoop) -> LoopState<Receiver> {
        states.withLock { states in
            let key = ObjectIdentifier(loop)
            if let s = states[key] { return s }
            let s = LoopState<Receiver>(loop: loop, service: service)
            states[key] = s
            return s
        }
    }

    /// Every state made so far.
    var all: [LoopState<Receiver>] { states.withLock { Array($0.values) } }

    /// Every loop's figures added up (each loop copies its own).
    func mergedFigures() -> LoopFigures {
        var merged = LoopFigures()
        for s in all {
            guard let f = try? s.loop.submit({ s.figures }).wait() else { continue }
            merged.add(f)
        }
        return merged
    }

    /// Each loop hands what its ingress took to the lanes.
    func flushIngresses() { for s in all { try? s.loop.submit { s.ingress.flush() }.wait() } }

    /// Each loop runs what was queued on it before (answers of the last completions).
    func runQueued() { for s in all { try? s.loop.submit {}.wait() } }
}

/// One event loop's share for one protocol: its ingress into the service and the table of answers it
/// waits for. Touched only on `loop` (but `delivered`, which the journal fills).
final class LoopState<Receiver: DecisionReceiver>: @unchecked Sendable {  // confined to `loop`; `delivered` behind its Mutex
    let loop: EventLoop
    var ingress: OrderService.Ingress!
    private let service: OrderService
    /// This loop's answers by status and answer latencies (for `/metrics`).
    var figures = LoopFigures()
    /// Scratch space for an answer's body while its head is written (one per loop, reused).
    var scratch = ByteBufferAllocator().buffer(capacity: 1024)
    /// Unanswered requests, by token: who asked and which of its requests this is.
    private var pending: [(receiver: Receiver?, sequence: UInt64)] = []
    private var free: [UInt32] = []
    private var flushScheduled = false
    /// Batches acknowledged for this loop and not yet answered; one hop to the loop per burst of them
    /// (an fsync acknowledges the batches of many turns of the loop at once), not one per batch.
    private let delivered = Mutex<(batches: [OrderService.DecidedBatch], scheduled: Bool)>(([], false))
    private var answering: [OrderService.DecidedBatch] = []
    /// Connections that were given answers while completing: each is flushed once, at the end.
    private var touched: [Receiver] = []
    /// In the turn's flush (the batches are decided on this thread, inside it): batches acknowledged
    /// meanwhile (`none` durability) are answered as soon as it returns, without another task.
    private var flushing = false
    private var deliveredWhileFlushing = false

    init(loop: EventLoop, service: OrderService) {
        self.loop = loop
        self.service = service
        ingress = service.makeIngress { [unowned self] batch in
            let hop = self.delivered.withLock { d -> Bool in
                d.batches.append(batch)
                if d.scheduled { return false }
                d.scheduled = true
                return true
            }
            // The answers are written on the loop the requests came from.
            guard hop else { return }
            if self.loop.inEventLoop && self.flushing {
                self.deliveredWhileFlushing = true
            } else {
                self.loop.execute { self.completeDelivered() }
            }
        }
        pending.reserveCapacity(4096)
        answering.reserveCapacity(64)
        delivered.withLock { $0.batches.reserveCapacity(64) }
    }

    /// Hands `r` to the service; false when it is not taken (overload, draining).
    func submit(_ r: OrderRequest, from receiver: Receiver, sequence: UInt64) -> Bool {
        let token: UInt32
        if let f = free.popLast() {
            token = f
            pending[Int(f)] = (receiver, sequence)
        } else {
            token = UInt32(pending.count)
            pending.append((receiver, sequence))
        }
        guard ingress.add(r, token: UInt64(token)) else {
            pending[Int(token)] = (nil, 0)
            free.append(token)
            return false
        }
        if !flushScheduled {
            // Every request read in this turn of the loop goes into the same batches: flushed after it.
            flushScheduled = true
            loop.execute { [unowned self] in
                self.flushScheduled = false
                self.flushing = true
                self.ingress.flush()
                self.flushing = false
                if self.deliveredWhileFlushing {
                    self.deliveredWhileFlushing = false
                    self.completeDelivered()
                }
            }
        }
        return true
    }

    /// When the answers being handed out now were delivered (one clock reading per burst of batches,
    /// not one per answer: the answer latency of `/metrics` is read from it).
    private(set) var deliveredNanos: UInt64 = 0

    private func completeDelivered() {
        delivered.withLock { d in
            swap(&d.batches, &answering)
            d.scheduled = false
        }
        deliveredNanos = service.nanosSinceStart()
        for batch in answering { complete(batch) }
        answering.removeAll(keepingCapacity: true)
        for receiver in touched { receiver.flushAnswers() }
        touched.removeAll(keepingCapacity: true)
    }

    private func complete(_ batch: OrderService.DecidedBatch) {
        let durable = batch.durable
        batch.forEach { token, decision, sequence in
            let t = Int(token)
            guard t < pending.count, let receiver = pending[t].receiver else { return }
            let requestSequence = pending[t].sequence
            pending[t] = (nil, 0)
            free.append(UInt32(t))
            if receiver.deliver(requestSequence, decision, journalSequence: sequence, durable: durable) {
                touched.append(receiver)
            }
        }
        batch.done()
    }
}
