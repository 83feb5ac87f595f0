// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "forecastd",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "forecastd", targets: ["forecastd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // C libraries reached through pkg-config: libpq (libpq-dev) and OpenBLAS (libopenblas-dev).
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // PostgreSQL over libpq: connections, typed rows, transactions, COPY, streaming, LISTEN/NOTIFY.
        .target(name: "PostgresClient", dependencies: ["CLibPQ"]),
        // Recurrent networks in Float32: cells, losses, optimisers, TBPTT, serialisation.
        .target(name: "NeuralNet", dependencies: ["CBLAS"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        // From raw rows to forecasts: grids, features, the model, backtests, metrics.
        .target(name: "Forecasting", dependencies: ["NeuralNet"]),
        // TOML 1.0 documents into values with line numbers; knows nothing of forecastd.
        .target(name: "TOML"),
        // A minimal HTTP/1.1 GET/HEAD server for a service's own endpoints; knows nothing of forecastd.
        .target(name: "HTTPServing"),
        // The service: configuration, migrations, storage, jobs and scheduling.
        .target(name: "ForecastService", dependencies: [
            "PostgresClient", "Forecasting", "NeuralNet", "TOML", "HTTPServing",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "forecastd", dependencies: [
            "ForecastService", "Forecasting", "NeuralNet", "PostgresClient", "HTTPServing",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Helpers the test targets share: the throwaway test database, a raw HTTP client.
        .target(name: "TestSupport", dependencies: ["PostgresClient"], path: "Tests/TestSupport"),
        .testTarget(name: "HTTPServingTests", dependencies: ["HTTPServing", "TestSupport"]),
        .testTarget(name: "PostgresClientTests", dependencies: ["PostgresClient", "TestSupport"]),
        .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet"]),
        .testTarget(name: "ForecastingTests", dependencies: ["Forecasting"]),
        .testTarget(name: "TOMLTests", dependencies: ["TOML"]),
        .testTarget(name: "ForecastServiceTests", dependencies: ["ForecastService", "PostgresClient", "HTTPServing", "TestSupport"]),
    ]
)
