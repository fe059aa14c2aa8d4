/// Why a run could not complete.
public enum PipelineError: Error, CustomStringConvertible {
    /// The segment directory holds records this campaign cannot apply (another campaign's log).
    case logDoesNotMatchCampaign(directory: String, sequence: UInt64, detail: String)
    /// The journal failed (disk full, I/O error): decisions after the failure were not acknowledged.
    case journalFailed(underlying: Error, acknowledged: Int)
    /// The segment directory holds records the campaign's state cannot be rebuilt from (its first
    /// segments were removed, or nothing says which campaign wrote it).
    case journalCannotBeResumed(directory: String, reason: String)
    /// A file of the segment directory (other than a segment) cannot be written, e.g. the directory is
    /// read-only or immutable: `reason` is the system's.
    case cannotWrite(file: String, reason: String)

    public var description: String {
        switch self {
        case .logDoesNotMatchCampaign(let dir, let seq, let detail):
            "\(dir): record \(seq) does not fit this campaign (\(detail)); use an empty --segments directory or the profile that wrote it"
        case .journalFailed(let e, let acked):
            "journal failed after \(acked) acknowledged decisions: \(e)"
        case .journalCannotBeResumed(let dir, let reason):
            "\(dir): cannot continue this journal: \(reason); use an empty --segments directory"
        case .cannotWrite(let file, let reason):
            "cannot write \(file): \(reason)"
        }
    }
}
