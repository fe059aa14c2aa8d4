import Synchronization
import FlashSaleSystem
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

    /// open/pwrite/fdatasync/ftruncate/close, through `FileDescriptor`.
    public static let posix = SegmentSinkFactory(
        open: { path in try PosixSegmentSink(path: path) },
        syncDirectory: { dir in
            do { try FileSystem.synchronizeDirectory(dir) } catch { throw SegmentError(error) }
        })
}

/// The POSIX sink. Not thread-safe: owned by one writer.
public final class PosixSegmentSink: SegmentSink {
    public let path: String
    /// Atomic: a background fsync reads it (for its error) while the owner writes.
    public var position: Int64 { positionValue.load(ordering: .relaxed) }
    private let positionValue = Atomic<Int64>(0)
    private var file: FileDescriptor?

    public init(path: String) throws {
        self.path = path
        do {
            let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT)
            do { positionValue.store(try fd.seekToEnd(), ordering: .relaxed) } catch { fd.closeQuietly(); throw error }
            file = fd
        } catch { throw SegmentError(error) }
    }

    deinit { file?.closeQuietly() }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let file else { throw SegmentError.io(file: path, offset: position, operation: "write", errno: EBADF) }
        do { positionValue.store(position + Int64(try file.writeAll(bytes, at: position)), ordering: .relaxed) } catch {
            // An unknown prefix may have reached the file; the writer cuts back to its last good offset.
            throw SegmentError(error)
        }
    }

    public func startWriteback(length: Int) {
        file?.startWriteback(offset: position - Int64(length), length: length)
    }

    public func fsync() throws {
        guard let file else { throw SegmentError.io(file: path, offset: position, operation: "fsync", errno: EBADF) }
        do { try file.synchronizeData(offset: position) } catch { throw SegmentError(error) }
    }

    public func truncate(to length: Int64) throws {
        guard let file else { throw SegmentError.io(file: path, offset: length, operation: "ftruncate", errno: EBADF) }
        do { try file.truncate(to: length) } catch { throw SegmentError(error) }
        positionValue.store(length, ordering: .relaxed)
    }

    public func close() throws {
        guard let f = file else { return }
        file = nil
        do { try f.close(offset: position) } catch { throw SegmentError(error) }
    }
}

extension SegmentError {
    /// A failed system call as the segment error that names its file, offset and reason.
    public init(_ e: SystemCallError) {
        self = .io(file: e.path, offset: e.offset, operation: e.operation, errno: e.errno)
    }

    /// A failure of a block of system calls (untyped `do` blocks): a `SystemCallError` as above, a
    /// `SegmentError` as it is.
    public init(_ e: any Error) {
        switch e {
        case let s as SystemCallError: self.init(s)
        case let s as SegmentError: self = s
        default: self = .io(file: "?", offset: 0, operation: "\(e)", errno: EIO)
        }
    }
}
