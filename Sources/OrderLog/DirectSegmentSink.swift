import Synchronization
import FlashSaleSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A segment sink that writes past the page cache (Linux `O_DIRECT`): bytes go from an aligned
/// buffer of its own to the device, so a write costs no copy into the page cache (nor the page
/// faults a VM charges for page-cache pages it has not backed lately) and the group commit's
/// `fdatasync` finds no dirty pages to write back, only the device's cache to flush.
///
/// Direct I/O moves whole 4 KiB pages at aligned offsets. The sink keeps the file's last partial
/// page in its buffer and writes it again, with what follows, on the next write; until then the
/// file ends in zeros up to the page boundary. `close()` cuts that padding off (and syncs), so a
/// closed segment is exactly as long as the buffered sink's; after a crash, recovery recognises a
/// tail of less than a page of zeros ending on a page boundary as this padding (`DirectSegmentSink.isPadding`).
///
/// The guarantees of `SegmentSink` hold: `write` returns when the bytes are in the file (on the
/// device, not yet flushed from its cache), `fsync` makes them durable. Not thread-safe beyond that
/// protocol's rule: the owner writes, a background fsync may run meanwhile.
public final class DirectSegmentSink: SegmentSink {
    /// The alignment of offsets, lengths and the buffer: a page, a multiple of every common logical block size.
    public static let pageBytes = 4096

    public let path: String
    /// Logical length: the bytes written, without the padding of the last page (atomic for a background fsync's error).
    public var position: Int64 { positionValue.load(ordering: .relaxed) }
    private let positionValue = Atomic<Int64>(0)
    private var file: FileDescriptor?
    /// Page-aligned; `buffer[0]` is the file's byte `bufferOffset` (page-aligned).
    private let buffer: UnsafeMutableRawPointer
    private let capacity: Int
    /// Bytes of `buffer` that hold data: the last partial page of the file, then what is being written.
    private var filled = 0
    private var bufferOffset: Int64 = 0
    /// The file's length on disk (the logical length rounded up to a page while the last page is partial).
    private var diskLength: Int64 = 0

    /// Opens (creating) `path` for direct I/O; throws `SegmentError.io` with EINVAL when its file
    /// system has no direct I/O (`SegmentSinkFactory.direct` then falls back to the buffered sink).
    /// `bufferBytes` is the largest single write (rounded up to pages; one page more holds the tail).
    public init(path: String, bufferBytes: Int = 1 << 20) throws {
        self.path = path
        let page = Self.pageBytes
        capacity = (max(bufferBytes, 16 * page) + 2 * page - 1) / page * page
        buffer = .allocate(byteCount: capacity, alignment: page)
        do {
            let fd = try FileDescriptor.openDirect(path, O_RDWR | O_CREAT)
            do {
                let length = try fd.seekToEnd()
                file = fd
                try loadTail(length: length)
            } catch {
                file = nil
                fd.closeQuietly()
                throw error
            }
        } catch {
            buffer.deallocate()
            throw SegmentError(error)
        }
    }

    deinit {
        file?.closeQuietly()
        buffer.deallocate()
    }

    /// True when the `count` bytes at `p`, the end of a file of `fileLength` bytes, can be padding this
    /// sink left: fewer than a page, all zero, and the file ends on a page boundary.
    public static func isPadding(_ p: UnsafeRawPointer, count: Int, fileLength: Int64) -> Bool {
        guard count > 0, count < pageBytes, fileLength % Int64(pageBytes) == 0 else { return false }
        for i in 0..<count where p.load(fromByteOffset: i, as: UInt8.self) != 0 { return false }
        return true
    }

    /// Makes the buffer start at the file's last page boundary at or below `length`, holding the file's
    /// bytes from there to `length` (read back: a direct write must rewrite that whole page).
    private func loadTail(length: Int64) throws {
        let page = Int64(Self.pageBytes)
        bufferOffset = length / page * page
        filled = Int(length - bufferOffset)
        if filled > 0, let file {
            // Direct reads are whole pages too; the read stops at the end of the file.
            let n = try file.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: Self.pageBytes), at: bufferOffset)
            if n < filled { throw SystemCallError("read", path: path, offset: bufferOffset + Int64(n), errno: EIO) }
        }
        diskLength = try file?.size() ?? length
        positionValue.store(length, ordering: .relaxed)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let file else { throw SegmentError.io(file: path, offset: position, operation: "write", errno: EBADF) }
        guard var source = bytes.baseAddress else { return }
        var left = bytes.count
        do {
            while left > 0 {
                let n = min(left, capacity - filled)
                (buffer + filled).copyMemory(from: source, byteCount: n)
                filled += n
                source += n
                left -= n
                try writeBuffer(file)
                positionValue.store(bufferOffset + Int64(filled), ordering: .relaxed)
            }
        } catch {
            // An unknown prefix may have reached the file; the writer cuts back to its last good offset.
            throw SegmentError(error)
        }
    }

    /// Writes `buffer[0..<filled]` rounded up to whole pages (zeros after the data), then keeps the last
    /// partial page, if any, at the start of the buffer for the next write.
    private func writeBuffer(_ file: FileDescriptor) throws(SystemCallError) {
        let page = Self.pageBytes
        let padded = (filled + page - 1) / page * page
        if padded > filled { (buffer + filled).initializeMemory(as: UInt8.self, repeating: 0, count: padded - filled) }
        try file.writeAll(UnsafeRawBufferPointer(start: buffer, count: padded), at: bufferOffset)
        diskLength = max(diskLength, bufferOffset + Int64(padded))
        let whole = filled / page * page
        let tail = filled - whole
        if tail > 0 && whole > 0 { buffer.copyMemory(from: buffer + whole, byteCount: tail) }
        bufferOffset += Int64(whole)
        filled = tail
    }

    public func fsync() throws {
        guard let file else { throw SegmentError.io(file: path, offset: position, operation: "fsync", errno: EBADF) }
        do { try file.synchronizeData(offset: position) } catch { throw SegmentError(error) }
    }

    public func truncate(to length: Int64) throws {
        guard let file else { throw SegmentError.io(file: path, offset: length, operation: "ftruncate", errno: EBADF) }
        do {
            try file.truncate(to: length)
            try loadTail(length: length)
        } catch { throw SegmentError(error) }
    }

    /// Cuts the last page's padding off and makes that durable before closing: a sealed segment must end
    /// with its end marker.
    public func close() throws {
        guard let f = file else { return }
        file = nil
        let length = position
        do {
            if diskLength != length {
                try f.truncate(to: length)
                try f.synchronizeData(offset: length)
            }
        } catch {
            f.closeQuietly()
            throw SegmentError(error)
        }
        do { try f.close(offset: length) } catch { throw SegmentError(error) }
    }
}

extension SegmentSinkFactory {
    /// Segment files written with direct I/O (`DirectSegmentSink`) where the file system allows it, else
    /// with the buffered POSIX sink (e.g. a tmpfs that refuses O_DIRECT). For batch and sync durability:
    /// every byte is fsynced soon anyway, so the page cache only costs a copy.
    public static let direct = SegmentSinkFactory(
        open: { path in
            do {
                return try DirectSegmentSink(path: path)
            } catch let SegmentError.io(_, _, operation, errno) where errno == EINVAL && operation.hasPrefix("open") {
                return try PosixSegmentSink(path: path)
            }
        },
        syncDirectory: SegmentSinkFactory.posix.syncDirectory)
}
