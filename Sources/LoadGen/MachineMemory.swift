import FlashSaleCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How much memory this process may use: the machine's physical memory, or the lowest memory limit of
/// the control groups it runs in (cgroup v2 `memory.max` or v1 `memory.limit_in_bytes`, from its own
/// cgroup up to the root of the hierarchy), whichever is lower.
///
/// Profiles are checked against it so that a population too large for the machine is refused with
/// the field at fault instead of ending in the kernel's OOM killer minutes later.
public enum MachineMemory {
    public struct Limit: Sendable, Equatable {
        public var bytes: Int
        /// "this machine has" or "the memory cgroup allows": how the limit is named in messages.
        public var source: String
    }

    public static let limit: Limit? = {
        var result: Limit?
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        if pages > 0, pageSize > 0, !pages.multipliedReportingOverflow(by: pageSize).overflow {
            result = Limit(bytes: pages * pageSize, source: "this machine has")
        }
        if let cgroup = cgroupLimitBytes(), cgroup < result?.bytes ?? .max {
            result = Limit(bytes: cgroup, source: "the memory cgroup allows")
        }
        return result
    }()

    /// Bytes per organisation a run holds: its decision state in the lanes plus its entry in the population.
    public static func bytesPerOrganisation(offerCount: Int, capCount: Int = 0) -> Int {
        LaneEngine.stateBytesPerOrganisation(offerCount: offerCount, capCount: capCount) + MemoryLayout<Organisation>.stride
    }

    /// The lowest memory limit on the way from this process's cgroups to their roots; nil when none is set.
    /// `/proc/self/cgroup` names the cgroups: `0::/path` (v2) and `N:...memory...:/path` (v1).
    static func cgroupLimitBytes(procSelfCgroup: String = "/proc/self/cgroup", root: String = "/sys/fs/cgroup") -> Int? {
        guard let text = readWholeTextFile(procSelfCgroup) else { return nil }
        var lowest: Int?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let hierarchies: [(base: String, file: String)]
            if parts[0] == "0" && parts[1].isEmpty {
                hierarchies = [(root, "memory.max"), (root + "/unified", "memory.max")]   // v2, or hybrid v1/v2
            } else if parts[1].split(separator: ",").contains("memory") {
                hierarchies = [(root + "/memory", "memory.limit_in_bytes")]               // v1
            } else {
                continue
            }
            for (base, file) in hierarchies {
                // From the process's own cgroup up to the hierarchy's root (inside a cgroup namespace the
                // path is "/" and the mount is the container's own cgroup).
                var path = String(parts[2])
                while true {
                    let dir = path == "/" ? base : base + path
                    if let value = readWholeTextFile(dir + "/" + file).flatMap({ Int($0.filter { !$0.isWhitespace }) }), value > 0 {
                        lowest = min(lowest ?? value, value)   // "max" (v2: no limit) does not parse
                    }
                    guard path != "/", let slash = path.lastIndex(of: "/") else { break }
                    path = slash == path.startIndex ? "/" : String(path[..<slash])
                }
            }
        }
        return lowest
    }
}
