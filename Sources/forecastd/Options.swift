import ArgumentParser
import ForecastConfig

/// Options every command that reads the configuration takes.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: $FORECASTD_CONFIG, else /etc/forecastd/forecastd.toml).")
    var config: String?

    func load() throws -> Configuration {
        try Configuration.load(path: Configuration.resolvePath(explicit: config))
    }
}

/// A failure the command already explained, with the exit status it deserves.
struct CommandFailure: Error {
    var message: String
    var status: Int32 = ExitStatus.runtimeFailure
}
