// swift-tools-version: 6.0
// flashsale: a flash-sale order processor. See README.md and docs/.
import PackageDescription

/// Tests hammer shared state from many threads on purpose; Swift 5 mode keeps them readable.
let testSettings: [SwiftSetting] = [.swiftLanguageMode(.v5)]

/// Hot-path modules: release builds skip the dynamic exclusivity checks (swift_beginAccess on every
/// class-property access in the per-order loops). Each stage's state is confined to one queue; debug
/// builds (`swift build`, `swift test`) keep the checks on, so a violation still shows up there.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "flashsale",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flashsale", targets: ["flashsale"]),
        .library(name: "FlashSaleCore", targets: ["FlashSaleCore"]),
        .library(name: "OrderLog", targets: ["OrderLog"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "LoadGen", targets: ["LoadGen"]),
        .library(name: "Reports", targets: ["Reports"]),
        .library(name: "FlashSaleRun", targets: ["FlashSaleRun"]),
        .library(name: "OrderServer", targets: ["OrderServer"]),
        .library(name: "WireProtocol", targets: ["WireProtocol"]),
        .library(name: "LoadClient", targets: ["LoadClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // `flashsale serve`: HTTP/1.1 on SwiftNIO (NIOPosix, NIOHTTP1), not a framework (docs/http-api.md).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // `GET /metrics`: Prometheus text exposition. swift-prometheus brings apple/swift-metrics with it;
        // the registry is used directly (no target imports Metrics, so it is not declared here: SwiftPM
        // warned on every build that the declared dependency was unused).
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // System libraries (installed by tools/setup).
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CJemalloc", pkgConfig: "jemalloc", providers: [.apt(["libjemalloc-dev"])]),

        // Campaign model, rules, stock ledger, hold book, decisions.
        // The C the Swift modules need: prefetch, hardware CRC-32C (chosen at run time), sync_file_range.
        .target(name: "CShims"),
        // The one system-call layer: files (EINTR and short transfers retried, errors naming the call,
        // path and offset), directories, clocks.
        .target(name: "FlashSaleSystem", dependencies: ["CShims"]),
        .target(name: "FlashSaleCore", dependencies: ["CShims"], swiftSettings: hotPath),
        // Record codec, segment writer/reader, recovery, verification.
        .target(name: "OrderLog", dependencies: ["CLZ4", "CShims", "FlashSaleSystem"], swiftSettings: hotPath),
        // Profiles, arrival processes, popularity, traffic generation, captures.
        .target(name: "LoadGen", dependencies: ["FlashSaleCore", "OrderLog", .product(name: "Yams", package: "Yams")],
                swiftSettings: hotPath),
        // Router, lanes, journal stage, acknowledger, backpressure, latency recording. Knows no profile
        // (LoadGen) and no report (Reports): it consumes a `RequestSource` and returns a `PipelineResult`.
        .target(name: "Pipeline", dependencies: [
            "CShims", "FlashSaleCore", "OrderLog", "FlashSaleSystem", .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], swiftSettings: hotPath),
        // Live progress, summaries, JSON report, percentile spectrum, gates: reads the pipeline's public results.
        .target(name: "Reports", dependencies: [
            "FlashSaleCore", "OrderLog", "Pipeline", "CJemalloc", .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        // A run session: configuration → pipeline → audit → report, with the temporary journal and the
        // warnings; what `run`, `replay` and `gate`, the tests and the benchmarks share.
        .target(name: "FlashSaleRun", dependencies: ["FlashSaleCore", "FlashSaleSystem", "OrderLog", "LoadGen", "LoadClient", "Pipeline", "Reports"]),
        // The binary order protocol `fsbin` (docs/wire-protocol.md): frames, orders, answers, splitter.
        // No NIO: clients, load generators and tests use it as it is.
        .target(name: "WireProtocol", dependencies: ["FlashSaleCore"], swiftSettings: hotPath),
        // The load generator pointed at a server (`--target`): HTTP and the binary protocol, on POSIX sockets.
        .target(name: "LoadClient", dependencies: ["FlashSaleCore", "FlashSaleSystem", "Pipeline", "WireProtocol"], swiftSettings: hotPath),
        // `flashsale serve`: the HTTP front of an OrderService (connections, parsing, in-order answers).
        .target(name: "OrderServer", dependencies: [
            "FlashSaleCore", "FlashSaleSystem", "OrderLog", "Pipeline", "WireProtocol",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: hotPath),
        // The command-line tool: thin, over the libraries.
        .executableTarget(name: "flashsale", dependencies: [
            "FlashSaleCore", "FlashSaleSystem", "OrderLog", "LoadGen", "Reports", "Pipeline", "FlashSaleRun", "OrderServer", "CJemalloc",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Shared by the test targets: package root, the built binary, temporary directories, a command runner.
        .target(name: "FlashSaleTestSupport", path: "Tests/FlashSaleTestSupport", swiftSettings: testSettings),
        .testTarget(name: "FlashSaleCoreTests", dependencies: ["FlashSaleCore"],
                    swiftSettings: testSettings),
        .testTarget(name: "WireProtocolTests", dependencies: ["WireProtocol", "FlashSaleCore"],
                    swiftSettings: testSettings),
        .testTarget(name: "OrderLogTests", dependencies: ["OrderLog", "FlashSaleCore"],  // FlashSaleCore: SplitMix64
                    swiftSettings: testSettings),
        .testTarget(name: "LoadGenTests", dependencies: ["LoadGen", "FlashSaleTestSupport"],
                    swiftSettings: testSettings),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "LoadGen", "OrderLog", "Reports", "FlashSaleRun", "FlashSaleTestSupport"],
                    swiftSettings: testSettings),
        .testTarget(name: "LoadClientTests", dependencies: ["LoadClient", "LoadGen", "FlashSaleCore", "Pipeline"], swiftSettings: testSettings),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "Pipeline"],
                    swiftSettings: testSettings),
        .testTarget(name: "FlashSaleRunTests", dependencies: ["FlashSaleRun", "LoadGen", "Pipeline", "OrderLog", "Reports", "FlashSaleTestSupport"],
                    swiftSettings: testSettings),
        .testTarget(name: "CLITests", dependencies: ["flashsale", "FlashSaleTestSupport"],
                    exclude: ["junit.xsd"], swiftSettings: testSettings),
        .testTarget(name: "OrderServerTests", dependencies: [
            "OrderServer", "Pipeline", "FlashSaleCore", "LoadGen", "OrderLog", "FlashSaleTestSupport", "WireProtocol",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: testSettings),
    ]
)
