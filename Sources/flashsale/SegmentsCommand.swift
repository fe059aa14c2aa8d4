import ArgumentParser
import FlashSaleCore
import FlashSaleSystem
import OrderLog
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `flashsale segments verify|dump|stats DIR`: inspect a journal (segment directory).
struct SegmentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segments",
        abstract: "Verify, dump and summarise journal segment directories.",
        discussion: """
            A journal directory holds LZ4-compressed, CRC-32C-checked segment files named by their \
            first sequence (00000000000000000001.seg ...); see docs/segment-format.md.
            verify exits 0 when every block checks, 1 when a problem is found (one `file:offset: problem` \
            line per problem on stderr), 2 when DIR does not exist or holds no segment.
            dump and stats read every record; they stop with exit 1 at the first problem.
            Run a writer on a directory (or `flashsale run`) to recover a torn tail after a crash.
            """,
        subcommands: [Verify.self, Dump.self, Stats.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check every byte of every segment.")
        @Argument(help: "Segment directory.") var dir: String

        func run() throws {
            let reader = try openDirectory(dir)
            let report = reader.verify()
            var out = OutputBuffer(fd: 1)
            var err = OutputBuffer(fd: 2)
            for s in report.segments {
                out.append(s.file); out.append(": ")
                out.append(s.records); out.append(" records in ")
                out.append(UInt64(s.blocks)); out.append(s.blocks == 1 ? " block, " : " blocks, ")
                if s.records > 0 {
                    out.append("sequences "); out.append(s.baseSequence); out.append("...")
                    out.append(s.lastSequence); out.append(", ")
                }
                out.append(UInt64(s.fileBytes))
                // A damaged segment's end marker is not reached: "unsealed" would blame the wrong thing.
                out.append(s.damaged ? " bytes, damaged (problem on stderr)\n" : s.sealed ? " bytes, sealed\n" : " bytes, unsealed\n")
            }
            for p in report.problems {
                err.append(p.description); err.append("\n")
            }
            out.append(report.ok ? "ok: " : "FAILED: ")
            out.append(report.records); out.append(" records in ")
            out.append(UInt64(report.segments.count)); out.append(report.segments.count == 1 ? " segment, " : " segments, ")
            out.append(UInt64(report.problems.count)); out.append(report.problems.count == 1 ? " problem\n" : " problems\n")
            out.flush()
            err.flush()
            if !report.ok { throw ExitCode(1) }
        }
    }

    enum DumpFormat: String, ExpressibleByArgument, CaseIterable { case ndjson, csv }

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print records, one per line.")
        @Argument(help: "Segment directory.") var dir: String
        @Option(help: "Output format: ndjson or csv.") var format: DumpFormat = .ndjson
        @Option(help: "Print at most N records.") var limit: Int?

        func validate() throws {
            if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more (got \(limit))") }
        }

        func run() throws {
            let reader = try openDirectory(dir)
            var out = OutputBuffer(fd: 1)
            if format == .csv {
                out.append("sequence,campaign_time_ms,request_id,organisation,offer,kind,kind_name,outcome,outcome_name,"
                    + "original_outcome,original_outcome_name,lane,quantity,price_fen,reference,hold_expiry_ms,pieces\n")
            }
            var printed = 0
            let limit = self.limit ?? Int.max
            let csv = format == .csv
            struct Enough: Error {}
            do {
                try reader.forEachRecord { r in
                    if printed >= limit { throw Enough() }
                    if csv { out.appendCSV(r) } else { out.appendJSON(r) }
                    printed += 1
                }
            } catch is Enough {
            } catch let e as SegmentError {
                out.flush()
                var err = OutputBuffer(fd: 2)
                err.append(e.description); err.append("\n")
                err.flush()
                throw ExitCode(1)
            }
            out.flush()
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Records, segments, bytes, compression, outcome counts.")
        @Argument(help: "Segment directory.") var dir: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let reader = try openDirectory(dir)
            let st: SegmentDirectoryStats
            do { st = try reader.stats() } catch let e as SegmentError {
                var err = OutputBuffer(fd: 2)
                err.append(e.description); err.append("\n")
                err.flush()
                throw ExitCode(1)
            }
            var out = OutputBuffer(fd: 1)
            let ratio = (st.compressionRatio * 1000).rounded() / 1000
            if json {
                out.append("{\"records\":"); out.append(st.records)
                out.append(",\"segments\":"); out.append(UInt64(st.segments))
                out.append(",\"blocks\":"); out.append(st.blocks)
                out.append(",\"bytes\":"); out.append(UInt64(st.bytesOnDisk))
                out.append(",\"raw_bytes\":"); out.append(st.rawBytes)
                out.append(",\"compression_ratio\":"); out.append("\(ratio)")
                out.append(",\"first_sequence\":"); out.append(st.firstSequence)
                out.append(",\"last_sequence\":"); out.append(st.lastSequence)
                out.append(",\"outcomes\":{")
                var first = true
                for (code, n) in st.outcomeCounts.enumerated() where n > 0 {
                    if !first { out.append(",") }
                    first = false
                    out.append("\""); out.append(outcomeName(UInt8(code))); out.append("\":"); out.append(n)
                }
                out.append("}}\n")
            } else {
                out.append("records:           "); out.append(st.records); out.append("\n")
                out.append("segments:          "); out.append(UInt64(st.segments)); out.append("\n")
                out.append("blocks:            "); out.append(st.blocks); out.append("\n")
                out.append("bytes on disk:     "); out.append(UInt64(st.bytesOnDisk)); out.append("\n")
                out.append("raw bytes:         "); out.append(st.rawBytes); out.append("\n")
                out.append("compression ratio: "); out.append("\(ratio)"); out.append("\n")
                out.append("sequences:         "); out.append(st.firstSequence); out.append("...")
                out.append(st.lastSequence); out.append("\n")
                out.append("outcomes:\n")
                for (code, n) in st.outcomeCounts.enumerated() where n > 0 {
                    out.append("  "); out.append(outcomeName(UInt8(code))); out.append(": "); out.append(n); out.append("\n")
                }
            }
            out.flush()
        }
    }
}

/// Exit 2 when the directory does not exist or holds no segment.
private func openDirectory(_ dir: String) throws -> SegmentReader {
    var err = OutputBuffer(fd: 2)
    var st = stat()
    let exists = stat(dir, &st) == 0
    let isDirectory = exists && (st.st_mode & S_IFMT) == S_IFDIR
    guard isDirectory, let reader = try? SegmentReader(directory: dir) else {
        err.append(dir)
        err.append(!exists ? ": no such directory\n" : isDirectory ? ": cannot be read\n" : ": is a file; give the segment directory\n")
        err.flush()
        throw ExitCode(2)
    }
    if ((try? reader.segmentFiles()) ?? []).isEmpty {
        err.append(dir); err.append(": no segment files\n"); err.flush()
        throw ExitCode(2)
    }
    return reader
}

private func outcomeName(_ code: UInt8) -> String { Outcome(rawValue: code)?.name ?? "OUTCOME_\(code)" }
private func kindName(_ code: UInt8) -> String { RequestKind(rawValue: code)?.name ?? "kind_\(code)" }

/// A byte buffer flushed to a file descriptor in large writes; formats integers without Foundation.
struct OutputBuffer {
    private var bytes: [UInt8] = []
    private let fd: Int32

    init(fd: Int32) {
        self.fd = fd
        bytes.reserveCapacity(1 << 16)
    }

    mutating func append(_ s: String) {
        bytes.append(contentsOf: s.utf8)
        if bytes.count >= 1 << 16 { flush() }
    }

    mutating func append(_ v: UInt64) {
        if v == 0 { bytes.append(48); return }
        var digits: (UInt64, Int) = (v, 0)
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &tmp) { t in
            while digits.0 > 0 {
                t[19 - digits.1] = UInt8(48 + digits.0 % 10)
                digits.0 /= 10
                digits.1 += 1
            }
            bytes.append(contentsOf: t[(20 - digits.1)...])
        }
    }

    mutating func append(_ v: Int64) {
        if v < 0 { bytes.append(45); append(v.magnitude) } else { append(UInt64(v)) }
    }

    mutating func appendJSON(_ r: OrderRecord) {
        append("{\"sequence\":"); append(r.sequence)
        append(",\"campaign_time_ms\":"); append(r.campaignTimeMillis)
        append(",\"request_id\":"); append(r.requestId)
        append(",\"organisation\":"); append(UInt64(r.organisation))
        append(",\"offer\":"); append(UInt64(r.offer))
        append(",\"kind\":"); append(UInt64(r.kind))
        append(",\"kind_name\":\""); append(kindName(r.kind))
        append("\",\"outcome\":"); append(UInt64(r.outcome))
        append(",\"outcome_name\":\""); append(outcomeName(r.outcome))
        append("\",\"original_outcome\":"); append(UInt64(r.originalOutcome))
        append(",\"original_outcome_name\":\""); append(outcomeName(r.originalOutcome))
        append("\",\"lane\":"); append(UInt64(r.lane))
        append(",\"quantity\":"); append(Int64(r.quantity))
        append(",\"price_fen\":"); append(r.priceFen)
        append(",\"reference\":"); append(r.reference)
        append(",\"hold_expiry_ms\":"); append(r.holdExpiryMillis)
        append(",\"pieces\":[")
        for i in 0..<Int(min(r.pieceCount, 4)) {
            if i > 0 { append(",") }
            let p = r.piece(i)
            append("{\"item\":"); append(UInt64(p.item)); append(",\"quantity\":"); append(UInt64(p.quantity)); append("}")
        }
        append("]}\n")
    }

    mutating func appendCSV(_ r: OrderRecord) {
        append(r.sequence); append(",")
        append(r.campaignTimeMillis); append(",")
        append(r.requestId); append(",")
        append(UInt64(r.organisation)); append(",")
        append(UInt64(r.offer)); append(",")
        append(UInt64(r.kind)); append(","); append(kindName(r.kind)); append(",")
        append(UInt64(r.outcome)); append(","); append(outcomeName(r.outcome)); append(",")
        append(UInt64(r.originalOutcome)); append(","); append(outcomeName(r.originalOutcome)); append(",")
        append(UInt64(r.lane)); append(",")
        append(Int64(r.quantity)); append(",")
        append(r.priceFen); append(",")
        append(r.reference); append(",")
        append(r.holdExpiryMillis); append(",")
        for i in 0..<Int(min(r.pieceCount, 4)) {
            if i > 0 { append(";") }
            let p = r.piece(i)
            append(UInt64(p.item)); append(":"); append(UInt64(p.quantity))
        }
        append("\n")
    }

    mutating func flush() {
        // A closed stdout (`| head`) ends the output quietly, as before.
        let out = FileDescriptor(raw: fd, path: fd == 1 ? "stdout" : "stderr")
        bytes.withUnsafeBytes { _ = try? out.writeAll($0) }
        bytes.removeAll(keepingCapacity: true)
    }
}
