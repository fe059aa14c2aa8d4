import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import FlashSaleCore
import NIOCore
import NIOHTTP1
import Pipeline

/// One connection's requests: parsed, routed, answered in the order they came (pipelined requests are
/// decided concurrently; their answers wait for the earlier ones). Confined to the connection's loop.
final class OrderHTTPHandler: ChannelInboundHandler, DecisionReceiver, @unchecked Sendable {  // confined to its event loop
    typealias InboundIn = HTTPServerRequestPart
    /// Answers are written as bytes (`ResponseBytes.swift`): no `HTTPResponseEncoder` in the pipeline.
    typealias OutboundOut = ByteBuffer

    /// What a request is answered with.
    enum Answer {
        case decision(Decision, journalSequence: UInt64)
        case journalFailed
        case response(Response)
    }

    struct Response {
        var status: HTTPResponseStatus
        var body: String
        var headers: [(String, String)] = []
        /// Close the connection once this is written (bad framing, oversized body, Connection: close).
        var close = false
        /// `headers` are all the headers (no Content-Type, Content-Length or Connection added).
        var raw = false
    }

    let server: OrderHTTPServer
    let loop: HTTPLoopState
    private var context: ChannelHandlerContext?
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var bodyTooLarge = false
    private var counted = false
    private var closed = false
    /// Requests numbered as they come; answers written strictly in that order. `slots` holds one entry
    /// per request not written yet, oldest first: request `nextToWrite + k` is `slots[k]` (a ring that
    /// keeps its storage: nothing is allocated or hashed per request).
    private var nextSequence: UInt64 = 0
    private var nextToWrite: UInt64 = 0
    private struct Slot {
        var keepAlive: Bool
        /// HEAD: the answer's body is not sent (its length is).
        var omitBody: Bool
        var answer: Answer?
    }
    private var slots = CircularBuffer<Slot>(initialCapacity: 16)
    /// Slots that have their answer (written once the earlier ones have theirs).
    private var readyCount = 0
    /// Answers written since the last flush; its storage is reused once the socket took the bytes.
    private var out = ByteBuffer()

    /// Request deadlines (slowloris): where the request being received is, and by when it must move on.
    private enum Phase { case idle, head, body }
    private var phase = Phase.idle
    private var phaseDeadline = NIODeadline.distantFuture
    /// When the read being decoded arrived (one clock reading per read, not per request).
    private var readArrived = NIODeadline.uptimeNanoseconds(0)
    /// One timer per connection, armed when a request begins and left to lapse between requests: it is
    /// not rescheduled per request (see `armDeadlineTimer`).
    private var deadlineTimer: Scheduled<Void>?
    /// A request missed its deadline: it was answered 408, the connection closes after the answers due.
    private var timedOut = false
    private let shortestDeadline: TimeAmount

    init(server: OrderHTTPServer, loop: HTTPLoopState) {
        self.server = server
        self.loop = loop
        shortestDeadline = min(server.configuration.requestHeadTimeout, server.configuration.requestBodyTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelActive(context: ChannelHandlerContext) {
        counted = true
        if server.connections.add(1, ordering: .relaxed).newValue > server.configuration.maxConnections {
            closed = true
            context.close(promise: nil)  // refused cleanly: the others are not disturbed
            return
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        deadlineTimer?.cancel()
        deadlineTimer = nil
        if counted { server.connections.subtract(1, ordering: .relaxed); counted = false }
        slots.removeAll()
        readyCount = 0
        context.fireChannelInactive()
    }

    /// Bad framing (NIO's parser): 400 with `Connection: close` and an empty body, as NIO's
    /// `HTTPServerProtocolErrorHandler` answered, after the answers still due on the connection; then
    /// close. Anything else: close.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Input is done (a 400 or 408 waits for earlier answers): the decoder's complaints about
        // what still arrives change nothing.
        if timedOut && !closed && error is ByteToMessageDecoderError { return }
        guard error is HTTPParserError, !closed, !timedOut else {
            closed = true
            context.close(promise: nil)
            return
        }
        timedOut = true  // nothing more is read from this connection
        phase = .idle
        head = nil
        body = nil
        let sequence = nextSequence
        nextSequence += 1
        slots.append(Slot(keepAlive: false, omitBody: false, answer: nil))
        answer(sequence, .response(Response(status: .badRequest, body: "", headers: [("Connection", "close"), ("Content-Length", "0")],
                                            close: true, raw: true)))
        flushAnswers()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? IdleStateHandler.IdleStateEvent, e == .read {
            closed = true
            context.close(promise: nil)  // a client that sends nothing (or too slowly) holds no connection
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed, !timedOut else { return }
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
            bodyTooLarge = false
            phase = .body
            phaseDeadline = readArrived + server.configuration.requestBodyTimeout
        case .body(var chunk):
            guard !bodyTooLarge else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > server.configuration.maxBodyBytes {
                bodyTooLarge = true
                body = nil
                return
            }
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            phase = .idle
            guard let h = head else { return }
            head = nil
            let sequence = nextSequence
            nextSequence += 1
            slots.append(Slot(keepAlive: h.isKeepAlive, omitBody: h.method == .HEAD || h.method == .CONNECT, answer: nil))
            if bodyTooLarge {
                reply(sequence, .response(Self.error(.payloadTooLarge, "the body is larger than \(server.configuration.maxBodyBytes) bytes", close: true)))
                return
            }
            route(h, body, sequence: sequence)
        }
    }

    // MARK: request deadlines

    /// Every read, before the HTTP decoder sees it (`RequestStartObserver`): a read that brings a byte
    /// while no request is being received begins one, and its head deadline runs from now. (Bare CR/LF
    /// between requests begins nothing. A request whose first bytes share a read with the end of the
    /// previous one is timed from its next read: the decoder does not say where a request begins.)
    func readArriving(_ bytes: ByteBuffer) {
        guard !closed, !timedOut else { return }
        readArrived = .now()
        guard phase == .idle, bytes.readableBytesView.contains(where: { $0 != 0x0D && $0 != 0x0A }) else { return }
        phase = .head
        phaseDeadline = readArrived + server.configuration.requestHeadTimeout
        if deadlineTimer == nil { armDeadlineTimer(from: readArrived) }
    }

    /// Arms the connection's timer at the current deadline, or earlier: never later than `from` plus the
    /// shortest deadline, so that no deadline set after `from` can fall before the timer fires. When it
    /// fires between requests it lapses (nothing allocated per request on a busy keep-alive connection).
    private func armDeadlineTimer(from now: NIODeadline) {
        guard let context else { return }
        let at = min(phaseDeadline, now + shortestDeadline)
        deadlineTimer = context.eventLoop.scheduleTask(deadline: at) { [self] in deadlineTimerFired() }
    }

    private func deadlineTimerFired() {
        deadlineTimer = nil
        guard !closed, !timedOut, phase != .idle else { return }
        let now = NIODeadline.now()
        guard now >= phaseDeadline else { return armDeadlineTimer(from: now) }
        // Too slow: 408, after the answers still due on this connection, then close; the rest is ignored.
        let what = phase == .head ? "the request's head did not arrive within \(Self.show(server.configuration.requestHeadTimeout)) of its first byte"
            : "the request's body did not arrive within \(Self.show(server.configuration.requestBodyTimeout)) of its head"
        timedOut = true
        phase = .idle
        head = nil
        body = nil
        let sequence = nextSequence
        nextSequence += 1
        slots.append(Slot(keepAlive: false, omitBody: false, answer: nil))
        reply(sequence, .response(Self.error(.requestTimeout, what, close: true)))
        flushAnswers()
    }

    static func show(_ t: TimeAmount) -> String {
        let ms = t.nanoseconds / 1_000_000
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }

    // MARK: routing

    private func route(_ h: HTTPRequestHead, _ body: ByteBuffer?, sequence: UInt64) {
        // The hot path, without splitting the URI (a 10-byte String compares as one word).
        if h.uri == "/v1/orders" && h.method == .POST { return order(h, body, sequence: sequence, kind: .buy, reference: 0) }
        let (path, query) = Self.split(h.uri)
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        func method(_ allowed: HTTPMethod, _ run: () -> Void) {
            if h.method == allowed { run() } else {
                reply(sequence, .response(Self.error(.methodNotAllowed, "use \(allowed.rawValue)", headers: [("Allow", allowed.rawValue)])))
            }
        }
        switch parts {
        case ["", "v1", "orders"]:
            method(.POST) { order(h, body, sequence: sequence, kind: .buy, reference: 0) }
        case _ where parts.count == 4 && parts[0] == "" && parts[1] == "v1" && parts[2] == "orders":
            method(.GET) { lookup(h, parts[3], query, sequence: sequence) }
        case _ where parts.count == 5 && parts[0] == "" && parts[1] == "v1" && parts[2] == "holds"
                && (parts[4] == "confirm" || parts[4] == "cancel"):
            method(.POST) {
                guard let hold = UInt64(parts[3]), hold > 0 else {
                    return reply(sequence, .response(Self.error(.badRequest, "the hold id is the reservation's request id, a positive integer", field: "hold")))
                }
                order(h, body, sequence: sequence, kind: parts[4] == "confirm" ? .confirm : .cancel, reference: hold)
            }
        case ["", "v1", "offers"]:
            method(.GET) { reply(sequence, .response(Response(status: .ok, body: offersJSON()))) }
        case ["", "metrics"]:
            method(.GET) {
                let eventLoop = context!.eventLoop
                let server = self.server
                DispatchQueue.global().async {
                    let text = server.metrics.scrape(server)
                    eventLoop.execute {
                        self.reply(sequence, .response(Response(status: .ok, body: text,
                                                                 headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])))
                        self.flushAnswers()
                    }
                }
            }
        case ["", "healthz"]:
            method(.GET) { reply(sequence, .response(Response(status: .ok, body: "{\"status\":\"ok\"}"))) }
        case ["", "readyz"]:
            method(.GET) {
                let ready = server.service.isAccepting && !server.draining.load(ordering: .acquiring)
                let why = server.service.journalFailed ? "the journal failed" : "draining"
                reply(sequence, .response(ready ? Response(status: .ok, body: "{\"status\":\"ready\"}")
                                           : Self.error(.serviceUnavailable, why, headers: [("Retry-After", "1")])))
            }
        default:
            reply(sequence, .response(Self.error(.notFound, "no such endpoint: \(path)")))
        }
    }

    /// POST /v1/orders, /v1/holds/{id}/confirm, /v1/holds/{id}/cancel.
    private func order(_ h: HTTPRequestHead, _ body: ByteBuffer?, sequence: UInt64, kind: RequestKind, reference: UInt64) {
        if server.draining.load(ordering: .acquiring) || !server.service.isAccepting {
            let why = server.service.journalFailed ? "the journal failed; nothing more is decided" : "the server is stopping"
            return reply(sequence, .response(Self.error(.serviceUnavailable, why, headers: [("Retry-After", "1")])))
        }
        let r: OrderRequest
        if let plain = plainOrder(h, body, kind: kind, reference: reference) {
            r = plain
        } else {
            do {
                r = try parseOrder(h, body, kind: kind, reference: reference)
            } catch {
                return reply(sequence, .response(Self.error(.badRequest, error.message, field: error.field)))
            }
        }
        if let refusal = authorise(h, organisation: r.organisation) { return reply(sequence, .response(refusal)) }
        if readyCount + Int(nextSequence - nextToWrite) > server.configuration.maxPendingPerConnection {
            return reply(sequence, .response(Self.error(.tooManyRequests, "too many unanswered requests on this connection", headers: [("Retry-After", "1")])))
        }
        if !loop.submit(r, from: self, sequence: sequence) {
            reply(sequence, .response(Self.error(.tooManyRequests, "overloaded: every lane's batches are in flight; nothing was decided",
                                                  headers: [("Retry-After", "1")])))
        }
    }

    /// `parseOrder` for the usual body, in one pass over its bytes with nothing allocated: an object of
    /// known keys, each once, whose values are plain digits (`request_id` also as a string of digits) or,
    /// for `offer`, a string without escapes naming an offer. nil for anything else, and for anything
    /// out of range or missing: `parseOrder` then takes the body and decides (and words) the answer, so
    /// this only ever accepts what `parseOrder` accepts, with the same request.
    func plainOrder(_ h: HTTPRequestHead, _ body: ByteBuffer?, kind: RequestKind, reference: UInt64) -> OrderRequest? {
        guard let body, body.readableBytes > 0, !h.headers.contains(name: "Idempotency-Key") else { return nil }
        let nanos = server.service.nanosSinceStart()
        let wallTime = server.configuration.clock.campaignMillis(nanosSinceStart: nanos)
        let offers = server.catalogue.idBytes
        var requestId: UInt64 = 0, organisation: UInt64 = 0, quantity: UInt64 = 1, time: UInt64 = 0
        var offer: UInt16 = 0
        var seen: UInt8 = 0  // one bit per key
        let parsed = body.withUnsafeReadableBytes { p -> Bool in
            var i = 0
            let n = p.count
            func space() { while i < n, p[i] == 0x20 || p[i] == 0x0A || p[i] == 0x0D || p[i] == 0x09 { i += 1 } }
            /// A string without escapes or control characters: the range of its bytes.
            func plainString() -> Range<Int>? {
                guard i < n, p[i] == 0x22 else { return nil }
                i += 1
                let start = i
                while i < n {
                    let c = p[i]
                    if c == 0x22 { i += 1; return start..<(i - 1) }
                    if c == 0x5C || c < 0x20 { return nil }
                    i += 1
                }
                return nil
            }
            /// Digits up to `end` (a whole number token: no sign, fraction or exponent follows).
            func digits(to end: Int) -> UInt64? {
                let start = i
                var v: UInt64 = 0
                while i < end, p[i] >= 0x30, p[i] <= 0x39 {
                    let (m, o1) = v.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(UInt64(p[i] &- 0x30))
                    if o1 || o2 { return nil }
                    v = a
                    i += 1
                }
                guard i > start else { return nil }
                if i < end, p[i] == 0x2E || p[i] == 0x65 || p[i] == 0x45 || p[i] == 0x2B || p[i] == 0x2D { return nil }
                return v
            }
            func key(_ r: Range<Int>, is name: StaticString) -> Bool {
                r.count == name.utf8CodeUnitCount && memcmp(p.baseAddress! + r.lowerBound, name.utf8Start, r.count) == 0
            }
            space()
            guard i < n, p[i] == 0x7B else { return false }
            i += 1
            while true {
                space()
                guard let k = plainString() else { return false }
                space()
                guard i < n, p[i] == 0x3A else { return false }
                i += 1
                space()
                let bit: UInt8
                if key(k, is: "request_id") {
                    bit = 1
                    if i < n, p[i] == 0x22 {  // its decimal string: digits only
                        guard let r = plainString() else { return false }
                        let after = i
                        i = r.lowerBound
                        guard let v = digits(to: r.upperBound), i == r.upperBound else { return false }
                        i = after
                        requestId = v
                    } else {
                        guard let v = digits(to: n) else { return false }
                        requestId = v
                    }
                } else if key(k, is: "organisation") {
                    bit = 2
                    guard let v = digits(to: n) else { return false }
                    organisation = v
                } else if key(k, is: "offer") {
                    bit = 4
                    guard let r = plainString(),
                          let o = offers.first(where: { $0.bytes.count == r.count && memcmp(p.baseAddress! + r.lowerBound, $0.bytes, r.count) == 0 })
                    else { return false }
                    offer = o.index
                } else if key(k, is: "quantity") {
                    bit = 8
                    guard let v = digits(to: n) else { return false }
                    quantity = v
                } else if key(k, is: "campaign_time_ms") {
                    bit = 16
                    guard let v = digits(to: n) else { return false }
                    time = v
                } else {
                    return false
                }
                guard seen & bit == 0 else { return false }
                seen |= bit
                space()
                guard i < n else { return false }
                if p[i] == 0x2C { i += 1; continue }
                guard p[i] == 0x7D else { return false }
                i += 1
                break
            }
            space()
            return i == n
        }
        guard parsed, seen & 7 == 7, requestId > 0, organisation <= UInt64(UInt32.max),
              (1...UInt64(Int32.max)).contains(quantity) else { return nil }
        let campaignTime: Int64
        if let wallTime {
            guard seen & 16 == 0 else { return nil }
            campaignTime = wallTime
        } else {
            guard seen & 16 != 0, time <= 8_640_000_000_000 else { return nil }
            campaignTime = Int64(time)
        }
        return OrderRequest(requestId: requestId, campaignTimeMillis: campaignTime, intendedSendNanos: nanos,
                            organisation: UInt32(organisation), offer: offer, kind: kind,
                            quantity: Int32(quantity), reference: reference)
    }

    func parseOrder(_ h: HTTPRequestHead, _ body: ByteBuffer?, kind: RequestKind, reference: UInt64) throws(FlatJSON.ParseError) -> OrderRequest {
        let bytes = body.map { Array($0.readableBytesView) } ?? []
        guard !bytes.isEmpty else { throw FlatJSON.ParseError(message: "expected a JSON object body", field: nil) }
        let json = try FlatJSON(bytes: bytes)
        let known: Set<String> = ["request_id", "organisation", "offer", "quantity", "campaign_time_ms"]
        if let unknown = json.values.keys.sorted().first(where: { !known.contains($0) }) {
            throw FlatJSON.ParseError(message: "unknown field; expected \(known.sorted().joined(separator: ", "))", field: unknown)
        }
        var requestId = try json.requestId("request_id", required: false)
        if let key = h.headers.first(name: "Idempotency-Key") {
            guard let k = UInt64(key), k > 0 else {
                throw FlatJSON.ParseError(message: "the Idempotency-Key header must be the request id, a positive integer", field: "Idempotency-Key")
            }
            if let id = requestId, id != k { throw FlatJSON.ParseError(message: "differs from the Idempotency-Key header", field: "request_id") }
            requestId = k
        }
        guard let id = requestId else { throw FlatJSON.ParseError(message: "missing (or send an Idempotency-Key header)", field: "request_id") }
        // An id outside the campaign's organisations is decided (UNKNOWN_ORGANISATION), like any other
        // business answer; only a value that is no organisation id at all is malformed.
        let org = try json.integer("organisation", in: 0...Int64(UInt32.max), required: true)!
        let offerName = try json.string("offer", required: true)!
        guard let offer = server.catalogue.byId[offerName] else {
            throw FlatJSON.ParseError(message: "unknown offer; GET /v1/offers lists them", field: "offer")
        }
        let quantity = try json.integer("quantity", in: 1...Int64(Int32.max), required: false) ?? 1
        let time: Int64
        if let now = server.campaignNow() {
            if json["campaign_time_ms"] != nil {
                throw FlatJSON.ParseError(message: "this server's clock is wall time: the campaign time is not taken from requests", field: "campaign_time_ms")
            }
            time = now
        } else {
            time = try json.integer("campaign_time_ms", in: 0...8_640_000_000_000, required: true)!
        }
        return OrderRequest(requestId: id, campaignTimeMillis: time, intendedSendNanos: server.service.nanosSinceStart(),
                            organisation: UInt32(org), offer: offer, kind: kind, quantity: Int32(quantity), reference: reference)
    }

    /// GET /v1/orders/{request_id}?organisation=N.
    private func lookup(_ h: HTTPRequestHead, _ idText: String, _ query: [String: String], sequence: UInt64) {
        guard let id = UInt64(idText), id > 0 else {
            return reply(sequence, .response(Self.error(.badRequest, "expected a positive integer request id", field: "request_id")))
        }
        guard let orgText = query["organisation"], let org = UInt32(orgText),
              Int(org) < server.service.rules.campaign.population.count else {
            return reply(sequence, .response(Self.error(.badRequest, "expected ?organisation=N, an organisation of the campaign", field: "organisation")))
        }
        if let refusal = authorise(h, organisation: org) {
            return reply(sequence, .response(refusal))
        }
        let eventLoop = context!.eventLoop
        let offers = server.catalogue.offers
        server.service.lookup(organisation: org, requestId: id) { [self] found in
            let response: Response
            if let f = found {
                var s = "{\"request_id\":\(id),\"organisation\":\(org),\"outcome\":\"\(f.outcome.name)\",\"price_fen\":\(f.priceFen)"
                if let o = f.offer, Int(o) < offers.count { s += ",\"offer\":" + Self.quoted(offers[Int(o)].id) }
                if let state = f.holdState {
                    s += ",\"hold\":{\"id\":\(id),\"expires_at_ms\":\(f.holdExpiryMillis),\"state\":\"\(Self.name(state))\"}"
                }
                response = Response(status: .ok, body: s + "}")
            } else {
                response = Self.error(.notFound, "no decision remembered for this request (beyond an organisation's last 4 requests only orders sold or held are)")
            }
            eventLoop.execute {
                self.reply(sequence, .response(response))
                self.flushAnswers()
            }
        }
    }

    /// nil when the request may act for `organisation`; otherwise the 401 or 403 to answer.
    private func authorise(_ h: HTTPRequestHead, organisation: UInt32) -> Response? {
        guard let tokens = server.configuration.tokens else { return nil }
        let value = h.headers.first(name: "Authorization") ?? ""
        guard value.hasPrefix("Bearer "), let org = tokens.organisation(for: value.dropFirst(7)) else {
            return Self.error(.unauthorized, "expected Authorization: Bearer TOKEN with a token of this campaign",
                              headers: [("WWW-Authenticate", "Bearer")])
        }
        guard org == organisation else {
            return Self.error(.forbidden, "this token acts for another organisation", field: "organisation")
        }
        return nil
    }

    private func offersJSON() -> String {
        let service = server.service
        var s = "{\"window\":{\"opens_ms\":\(server.catalogue.window.opensMillis),\"closes_ms\":\(server.catalogue.window.closesMillis)}"
        if let now = server.campaignNow() { s += ",\"campaign_time_ms\":\(now)" }
        // What a load client checks before it sends anything: the campaign and where campaign time comes from.
        s += ",\"clock\":\"\(server.campaignNow() == nil ? "request" : "wall")\",\"campaign_fingerprint\":\"\(server.catalogue.fingerprintHex)\""
        s += ",\"offers\":["
        for (i, o) in server.catalogue.offers.enumerated() {
            let left = server.catalogue.remaining(o) { service.remaining(item: $0) }
            if i > 0 { s += "," }
            s += "{\"id\":" + Self.quoted(o.id) + ",\"kind\":\"\(o.isReservation ? "reservation" : "bundle")\",\"remaining\":\(left),\"sold_out\":\(left == 0)}"
        }
        return s + "]}"
    }

    // MARK: answering, in order

    /// Answers written and not flushed yet (`flushAnswers`: once per burst of answers, not per answer).
    private var unflushed = false

    /// Records the answer to request `sequence` and writes every answer now due, in order, without
    /// flushing them. True when this connection has unflushed answers it did not have before: the caller
    /// then calls `flushAnswers()` once it has given out its answers (`channelReadComplete` does so for
    /// the answers made while reading).
    @discardableResult
    func answer(_ sequence: UInt64, _ a: Answer) -> Bool {
        guard !closed, context != nil, sequence >= nextToWrite, sequence - nextToWrite < UInt64(slots.count) else { return false }
        switch a {
        case .response(let r): loop.figures.countAnswer(status: r.status.code)
        case .journalFailed: loop.figures.countAnswer(status: 503)
        case .decision(let d, _):
            loop.figures.countAnswer(status: 200)
            let now = loop.deliveredNanos
            loop.figures.recordLatency(nanos: now > d.intendedSendNanos ? now &- d.intendedSendNanos : 0)
        }
        let at = slots.index(slots.startIndex, offsetBy: Int(sequence - nextToWrite))
        slots[at].answer = a
        readyCount += 1
        var wrote = false
        while let first = slots.first, let due = first.answer {
            slots.removeFirst()
            readyCount -= 1
            nextToWrite += 1
            let close = write(due, keepAlive: first.keepAlive, omitBody: first.omitBody)
            wrote = true
            if close {
                closed = true
                unflushed = false
                let context = self.context!
                // Closed on the channel's own loop once written (the context stays on it: NIOLoopBound says so).
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in bound.value.close(promise: nil) }
                out = ByteBuffer()
                return false
            }
        }
        guard wrote, !unflushed else { return false }
        unflushed = true
        return true
    }

    /// Writes one answer into `out`; true when the connection closes after it.
    private func write(_ a: Answer, keepAlive: Bool, omitBody: Bool) -> Bool {
        if out.capacity == 0 { out = context!.channel.allocator.buffer(capacity: 512) }
        switch a {
        case .decision(let d, let journalSequence):
            loop.scratch.clear()  // the loop's scratch buffer: the body, to know its length first
            loop.scratch.writeDecisionJSON(d, journalSequence)
            out.writeAnswer(status: .ok, headers: [], keepAlive: keepAlive, body: loop.scratch, omitBody: omitBody)
            return !keepAlive
        case .journalFailed:
            return write(.response(Self.error(.serviceUnavailable, "the journal failed: this order's decision is not durable and must be retried elsewhere or later",
                                              headers: [("Retry-After", "1")])), keepAlive: keepAlive, omitBody: omitBody)
        case .response(let r):
            if r.raw {
                out.writeStatusLine(r.status)
                for (name, value) in r.headers {
                    out.writeString(name)
                    out.writeStaticString(": ")
                    out.writeString(value)
                    out.writeStaticString("\r\n")
                }
                out.writeStaticString("\r\n")
                return r.close || !keepAlive
            }
            loop.scratch.clear()
            loop.scratch.writeString(r.body)
            out.writeAnswer(status: r.status, headers: r.headers, keepAlive: keepAlive && !r.close, body: loop.scratch, omitBody: omitBody)
            return r.close || !keepAlive
        }
    }

    /// A served order's decision (`LoopState`): its 200, or 503 when the journal failed.
    func deliver(_ sequence: UInt64, _ decision: Decision, journalSequence: UInt64, durable: Bool) -> Bool {
        answer(sequence, durable ? .decision(decision, journalSequence: journalSequence) : .journalFailed)
    }

    /// `answer` for the answers made while reading (flushed by `channelReadComplete`) or followed by
    /// `flushAnswers()`.
    func reply(_ sequence: UInt64, _ a: Answer) { answer(sequence, a) }

    /// Flushes the answers written since the last flush.
    func flushAnswers() {
        guard unflushed, let context else { return }
        unflushed = false
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        out.clear()  // no copy once the socket took the bytes (the usual case: written at once)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushAnswers()
        context.fireChannelReadComplete()
    }

    // MARK: JSON

    static func decisionJSON(_ d: Decision, _ sequence: UInt64) -> String {
        var s = "{\"request_id\":\(d.requestId),\"outcome\":\"\(d.outcome.name)\""
        if d.outcome == .duplicate { s += ",\"original_outcome\":\"\(d.originalOutcome.name)\"" }
        s += ",\"price_fen\":\(d.priceFen)"
        if d.holdExpiryMillis != 0 { s += ",\"hold\":{\"id\":\(d.reference),\"expires_at_ms\":\(d.holdExpiryMillis)}" }
        else if d.kind == .confirm || d.kind == .cancel { s += ",\"hold\":{\"id\":\(d.reference)}" }
        return s + ",\"sequence\":\(sequence)}"
    }

    static func error(_ status: HTTPResponseStatus, _ message: String, field: String? = nil,
                      headers: [(String, String)] = [], close: Bool = false) -> Response {
        var s = "{\"error\":" + quoted(message)
        if let field { s += ",\"field\":" + quoted(field) }
        return Response(status: status, body: s + "}", headers: headers, close: close)
    }

    static func quoted(_ text: String) -> String {
        var s = "\""
        for u in text.unicodeScalars {
            switch u {
            case "\"": s += "\\\""
            case "\\": s += "\\\\"
            case "\n": s += "\\n"
            case "\r": s += "\\r"
            case "\t": s += "\\t"
            case _ where u.value < 0x20: s += "\\u00" + String(u.value >> 4, radix: 16) + String(u.value & 15, radix: 16)
            default: s.unicodeScalars.append(u)
            }
        }
        return s + "\""
    }

    static func name(_ s: OrderMemory.State) -> String {
        switch s {
        case .accepted: "accepted"
        case .held: "active"
        case .confirmed: "confirmed"
        case .cancelled: "cancelled"
        case .expired: "expired"
        }
    }

    static func split(_ uri: String) -> (String, [String: String]) {
        guard let q = uri.firstIndex(of: "?") else { return (uri, [:]) }
        var query: [String: String] = [:]
        for pair in uri[uri.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { query[String(kv[0])] = String(kv[1]) }
        }
        return (String(uri[..<q]), query)
    }
}

/// In front of the HTTP decoder: tells the connection's `OrderHTTPHandler` about every read before it is
/// decoded, so that a request's deadlines run from its first byte (the decoder reports a request only
/// once its head is complete).
final class RequestStartObserver: ChannelInboundHandler, @unchecked Sendable {  // confined to its event loop
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let handler: OrderHTTPHandler

    init(_ handler: OrderHTTPHandler) { self.handler = handler }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        handler.readArriving(unwrapInboundIn(data))
        context.fireChannelRead(data)
    }
}
