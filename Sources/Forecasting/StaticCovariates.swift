/// Static covariates (`[jobs.source] static_covariates = "SELECT sensor, region, kind, capacity
/// FROM public.sensors"`): per-series attributes of a global model, one row per series, the
/// series key in the first column and the attributes after it. Owns their values as read
/// (`StaticTable`, `StaticAttributes`) and their encoding into network inputs
/// (`StaticEncoding`): fitted on the training series, kept in the model's settings (so in its
/// archive and hyperparameters), and applied alike by training, predict, the backtests and a
/// read on from a saved state. Knows nothing of databases: `SourceReader` runs the query and
/// `SeriesBuilder` hands each series its row.

/// One attribute of one series as the query returned it.
public enum StaticValue: Sendable, Hashable {
    case number(Double)
    case text(String)
    /// SQL NULL, NaN, or a series the query has no row for: "unknown".
    case null
}

/// The attributes of one series, in the query's column order.
public struct StaticAttributes: Sendable, Hashable {
    /// The attribute columns (the query's columns after the key).
    public var columns: [String]
    /// Per column: declared numeric (scaled) rather than text-like (one-hot).
    public var numeric: [Bool]
    public var values: [StaticValue]

    public init(columns: [String], numeric: [Bool], values: [StaticValue]) {
        precondition(columns.count == numeric.count && columns.count == values.count, "one kind and one value per column")
        self.columns = columns
        self.numeric = numeric
        self.values = values
    }
}

/// What a job's `static_covariates` query returned: the attribute columns and each key's row.
public struct StaticTable: Sendable, Hashable {
    public var columns: [String]
    public var numeric: [Bool]
    public var rows: [String: [StaticValue]]

    public init(columns: [String], numeric: [Bool], rows: [String: [StaticValue]]) {
        precondition(columns.count == numeric.count, "one kind per column")
        self.columns = columns
        self.numeric = numeric
        self.rows = rows
    }

    /// A series' attributes; every one unknown for a series the query has no row for.
    public func attributes(of key: String) -> StaticAttributes {
        StaticAttributes(columns: columns, numeric: numeric,
                         values: rows[key] ?? [StaticValue](repeating: .null, count: columns.count))
    }
}

/// How a model turns a series' attributes into constant network inputs, fitted on its training
/// series. A numeric attribute becomes two inputs, its value scaled across the training series
/// (a `RobustScaler`, as every other input; 0 where unknown) and an unknown flag, as a
/// covariate is (`FeatureLayout`). A text-like attribute becomes a one-hot over the categories
/// seen in training plus a last "other or unknown" slot, which a NULL, a category first seen
/// after training and a series without a row all take: a global model forecasts series it was
/// not trained on, and those must not read as any known category.
public struct StaticEncoding: Sendable, Codable, Equatable {
    public struct Column: Sendable, Codable, Equatable {
        public var name: String
        /// Numeric columns: their scaler over the training series' values.
        public var scaler: RobustScaler?
        /// Text-like columns: the categories seen in training, sorted.
        public var categories: [String]?

        /// Inputs the column takes.
        public var width: Int { scaler != nil ? 2 : (categories?.count ?? 0) + 1 }
    }

    public var columns: [Column]

    public init(columns: [Column]) { self.columns = columns }

    /// Inputs of every column, the network's static block.
    public var width: Int { columns.reduce(0) { $0 + $1.width } }
    public var names: [String] { columns.map(\.name) }

    /// Fitted on the training series' attributes (one row each); nil when they carry none.
    public init?(fitting attributes: [StaticAttributes]) {
        guard let first = attributes.first else { return nil }
        columns = first.columns.indices.map { c in
            let values = attributes.map { $0.values[c] }
            if first.numeric[c] {
                let numbers = values.compactMap { value -> Double? in if case .number(let x) = value { return x } else { return nil } }
                return Column(name: first.columns[c], scaler: RobustScaler(fitting: numbers) ?? RobustScaler(center: 0, scale: 1))
            }
            let texts = Set(values.compactMap { value -> String? in if case .text(let t) = value { return t } else { return nil } })
            return Column(name: first.columns[c], categories: texts.sorted())
        }
    }

    /// The static inputs of a series. Throws when its attributes are not the columns the model
    /// was trained on (the query now returns others: the model must be retrained).
    public func encode(_ attributes: StaticAttributes?, of key: String) throws -> [Double] {
        guard let attributes, attributes.columns == names else {
            throw ForecasterError.mismatchedSeries("series \"\(key)\" has the static covariates \(attributes?.columns ?? []), the model reads \(names)")
        }
        var inputs: [Double] = []
        inputs.reserveCapacity(width)
        for (column, value) in zip(columns, attributes.values) {
            if let scaler = column.scaler {
                if case .number(let x) = value, x.isFinite {
                    inputs += [scaler.transform(x), 0]
                } else {
                    inputs += [0, 1]
                }
            } else {
                let categories = column.categories ?? []
                var slot = categories.count
                if case .text(let text) = value, let index = categories.firstIndex(of: text) { slot = index }
                inputs += (0...categories.count).map { $0 == slot ? 1 : 0 }
            }
        }
        return inputs
    }
}
