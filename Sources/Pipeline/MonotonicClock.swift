import FlashSaleSystem
#if canImport(Glibc)
import Glibc
#endif

/// Monotonic nanoseconds (CLOCK_MONOTONIC): cheap (vDSO), never jumps, shared by every stage.
@inline(__always)
public func monotonicNanos() -> UInt64 { System.monotonicNanos() }

/// Sleeps until the monotonic clock reads at least `deadline`, or until `interrupted()` returns
/// true, which is checked at least every 20 ms: a paced source waiting out a long pause in the
/// traffic still stops promptly on Ctrl-C. It never spins: waits shorter than the kernel's timer
/// slack (~50 µs) overshoot, and the paced source then sends several due requests at once. The
/// overshoot is part of the measured latency (requests are never sent early).
func sleep(until deadline: UInt64, unless interrupted: () -> Bool) {
    while !interrupted() {
        let now = monotonicNanos()
        if now >= deadline { return }
        let slice = min(deadline - now, 20_000_000)
        var ts = timespec(tv_sec: Int(slice) / 1_000_000_000, tv_nsec: Int(slice) % 1_000_000_000)
        nanosleep(&ts, nil)
    }
}
