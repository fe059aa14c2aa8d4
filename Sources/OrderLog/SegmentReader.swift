#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-segment figures of a verification.
public struct SegmentSummary: Sendable, Equatable {
    public var file: String
    public var baseSequence: UInt64
    /// Last sequence of the valid blocks (baseSequence - 1 when none).
    public var lastSequence: UInt64
    public var blocks: Int
    public var records: UInt64
    public var fileBytes: Int64
    public var rawBytes: UInt64
    public var storedBytes: UInt64
    /// The end-of-segment marker was found and checked.
    public var sealed: Bool
    /// A problem (reported in `VerifyReport.problems`) stopped the scan: the figures cover the valid
    /// blocks before it, and `sealed` is false because the end marker was not reached.
    public var damaged: Bool
}

/// The result of `SegmentReader.verify()`.
public struct VerifyReport: Sendable, Equatable {
    public var segments: [SegmentSummary] = []
    /// Every problem found, each with file and offset. Empty when every byte checked.
    public var problems: [SegmentError] = []
    public var ok: Bool { problems.isEmpty }
    public var records: UInt64 { segments.reduce(0) { $0 + $1.records } }
}

/// Figures of a whole segment directory, computed by reading every record.
public struct SegmentDirectoryStats: Sendable, Equatable {
    public var records: UInt64 = 0
    public var segments: Int = 0
    public var blocks: UInt64 = 0
    public var bytesOnDisk: Int64 = 0
    /// Encoded (uncompressed) record bytes.
    public var rawBytes: UInt64 = 0
    /// Stored payload bytes (compressed blocks).
    public var storedBytes: UInt64 = 0
    public var firstSequence: UInt64 = 0
    public var lastSequence: UInt64 = 0
    /// Count of records per outcome code (index = code, 256 entries).
    public var outcomeCounts: [UInt64] = Array(repeating: 0, count: 256)
    /// rawBytes / bytesOnDisk.
    public var compressionRatio: Double { bytesOnDisk > 0 ? Double(rawBytes) / Double(bytesOnDisk) : 0 }
}

/// Reads and verifies the segments of a directory. Each call reads the files anew; a reader holds
/// no open files. Not meant to read a directory a writer is appending to (its tail is then torn).
public struct SegmentReader: Sendable {
    public let directory: String

    /// Throws `SegmentError.io` when the directory cannot be listed.
    public init(directory: String) throws {
        self.directory = directory
        _ = try SegmentScanner.list(directory: directory)
    }

    /// Segment file paths in base-sequence order.
    public func segmentFiles() throws -> [String] {
        try SegmentScanner.list(directory: directory).segments.map { $0.1 }
    }

    /// Calls `body` for every record in sequence order across all segments. Throws `SegmentError`
    /// (file and byte offset) on any corruption, including a torn tail (run a `SegmentWriter` on
    /// the directory first to recover after a crash). No allocation per record.
    public func forEachRecord(_ body: (borrowing OrderRecord) throws -> Void) throws {
        _ = try walk(stopAtProblem: true, body)
    }

    /// Reads every record into an array (tests, small tools).
    public func readAll() throws -> [OrderRecord] {
        var out: [OrderRecord] = []
        try forEachRecord { out.append(copy $0) }
        return out
    }

    /// Verifies every byte of every segment. Never throws; problems are listed with file and offset.
    public func verify() -> VerifyReport {
        (try? walk(stopAtProblem: false) { _ in }) ?? VerifyReport()
    }

    /// Reads every record and sums figures.
    public func stats() throws -> SegmentDirectoryStats {
        var st = SegmentDirectoryStats()
        var counts = [UInt64](repeating: 0, count: 256)
        var first: UInt64 = 0
        try counts.withUnsafeMutableBufferPointer { c in
            let report = try walk(stopAtProblem: true) { r in
                c[Int(r.outcome)] &+= 1
                if first == 0 { first = r.sequence }
            }
            st.segments = report.segments.count
            for s in report.segments {
                st.records += s.records
                st.blocks += UInt64(s.blocks)
                st.bytesOnDisk += s.fileBytes
                st.rawBytes += s.rawBytes
                st.storedBytes += s.storedBytes
                if s.records > 0 { st.lastSequence = s.lastSequence }
            }
        }
        st.firstSequence = first
        st.outcomeCounts = counts
        return st
    }

    private func walk(stopAtProblem: Bool, _ body: (borrowing OrderRecord) throws -> Void) throws -> VerifyReport {
        var report = VerifyReport()
        let listing: (segments: [(UInt64, String)], badNames: [String])
        do { listing = try SegmentScanner.list(directory: directory) } catch {
            if stopAtProblem { throw error }
            report.problems.append(error)
            return report
        }
        func problem(_ e: SegmentError) throws {
            if stopAtProblem { throw e }
            report.problems.append(e)
        }
        for bad in listing.badNames {
            try problem(.badSegmentSequence(file: bad, offset: 0, expected: "a segment name of 20 digits + .seg"))
        }
        let buffers = SegmentScanBuffers()
        var expected: UInt64? = nil
        for (index, (base, path)) in listing.segments.enumerated() {
            let isLast = index == listing.segments.count - 1
            if let e = expected, base != e {
                try problem(.badSegmentSequence(file: path, offset: 16,
                                                expected: "base sequence \(e) (previous segment's last + 1), found \(base)"))
            }
            let scan = try SegmentScanner.scan(path: path, expectedBase: base, buffers: buffers, visit: body)
            report.segments.append(SegmentSummary(
                file: path, baseSequence: scan.headerValid ? scan.baseSequence : base,
                lastSequence: scan.headerValid ? scan.lastSequence : base &- 1,
                blocks: scan.blocks, records: scan.records, fileBytes: scan.fileBytes, rawBytes: scan.rawBytes,
                storedBytes: scan.storedBytes, sealed: scan.sealed, damaged: scan.problem != nil))
            if let p = scan.problem {
                try problem(p)
            } else if !scan.sealed && !isLast {
                try problem(.truncated(file: path, offset: scan.fileBytes,
                                       expected: "an end-of-segment marker: only the last segment may be unsealed"))
            }
            expected = scan.headerValid && scan.problem == nil ? scan.lastSequence &+ 1 : nil
        }
        return report
    }
}
