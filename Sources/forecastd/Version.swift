import ArgumentParser
import ForecastDaemon
import NeuralNet
import PostgresClient

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print version, build, linked libpq and BLAS.")

    func run() {
        print("forecastd \(ForecastdVersion.version)")
        print("build: \(ForecastdVersion.build)")
        let libpq = LibPQ.version
        print("libpq: \(libpq / 10000).\(libpq % 100) (\(libpq))")
        print("blas: \(BLAS.configuration)")
    }
}
