import ArgumentParser

/// `forecastd bench ...`: throughput measurements on this machine, printed for benchmarks/RESULTS.md.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput on this machine.",
        subcommands: [BenchRNN.self, BenchSgemm.self, BenchInfer.self, BenchAccuracy.self, BenchCopy.self, BenchETS.self]
    )
}
