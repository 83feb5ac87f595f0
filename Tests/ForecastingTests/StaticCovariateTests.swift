import Foundation
import NeuralNet
import XCTest
@testable import Forecasting

/// Static covariates (issue 14, item 3): per-series attributes encoded once on the training
/// series (numeric scaled, text one-hot with an unknown slot), read at every step as constant
/// inputs, kept with the model, and read alike on from a saved state.
final class StaticCovariateTests: XCTestCase {
    let start = instant(2024, 1, 1)
    let table = StaticTable(columns: ["region", "capacity"], numeric: [false, true], rows: [
        "a": [.text("north"), .number(10)],
        "b": [.text("south"), .number(30)],
        "c": [.text("north"), .number(20)],
        "d": [.null, .null],
        "e": [.text("west"), .number(50)],
    ])

    func testNumericAttributesAreScaledAndTextOnesOneHotWithAnUnknownSlot() throws {
        let encoding = try XCTUnwrap(StaticEncoding(fitting: ["a", "b", "c", "d"].map(table.attributes)))
        XCTAssertEqual(encoding.names, ["region", "capacity"])
        XCTAssertEqual(encoding.columns[0].categories, ["north", "south"], "the categories seen in training; NULL is none")
        // capacity over the training series: 10, 30, 20 (d unknown): median 20, IQR 10.
        let scaler = try XCTUnwrap(encoding.columns[1].scaler)
        XCTAssertEqual(scaler.center, 20)
        XCTAssertEqual(scaler.scale, 10 / RobustScaler.normalIQR, accuracy: 1e-12)
        XCTAssertEqual(encoding.width, 3 + 2)
        let s = 1 / scaler.scale
        assertValues(try encoding.encode(table.attributes(of: "a"), of: "a"), [1, 0, 0, -10 * s, 0])
        assertValues(try encoding.encode(table.attributes(of: "b"), of: "b"), [0, 1, 0, 10 * s, 0])
        assertValues(try encoding.encode(table.attributes(of: "d"), of: "d"), [0, 0, 1, 0, 1])  // NULL: the unknown slot and flag
        assertValues(try encoding.encode(table.attributes(of: "e"), of: "e"), [0, 0, 1, 30 * s, 0])  // a category first seen after training
        assertValues(try encoding.encode(table.attributes(of: "zz"), of: "zz"), [0, 0, 1, 0, 1])  // a series without a row
        // The encoding is kept as JSON in the model's settings.
        XCTAssertEqual(try JSONDecoder().decode(StaticEncoding.self, from: JSONEncoder().encode(encoding)), encoding)
        // Another query's columns are refused, naming them.
        let other = StaticAttributes(columns: ["region", "kind"], numeric: [false, false], values: [.text("north"), .text("x")])
        XCTAssertThrowsError(try encoding.encode(other, of: "a")) { error in
            XCTAssertEqual("\(error)", "series \"a\" has the static covariates [\"region\", \"kind\"], the model reads [\"region\", \"capacity\"]")
        }
        XCTAssertThrowsError(try encoding.encode(nil, of: "a"))
    }

    func testTheBuilderHandsEachSeriesItsRow() throws {
        var settings = SeriesSettings(grid: grid("1h"), minimumLength: 1)
        settings.statics = table
        let rows = ["a", "zz"].flatMap { key in (0..<5).map { h in SourceRow(key: key, time: start.addingTimeInterval(Double(h) * 3600), value: Double(h)) } }
        let outcomes = SeriesBuilder.build(rows, settings: settings)
        XCTAssertEqual(outcomes[key: "a"]?.series?.statics, table.attributes(of: "a"))
        XCTAssertEqual(outcomes[key: "zz"]?.series?.statics?.values, [.null, .null])
        XCTAssertEqual(outcomes[key: "a"]?.series?.steps(1..<3).statics, table.attributes(of: "a"), "a window keeps them")
        XCTAssertNil(SeriesBuilder.build(rows, settings: SeriesSettings(grid: grid("1h"), minimumLength: 1))[0].series?.statics)
    }

    /// Hourly series whose daily amplitude and level follow their region: the one thing that
    /// tells a global model which series it reads from the first step.
    func rows(_ key: String, hours: Int, seed: UInt64) -> [SourceRow] {
        var generator = SplitMix64(seed: seed)
        let north = table.rows[key]?.first == .text("north")
        return (0..<hours).map { h in
            let value = (north ? 10 : 30) + (north ? 2 : 6) * sin(2 * .pi * Double(h) / 24) + generator.uniform(in: -0.3...0.3)
            return SourceRow(key: key, time: start.addingTimeInterval(Double(h) * 3600), value: h % 31 == 7 ? nil : value)
        }
    }

    func settings(_ statics: StaticTable? = nil) -> SeriesSettings {
        var settings = SeriesSettings(grid: grid("1h"), maxGap: 3, minimumLength: 1)
        settings.statics = statics
        return settings
    }

    func forecaster() -> ForecasterSettings {
        var forecaster = smallForecasterSettings(horizon: 6)
        forecaster.cell = .gru
        forecaster.epochs = 2
        forecaster.staticCovariates = "SELECT key, region, capacity FROM attributes"
        return forecaster
    }

    /// The network reads the static block at every step; the model, decoded from its archive,
    /// reads on from a decoded state to a full read's bits; another attribute, another forecast.
    func testTheModelKeepsItsEncodingAndReadsOnFromAStateToAFullReadsBits() throws {
        let hours = 24 * 10
        let all = ["a", "b", "c", "d"].flatMap { rows($0, hours: hours + 30, seed: UInt64($0.unicodeScalars.first!.value)) }
        let cutAt = { (hour: Int) in all.filter { $0.time < self.start.addingTimeInterval(Double(hour) * 3600) } }
        let series = SeriesBuilder.build(cutAt(hours), settings: settings(table)).compactMap(\.series)
        XCTAssertEqual(series.count, 4)
        var withoutStatics = forecaster()
        withoutStatics.staticCovariates = nil
        XCTAssertThrowsError(try RecurrentForecaster.train(series: SeriesBuilder.build(cutAt(hours), settings: settings()).compactMap(\.series),
                                                           settings: forecaster()), "asked for, none read")
        let model = try RecurrentForecaster.train(series: series, settings: forecaster())
        let encoding = try XCTUnwrap(model.settings.staticEncoding)
        XCTAssertEqual(encoding.columns[0].categories, ["north", "south"])
        let plain = FeatureLayout(grid: grid("1h"), settings: withoutStatics)
        XCTAssertEqual(model.network.config.inputSize, FeatureLayout(grid: grid("1h"), lags: model.settings.lags).inputSize + encoding.width)
        XCTAssertEqual(plain.statics, 0)
        let prepared = try model.prepare(series[0])
        let inputs = model.inputs(prepared, steps: 0..<3)
        let column = 2 + model.settings.lags + model.features.calendar.count
        for t in 0..<3 {
            XCTAssertEqual(Array(inputs[(t * model.features.inputSize + column)..<(t * model.features.inputSize + column + 5)]),
                           try encoding.encode(table.attributes(of: "a"), of: "a").map(Float.init), "step \(t)")
        }

        let decoded = try ModelArchive.decode(try ModelArchive.encode(model))
        XCTAssertEqual(decoded.settings.staticEncoding, encoding)
        XCTAssertEqual(decoded.settings.staticCovariates, model.settings.staticCovariates)
        for key in ["a", "d"] {
            let keyed = all.filter { $0.key == key }
            let build = { (rows: [SourceRow], s: SeriesSettings) in try XCTUnwrap(SeriesBuilder.build(rows, settings: s).first?.series) }
            for later in [hours + 1, hours + 20] {
                let whole = try build(keyed.filter { $0.time < self.start.addingTimeInterval(Double(later) * 3600) }, settings(table))
                let (reread, finalState) = try model.forecast(whole)
                XCTAssertEqual(try XCTUnwrap(model.readInFull([whole]).first??.forecast), reread, "\(key): batched equals batch 1")
                let (_, saved) = try model.forecast(try build(keyed.filter { $0.time < self.start.addingTimeInterval(Double(hours - 5) * 3600) }, settings(table)))
                let state = try SeriesStateArchive.decode(SeriesStateArchive.encode(try XCTUnwrap(saved)), key: key, config: model.network.config)
                let newRows = keyed.filter { $0.time >= grid("1h").start(ofBucket: state.nextBucket) && $0.time < self.start.addingTimeInterval(Double(later) * 3600) }
                let (incremental, next) = try decoded.forecast(continuing: state, with: try build(newRows, settings(table)), maxGap: 3)
                XCTAssertEqual(incremental, reread, "\(key): read at \(later) on from a state")
                XCTAssertEqual(SeriesStateArchive.encode(try XCTUnwrap(next)), SeriesStateArchive.encode(try XCTUnwrap(finalState)), "\(key) at \(later)")
            }
            // Another region, another forecast: the network reads them.
            var moved = table
            moved.rows[key] = [.text(key == "a" ? "south" : "north"), .number(30)]
            let full = try build(keyed.filter { $0.time < self.start.addingTimeInterval(Double(hours) * 3600) }, settings(table))
            let other = try build(keyed.filter { $0.time < self.start.addingTimeInterval(Double(hours) * 3600) }, settings(moved))
            XCTAssertNotEqual(try model.forecast(other).0, try model.forecast(full).0, key)
        }
        // A series read without them cannot be forecast by a model that reads them.
        let bare = try XCTUnwrap(SeriesBuilder.build(all.filter { $0.key == "a" }, settings: settings()).first?.series)
        XCTAssertThrowsError(try model.forecast(bare))
    }

    /// A model trained with another static covariates query than the job asks (or none) is unfit
    /// and retrained, a baseline too; models without them are stored as before.
    func testAChangedStaticCovariatesQueryMakesTheModelUnfit() throws {
        let grid = GridRecord(frequency: "1h", timeZone: "UTC", aggregation: "mean", season: 24)
        let asked = forecaster()
        var none = asked
        none.staticCovariates = nil
        var other = asked
        other.staticCovariates = "SELECT key, region, capacity, kind FROM attributes"
        func recorded(_ s: ForecasterSettings) throws -> String {
            String(decoding: try JSONEncoder().encode(RecordedHyperparameters(base: s, grid: grid)), as: UTF8.self)
        }
        func baseline(_ query: String?) throws -> String {
            String(decoding: try JSONEncoder().encode(RecordedHyperparameters(base: ["baseline": "seasonal_naive"], grid: grid, horizon: 6,
                                                                              quantiles: asked.quantiles, staticCovariates: query)), as: UTF8.self)
        }
        XCTAssertFalse(try recorded(none).contains("static"), "models without them are stored as before")
        let network = ModelCell.network(.gru)
        let requirements = ModelRequirements(settings: asked, grid: grid)
        XCTAssertNil(requirements.mismatch(cell: network, hyperparameters: try recorded(asked)))
        XCTAssertEqual(requirements.mismatch(cell: network, hyperparameters: try recorded(none))?.description,
                       "trained with source.static_covariates none, the job now asks \"SELECT key, region, capacity FROM attributes\"")
        XCTAssertEqual(requirements.mismatch(cell: network, hyperparameters: try recorded(other))?.setting, "source.static_covariates")
        XCTAssertNotNil(ModelRequirements(settings: none, grid: grid).mismatch(cell: network, hyperparameters: try recorded(asked)))
        XCTAssertNil(requirements.mismatch(cell: .seasonalNaive, hyperparameters: try baseline(asked.staticCovariates)))
        XCTAssertNotNil(requirements.mismatch(cell: .seasonalNaive, hyperparameters: try baseline(nil)))
    }
}
