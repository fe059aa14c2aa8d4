import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP server written for the tests: it speaks just enough of the order API for the client (a
/// thread per connection; every request answered 200 with an outcome the test chooses), and it can
/// stall every answer once, for a while, to see whether the client's latency shows it.
final class FakeOrderServer: @unchecked Sendable {  // state behind `state`
    struct Seen { var buys: [UInt64: String] = [:]; var followUps: [(kind: String, hold: UInt64)] = []; var requests = 0 }
    let port: Int
    private let listener: Int32
    private let state = Mutex(Seen())
    /// The outcome for a buy (by request id).
    let outcome: @Sendable (UInt64) -> String
    /// After this many requests, every answer waits until `stallNanos` later (once).
    let stallAfter: Int?
    let stallNanos: UInt64
    private let stallUntil = Atomic<UInt64>(0)
    private let stopped = Atomic<Bool>(false)

    init(outcome: @escaping @Sendable (UInt64) -> String = { _ in "ACCEPTED" }, stallAfter: Int? = nil, stallNanos: UInt64 = 0) throws {
        self.outcome = outcome
        self.stallAfter = stallAfter
        self.stallNanos = stallNanos
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(listener, 64) == 0 else { throw NSError(domain: "fake", code: Int(errno)) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        self.listener = listener
        let t = Thread { [self] in acceptLoop() }
        t.start()
    }

    var seen: Seen { state.withLock { $0 } }

    func stop() {
        stopped.store(true, ordering: .releasing)
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while !stopped.load(ordering: .acquiring) {
            let fd = accept(listener, nil, nil)
            if fd < 0 { return }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let t = Thread { [self] in serve(fd) }
            t.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var input: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !stopped.load(ordering: .acquiring) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            input.append(contentsOf: buffer[0..<n])
            var out: [UInt8] = []
            while let (head, body, used) = Self.nextRequest(input) {
                input.removeFirst(used)
                out += answer(head: head, body: body)
            }
            if out.isEmpty { continue }
            var sent = 0
            while sent < out.count {
                let k = out.withUnsafeBytes { send(fd, $0.baseAddress! + sent, out.count - sent, Int32(MSG_NOSIGNAL)) }
                if k <= 0 { return }
                sent += k
            }
        }
    }

    private func answer(head: String, body: String) -> [UInt8] {
        let count = state.withLock { s -> Int in s.requests += 1; return s.requests }
        if let after = stallAfter, count == after { stallUntil.store(DispatchTime.now().uptimeNanoseconds + stallNanos, ordering: .releasing) }
        let until = stallUntil.load(ordering: .acquiring)
        let now = DispatchTime.now().uptimeNanoseconds
        if until > now { usleep(UInt32((until - now) / 1000)) }
        let line = head.prefix { $0 != "\r" }
        let id = Self.number(after: "\"request_id\":", in: body) ?? 0
        var outcome = "ACCEPTED"
        if line.hasPrefix("POST /v1/holds/") {
            let parts = line.split(separator: "/")
            let hold = UInt64(parts.count > 3 ? parts[3] : "") ?? 0
            let kind = line.contains("/confirm") ? "confirm" : "cancel"
            state.withLock { $0.followUps.append((kind, hold)) }
            outcome = kind == "confirm" ? "CONFIRMED" : "RELEASED"
        } else {
            outcome = self.outcome(id)
            state.withLock { $0.buys[id] = outcome }
        }
        let json = "{\"request_id\":\(id),\"outcome\":\"\(outcome)\",\"price_fen\":0,\"sequence\":\(count)}"
        return Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n\(json)".utf8)
    }

    private static func nextRequest(_ b: [UInt8]) -> (String, String, Int)? {
        guard b.count >= 4 else { return nil }
        var end = -1
        for i in 0..<(b.count - 3) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { end = i; break }
        guard end >= 0 else { return nil }
        let head = String(decoding: b[0..<end], as: UTF8.self)
        let length = head.lowercased().components(separatedBy: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) } ?? 0
        guard b.count >= end + 4 + length else { return nil }
        return (head, String(decoding: b[(end + 4)..<(end + 4 + length)], as: UTF8.self), end + 4 + length)
    }

    private static func number(after key: String, in text: String) -> UInt64? {
        guard let r = text.range(of: key) else { return nil }
        return UInt64(text[r.upperBound...].prefix { $0.isNumber })
    }
}
