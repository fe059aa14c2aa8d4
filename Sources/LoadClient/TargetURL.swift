/// Where `--target` points: `http://HOST:PORT` (the HTTP API) or `fsbin://HOST:PORT` (the binary
/// protocol, docs/wire-protocol.md). HOST is a name, an IPv4 address or a bracketed IPv6 address.
public struct TargetURL: Sendable, Equatable, CustomStringConvertible {
    public enum Scheme: String, Sendable { case http, fsbin }
    public var scheme: Scheme
    public var host: String
    public var port: Int

    public struct ParseError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public init(scheme: Scheme, host: String, port: Int) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    public init(parsing text: String) throws(ParseError) {
        let example = "expected http://HOST:PORT or fsbin://HOST:PORT, e.g. http://127.0.0.1:8080"
        guard let sep = text.range(of: "://") else { throw ParseError(message: "--target \(text): \(example)") }
        guard let scheme = Scheme(rawValue: text[..<sep.lowerBound].lowercased()) else {
            throw ParseError(message: "--target \(text): unknown scheme '\(text[..<sep.lowerBound])'; \(example)")
        }
        var rest = Substring(text[sep.upperBound...])
        if rest.hasSuffix("/") { rest.removeLast() }
        guard !rest.contains("/") else { throw ParseError(message: "--target \(text): give no path (the client knows the API's paths); \(example)") }
        let host: Substring, portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]"), rest[rest.index(after: close)...].hasPrefix(":") else {
                throw ParseError(message: "--target \(text): \(example)")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            portText = rest[rest.index(close, offsetBy: 2)...]
        } else {
            guard let colon = rest.lastIndex(of: ":") else { throw ParseError(message: "--target \(text): no port; \(example)") }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard !host.isEmpty else { throw ParseError(message: "--target \(text): no host; \(example)") }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw ParseError(message: "--target \(text): the port must be 1…65535, got '\(portText)'")
        }
        self.init(scheme: scheme, host: String(host), port: port)
    }

    public var description: String { "\(scheme.rawValue)://\(host.contains(":") ? "[\(host)]" : host):\(port)" }
}
