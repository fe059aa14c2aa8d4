#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A system call that failed: which one (`operation`, e.g. "open", "write", "fsync"), on which file, at
/// which offset, and the system's errno. Modules turn it into their own located error (`SegmentError.io`,
/// `PipelineError.cannotWrite`, …) so a user reads the file and the reason.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let offset: Int64
    public let errno: Int32

    public init(_ operation: String, path: String, offset: Int64 = 0, errno: Int32) {
        self.operation = operation
        self.path = path
        self.offset = offset
        self.errno = errno
    }

    /// The system's text for `errno` ("No space left on device").
    public var reason: String { System.reason(errno) }

    public var description: String { "\(path): \(operation) failed: \(reason)" }
}

/// Things of the system that are not a file: errno texts and clocks.
public enum System {
    /// The system's text for an errno value.
    public static func reason(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// This process's resident set size now, bytes (/proc/self/statm; 0 where there is none).
    public static func residentBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return 0 }
        // "size resident shared …", in pages
        let fields = buffer[0..<n].split(separator: 0x20)
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Monotonic nanoseconds (CLOCK_MONOTONIC): cheap (vDSO), never jumps.
    @inline(__always)
    public static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Wall-clock nanoseconds since the Unix epoch (CLOCK_REALTIME).
    public static func wallNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
