import ArgumentParser
import ForecastService
import NeuralNet
import PostgresClient

struct Forecastd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecastd",
        abstract: "Forecasts time series stored in PostgreSQL with recurrent networks.",
        subcommands: [Version.self, Bench.self]
    )
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print version, build, linked libpq and BLAS.")
    func run() {
        print("forecastd 0.1.0")
        print("libpq \(LibPQ.version)")
        print("blas \(BLAS.configuration)")
    }
}

Forecastd.main()
