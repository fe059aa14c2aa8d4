import NIOCore
import NIOHTTP1
import NIOPosix

/// The network floor for `tools/bench-serve`: the same NIO pipeline as `OrderHTTPServer` (idle handler,
/// HTTP codec, keep-alive), answering every request with a fixed 200 JSON and deciding nothing. What
/// `serve` achieves is quoted as a share of what this achieves in the same run.
public final class FloorHTTPServer: @unchecked Sendable {
    let group: MultiThreadedEventLoopGroup
    private var channel: Channel?

    public init(eventLoops: Int = System.coreCount) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, eventLoops))
    }

    public func start(host: String, port: Int) throws -> SocketAddress {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: .seconds(30)))
                    try sync.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: true)
                    try sync.addHandler(FixedAnswer())
                }
            }
        let ch = try bootstrap.bind(host: host, port: port).wait()
        channel = ch
        return ch.localAddress!
    }

    public func stop() {
        try? channel?.close().wait()
        try? group.syncShutdownGracefully()
    }

    final class FixedAnswer: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        static let body = "{\"request_id\":1,\"outcome\":\"ACCEPTED\",\"price_fen\":199000,\"sequence\":1}"
        private var keepAlive = true

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h): keepAlive = h.isKeepAlive
            case .body: break
            case .end:
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: String(Self.body.utf8.count))
                if !keepAlive { headers.add(name: "Connection", value: "close") }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                var buffer = context.channel.allocator.buffer(capacity: Self.body.utf8.count)
                buffer.writeString(Self.body)
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
                if !keepAlive {
                    let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                    done.whenComplete { _ in bound.value.close(promise: nil) }
                }
            }
        }
    }
}
