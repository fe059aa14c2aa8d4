#if canImport(Glibc)
import Glibc
#endif

/// Monotonic nanoseconds (CLOCK_MONOTONIC): cheap (vDSO), never jumps, shared by every stage.
@inline(__always)
public func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Sleeps until the monotonic clock reads `deadline` (sleeps coarse, then yields the last stretch).
func sleep(until deadline: UInt64) {
    while true {
        let now = monotonicNanos()
        if now >= deadline { return }
        let left = deadline - now
        if left > 200_000 {
            var ts = timespec(tv_sec: Int(left - 100_000) / 1_000_000_000, tv_nsec: Int(left - 100_000) % 1_000_000_000)
            nanosleep(&ts, nil)
        } else {
            sched_yield()
        }
    }
}
