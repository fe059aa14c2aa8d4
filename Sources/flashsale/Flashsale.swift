import ArgumentParser

/// The `flashsale` command line: load tests, segment tools, replay and CI gates.
@main
struct Flashsale: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flashsale",
        abstract: "Decide flash-sale orders at full speed, journal every decision, report throughput and latency.",
        discussion: """
        Exit codes (all commands): 0 success; 1 a check failed (invariants, verification); \
        2 bad arguments, profile or input; 3 a runtime failure (I/O, journal); 99 a performance gate failed.
        """,
        subcommands: [RunCommand.self],
        defaultSubcommand: nil)
}

/// Exit codes shared by every subcommand (documented in README.md).
enum ExitCodes {
    static let checkFailed = ExitCode(1)
    static let badInput = ExitCode(2)
    static let runtimeFailure = ExitCode(3)
    static let gateFailed = ExitCode(99)
}
