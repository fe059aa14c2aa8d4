import FlashSaleCore
import WireProtocol

/// The binary order protocol (docs/wire-protocol.md) as a client speaks it: a hello, then every burst of
/// requests in one ORDERS frame; answers matched by the connection's sequence.
struct BinaryOrderCodec: OrderCodec {
    static let statusNames = WireAnswer.Status.allCases.map(\.name)
    /// A status's raw value → its index in `statusNames`.
    private static let statusIndex: [Int] = {
        var t = [Int](repeating: 0, count: 256)
        for (i, s) in WireAnswer.Status.allCases.enumerated() { t[Int(s.rawValue)] = i }
        return t
    }()

    let hello: WireHello
    /// Until the welcome says which clock the server runs: as configured; then only with `--clock request`.
    private(set) var sendsCampaignTime: Bool
    private(set) var isReady = false
    /// The server's limits, from its welcome.
    private(set) var maxInFlight = Int.max
    static var largestAnswerBytes: Int { WireProtocol.maxFrameBytes + 4 }
    private var burst: [WireOrder] = []
    private var splitter = FrameSplitter()

    init(token: String, fingerprint: UInt64, sendsCampaignTime: Bool) {
        hello = WireHello(campaignFingerprint: fingerprint, token: token)
        self.sendsCampaignTime = sendsCampaignTime
        burst.reserveCapacity(1024)
    }

    func greet(into out: inout [UInt8]) { hello.encode(into: &out) }

    mutating func append(_ r: OrderRequest, sequence: UInt64, into out: inout [UInt8]) {
        burst.append(WireOrder(clientSequence: sequence, kind: r.kind.rawValue, offer: r.offer, organisation: r.organisation,
                               quantity: r.quantity, requestId: r.requestId, reference: r.reference,
                               campaignTimeMillis: sendsCampaignTime ? r.campaignTimeMillis : WireProtocol.noCampaignTime))
        if burst.count == WireProtocol.maxOrdersWithinFrameLimit { endBurst(into: &out) }
    }

    mutating func endBurst(into out: inout [UInt8]) {
        guard !burst.isEmpty else { return }
        burst.withUnsafeBufferPointer { FrameEncoder.appendOrders($0, into: &out) }
        burst.removeAll(keepingCapacity: true)
    }

    mutating func parse(_ bytes: UnsafeRawBufferPointer, answer: (ClientAnswer) -> Void) throws(ClientProtocolError) -> Int {
        var used = 0
        // The splitter counts positions from the start of the unread input, which the caller moves up
        // by `used` after each call.
        splitter = FrameSplitter()
        while true {
            let frame: (type: UInt8, payload: Range<Int>, frameEnd: Int)?
            do { frame = try splitter.next(in: bytes) } catch { throw ClientProtocolError(message: "\(error)") }
            guard let frame else { break }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[frame.payload])
            if frame.type == FrameType.answers.rawValue {
                let count: Int
                do { count = try FrameDecoder.answerCount(payload: payload) } catch { throw ClientProtocolError(message: "\(error)") }
                let base = payload.baseAddress! + 4
                for k in 0..<count {
                    let a = WireAnswer.read(from: base + k * WireProtocol.answerBytes)
                    answer(ClientAnswer(sequence: a.clientSequence, outcome: a.decidedOutcome, originalOutcome: a.decidedOriginalOutcome,
                                        status: Self.statusIndex[Int(a.status.rawValue)]))
                }
            } else {
                let decoded: FrameDecoder.ServerFrame
                do { decoded = try FrameDecoder.serverFrame(type: frame.type, payload: payload) } catch { throw ClientProtocolError(message: "\(error)") }
                switch decoded {
                case .welcome(let w):
                    isReady = true
                    maxInFlight = Int(w.maxInFlight)
                    sendsCampaignTime = w.clock == .request
                case .error(let e):
                    let fatalForTheRun = e.code == .unsupportedVersion || e.code == .fingerprintMismatch || e.code == .unauthenticated
                    throw ClientProtocolError(message: "the server sent \(e.code.name): \(e.message)", fatal: fatalForTheRun)
                case .answers, .heartbeatReply, .goodbyeReply:
                    break
                }
            }
            used = frame.frameEnd
        }
        return used
    }
}
