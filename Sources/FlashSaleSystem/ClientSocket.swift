import CShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP connection to a server, non-blocking once connected, for the load client: reads and writes
/// retry EINTR and say when the socket would block instead of waiting; a failure throws
/// `SystemCallError` naming the call and the address.
///
/// A value type over a descriptor the caller owns: call `close()` exactly once. Used by one thread.
public struct ClientSocket: Sendable {
    public let raw: Int32
    /// "host:port", for errors.
    public let address: String

    /// Resolves `host` (name, IPv4 or IPv6), connects (blocking, up to `timeoutMillis`), then sets
    /// TCP_NODELAY and O_NONBLOCK.
    public static func connect(host: String, port: Int, timeoutMillis: Int32 = 5_000) throws(SystemCallError) -> ClientSocket {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw SystemCallError("resolve", path: address, errno: rc == EAI_SYSTEM ? errno : EHOSTUNREACH)
        }
        defer { freeaddrinfo(list) }
        var lastErrno: Int32 = ECONNREFUSED
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let a = entry {
            entry = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.ai_protocol)
            if fd < 0 { lastErrno = errno; continue }
            // Non-blocking connect, then wait for it with poll (a time-out instead of the kernel's minutes).
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var r = Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen)
            if r != 0 && errno == EINPROGRESS {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&p, 1, timeoutMillis)
                if ready == 1 {
                    var err: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                    r = err == 0 ? 0 : -1
                    if err != 0 { errno = err }
                } else {
                    r = -1
                    errno = ready == 0 ? ETIMEDOUT : errno
                }
            }
            if r == 0 {
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return ClientSocket(raw: fd, address: address)
            }
            lastErrno = errno
            Glibc.close(fd)
        }
        throw SystemCallError("connect", path: address, errno: lastErrno)
    }

    init(raw: Int32, address: String) {
        self.raw = raw
        self.address = address
    }

    /// What a non-blocking transfer did.
    public enum Transfer: Equatable, Sendable {
        case bytes(Int)
        /// Nothing now: the socket would block.
        case wouldBlock
        /// The peer closed the connection (read of 0 bytes).
        case closed
    }

    /// Writes what the socket takes now.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SystemCallError) -> Transfer {
        guard let p = bytes.baseAddress, bytes.count > 0 else { return .bytes(0) }
        while true {
            let n = send(raw, p, bytes.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .bytes(n) }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
            throw SystemCallError("send", path: address, errno: errno)
        }
    }

    /// Reads what has arrived, up to `buffer.count` bytes.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Transfer {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return .bytes(0) }
        while true {
            let n = recv(raw, p, buffer.count, 0)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .closed }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
            throw SystemCallError("recv", path: address, errno: errno)
        }
    }

    public func close() { _ = Glibc.close(raw) }

    /// Waits until one of `sockets` can be read (or written, where `wantsWrite` says so) or `timeoutNanos`
    /// passed (ppoll: nanosecond time-outs, which an open-model sender pacing at 50k/s needs). Returns,
    /// per socket, whether it is readable (or closed/failed) and whether it is writable.
    public static func wait(_ fds: inout [pollfd], timeoutNanos: UInt64) {
        let n = fds.count
        _ = fds.withUnsafeMutableBufferPointer { flashsale_poll_nanos($0.baseAddress, UInt(n), Int64(min(timeoutNanos, UInt64(Int64.max)))) }
    }
}
