import FlashSaleCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How much memory this process may use: the machine's physical memory, or the cgroup's limit
/// (`/sys/fs/cgroup/memory.max`, cgroup v2) when that is lower.
///
/// Profiles are checked against it so that a population too large for the machine is refused with
/// the field at fault instead of ending in the kernel's OOM killer minutes later.
public enum MachineMemory {
    public static let limitBytes: Int? = {
        var limit: Int?
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        if pages > 0, pageSize > 0 { limit = pages.multipliedReportingOverflow(by: pageSize).overflow ? nil : pages * pageSize }
        if let cgroup = readWholeFile("/sys/fs/cgroup/memory.max"),
           let bytes = Int(cgroup.filter { !$0.isWhitespace }), bytes > 0 {
            limit = min(limit ?? bytes, bytes)   // "max" (no limit) does not parse and is ignored
        }
        return limit
    }()

    /// Bytes per organisation a run holds: its decision state in the lanes plus its entry in the population.
    public static func bytesPerOrganisation(offerCount: Int) -> Int {
        LaneEngine.stateBytesPerOrganisation(offerCount: offerCount) + MemoryLayout<Organisation>.stride
    }
}
