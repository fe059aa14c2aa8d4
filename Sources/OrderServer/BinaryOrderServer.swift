import FlashSaleCore
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import Pipeline
import Synchronization
import WireProtocol

/// `flashsale serve --binary-listen HOST:PORT`: the binary order protocol `fsbin` (docs/wire-protocol.md)
/// in front of the same `OrderService` as the HTTP server it attaches to.
///
/// It shares that server's `MultiThreadedEventLoopGroup` rather than making its own: one loop per core
/// already serves HTTP, and a second group would put twice as many event-loop threads on the same cores
/// (on a 2-core VM they would preempt each other) and split every burst's batches across more producers.
/// Each loop gets its own `OrderService.Ingress` for binary connections (a `LoopState<BinaryConnection>`):
/// the orders a loop reads in one turn go into the same batches, flushed once per turn; the answers come
/// back per batch, in one hop to the loop, and each connection writes them in one buffer per burst.
///
/// Guarantees: an order's DECIDED answer is sent only once its decision is durable per the service's
/// durability; every order of an accepted frame gets exactly one answer; a frame that fails validation
/// decides nothing (orders are handed over only after their whole frame was checked); no byte sequence
/// stops the server or disturbs another connection.
public final class BinaryOrderServer: @unchecked Sendable {  // configuration immutable; state on event loops / atomics
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 9090
        /// Binary connections beyond this (counted apart from HTTP's) are closed as soon as they are accepted.
        public var maxConnections = 4096
        /// A connection that sends no complete frame (not even a HEARTBEAT) for this long gets
        /// IDLE_TIMEOUT and is closed.
        public var idleTimeout: TimeAmount = .seconds(30)
        /// Unanswered orders one connection may have; more are answered OVERLOADED (WELCOME's `max_in_flight`).
        public var maxInFlightPerConnection = 65_536
        /// Draining, a connection with nothing in flight keeps reading until no byte came for this long, so
        /// the orders already on their way (in the socket, or still being written) are answered DRAINING
        /// instead of being dropped with the connection.
        public var drainQuiet: TimeAmount = .milliseconds(20)
        /// ... but says GOODBYE at most this long after draining began, however steadily the client sends.
        public var drainLinger: TimeAmount = .milliseconds(250)
        public init() {}

        /// Sets `idleTimeout` from seconds (for callers without NIOCore).
        public mutating func setIdleTimeout(seconds: Double) { idleTimeout = .nanoseconds(Int64((seconds * 1e9).rounded())) }
    }

    public let configuration: Configuration
    /// The HTTP server whose loops, service, clock and tokens this one shares.
    let http: OrderHTTPServer
    let service: OrderService
    /// The served campaign's fingerprint (computed once: it reads every organisation).
    public let campaignFingerprint: UInt64
    let offerCount: Int
    let connections = Atomic<Int>(0)
    let draining = Atomic<Bool>(false)
    private var channel: Channel?
    let loopStates: LoopStates<BinaryConnection>
    /// Live connections per loop (for draining; changed on connect and close only, on their loop).
    let live: Mutex<[ObjectIdentifier: BinaryConnection]> = Mutex([:])

    /// A binary server on `http`'s event loops and service (start `http` first, then this).
    public init(attachedTo http: OrderHTTPServer, configuration: Configuration) {
        self.http = http
        self.configuration = configuration
        service = http.service
        campaignFingerprint = http.service.rules.campaign.fingerprint
        offerCount = http.service.rules.campaign.offers.count
        loopStates = LoopStates(service: http.service)
        http.binary = self
    }

    /// Binds and starts serving; returns the bound address (port 0 picks a free one).
    public func start() throws -> SocketAddress {
        let bootstrap = ServerBootstrap(group: http.group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // A client that shuts its side down still gets the answers of what it sent.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { [unowned self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(BinaryConnection(server: self, loop: self.loopStates.state(for: channel.eventLoop)))
                }
            }
        let ch = try bootstrap.bind(host: configuration.host, port: configuration.port).wait()
        channel = ch
        return ch.localAddress!
    }

    func register(_ c: BinaryConnection) { live.withLock { $0[ObjectIdentifier(c)] = c } }
    func unregister(_ c: BinaryConnection) { live.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(c)) } }

    /// Every loop's figures added up (waits for each loop to copy its own: call it off the event loops).
    func mergedLoopFigures() -> LoopFigures { loopStates.mergedFigures() }

    /// Open binary connections.
    public var openConnections: Int { connections.load(ordering: .relaxed) }

    /// Answers sent so far by status name, ERROR frames by code name, connections accepted (call it off
    /// the event loops; after `stop`, the figures at the end).
    public func figures() -> (answers: [String: Int], errors: [String: Int], connections: Int) {
        if let finalFigures { return finalFigures }
        return Self.named(mergedLoopFigures())
    }

    static func named(_ f: LoopFigures) -> (answers: [String: Int], errors: [String: Int], connections: Int) {
        var answers: [String: Int] = [:], errors: [String: Int] = [:]
        for (i, n) in f.binaryAnswers.enumerated() where n > 0 { answers[WireAnswer.Status(rawValue: UInt8(i))!.name] = n }
        for (i, n) in f.binaryErrors.enumerated() where n > 0 { errors[WireError.Code(rawValue: UInt16(i))?.name ?? "\(i)"] = n }
        return (answers, errors, f.binaryConnectionsAccepted)
    }

    private var finalFigures: (answers: [String: Int], errors: [String: Int], connections: Int)?

    /// Stops taking orders: new ones are answered DRAINING, what the loops took is handed to the lanes,
    /// and every connection with nothing in flight gets GOODBYE and is closed (the others once their
    /// last answer is written). Waits for each loop: call it off the event loops. Idempotent.
    public func beginDraining() {
        guard !draining.exchange(true, ordering: .acquiringAndReleasing) else { return }
        service.beginDraining()
        loopStates.flushIngresses()
        let open = live.withLock { Array($0.values) }
        for c in open { try? c.loop.loop.submit { c.serverDraining() }.wait() }
    }

    /// After the service stopped (every batch answered): lets each loop write the last answers, closes
    /// what is still open and the listener. `OrderHTTPServer.stop()` calls it before the loops shut down.
    func finishStopping() {
        loopStates.runQueued()
        // Connections still reading what was on its way say GOODBYE within `drainLinger`; then the rest closes.
        let until = NIODeadline.now() + configuration.drainLinger + .milliseconds(50)
        while NIODeadline.now() < until, live.withLock({ !$0.isEmpty }) { usleep(2_000) }
        let open = live.withLock { Array($0.values) }
        for c in open { try? c.loop.loop.submit { c.serverDraining(final: true) }.wait() }
        finalFigures = Self.named(mergedLoopFigures())
        try? channel?.close().wait()
    }

    /// The campaign time of an order arriving `nanos` after the service started, with a wall clock (nil: request clock).
    func campaignTime(nanosSinceStart nanos: UInt64) -> Int64? { http.configuration.clock.campaignMillis(nanosSinceStart: nanos) }
}

typealias BinaryLoopState = LoopState<BinaryConnection>
