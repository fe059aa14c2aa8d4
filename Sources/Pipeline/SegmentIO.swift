import OrderLog

/// How the journal writes its segment files.
///
/// Both ways write the same bytes and keep the same durability promise (an acknowledged decision
/// has been fsynced, for batch and sync). They differ in cost: direct I/O (`DirectSegmentSink`) skips
/// the copy into the page cache and leaves the group commit's fsync nothing to write back, which at
/// `--rate max` was 13% of the timed window and measured +11% decisions/s (docs/benchmarks.md); but
/// each write then waits for the device on the journal's thread, which in a paced run, where every
/// group commit writes a few KiB, raised p50 (0.6 → 1.1 ms on `kaigong-opening` at 200k/s).
public enum SegmentIO: String, Sendable, CaseIterable {
    /// Direct at `--rate max` with batch or sync durability, buffered otherwise (paced runs, `serve`,
    /// and `none` durability, which acknowledges once the OS has the bytes: the page cache is its point).
    case auto
    /// Direct I/O (O_DIRECT) for every segment whose file system allows it (else buffered).
    case direct
    /// Through the page cache (pwrite, then fdatasync for batch and sync).
    case buffered

    /// Whether segments of a run with this pace and durability are written with direct I/O.
    public func writesDirect(pace: PipelineOptions.Pace, durability: Durability) -> Bool {
        switch self {
        case .auto: return pace == .max && durability != .none
        case .direct: return true
        case .buffered: return false
        }
    }
}
