import ArgumentParser
import FlashSaleCore
import Foundation
import LoadGen
import OrderLog
import Reports

/// `flashsale capture import|inspect`: make captures from access logs, and look inside them.
struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Import access logs into capture files and inspect captures (docs/capture-format.md).",
        discussion: """
            A capture is the request stream of a run (`flashsale run --capture FILE`) or of an imported \
            log: one LZ4-compressed, CRC-32C-checked file that `flashsale replay` sends again.
            """,
        subcommands: [Import.self, Inspect.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn a CSV (header row naming the fields) or NDJSON access log into a capture.",
            discussion: """
                Fields: campaign_time_ms (milliseconds since the campaign epoch, or "day N HH:MM:SS.mmm"), \
                request_id, organisation, offer (index or name), and optionally quantity (1), kind (buy, \
                confirm, cancel or 0-2; buy), reference (0), send_offset_ns or send_offset_ms (default: \
                campaign time since the first line). Other fields are ignored: `segments dump` CSV \
                and NDJSON output import as is (their expire records, which the pipeline makes and clients \
                do not send, are skipped and counted). Names are case-insensitive.
                A bad line is reported as INPUT:LINE: field: problem; any bad line fails the import (exit 2, \
                no output) unless --skip-invalid, which skips and counts them (exit 0).
                """)

        @Argument(help: "The log to import (CSV or NDJSON).") var input: String
        @Option(name: .shortAndLong, help: "The capture file to write.") var output: String
        @Option(help: "csv or ndjson. Default: from the file name (.ndjson/.jsonl/.json: ndjson; otherwise csv).")
        var format: CaptureImporter.Format?
        @Flag(help: "Skip bad lines (counted and reported) instead of failing.") var skipInvalid = false
        @Option(help: "The campaign's profile: offer names are read from it and the capture is stamped with its fingerprint. Default: offer names of the built-in profile, no fingerprint.")
        var profile: String?

        func validate() throws {
            try PipelineRunOptions.checkOutputPath(output, option: "--output", inputs: [input, profile], replacedByRename: true)
        }

        func run() throws {
            let loaded = try LoadedProfile(path: profile, generatesTraffic: false).profile
            let result: CaptureImporter.Result
            do {
                result = try CaptureImporter.importFile(
                    input: input, output: output, format: format, skipInvalid: skipInvalid,
                    offerNames: loaded.campaign.offers.map(\.name),
                    campaignFingerprint: profile == nil ? nil : loaded.campaign.fingerprint,
                    label: "import:\((input as NSString).lastPathComponent)")
            } catch let p as CaptureImportProblem {
                // A problem with the whole file is the command's ("flashsale: …"); a line's is compiler-style.
                FileHandle.standardError.write((p.line == 0 ? "flashsale: " : "") + "\(p)\n")
                throw ExitCodes.badInput
            } catch {
                FileHandle.standardError.write("flashsale: \(output): \(error)\n")
                throw ExitCodes.runtimeFailure
            }
            var err = ""
            for p in result.problems.prefix(20) { err += "\(p)\n" }
            if result.invalidLines > 20 { err += "\(input): … \(result.invalidLines - 20) more bad lines\n" }
            FileHandle.standardError.write(err)
            if !result.written {
                FileHandle.standardError.write("flashsale: \(input): \(SummaryFormatter.count(result.invalidLines, "bad line"))\(result.invalidLines >= CaptureImporter.problemLimit ? " (stopped counting)" : ""); nothing written (--skip-invalid skips them)\n")
                throw ExitCodes.badInput
            }
            var skipped = "skipped \(result.invalidLines) invalid \(result.invalidLines == 1 ? "line" : "lines")"
            if result.expireRecords > 0 {
                skipped += " and \(result.expireRecords) expire \(result.expireRecords == 1 ? "record" : "records") (the pipeline's, not client requests)"
            }
            if result.requests == 0 {
                FileHandle.standardError.write("flashsale: warning: \(input): no request was imported; \(output) holds an empty capture\n")
            }
            print("imported \(SummaryFormatter.count(Int(result.requests), "request")) into \(output) (\(result.outputBytes) bytes); \(skipped)")
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a capture and print requests, time span, kinds and offers.",
            discussion: "Exit 0 when every byte checks; 1 with `file:offset: problem` when the capture is torn or damaged; 2 when it cannot be read.",
            aliases: ["stats"])

        @Argument(help: "A capture file.") var file: String
        @Option(help: "A profile to name the offers (default: the built-in profile, when the capture was made for it).")
        var profile: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let reader: CaptureReader
            let summary: CaptureSummary
            try requireRegularCapture(file)
            do {
                reader = try CaptureReader(path: file)
            } catch let e as SegmentError {
                FileHandle.standardError.write("\(e)\n")
                if case .io = e { throw ExitCodes.badInput }
                throw ExitCodes.checkFailed
            }
            do { summary = try reader.summarize() } catch {
                FileHandle.standardError.write("\(error)\n")
                FileHandle.standardError.write("flashsale: \(file): damaged after \(reader.recordsRead) good requests in \(reader.blocksRead) blocks\n")
                throw ExitCodes.checkFailed
            }
            var names: [String] = []
            if let profile {
                let campaign = try LoadedProfile(path: profile, generatesTraffic: false).profile.campaign
                names = campaign.offers.map(\.name)
                if let made = summary.header.campaignFingerprint, made != campaign.fingerprint {
                    FileHandle.standardError.write("flashsale: warning: \(file) was captured for campaign \(String(made, radix: 16)), "
                        + "not \(profile)'s (\(String(campaign.fingerprint, radix: 16))): its offer names may not be this capture's\n")
                }
            } else if summary.header.campaignFingerprint == LoadProfile.builtInDefault.campaign.fingerprint {
                names = LoadProfile.builtInDefault.campaign.offers.map(\.name)
            }
            func offerName(_ o: UInt16) -> String { Int(o) < names.count ? names[Int(o)] : "offer \(o)" }
            func kindName(_ k: Int) -> String { RequestKind(rawValue: UInt8(k))?.name ?? "kind \(k)" }
            let kinds = summary.kindCounts.enumerated().filter { $0.element > 0 }
            let campaignSpan = (Double(summary.maxCampaignMillis) - Double(summary.minCampaignMillis)) / 1000   // no Int64 overflow
            let sendSpan = Double(summary.maxSendNanos - summary.minSendNanos) / 1e9
            if json {
                var o: [String: Any] = [
                    "file": file, "label": summary.header.label, "bytes": summary.fileBytes,
                    "requests": summary.requests, "blocks": summary.blocks,
                    "campaign_fingerprint": summary.header.campaignFingerprint.map { String($0, radix: 16) } as Any? ?? NSNull(),
                    "campaign_time_millis": ["min": summary.minCampaignMillis, "max": summary.maxCampaignMillis],
                    "campaign_span_seconds": campaignSpan, "send_span_seconds": sendSpan,
                    "max_request_id": summary.maxRequestId, "organisations": summary.organisations,
                    "send_offsets_out_of_order": summary.sendOffsetsOutOfOrder,
                ]
                o["kinds"] = Dictionary(uniqueKeysWithValues: kinds.map { (kindName($0.offset), $0.element) })
                o["offers"] = summary.offerCounts.map { ["offer": Int($0.offer), "name": offerName($0.offer), "requests": $0.count] as [String: Any] }
                let data = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .prettyPrinted])
                FileHandle.standardOutput.write(data)
                print()
                return
            }
            var s = ""
            s += "capture:        \(file) (\(summary.fileBytes) bytes, format version \(CaptureFormat.version))\n"
            s += "label:          \(summary.header.label)\n"
            s += "campaign:       \(summary.header.campaignFingerprint.map { String($0, radix: 16) } ?? "unknown")\n"
            s += "requests:       \(summary.requests) in \(summary.blocks) blocks\n"
            if summary.requests > 0 {
                s += "campaign time:  \(Self.campaignTime(summary.minCampaignMillis)) … \(Self.campaignTime(summary.maxCampaignMillis))"
                    + " (span \(String(format: "%.3f", campaignSpan)) s)\n"
                s += "send offsets:   \(String(format: "%.3f", Double(summary.minSendNanos) / 1e9)) … "
                    + "\(String(format: "%.3f", Double(summary.maxSendNanos) / 1e9)) s (span \(String(format: "%.3f", sendSpan)) s"
                    + (sendSpan > 0 ? String(format: ", %.0f requests/s", Double(summary.requests) / sendSpan) : "") + ")\n"
                if summary.sendOffsetsOutOfOrder > 0 {
                    s += "out of order:   \(summary.sendOffsetsOutOfOrder) requests recorded earlier than the one before them\n"
                }
                s += "kinds:          " + kinds.map { "\(kindName($0.offset)) \($0.element)" }.joined(separator: ", ") + "\n"
                s += "offers:         " + summary.offerCounts.map { "\(offerName($0.offer)) (\($0.offer)) \($0.count)" }.joined(separator: ", ") + "\n"
                s += "organisations:  \(summary.organisations) distinct\n"
                s += "request ids:    up to \(summary.maxRequestId)\n"
            }
            print(s, terminator: "")
        }

        /// "day N HH:MM:SS.mmm" (negative times as milliseconds).
        static func campaignTime(_ ms: Int64) -> String {
            guard ms >= 0 else { return "\(ms) ms" }
            let day = ms / 86_400_000, t = ms % 86_400_000
            return String(format: "day %lld %02lld:%02lld:%02lld.%03lld", day, t / 3_600_000, t / 60_000 % 60, t / 1000 % 60, t % 1000)
        }
    }
}

extension CaptureImporter.Format: ExpressibleByArgument {}

/// Captures are read by offset (their blocks are checked, then read again): a pipe or a device, such
/// as `/dev/stdin`, is refused with exit 2 rather than reported as an empty, damaged capture.
func requireRegularCapture(_ path: String) throws {
    var st = stat()
    guard stat(path, &st) == 0 else { return }  // missing or unreadable: the reader says why
    let type = st.st_mode & S_IFMT
    guard type != S_IFREG && type != S_IFDIR else { return }
    FileHandle.standardError.write("flashsale: \(path): a capture must be a regular file, not a pipe or device; save it to a file first\n")
    throw ExitCodes.badInput
}
