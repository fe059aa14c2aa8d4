import ArgumentParser
import LoadClient

/// `--target` and its options, shared by `run`, `replay` and `gate`: load a running server instead of the
/// in-process pipeline.
struct TargetArguments: ParsableArguments {
    @Option(help: ArgumentHelp("Send the requests to a running server instead of the in-process pipeline: http://HOST:PORT (the HTTP API, docs/http-api.md) or fsbin://HOST:PORT (the binary protocol, docs/wire-protocol.md). The server must run the same profile; start it with --clock request for runs that can be compared with in-process ones.", valueName: "url"))
    var target: String?

    @Option(help: ArgumentHelp("With --target: TCP connections to open (default 16 for http, 2 for fsbin). A keep-alive connection carries about one request per round trip: at 0.3 ms, 16 connections carry ~50k/s.", valueName: "n"))
    var connections: Int?

    @Option(help: ArgumentHelp("With --target: requests one connection may have unanswered (1 = keep-alive, one at a time; default 1 for http, 256 for fsbin). Requests due while every connection is full wait, and that wait counts in their latency.", valueName: "depth"))
    var pipeline: Int?

    @Option(name: .customLong("request-timeout"), help: ArgumentHelp("With --target: seconds an answer may take; later, the connection is closed and reopened and its requests count as time-outs (default 10).", valueName: "seconds"))
    var requestTimeout: Double = 10

    @Option(help: ArgumentHelp("With --target: a bearer token for a server started with --tokens (HTTP Authorization header, binary hello).", valueName: "token"))
    var token: String?

    func validate() throws {
        guard let target else {
            if pipeline != nil || token != nil || connections != nil { throw ValidationError("--connections, --pipeline and --token need --target URL") }
            return
        }
        do { _ = try TargetURL(parsing: target) } catch { throw ValidationError(error.message) }
        if let c = connections, !(1...1024).contains(c) { throw ValidationError("--connections must be 1…1024 (got \(c))") }
        if let p = pipeline, !(1...65536).contains(p) { throw ValidationError("--pipeline must be 1…65536 (got \(p))") }
        guard requestTimeout > 0, requestTimeout.isFinite else { throw ValidationError("--request-timeout must be a positive number of seconds") }
    }

    /// The client's options, or nil without --target.
    var options: TargetOptions? {
        guard let target, let url = try? TargetURL(parsing: target) else { return nil }
        let http = url.scheme == .http
        var o = TargetOptions(url: url, connections: connections ?? (http ? 16 : 2), pipeline: pipeline ?? (http ? 1 : 256))
        o.timeoutNanos = UInt64(requestTimeout * 1e9)
        o.token = token
        return o
    }
}
