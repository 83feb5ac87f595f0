import ArgumentParser
import ForecastConfig
import Foundation
import NeuralNet

/// `forecastd [--config PATH] <command>`, with SPEC.md's exit codes: 0 success, 1 runtime
/// failure, 2 bad usage or bad configuration.
struct Forecastd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecastd",
        abstract: "Forecasts time series stored in PostgreSQL with recurrent networks.",
        subcommands: [Run.self, Migrate.self, CheckConfig.self, Train.self, Predict.self, BacktestCommand.self, Report.self, Status.self, Maintain.self, Version.self, Bench.self]
    )
}

enum ExitStatus {
    static let success: Int32 = 0
    static let runtimeFailure: Int32 = 1
    static let badUsageOrConfiguration: Int32 = 2
}

/// Each line of `message` on standard error, prefixed, so that every problem of a list reads alike.
func printError(_ message: String) {
    let lines = message.split(separator: "\n", omittingEmptySubsequences: false).map { "forecastd: " + $0 + "\n" }
    FileHandle.standardError.write(Data(lines.joined().utf8))
}

/// SPEC.md puts `--config PATH` before the command (`forecastd --config x.toml migrate`);
/// ArgumentParser reads a subcommand's options after its name, so move it there.
func argumentsWithConfigAfterCommand(_ arguments: [String]) -> [String] {
    var rest = arguments
    var config: [String] = []
    var index = 0
    while index < rest.count, rest[index].hasPrefix("-") {
        if rest[index] == "--config", index + 1 < rest.count {
            config += rest[index...index + 1]
            rest.removeSubrange(index...index + 1)
        } else if rest[index].hasPrefix("--config=") {
            config.append(rest.remove(at: index))
        } else {
            index += 1
        }
    }
    guard !config.isEmpty, index < rest.count else { return arguments }
    rest.insert(contentsOf: config, at: index + 1)
    return rest
}

/// Runs the command line and returns the process exit status.
func runCommandLine() async -> Int32 {
    // The threading policy: one BLAS thread, each unit splits itself across the cores
    // (`ComputeThreads`); the daemon sets its `concurrency` once it has read its configuration.
    ComputeThreads.configure(concurrentUnits: 1)
    do {
        var command = try await Forecastd.asyncParseAsRoot(argumentsWithConfigAfterCommand(Array(CommandLine.arguments.dropFirst())))
        if var asyncCommand = command as? AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
        return ExitStatus.success
    } catch let error as ConfigurationError {
        printError(error.description)
        return ExitStatus.badUsageOrConfiguration
    } catch let error as CommandFailure {
        printError(error.message)
        return error.status
    } catch {
        let code = Forecastd.exitCode(for: error)
        let message = Forecastd.fullMessage(for: error)
        if code == .success {
            print(message)
            return ExitStatus.success
        }
        if code == .validationFailure {
            // ArgumentParser's usage errors: bad flags, missing arguments.
            FileHandle.standardError.write(Data((message + "\n").utf8))
            return ExitStatus.badUsageOrConfiguration
        }
        printError(message.isEmpty ? String(describing: error) : message)
        return ExitStatus.runtimeFailure
    }
}

exit(await runCommandLine())
