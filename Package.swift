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
        // The row-stable inference product in AVX2 intrinsics. No FMA contraction, ever: the bits
        // must be the Swift kernel's (NeuralNet/RowStableProduct.swift).
        .target(name: "CRowStable", cSettings: [.unsafeFlags(["-ffp-contract=off"])]),
        // Recurrent networks in Float32: cells, losses, optimisers, TBPTT, serialisation.
        .target(name: "NeuralNet", dependencies: ["CBLAS", "CRowStable"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        // From raw rows to forecasts: grids, features, the model, backtests, metrics.
        .target(name: "Forecasting", dependencies: ["NeuralNet"]),
        // TOML 1.0 documents into values with line numbers; knows nothing of forecastd.
        .target(name: "TOML"),
        // A minimal HTTP/1.1 GET/HEAD server for a service's own endpoints; knows nothing of forecastd.
        .target(name: "HTTPServing"),
        // The service, in modules whose dependencies point one way (docs/ARCHITECTURE.md):
        // configuration resolved into domain values at load; knows no database.
        .target(name: "ForecastConfig", dependencies: ["Forecasting", "NeuralNet", "TOML"]),
        // Every table forecastd reads or writes (all its SQL), and the migrations.
        .target(name: "ForecastStore", dependencies: ["ForecastConfig", "Forecasting", "PostgresClient"]),
        // Jobs: reading sources, training and predicting units, the schedule; SQL only through the store.
        .target(name: "ForecastJobs", dependencies: [
            "ForecastConfig", "ForecastStore", "Forecasting", "NeuralNet", "PostgresClient",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The HTML report of a job: data from the store, page and SVG charts.
        .target(name: "ForecastReport", dependencies: ["ForecastConfig", "ForecastStore", "Forecasting", "PostgresClient"]),
        // The daemon's runtime: its loops, systemd notification, logging, metrics and endpoints.
        .target(name: "ForecastDaemon", dependencies: [
            "ForecastConfig", "ForecastStore", "ForecastJobs", "Forecasting", "PostgresClient", "HTTPServing",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "forecastd", dependencies: [
            "ForecastConfig", "ForecastStore", "ForecastJobs", "ForecastReport", "ForecastDaemon",
            "Forecasting", "NeuralNet", "PostgresClient", "HTTPServing",
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
        // What the service's test targets share: a freshly migrated schema per test, model-cell shorthands.
        .target(name: "ServiceTestSupport", dependencies: ["TestSupport", "ForecastStore", "ForecastConfig", "Forecasting", "PostgresClient"],
                path: "Tests/ServiceTestSupport"),
        .testTarget(name: "ForecastConfigTests", dependencies: ["ForecastConfig", "Forecasting", "ServiceTestSupport"]),
        .testTarget(name: "ForecastStoreTests", dependencies: [
            "ForecastStore", "ForecastConfig", "Forecasting", "PostgresClient", "ServiceTestSupport",
        ]),
        .testTarget(name: "ForecastJobsTests", dependencies: [
            "ForecastJobs", "ForecastStore", "ForecastConfig", "Forecasting", "NeuralNet", "PostgresClient", "ServiceTestSupport",
        ]),
        .testTarget(name: "ForecastReportTests", dependencies: ["ForecastReport", "ForecastStore", "ForecastConfig", "Forecasting", "ServiceTestSupport"]),
        .testTarget(name: "ForecastDaemonTests", dependencies: ["ForecastDaemon", "ForecastConfig", "ServiceTestSupport"]),
        // The built forecastd end to end: daemon processes, the CLI, systemd, metrics, reports.
        .testTarget(name: "ForecastServiceTests", dependencies: [
            "ForecastConfig", "ForecastStore", "ForecastJobs", "ForecastReport", "ForecastDaemon",
            "Forecasting", "PostgresClient", "HTTPServing", "ServiceTestSupport",
        ]),
    ]
)
