import CShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file, as the project's one way to call the system on files: every call retries EINTR and short
/// transfers, and a failure throws `SystemCallError` naming the operation, the path and the offset.
///
/// A value type over a descriptor the caller owns: call `close()` exactly once. Not synchronised; a
/// descriptor is used by one thread at a time (or only with positioned calls).
public struct FileDescriptor: Sendable {
    public let raw: Int32
    public let path: String

    public init(raw: Int32, path: String) {
        self.raw = raw
        self.path = path
    }

    /// open(2) with O_CLOEXEC added. `operation` names the call in an error ("open directory").
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644, operation: String = "open") throws(SystemCallError) -> FileDescriptor {
        try opening(path, operation: operation) { System.openFile(path, flags | O_CLOEXEC, mode) }
    }

    /// Calls `open` (an open(2) wrapper) until it returns a descriptor or fails with another error than EINTR.
    private static func opening(_ path: String, operation: String, _ open: () -> Int32) throws(SystemCallError) -> FileDescriptor {
        while true {
            let fd = open()
            if fd >= 0 { return FileDescriptor(raw: fd, path: path) }
            if errno != EINTR { throw SystemCallError(operation, path: path, errno: errno) }
        }
    }

    /// open(2) with O_DIRECT (and O_CLOEXEC) added: reads and writes bypass the page cache, and their
    /// offsets, lengths and buffers must be aligned to the device's block (4096 bytes is safe). Throws
    /// EINVAL when the file system (or the platform) has no direct I/O.
    public static func openDirect(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(SystemCallError) -> FileDescriptor {
        try opening(path, operation: "open (O_DIRECT)") { flashsale_open_direct(path, flags, UInt32(mode)) }
    }

    /// Writes every byte of `bytes` at `offset` (pwrite), or at the file position when `offset` is nil
    /// (write: pipes, devices, append). Returns the bytes written (= `bytes.count`).
    @discardableResult
    public func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: Int64? = nil) throws(SystemCallError) -> Int {
        guard var p = bytes.baseAddress else { return 0 }
        var left = bytes.count
        var position = offset ?? 0
        while left > 0 {
            let n = offset == nil ? cWrite(raw, p, left) : pwrite(raw, p, left, off_t(position))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCallError("write", path: path, offset: position, errno: errno)
            }
            if n == 0 { throw SystemCallError("write", path: path, offset: position, errno: EIO) }
            p += n
            left -= n
            position += Int64(n)
        }
        return bytes.count
    }

    /// Writes every byte of `bytes` (see `writeAll(_:at:)`).
    @discardableResult
    public func writeAll(_ bytes: [UInt8], at offset: Int64? = nil) throws(SystemCallError) -> Int {
        var result: Result<Int, SystemCallError> = .success(0)
        bytes.withUnsafeBytes { b in result = Result { () throws(SystemCallError) in try writeAll(b, at: offset) } }
        return try result.get()
    }

    /// Reads into `buffer` from `offset` (pread), or from the file position when nil, until it is full or
    /// the file ends; returns the bytes read (fewer than `buffer.count` only at the end of the file).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64? = nil) throws(SystemCallError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let at = (offset ?? 0) + Int64(done)
            let n = offset == nil ? cRead(raw, base + done, buffer.count - done) : pread(raw, base + done, buffer.count - done, off_t(at))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCallError("read", path: path, offset: at, errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// The file's status (fstat).
    public func status() throws(SystemCallError) -> stat {
        var st = stat()
        if fstat(raw, &st) != 0 { throw SystemCallError("fstat", path: path, errno: errno) }
        return st
    }

    /// The file's length (fstat).
    public func size() throws(SystemCallError) -> Int64 { Int64(try status().st_size) }

    /// Moves to the end of the file; returns its length.
    public func seekToEnd() throws(SystemCallError) -> Int64 {
        let end = lseek(raw, 0, SEEK_END)
        if end < 0 { throw SystemCallError("lseek", path: path, errno: errno) }
        return Int64(end)
    }

    /// Makes the file's data durable (fdatasync); `offset` is only for the error.
    public func synchronizeData(offset: Int64 = 0) throws(SystemCallError) {
        while fdatasync(raw) != 0 {
            if errno != EINTR { throw SystemCallError("fsync", path: path, offset: offset, errno: errno) }
        }
    }

    /// Makes the file durable, metadata included (fsync): for directories. `operation` names it in an error.
    public func synchronize(operation: String = "fsync") throws(SystemCallError) {
        while cFsync(raw) != 0 {
            if errno != EINTR { throw SystemCallError(operation, path: path, errno: errno) }
        }
    }

    /// Cuts (or extends) the file to `length`.
    public func truncate(to length: Int64) throws(SystemCallError) {
        while ftruncate(raw, off_t(length)) != 0 {
            if errno != EINTR { throw SystemCallError("ftruncate", path: path, offset: length, errno: errno) }
        }
    }

    /// Hint: start writing back `length` bytes from `offset` without waiting (Linux sync_file_range), so a
    /// later fsync waits less. Best effort: errors are ignored.
    public func startWriteback(offset: Int64, length: Int) {
        guard length > 0 else { return }
        _ = flashsale_start_writeback(raw, offset, Int64(length))
    }

    /// Takes an exclusive advisory lock without waiting (flock); false when another holder has it.
    public func tryLockExclusive() throws(SystemCallError) -> Bool {
        while flock(raw, LOCK_EX | LOCK_NB) != 0 {
            if errno == EWOULDBLOCK { return false }
            if errno != EINTR { throw SystemCallError("flock", path: path, errno: errno) }
        }
        return true
    }

    /// Closes the descriptor (never retried: after EINTR the descriptor is gone on Linux).
    public func close(offset: Int64 = 0) throws(SystemCallError) {
        if cClose(raw) != 0 { throw SystemCallError("close", path: path, offset: offset, errno: errno) }
    }

    /// Closes the descriptor, ignoring a failure (clean-up paths that already have an error to report).
    public func closeQuietly() { _ = cClose(raw) }
}

/// Files and directories by path.
public enum FileSystem {
    /// fsyncs a directory, so that entries created or removed in it are durable.
    public static func synchronizeDirectory(_ path: String) throws(SystemCallError) {
        let d = try FileDescriptor.open(path, O_RDONLY | O_DIRECTORY, operation: "open directory")
        defer { d.closeQuietly() }
        try d.synchronize(operation: "fsync directory")
    }

    /// Creates `path` and its missing parents (mkdir -p); an existing directory is fine.
    public static func makeDirectories(_ path: String) throws(SystemCallError) {
        var prefix = ""
        for part in path.split(separator: "/", omittingEmptySubsequences: false) {
            prefix += (prefix.isEmpty && path.hasPrefix("/") && part.isEmpty) ? "/" : (prefix.isEmpty || prefix == "/" ? String(part) : "/" + part)
            if part.isEmpty { continue }
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw SystemCallError("mkdir", path: prefix, errno: errno) }
        }
    }

    /// Removes a file (unlink).
    public static func remove(_ path: String) throws(SystemCallError) {
        if unlink(path) != 0 { throw SystemCallError("unlink", path: path, errno: errno) }
    }

    /// Renames `from` to `to`, replacing it (rename(2): atomic on one file system).
    public static func rename(_ from: String, to: String) throws(SystemCallError) {
        if cRename(from, to) != 0 { throw SystemCallError("rename from \(from)", path: to, errno: errno) }
    }

    /// Replaces `path` with `bytes` atomically: written to `path.tmp`, then renamed over it. On a failure
    /// `path` is as it was and the temporary file is removed.
    public static func replaceFile(_ path: String, with bytes: [UInt8]) throws(SystemCallError) {
        let temporary = path + ".tmp"
        do throws(SystemCallError) {
            let fd = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
            do { try fd.writeAll(bytes) } catch {
                fd.closeQuietly()
                throw error
            }
            try fd.close()
            try rename(temporary, to: path)
        } catch {
            unlink(temporary)
            throw error
        }
    }
}

extension System {
    /// open(2) (variadic in C; one entry point here).
    static func openFile(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
}

// The C library's calls under names that the methods above (read, close, rename, …) do not shadow.
@inline(__always) private func cWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
@inline(__always) private func cRead(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int { read(fd, p, n) }
@inline(__always) private func cFsync(_ fd: Int32) -> Int32 { fsync(fd) }
@inline(__always) private func cClose(_ fd: Int32) -> Int32 { close(fd) }
@inline(__always) private func cRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }
