import ArgumentParser
import Foundation
import Reports

/// The `flashsale` command line: load tests, segment tools, replay and CI gates.
@main
struct Flashsale: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flashsale",
        abstract: "Decide flash-sale orders at full speed, journal every decision, report throughput and latency.",
        discussion: """
        Exit codes (all commands): 0 success; 1 a check failed (invariants, verification); \
        2 bad arguments, profile or input (a damaged or foreign --segments directory included); 3 a runtime failure (I/O, a journal that cannot be written); 99 a performance gate failed; \
        130 interrupted by Ctrl-C, 143 terminated by SIGTERM (either way the run still drains, seals its segments and writes its reports, marked interrupted; a second signal aborts).
        """,
        version: "flashsale \(FlashSaleVersion.current)" + (FlashSaleVersion.commit.map { " (\($0.prefix(12)))" } ?? ""),
        subcommands: [RunCommand.self, ServeCommand.self, ReplayCommand.self, CaptureCommand.self, SegmentsCommand.self, GateCommand.self, CompareCommand.self],
        defaultSubcommand: nil)

    /// Parses and runs like ArgumentParser's default `main`, but maps usage errors to exit code 2 (the
    /// code scripts can rely on for "bad arguments") instead of EX_USAGE (64).
    static func main() {
        do {
            var command = try parseAsRoot()
            let group = type(of: command)
            if !group.configuration.subcommands.isEmpty {
                // `flashsale` or `flashsale segments` alone: a script that forgot its subcommand must not
                // see success. The help goes to stderr with the list of subcommands; `--help` still exits 0.
                let names = group.configuration.subcommands.map { $0._commandName }
                FileHandle.standardError.write("""
                    Error: missing subcommand: give one of \(names.joined(separator: ", ")).

                    \(helpMessage(for: group))

                    """)
                Foundation.exit(ExitCodes.badInput.rawValue)
            }
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(fullMessage(for: error) + "\n")
                Foundation.exit(ExitCodes.badInput.rawValue)
            }
            exit(withError: error)
        }
    }
}

/// Exit codes shared by every subcommand (documented in README.md).
enum ExitCodes {
    static let checkFailed = ExitCode(1)
    static let badInput = ExitCode(2)
    static let runtimeFailure = ExitCode(3)
    static let gateFailed = ExitCode(99)
    /// Ended early by Ctrl-C; the report covers what was offered until then.
    static let interrupted = ExitCode(130)
    /// Ended early by SIGTERM, drained and reported like Ctrl-C.
    static let terminated = ExitCode(143)
}
