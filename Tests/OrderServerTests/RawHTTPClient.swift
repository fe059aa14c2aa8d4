import Foundation

/// A blocking HTTP/1.1 client over a plain socket, for tests that need exact bytes on the wire:
/// pipelining, garbage, truncated or slow requests. Not thread-safe: one per thread.
final class RawHTTPClient {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    /// Socket failures are `LoopbackSocket.Failure` (`closed`, `timeout`); this is an answer that is not HTTP.
    enum ClientError: Error { case malformed(String) }

    let socket: LoopbackSocket
    var fd: Int32 { socket.fd }
    private var buffer: [UInt8] = []

    init(port: Int, timeoutSeconds: Int = 10) throws {
        socket = try LoopbackSocket(port: port, timeoutSeconds: timeoutSeconds)
    }

    func send(_ text: String) throws { try socket.send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws { try socket.send(bytes) }

    /// A POST of `json` (keep-alive) as raw text, for pipelining several in one `send`.
    static func post(_ path: String, _ json: String, headers: String = "") -> String {
        "POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\(headers)\r\n\(json)"
    }

    static func get(_ path: String) -> String { "GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n" }

    private func fill() throws { try socket.receive(into: &buffer) }

    /// Reads one response (status line, headers, Content-Length body).
    func readResponse() throws -> Response {
        let crlf2: [UInt8] = [13, 10, 13, 10]
        var end: Int?
        while end == nil {
            if buffer.count >= 4 {
                for i in 0...(buffer.count - 4) where buffer[i] == 13 && Array(buffer[i..<i + 4]) == crlf2 { end = i; break }
            }
            if end == nil { try fill() }
        }
        let headText = String(decoding: buffer[0..<end!], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw ClientError.malformed(headText) }
        var headers: [String: String] = [:]
        for l in lines {
            guard let c = l.firstIndex(of: ":") else { continue }
            headers[l[..<c].lowercased()] = l[l.index(after: c)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let bodyStart = end! + 4
        while buffer.count < bodyStart + length { try fill() }
        let body = String(decoding: buffer[bodyStart..<bodyStart + length], as: UTF8.self)
        buffer.removeFirst(bodyStart + length)
        return Response(status: status, headers: headers, body: body)
    }

    /// Sends `request` and reads its response.
    func exchange(_ request: String) throws -> Response {
        try send(request)
        return try readResponse()
    }

    /// Whether something can be read (an answer, or the server's close) within `milliseconds`.
    func waitReadable(milliseconds: Int32) -> Bool {
        !buffer.isEmpty || socket.isReadable(milliseconds: milliseconds)
    }

    /// Whether the server closed the connection (reads EOF within the timeout).
    func isClosedByServer() -> Bool {
        do { while true { try fill() } } catch LoopbackSocket.Failure.closed { return true } catch { return false }
    }
}
