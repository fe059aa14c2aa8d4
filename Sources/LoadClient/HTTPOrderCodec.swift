import FlashSaleCore

/// The HTTP API of `flashsale serve` (docs/http-api.md) as a client speaks it: `POST /v1/orders` for a
/// buy, `POST /v1/holds/{id}/confirm|cancel` for a follow-up, keep-alive, pipelined; answers in order.
///
/// Requests are written byte by byte into the connection's buffer (no Foundation, no String per
/// request); a response is read from its status line, its Content-Length and the body's `outcome` and
/// `original_outcome` (nothing else of the body is decoded).
struct HTTPOrderCodec: OrderCodec {
    static let statusNames = ["200", "400", "401", "403", "404", "408", "413", "429", "503", "other"]
    static func statusIndex(_ code: Int) -> Int {
        switch code {
        case 200: 0
        case 400: 1
        case 401: 2
        case 403: 3
        case 404: 4
        case 408: 5
        case 413: 6
        case 429: 7
        case 503: 8
        default: 9
        }
    }

    /// Per offer: its id as JSON text (`"kickoff-bundle"`, quoted).
    let offerNames: [[UInt8]]
    /// The `Host` and `Authorization` lines, ready to copy.
    let fixedHeaders: [UInt8]
    /// Send `campaign_time_ms` (the server takes campaign time from requests: `--clock request`).
    let sendsCampaignTime: Bool
    private var body: [UInt8] = []

    init(offerNames: [String], host: String, token: String?, sendsCampaignTime: Bool) {
        self.offerNames = offerNames.map { Array("\"\($0)\"".utf8) }
        var h = "Host: \(host)\r\n"
        if let token { h += "Authorization: Bearer \(token)\r\n" }
        fixedHeaders = Array(h.utf8)
        self.sendsCampaignTime = sendsCampaignTime
        body.reserveCapacity(256)
    }

    func greet(into out: inout [UInt8]) {}
    var isReady: Bool { true }
    var maxInFlight: Int { .max }
    static var largestAnswerBytes: Int { 64 * 1024 }
    func endBurst(into out: inout [UInt8]) {}

    private static let ordersLine = Array("POST /v1/orders HTTP/1.1\r\n".utf8)
    private static let holdsPrefix = Array("POST /v1/holds/".utf8)
    private static let confirmSuffix = Array("/confirm HTTP/1.1\r\n".utf8)
    private static let cancelSuffix = Array("/cancel HTTP/1.1\r\n".utf8)
    private static let contentLength = Array("Content-Type: application/json\r\nContent-Length: ".utf8)
    private static let requestIdKey = Array("{\"request_id\":".utf8)
    private static let organisationKey = Array(",\"organisation\":".utf8)
    private static let offerKey = Array(",\"offer\":".utf8)
    private static let quantityKey = Array(",\"quantity\":".utf8)
    private static let campaignTimeKey = Array(",\"campaign_time_ms\":".utf8)

    mutating func append(_ r: OrderRequest, sequence: UInt64, into out: inout [UInt8]) {
        body.removeAll(keepingCapacity: true)
        body.append(contentsOf: Self.requestIdKey)
        appendDecimal(r.requestId, to: &body)
        body.append(contentsOf: Self.organisationKey)
        appendDecimal(UInt64(r.organisation), to: &body)
        body.append(contentsOf: Self.offerKey)
        if Int(r.offer) < offerNames.count { body.append(contentsOf: offerNames[Int(r.offer)]) } else { appendDecimal(UInt64(r.offer), to: &body) }
        body.append(contentsOf: Self.quantityKey)
        appendDecimal(Int64(r.quantity), to: &body)
        if sendsCampaignTime {
            body.append(contentsOf: Self.campaignTimeKey)
            appendDecimal(r.campaignTimeMillis, to: &body)
        }
        body.append(0x7D)  // }
        switch r.kind {
        case .buy: out.append(contentsOf: Self.ordersLine)
        case .confirm, .cancel, .expire:
            out.append(contentsOf: Self.holdsPrefix)
            appendDecimal(r.reference, to: &out)
            out.append(contentsOf: r.kind == .cancel ? Self.cancelSuffix : Self.confirmSuffix)
        }
        out.append(contentsOf: fixedHeaders)
        out.append(contentsOf: Self.contentLength)
        appendDecimal(UInt64(body.count), to: &out)
        out.append(contentsOf: [0x0D, 0x0A, 0x0D, 0x0A])
        out.append(contentsOf: body)
    }

    mutating func parse(_ bytes: UnsafeRawBufferPointer, answer: (ClientAnswer) -> Void) throws(ClientProtocolError) -> Int {
        var used = 0
        let n = bytes.count
        while used < n {
            // the head: up to the blank line
            var end = -1
            var i = used
            while i + 3 < n {
                if bytes[i] == 0x0D && bytes[i + 1] == 0x0A && bytes[i + 2] == 0x0D && bytes[i + 3] == 0x0A { end = i; break }
                i += 1
            }
            if end < 0 {
                if n - used > 64 * 1024 { throw ClientProtocolError(message: "a response head longer than 64 KiB") }
                break
            }
            // "HTTP/1.1 200 ..."
            guard end - used >= 12, bytes[used] == 0x48, bytes[used + 8] == 0x20 else {
                throw ClientProtocolError(message: "not an HTTP response: \(Self.show(bytes, used, min(end, used + 40)))")
            }
            var code = 0
            for k in 9..<12 {
                let d = bytes[used + k]
                guard d >= 0x30 && d <= 0x39 else { throw ClientProtocolError(message: "a response without a status code: \(Self.show(bytes, used, min(end, used + 40)))") }
                code = code * 10 + Int(d - 0x30)
            }
            // Content-Length (case-insensitive), the only header the client needs
            var length = 0
            var line = used
            while line < end {
                var eol = line
                while eol < end && bytes[eol] != 0x0D { eol += 1 }
                if eol - line > 15 && Self.isContentLength(bytes, line) {
                    var k = line + 15
                    while k < eol && (bytes[k] == 0x20 || bytes[k] == 0x09) { k += 1 }
                    var v = 0
                    while k < eol, bytes[k] >= 0x30 && bytes[k] <= 0x39 { v = v * 10 + Int(bytes[k] - 0x30); k += 1; if v > 1 << 26 { break } }
                    length = v
                }
                line = eol + 2
            }
            let bodyStart = end + 4
            guard bodyStart + length <= n else { break }  // the body has not all arrived
            var a = ClientAnswer(sequence: 0, outcome: nil, originalOutcome: nil, status: Self.statusIndex(code))
            if code == 200 {
                a.outcome = Self.outcome(after: Self.outcomeKey, in: bytes, bodyStart, bodyStart + length)
                a.originalOutcome = Self.outcome(after: Self.originalKey, in: bytes, bodyStart, bodyStart + length) ?? a.outcome
                if a.outcome == nil { throw ClientProtocolError(message: "a 200 answer without an outcome: \(Self.show(bytes, bodyStart, min(bodyStart + length, bodyStart + 80)))") }
            }
            answer(a)
            used = bodyStart + length
        }
        return used
    }

    private static let outcomeKey = Array("\"outcome\":\"".utf8)
    private static let originalKey = Array("\"original_outcome\":\"".utf8)
    private static let names: [(bytes: [UInt8], outcome: Outcome)] = Outcome.allCases.map { (Array($0.name.utf8), $0) }

    private static func isContentLength(_ b: UnsafeRawBufferPointer, _ at: Int) -> Bool {
        let key: StaticString = "content-length:"
        return key.withUTF8Buffer { k in
            for j in 0..<k.count where b[at + j] | 0x20 != k[j] | 0x20 { return false }
            return true
        }
    }

    private static func outcome(after key: [UInt8], in b: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Outcome? {
        var i = start
        let last = end - key.count
        while i <= last {
            if b[i] == key[0] {
                var j = 1
                while j < key.count && b[i + j] == key[j] { j += 1 }
                if j == key.count {
                    let v = i + key.count
                    var e = v
                    while e < end && b[e] != 0x22 { e += 1 }
                    for (name, o) in names where name.count == e - v {
                        var same = true
                        for k in 0..<name.count where b[v + k] != name[k] { same = false; break }
                        if same { return o }
                    }
                    return nil
                }
            }
            i += 1
        }
        return nil
    }

    static func show(_ b: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> String {
        String(decoding: b[from..<max(from, to)].map { $0 >= 0x20 && $0 < 0x7F ? $0 : 0x2E }, as: UTF8.self)
    }
}
