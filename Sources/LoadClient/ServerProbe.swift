import FlashSaleSystem
#if canImport(Glibc)
import Glibc
#endif

/// What a client learns of an HTTP server before loading it (`GET /v1/offers`): which clock it runs,
/// its campaign's fingerprint and its offers, so that a run against another campaign is refused
/// before it sends anything.
public struct ServerProbe: Sendable {
    /// The server takes campaign time from requests (`serve --clock request`).
    public var clockFromRequests: Bool
    /// The campaign's fingerprint (hex), when the server tells it.
    public var fingerprint: UInt64?
    /// The offers' ids, in the campaign's order.
    public var offers: [String]

    /// One `GET` over a fresh connection; the status and the body.
    public static func get(host: String, port: Int, path: String, timeoutMillis: Int32 = 5_000) throws(TargetFailure) -> (status: Int, body: String) {
        let socket: ClientSocket
        do { socket = try ClientSocket.connect(host: host, port: port, timeoutMillis: timeoutMillis) } catch {
            throw TargetFailure(message: "cannot connect to http://\(host):\(port): \(error.reason)")
        }
        defer { socket.close() }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        var received: [UInt8] = []
        let deadline = System.monotonicNanos() + UInt64(timeoutMillis) * 1_000_000
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while System.monotonicNanos() < deadline {
            do {
                if sent < request.count {
                    if case .bytes(let n) = try request.withUnsafeBytes({ try socket.write(UnsafeRawBufferPointer(rebasing: $0[sent...])) }) { sent += n }
                }
                let t = try buffer.withUnsafeMutableBytes { try socket.read(into: $0) }
                switch t {
                case .bytes(let n): received.append(contentsOf: buffer[0..<n])
                case .closed: return try parse(received, path: path)
                case .wouldBlock:
                    var fds = [pollfd(fd: socket.raw, events: Int16(POLLIN), revents: 0)]
                    ClientSocket.wait(&fds, timeoutNanos: 10_000_000)
                }
            } catch let e as SystemCallError {
                throw TargetFailure(message: "GET \(path) on http://\(host):\(port): \(e.reason)")
            } catch let e as TargetFailure { throw e } catch { throw TargetFailure(message: "\(error)") }
        }
        throw TargetFailure(message: "GET \(path) on http://\(host):\(port): no answer within \(timeoutMillis) ms")
    }

    private static func parse(_ bytes: [UInt8], path: String) throws(TargetFailure) -> (status: Int, body: String) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix("HTTP/1."), text.count >= 12, let code = Int(text.dropFirst(9).prefix(3)),
              let split = text.range(of: "\r\n\r\n") else {
            throw TargetFailure(message: "GET \(path): not an HTTP answer: \(text.prefix(60))")
        }
        return (code, String(text[split.upperBound...]))
    }

    /// Reads `GET /v1/offers`.
    public static func probe(host: String, port: Int) throws(TargetFailure) -> ServerProbe {
        let (status, body) = try get(host: host, port: port, path: "/v1/offers")
        guard status == 200 else { throw TargetFailure(message: "GET /v1/offers answered \(status): is this a flashsale server? \(body.prefix(120))") }
        // A flat scan of the few keys needed (the body is the server's own, small JSON).
        var offers: [String] = []
        var rest = Substring(body)
        while let r = rest.range(of: "\"id\":\"") {
            let after = rest[r.upperBound...]
            guard let end = after.firstIndex(of: "\"") else { break }
            offers.append(String(after[..<end]))
            rest = after[end...]
        }
        var fingerprint: UInt64?
        if let r = body.range(of: "\"campaign_fingerprint\":\"") {
            fingerprint = UInt64(body[r.upperBound...].prefix(16), radix: 16)
        }
        let clockFromRequests = body.contains("\"clock\":\"request\"") || !body.contains("\"campaign_time_ms\"")
        return ServerProbe(clockFromRequests: clockFromRequests, fingerprint: fingerprint, offers: offers)
    }
}
