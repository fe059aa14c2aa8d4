#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a `SegmentWriter` writes one segment file. The seam for fault injection in tests.
///
/// A sink is used by one writer from one thread at a time.
public protocol SegmentSink: AnyObject {
    /// The file path (used in errors).
    var path: String { get }
    /// Current write position (= file length as far as this sink knows).
    var position: Int64 { get }
    /// Writes all bytes at `position` and advances it, or throws (e.g. `SegmentError.io` with ENOSPC).
    /// After a throw, an unknown prefix of the bytes may have reached the file.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Makes everything written durable (fsync/fdatasync).
    func fsync() throws
    /// Cuts the file to `length` and moves `position` there.
    func truncate(to length: Int64) throws
    /// Closes the file. The sink is not used afterwards.
    func close() throws
    /// Hint: start writing back the last `length` bytes written, without waiting (Linux
    /// `sync_file_range(SYNC_FILE_RANGE_WRITE)`), so that the next fsync waits less. Default: nothing.
    func startWriteback(length: Int)
}

extension SegmentSink {
    public func startWriteback(length: Int) {}
}

/// Opens sinks for segment files and makes directory entries durable.
public struct SegmentSinkFactory: Sendable {
    /// Opens `path` for writing, creating it (empty) when it does not exist; `position` = file length.
    public var open: @Sendable (_ path: String) throws -> any SegmentSink
    /// fsyncs a directory so that created/removed entries are durable.
    public var syncDirectory: @Sendable (_ path: String) throws -> Void

    public init(open: @escaping @Sendable (String) throws -> any SegmentSink,
                syncDirectory: @escaping @Sendable (String) throws -> Void) {
        self.open = open
        self.syncDirectory = syncDirectory
    }

    /// open/pwrite/fdatasync/ftruncate/close from the C library.
    public static let posix = SegmentSinkFactory(
        open: { path in try PosixSegmentSink(path: path) },
        syncDirectory: { dir in
            let fd = Glibc.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if fd < 0 { throw SegmentError.io(file: dir, offset: 0, operation: "open directory", errno: errno) }
            defer { _ = Glibc.close(fd) }
            if Glibc.fsync(fd) != 0 { throw SegmentError.io(file: dir, offset: 0, operation: "fsync directory", errno: errno) }
        })
}

/// The POSIX sink. Not thread-safe: owned by one writer.
public final class PosixSegmentSink: SegmentSink {
    public let path: String
    public private(set) var position: Int64
    private var fd: Int32

    public init(path: String) throws {
        self.path = path
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw SegmentError.io(file: path, offset: 0, operation: "open", errno: errno) }
        let end = lseek(fd, 0, SEEK_END)
        if end < 0 {
            let e = errno
            _ = Glibc.close(fd)
            throw SegmentError.io(file: path, offset: 0, operation: "lseek", errno: e)
        }
        position = Int64(end)
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        let fd = fd
        try writeFully(bytes, path: path, position: &position) { p, n, at in pwrite(fd, p, n, off_t(at)) }
    }

    public func startWriteback(length: Int) {
        guard let f = syncFileRange, length > 0 else { return }
        _ = f(fd, position - Int64(length), Int64(length), 2 /* SYNC_FILE_RANGE_WRITE */)
    }

    public func fsync() throws {
        if fdatasync(fd) != 0 { throw SegmentError.io(file: path, offset: position, operation: "fsync", errno: errno) }
    }

    public func truncate(to length: Int64) throws {
        if ftruncate(fd, off_t(length)) != 0 {
            throw SegmentError.io(file: path, offset: length, operation: "ftruncate", errno: errno)
        }
        position = length
    }

    public func close() throws {
        guard fd >= 0 else { return }
        let r = Glibc.close(fd)
        fd = -1
        if r != 0 { throw SegmentError.io(file: path, offset: position, operation: "close", errno: errno) }
    }
}

/// Writes every byte of `bytes` with `call(pointer, count, position)` (pwrite or write), retrying after
/// EINTR and short writes, and advances `position`; throws `SegmentError.io` naming `path` and the offset.
public func writeFully(_ bytes: UnsafeRawBufferPointer, path: String, position: inout Int64,
                _ call: (UnsafeRawPointer, Int, Int64) -> Int) throws {
    guard var p = bytes.baseAddress else { return }
    var left = bytes.count
    while left > 0 {
        let n = call(p, left, position)
        if n < 0 {
            if errno == EINTR { continue }
            throw SegmentError.io(file: path, offset: position, operation: "write", errno: errno)
        }
        if n == 0 { throw SegmentError.io(file: path, offset: position, operation: "write", errno: EIO) }
        p += n
        left -= n
        position += Int64(n)
    }
}

/// Linux `sync_file_range` (not exported by the Glibc module without _GNU_SOURCE): looked up once.
private let syncFileRange: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32)? = {
    #if os(Linux)
    guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range") else { return nil }
    return unsafeBitCast(sym, to: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32).self)
    #else
    return nil
    #endif
}()
