import FlashSaleCore
import OrderLog

extension CaptureRecord {
    /// The capture record of a request (what `CapturingSource` writes).
    @inlinable
    public init(_ r: OrderRequest) {
        self.init(requestId: r.requestId, campaignTimeMillis: r.campaignTimeMillis, sendOffsetNanos: r.intendedSendNanos,
                  organisation: r.organisation, offer: r.offer, kind: r.kind.rawValue, quantity: r.quantity,
                  reference: r.reference)
    }
}

/// A problem with replay options or a capture that cannot be replayed (exit code 2 in the CLI).
public struct ReplayError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Which captured requests a replay sends. Every given dimension must match (AND); within one
/// dimension any listed value matches (OR). Checks are table lookups (no allocation).
public struct ReplayFilter: Sendable {
    /// Indexed by offer code (65536 entries) when offers are filtered.
    private var offers: [Bool]?
    private var organisations: Set<UInt32>?
    /// Indexed by kind code (256 entries) when kinds are filtered.
    private var kinds: [Bool]?

    public init() {}

    public var isEmpty: Bool { offers == nil && organisations == nil && kinds == nil }

    /// Adds one `--filter` clause: `offer=NAME|INDEX[,…]`, `org=ID[,…]` (also `organisation=`),
    /// `kind=buy|confirm|cancel|CODE[,…]`. Offer names are looked up in `offerNames` (the campaign's offers).
    public mutating func add(_ clause: String, offerNames: [String]) throws(ReplayError) {
        guard let eq = clause.firstIndex(of: "=") else {
            throw ReplayError("--filter \(clause): expected offer=…, org=… or kind=… (e.g. offer=kickoff-bundle,1)")
        }
        let key = clause[..<eq].lowercased()
        let values = clause[clause.index(after: eq)...].split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        if values.isEmpty { throw ReplayError("--filter \(clause): no value after '='") }
        switch key {
        case "offer", "offers":
            var table = offers ?? [Bool](repeating: false, count: 65536)
            for v in values {
                if let i = offerNames.firstIndex(of: v) {
                    table[i] = true
                } else if let i = UInt16(v) {
                    guard Int(i) < offerNames.count else {
                        throw ReplayError("--filter offer=\(v): no offer with index \(i); the campaign's offers are 0...\(max(0, offerNames.count - 1)) (\(offerNames.joined(separator: ", ")))")
                    }
                    table[Int(i)] = true
                } else {
                    let hint = Units.suggestion(for: v, among: offerNames).map { " (did you mean \($0)?)" } ?? ""
                    throw ReplayError("--filter offer=\(v): no such offer\(hint); offers: \(offerNames.joined(separator: ", ")) or an index 0...\(max(0, offerNames.count - 1))")
                }
            }
            offers = table
        case "org", "orgs", "organisation", "organization":
            var set = organisations ?? []
            for v in values {
                guard let id = UInt32(v) else { throw ReplayError("--filter org=\(v): expected an organisation id (a number)") }
                set.insert(id)
            }
            organisations = set
        case "kind", "kinds":
            var table = kinds ?? [Bool](repeating: false, count: 256)
            for v in values {
                // Captures hold what clients send: buy, confirm, cancel (codes 0-2). Expiry happens inside the pipeline.
                let code = RequestKind(name: v).map { Int($0.rawValue) } ?? UInt8(v).map(Int.init)
                guard let code, code <= 2 else {
                    throw ReplayError("--filter kind=\(v): expected buy, confirm or cancel (codes 0-2): the kinds a capture holds")
                }
                table[code] = true
            }
            kinds = table
        default:
            throw ReplayError("--filter \(clause): unknown field '\(key)' (expected offer, org or kind)")
        }
    }

    @inline(__always)
    public func accepts(_ r: borrowing CaptureRecord) -> Bool {
        if let offers, !offers[Int(r.offer)] { return false }
        if let kinds, !kinds[Int(r.kind)] { return false }
        if let organisations, !organisations.contains(r.organisation) { return false }
        return true
    }
}

/// How a capture is replayed.
public struct ReplayOptions: Sendable {
    /// Time-scaled pacing: each recorded gap between intended send offsets is divided by `speed`.
    public var speed: Double = 1
    /// Fixed rate (requests/s): the k-th request sent (over all loops) is due at k / rate seconds; the
    /// recorded gaps are ignored. Overrides `speed` and `maxIdleSeconds`.
    public var rate: Double?
    /// Caps every gap of the replay schedule (after the speed scaling) at this many seconds.
    public var maxIdleSeconds: Double?
    /// Times the capture is sent (≥ 1); see `ReplaySource` for what changes from loop to loop.
    public var loops: Int = 1
    public var filter = ReplayFilter()

    public init(speed: Double = 1, rate: Double? = nil, maxIdleSeconds: Double? = nil, loops: Int = 1,
                filter: ReplayFilter = ReplayFilter()) {
        self.speed = speed
        self.rate = rate
        self.maxIdleSeconds = maxIdleSeconds
        self.loops = loops
        self.filter = filter
    }
}

/// Replays a capture file as an open-model request stream (`RequestSource` in the pipeline).
///
/// - Schedule (`intendedSendNanos`, from 0 at the first request sent): with `rate`, request k is due at
///   k / rate. Otherwise each request follows the previous one after its recorded gap (difference of the
///   recorded send offsets; a request recorded earlier than the latest one before it follows at once)
///   divided by `speed` and capped at `maxIdleSeconds`.
/// - Loops: loop k (0-based) sends every request with `requestId + k × idStride` and (when non-zero)
///   `reference + k × idStride`, where `idStride` is the largest request id or reference in the capture,
///   so every loop uses fresh ids and confirms/cancels still name their own loop's reservation; its
///   campaign times are shifted by `k × campaignStride` (the capture's campaign-time span + 1 ms), so each
///   loop happens after the previous one on the campaign clock. Loop k+1's first request follows loop k's
///   last after the capture's mean recorded gap (scaled and capped like any gap).
/// - Requests the filter rejects are not sent and take no slot of the schedule.
///
/// The whole capture is checked when the source is made (every block CRC, the end marker), so a torn
/// or corrupt capture is refused before anything is sent. `fill` allocates nothing.
public final class ReplaySource: RequestSource, @unchecked Sendable {
    public let path: String
    public let summary: CaptureSummary
    public let options: ReplayOptions
    public let idStride: UInt64
    public let campaignStride: Int64
    /// Requests one loop sends (after the filter).
    public let requestsPerLoop: Int
    /// Requests written by `fill` so far.
    public private(set) var offered = 0
    /// A problem met while replaying (the file changed after it was checked); `fill` then stops.
    public private(set) var failure: (any Error)?

    private let reader: CaptureReader
    private var block = UnsafeBufferPointer<CaptureRecord>(start: nil, count: 0)
    private var index = 0
    private var loop = 0
    private var finished = false
    private let filter: ReplayFilter
    private let filtering: Bool
    private let inverseSpeed: Double
    private let maxGapNanos: Double
    private let nanosPerRequest: Double?
    private let loopGapNanos: Double
    private var cursorNanos = 0.0
    private var lastRecorded: UInt64 = 0
    private var startedLoop = false
    private var emitted: UInt64 = 0

    /// Opens and checks the capture. Throws `SegmentError` (file:offset: problem) or `ReplayError`.
    public init(path: String, options: ReplayOptions) throws {
        guard options.speed > 0, options.speed.isFinite else { throw ReplayError("speed must be a positive number") }
        if let r = options.rate, !(r > 0 && r.isFinite) { throw ReplayError("rate must be a positive number of requests per second") }
        if let m = options.maxIdleSeconds, !(m >= 0 && m.isFinite) { throw ReplayError("max idle must be ≥ 0 seconds") }
        guard options.loops >= 1 else { throw ReplayError("loops must be ≥ 1") }
        self.path = path
        self.options = options
        reader = try CaptureReader(path: path)
        let summary = try reader.summarize()
        self.summary = summary
        if let code = (4..<256).first(where: { summary.kindCounts[$0] > 0 }) {
            throw ReplayError("\(path): \(summary.kindCounts[code]) requests have the unknown kind code \(code) (known: 0 buy, 1 confirm, 2 cancel, 3 expire)")
        }
        idStride = max(summary.maxRequestId, 1)
        let (_, overflow) = idStride.multipliedReportingOverflow(by: UInt64(options.loops))
        if overflow { throw ReplayError("\(options.loops) loops of request ids up to \(idStride) overflow 64-bit ids") }
        campaignStride = summary.requests == 0 ? 0 : summary.maxCampaignMillis &- summary.minCampaignMillis &+ 1
        // The last loop's campaign times must stay on the campaign clock (day 0 to day 99999), as ids stay in 64 bits.
        if summary.requests > 0 && options.loops > 1 {
            let (shift, o1) = campaignStride.multipliedReportingOverflow(by: Int64(options.loops - 1))
            let (last, o2) = summary.maxCampaignMillis.addingReportingOverflow(shift)
            if o1 || o2 || last >= Self.campaignClockEndMillis {
                throw ReplayError("\(options.loops) loops of a capture spanning \(campaignStride) ms of campaign time would run past day 99999 of the campaign clock; use fewer loops")
            }
        }
        filter = options.filter
        filtering = !options.filter.isEmpty
        if filtering {
            var kept = 0
            let f = options.filter
            try reader.forEach { if f.accepts($0) { kept += 1 } }
            reader.rewind()
            requestsPerLoop = kept
        } else {
            requestsPerLoop = Int(summary.requests)
        }
        if requestsPerLoop.multipliedReportingOverflow(by: options.loops).overflow {
            throw ReplayError("\(options.loops) loops of \(requestsPerLoop) requests overflow a 64-bit count; use fewer loops")
        }
        inverseSpeed = 1 / options.speed
        maxGapNanos = options.maxIdleSeconds.map { $0 * 1e9 } ?? .infinity
        nanosPerRequest = options.rate.map { 1e9 / $0 }
        let meanGap = summary.requests > 1 ? Double(summary.maxSendNanos - summary.minSendNanos) / Double(summary.requests - 1) : 0
        loopGapNanos = min(meanGap * inverseSpeed, maxGapNanos)
    }

    /// The end of the campaign clock: day 100000 (profiles and imports accept day 0 to day 99999).
    static let campaignClockEndMillis: Int64 = 8_640_000_000_000

    /// Requests the whole replay sends (all loops).
    public var plannedRequests: Int { requestsPerLoop * options.loops }

    /// Loops started so far (1 after the first request).
    public var loopsStarted: Int { loop + 1 }

    /// Writes up to `buffer.count` next requests; returns how many (0 when the replay is over).
    public func fill(_ buffer: UnsafeMutableBufferPointer<OrderRequest>) -> Int {
        guard let base = buffer.baseAddress, !finished else { return 0 }
        var n = 0
        let room = buffer.count
        while n < room {
            if index == block.count {
                if !nextBlock() { break }
                continue
            }
            let c = block[index]
            index &+= 1
            if filtering && !filter.accepts(c) { continue }
            let send: UInt64
            if let step = nanosPerRequest {
                send = UInt64(Double(emitted) * step)
            } else {
                if startedLoop {
                    if c.sendOffsetNanos > lastRecorded {
                        cursorNanos += min(Double(c.sendOffsetNanos &- lastRecorded) * inverseSpeed, maxGapNanos)
                        lastRecorded = c.sendOffsetNanos
                    }
                } else {
                    if loop > 0 { cursorNanos += loopGapNanos }
                    startedLoop = true
                    lastRecorded = c.sendOffsetNanos
                }
                send = UInt64(min(cursorNanos, 1.8e19))   // a schedule centuries long waits, it does not trap
            }
            let shift = UInt64(loop) &* idStride
            (base + n).initialize(to: OrderRequest(
                requestId: c.requestId == 0 ? 0 : c.requestId &+ shift,
                campaignTimeMillis: c.campaignTimeMillis &+ Int64(loop) &* campaignStride,
                intendedSendNanos: send, organisation: c.organisation, offer: c.offer,
                kind: RequestKind(rawValue: c.kind) ?? .buy, quantity: c.quantity,
                reference: c.reference == 0 ? 0 : c.reference &+ shift))
            emitted &+= 1
            n &+= 1
        }
        offered &+= n
        return n
    }

    /// Moves to the next block, or the next loop; false at the end of the replay (or on a failure).
    private func nextBlock() -> Bool {
        do {
            block = try reader.nextBlock()
            index = 0
            if !block.isEmpty { return true }
            if loop + 1 < options.loops {
                loop += 1
                startedLoop = false
                reader.rewind()
                block = try reader.nextBlock()
                index = 0
                return !block.isEmpty
            }
        } catch {
            failure = error
        }
        finished = true
        return false
    }
}
