import FlashSaleCore
import FlashSaleSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import OrderLog

/// Restart: the campaign rebuilt from a segment directory, the directory's fingerprint, and which of the
/// regenerated traffic the stopped run already decided.
extension OrderPipeline {
    /// A segment directory opened for this campaign, with what it already held applied to the engines.
    struct OpenedJournal {
        let writer: SegmentWriter
        /// Records applied from the directory, the last one's sequence and the latest campaign time.
        let resumedRecords: Int, resumedLastSequence: UInt64, resumedClock: Int64
        /// Per lane, its last journaled request (empty unless every run on the directory used this lane count).
        let markers: [ResumeMarker?]
    }

    /// Opens (or resumes) the journal in `directory`: refuses another campaign's directory, rebuilds the
    /// campaign from the records it holds, then records this run's fingerprint. Batch durability commits
    /// continuously in the background (the journal keeps encoding while the disk syncs).
    func openJournal(in directory: String) throws -> OpenedJournal {
        var writerOptions = options.writer
        if writerOptions.durability == .batch {
            writerOptions.backgroundSync = true
            writerOptions.continuousGroupCommit = true
        }
        let writer = try SegmentWriter(directory: directory, options: writerOptions, sink: options.effectiveSegmentSink)
        let sameLanes = try checkCampaignFingerprint(in: directory, hasRecords: writer.nextSequence > 1)
        let (resumed, last, clock, markers) = try rebuild(from: directory, lastSequence: writer.nextSequence &- 1, markLanes: sameLanes)
        try recordCampaignFingerprint(in: directory, sameLanes: sameLanes)
        return OpenedJournal(writer: writer, resumedRecords: resumed, resumedLastSequence: last, resumedClock: clock, markers: markers)
    }

    /// Applies every record already in `directory` to the engines and the ledger. Returns (records, last
    /// sequence, last campaign time, markers): with `markLanes` (every run on the directory used this lane
    /// count) the markers are, per lane, the last request it journaled (nil for a lane that journaled
    /// none); otherwise there are none.
    func rebuild(from directory: String, lastSequence: UInt64,
                         markLanes: Bool) throws -> (Int, UInt64, Int64, [ResumeMarker?]) {
        guard lastSequence > 0 else { return (0, 0, .min, []) }
        let reader = try SegmentReader(directory: directory)
        var count = 0
        var clock = Int64.min
        var bad: (UInt64, String)?
        var markers = [ResumeMarker?](repeating: nil, count: options.lanes)
        var laneLatest = [Int64](repeating: .min, count: options.lanes)
        var firstSequence: UInt64?
        try reader.forEachRecord { record in
            guard bad == nil else { return }
            if firstSequence == nil { firstSequence = record.sequence }
            guard firstSequence == 1 else { return }
            guard let d = Decision(record) else { bad = (record.sequence, "unknown outcome or kind code"); return }
            let lane = Int(d.organisation % UInt32(options.lanes))
            // Expiries are the lanes' own decisions, not requests (a client's request of kind expire is one).
            if !d.isLaneExpiry {
                let key = ResumeMarker.Key(d)
                if markers[lane]?.key == key { markers[lane]!.copies += 1 } else { markers[lane] = ResumeMarker(key: key) }
                laneLatest[lane] = max(laneLatest[lane], d.campaignTimeMillis)
            }
            if d.outcome == .overload { return }
            guard engines[lane].replay(d) else {
                bad = (record.sequence, "\(d.outcome) of offer \(d.offer) by organisation \(d.organisation) cannot be applied")
                return
            }
            count += 1
            clock = max(clock, d.campaignTimeMillis)
        }
        // Stock and per-organisation limits are rebuilt from every decision since the sale opened: a
        // journal whose first segments were removed would sell their units again.
        if let first = firstSequence, first != 1 {
            throw PipelineError.journalCannotBeResumed(
                directory: directory,
                reason: "its first record is sequence \(first): the segments with records 1...\(first - 1) were removed, and the stock they sold cannot be rebuilt without them")
        }
        if let bad { throw PipelineError.logDoesNotMatchCampaign(directory: directory, sequence: bad.0, detail: bad.1) }
        let items = rules.itemCount
        // Summed over lanes without trapping: a sum past Int64 becomes Int64.min, which `restore` refuses.
        func total(_ units: (LaneEngine) -> [Int64]) -> [Int64] {
            (0..<items).map { i in
                var sum: Int64 = 0
                for e in engines {
                    let (s, overflow) = sum.addingReportingOverflow(units(e)[i])
                    if overflow { return .min }
                    sum = s
                }
                return sum
            }
        }
        let impossible = ledger.restore(sold: total(\.soldUnits), held: total(\.heldUnits))
        if let item = impossible.first {
            throw PipelineError.logDoesNotMatchCampaign(directory: directory, sequence: lastSequence,
                                                        detail: "it uses more of \(rules.campaign.items[item].name) than the campaign has")
        }
        // Holds that expired before the crash without a journaled release are released (and journaled)
        // by the first request after `clock`, or at the end of this run.
        for lane in markers.indices { markers[lane]?.laneLatestMillis = laneLatest[lane] }
        return (count, lastSequence, clock, markLanes ? markers : [])
    }

    /// The file in a segment directory naming the campaign that writes it.
    public static let fingerprintFile = "campaign.fingerprint"

    /// Refuses a directory written by another campaign (or by an unknown one). Returns whether every run
    /// on the directory, this one included, has this run's lane count.
    func checkCampaignFingerprint(in directory: String, hasRecords: Bool) throws -> Bool {
        let path = directory + "/" + Self.fingerprintFile
        let mine = String(rules.campaign.fingerprint, radix: 16)
        var sameLanes = !hasRecords
        if hasRecords && !FileManager.default.fileExists(atPath: path) {
            // Segments copied without their fingerprint: whose records they are is unknown, and another
            // campaign's would be booked onto this campaign's items.
            throw PipelineError.journalCannotBeResumed(
                directory: directory,
                reason: "it holds records but no \(Self.fingerprintFile) naming the campaign that wrote them (copy that file with the segments)")
        }
        if hasRecords, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let lines = text.split(separator: "\n")
            let theirs = lines.first.map(String.init) ?? ""
            if theirs != mine {
                throw PipelineError.logDoesNotMatchCampaign(
                    directory: directory, sequence: 1,
                    detail: "written by campaign \(theirs), this is campaign \(mine) (\(rules.campaign.name))")
            }
            sameLanes = lines.count > 2 && lines[2] == "lanes \(options.lanes)"
        }
        return sameLanes
    }

    /// Records this campaign's fingerprint and the lane count of every run on the directory ("lanes N",
    /// or "lanes mixed" once runs differed). Written once the directory is known to be usable, so a
    /// refused restart changes nothing.
    func recordCampaignFingerprint(in directory: String, sameLanes: Bool) throws {
        let mine = String(rules.campaign.fingerprint, radix: 16)
        let lanes = sameLanes ? "lanes \(options.lanes)" : "lanes mixed"
        try Self.replaceFile(directory + "/" + Self.fingerprintFile, with: mine + "\n" + rules.campaign.name + "\n" + lanes + "\n")
    }

    /// Writes `text` to `path` atomically (a temporary file renamed over it). A failure throws
    /// `PipelineError.cannotWrite` naming `path` and the system's reason, and leaves `path` as it was.
    static func replaceFile(_ path: String, with text: String) throws {
        do { try FileSystem.replaceFile(path, with: Array(text.utf8)) } catch {
            throw PipelineError.cannotWrite(file: path, reason: error.reason)
        }
    }
}

/// A lane's last journaled request, as the journal names it: enough to find it again in the regenerated
/// traffic of a restart.
struct ResumeMarker {
    /// What identifies a request in the journal and in the traffic alike.
    struct Key: Equatable {
        let requestId: UInt64, organisation: UInt32, offer: UInt16, kind: RequestKind, campaignTimeMillis: Int64
        init(_ d: Decision) {
            (requestId, organisation, offer, kind, campaignTimeMillis) = (d.requestId, d.organisation, d.offer, d.kind, d.campaignTimeMillis)
        }
        init(_ r: OrderRequest) {
            (requestId, organisation, offer, kind, campaignTimeMillis) = (r.requestId, r.organisation, r.offer, r.kind, r.campaignTimeMillis)
        }
    }
    let key: Key
    /// How many identical copies end the lane's journal (a request and its retransmits, which the
    /// generator sends right after it: adjacent in the lane).
    var copies = 1
    /// The latest campaign time among the lane's journaled requests.
    var laneLatestMillis: Int64 = .min
}

/// Which requests of a restarted run's traffic the stopped run already decided, so that a restart offers
/// exactly the rest.
///
/// Each lane decided a prefix of its own requests (routing is by organisation), so with the lane count the
/// directory was written with, a lane's requests are skipped up to its last journaled one (its marker).
/// Otherwise (lanes changed, or a directory from before the lane count was recorded) the restart continues
/// after the last journaled campaign time, which drops the undecided rest of that millisecond and of slower
/// lanes.
struct RestartFilter {
    private let markers: [ResumeMarker?]
    private var skipping: [Bool]
    private var copiesToSkip: [Int]
    private var skipBefore: Int64
    private let lanes: UInt32

    init(resumedRecords: Int, lastCampaignTime: Int64, markers: [ResumeMarker?], lanes: Int) {
        self.markers = markers
        skipping = markers.map { $0 != nil }
        copiesToSkip = markers.map { $0?.copies ?? 0 }
        skipBefore = resumedRecords > 0 && markers.isEmpty ? lastCampaignTime : .min
        self.lanes = UInt32(lanes)
    }

    /// True once no later request can be skipped (always so when nothing was resumed).
    var isDone: Bool { skipBefore == .min && !skipping.contains(true) }

    /// True when the stopped run already decided `r` (the caller does not offer it).
    @inline(__always)
    mutating func skips(_ r: OrderRequest) -> Bool {
        if !markers.isEmpty {
            let lane = Int(r.organisation % lanes)
            // Later than anything the lane journaled without meeting its marker, the traffic is not the
            // stopped run's (another seed, duration or capture): the lane continues from there, as by
            // campaign time. (Not the marker's own time: early requests run against the clock.)
            if skipping[lane], let marker = markers[lane], r.campaignTimeMillis <= marker.laneLatestMillis {
                // The marker's retransmits sit next to it in the lane: skip every copy the lane journaled.
                if marker.key == ResumeMarker.Key(r) {
                    copiesToSkip[lane] -= 1
                    if copiesToSkip[lane] == 0 { skipping[lane] = false }
                }
                return true
            }
            skipping[lane] = false
        } else if skipBefore != .min {
            // A restarted campaign continues after the last journaled campaign time.
            if r.campaignTimeMillis <= skipBefore { return true }
            skipBefore = .min
        }
        return false
    }
}
