import FlashSaleTestSupport
import Foundation
import XCTest
@testable import FlashSaleCore
@testable import LoadGen
@testable import OrderLog
@testable import Pipeline

enum PipelineFixtures {
    static let root = CommandRunner.root

    static func profile(_ name: String) throws -> LoadProfile {
        try LoadProfile.load(path: "\(root)/LoadProfiles/\(name).yaml")
    }

    static func temporaryDirectory(_ label: String) -> String { CommandRunner.temporaryDirectory(label) }

    /// All records of a segment directory, in order.
    static func records(_ dir: String) throws -> [OrderRecord] {
        var all: [OrderRecord] = []
        try SegmentReader(directory: dir).forEachRecord { all.append(copy $0) }
        return all
    }

    /// Runs a generator through a pipeline as fast as possible.
    static func run(_ profile: LoadProfile, lanes: Int, dir: String, duration: Double? = nil, requestLimit: Int? = nil,
                    pace: PipelineOptions.Pace = .max, durability: Durability = .none,
                    policy: PipelineOptions.OverloadPolicy? = nil, segmentBytes: Int? = nil,
                    lanesEncodeBlocks: Bool = true) throws -> (OrderPipeline, PipelineResult) {
        let rules = try CampaignRules(profile.campaign)
        var writer = SegmentWriterOptions()
        writer.durability = durability
        if let segmentBytes { writer.segmentBytes = segmentBytes }
        var options = PipelineOptions(lanes: lanes, pace: pace, overloadPolicy: policy, segmentsDirectory: dir, writer: writer)
        options.lanesEncodeBlocks = lanesEncodeBlocks
        let pipeline = OrderPipeline(rules: rules, options: options)
        let generator = TrafficGenerator(profile: profile, durationSeconds: duration, requestLimit: requestLimit)
        return (pipeline, try pipeline.run(source: generator))
    }
}
