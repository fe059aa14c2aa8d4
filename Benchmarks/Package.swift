// swift-tools-version: 6.1
// flashsale benchmarks: a package of its own (like swift-nio's and swift-collections' Benchmarks), so the
// root package does not depend on ordo-one/benchmark. Run from this folder: `swift package benchmark`.
import PackageDescription

// The root package is reached through `flashsale`, a symlink to `..` committed in this folder: a path
// dependency's identity is its directory's last component, so naming it through the symlink gives the
// identity `flashsale` whatever the checkout's directory is called (main, wt-bench, a fresh clone...).
let root = "flashsale"

/// Every benchmark target: the Benchmark library, the boilerplate plugin, sources in Benchmarks/NAME.
func benchmarkTarget(_ name: String, _ products: [String]) -> Target {
    .executableTarget(
        name: name,
        dependencies: [.product(name: "Benchmark", package: "benchmark"), "BenchSupport"]
            + products.map { .product(name: $0, package: root) },
        path: "Benchmarks/\(name)",
        swiftSettings: [.swiftLanguageMode(.v5)],
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}

let package = Package(
    name: "flashsale-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: root),
        // MallocInterposer only: the default RuntimeInterposer trait needs a package this machine does not carry.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Metrics and threshold tolerances shared by the benchmark targets.
        .target(name: "BenchSupport", dependencies: [.product(name: "Benchmark", package: "benchmark")],
                path: "Support/BenchSupport", swiftSettings: [.swiftLanguageMode(.v5)]),
        // StockLedger take (uncontended, contended, sold-out, bundle) against a bare atomic decrement.
        benchmarkTarget("LedgerBenchmarks", ["FlashSaleCore"]),
        // LaneEngine decide on a prebuilt seckill-parity request batch.
        benchmarkTarget("EngineBenchmarks", ["FlashSaleCore", "LoadGen"]),
        // RecordCodec encode; SegmentWriter append + commit per durability.
        benchmarkTarget("OrderLogBenchmarks", ["OrderLog", "FlashSaleCore"]),
        // The whole pipeline on a small seckill-parity run, --rate max; and the same as a RunSession (+ audit, report).
        benchmarkTarget("PipelineBenchmarks", ["Pipeline", "LoadGen", "FlashSaleCore", "FlashSaleRun"]),
    ]
)
