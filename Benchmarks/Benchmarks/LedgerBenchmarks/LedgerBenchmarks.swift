// StockLedger take paths against a bare atomic decrement.
//
// Every benchmark runs `scaledIterations` (1M) operations per measured iteration, so the per-operation
// figures (ns, mallocs) are the scaled columns (`*`) of the output. Stock is "huge" (2^60 units) where
// a take must succeed, so no item ever runs out during a run.

import Benchmark
import BenchSupport
import FlashSaleCore
import Foundation
import Synchronization

/// A bare atomic counter on its own cache lines (what a take is compared with).
final class AtomicBox: @unchecked Sendable {
    let value = Atomic<Int64>(Int64(1) << 60)
}

let hugeStock: Int64 = 1 << 60

/// Runs `body(0)` on the calling thread and `body(1)` on a second thread, both released together by a
/// spin barrier (so the two really overlap), and returns when both are done. The thread start is
/// ~50 µs against ~5 ms of takes per iteration.
/// (`DispatchQueue.concurrentPerform` was tried first: with 2 iterations it may run both on one thread.)
func onTwoThreads(_ body: @escaping @Sendable (Int) -> Void) {
    final class Sync: @unchecked Sendable {
        let arrived = Atomic<Int>(0)
        let done = DispatchSemaphore(value: 0)
    }
    let sync = Sync()
    let thread = Thread {
        sync.arrived.add(1, ordering: .acquiringAndReleasing)
        while sync.arrived.load(ordering: .acquiring) < 2 {}
        body(1)
        sync.done.signal()
    }
    thread.start()
    sync.arrived.add(1, ordering: .acquiringAndReleasing)
    while sync.arrived.load(ordering: .acquiring) < 2 {}
    body(0)
    sync.done.wait()
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: BenchConfig.metrics,
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        scalingFactor: .mega,
        maxDuration: .seconds(2),
        maxIterations: 200,
        thresholds: BenchConfig.thresholds(time: 100))

    // Two threads: the other core is shared with other work on the dev VM, so these swing more; the
    // second thread's start costs a few mallocs per iteration (none per take).
    var twoThreads = Benchmark.defaultConfiguration
    twoThreads.thresholds = BenchConfig.thresholds(time: 150, mallocs: 16)

    Benchmark("bare-atomic-wrappingSubtract") { benchmark in
        let box = AtomicBox()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(box.value.wrappingSubtract(1, ordering: .acquiringAndReleasing))
        }
    }

    Benchmark("take-uncontended") { benchmark in
        let ledger = StockLedger(initial: [hugeStock], shardCount: 1)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(ledger.take(1, of: 0, home: 0))
        }
    }

    Benchmark("take-uncontended-2-shards") { benchmark in
        // The pipeline's layout with 2 lanes: one item, 2 shards, taking from the home shard.
        let ledger = StockLedger(initial: [hugeStock], shardCount: 2)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(ledger.take(1, of: 0, home: 1))
        }
    }

    Benchmark("take-sold-out") { benchmark in
        let ledger = StockLedger(initial: [0], shardCount: 2)
        precondition(ledger.isSoldOut(0))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(ledger.take(1, of: 0, home: 0))
        }
    }

    Benchmark("take-contended-2-threads-same-shard", configuration: twoThreads) { benchmark in
        // Two threads hammer one counter; the figure per operation is total wall time / total takes
        // (each thread does half of them), i.e. the item's aggregate take rate.
        let ledger = StockLedger(initial: [hugeStock], shardCount: 2)
        let perThread = benchmark.scaledIterations.count / 2
        benchmark.startMeasurement()
        onTwoThreads { _ in
            for _ in 0..<perThread { blackHole(ledger.take(1, of: 0, home: 0)) }
        }
    }

    Benchmark("take-2-threads-own-home-shards", configuration: twoThreads) { benchmark in
        // Same item, each thread on its own shard (128-byte slots): what sharding buys over the above.
        let ledger = StockLedger(initial: [hugeStock], shardCount: 2)
        let perThread = benchmark.scaledIterations.count / 2
        benchmark.startMeasurement()
        onTwoThreads { thread in
            for _ in 0..<perThread { blackHole(ledger.take(1, of: 0, home: thread)) }
        }
    }

    Benchmark("takeAll-bundle-of-3") { benchmark in
        let ledger = StockLedger(initial: [hugeStock, hugeStock, hugeStock], shardCount: 2)
        let components = UnsafeMutableBufferPointer<Offer.Component>.allocate(capacity: 3)
        _ = components.initialize(from: [
            Offer.Component(item: 0, quantityPerUnit: 1),
            Offer.Component(item: 1, quantityPerUnit: 10),
            Offer.Component(item: 2, quantityPerUnit: 2),
        ])
        defer { components.deallocate() }
        let bundle = UnsafeBufferPointer(components)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(ledger.takeAll(bundle, times: 1, home: 0))
        }
        benchmark.stopMeasurement()
    }

    Benchmark("take-then-release-uncontended") { benchmark in
        // A cancel right after a take: the release path (add + sold-out flag check).
        let ledger = StockLedger(initial: [1_000], shardCount: 1)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(ledger.take(1, of: 0, home: 0))
            ledger.release(1, of: 0, to: 0)
        }
    }
}
