import Foundation
import NeuralNet

/// The bytes of a trained forecaster as `models.weights` keeps them: a small header that
/// names the format, a JSON description (settings, grid, per-series scalers and, for a
/// `.profile` model, seasonal profiles; with covariates, their names in the settings and each
/// series' covariate scalers, past-observed then future-known; for a network combined with a
/// baseline, each series' `BaselineSpread`; for an ensemble, each further network's seed, lags,
/// calibration and length), then the network in NeuralNet's checksummed binary format (an
/// ensemble's further networks after it, in order). Any damage is a thrown error that says
/// what is wrong, never a crash.
public enum ModelArchive {
    static let magic: [UInt8] = Array("FDFC".utf8)
    public static let version: UInt32 = 1

    struct Header: Codable {
        var settings: ForecasterSettings
        var frequency: String
        var timeZone: String
        var keys: [String]
        var centers: [Double]
        var scales: [Double]
        var bestEpoch: Int
        /// Absent in archives of models without profiles (and of earlier builds).
        var profiles: [String: SeasonalProfile]?
        /// Absent in archives of models without covariates (and of earlier builds).
        var covariateScalers: [String: [RobustScaler]]?
        /// A network combined with a baseline: each series' baseline spread. Absent otherwise
        /// (and in archives of earlier builds, whose combined models read their series in full).
        var baselineSpreads: [String: BaselineSpread]?
        /// An ensemble's networks after the first (whose settings are `settings`): what sets
        /// each apart, and the length of its network's bytes, which follow the first's.
        /// Absent for a single network.
        var members: [Member]?
    }

    struct Member: Codable {
        var seed: UInt64
        /// Absent in archives of ensembles whose members all read the first one's lags.
        var lags: Int?
        var calibration: Calibration?
        var bestEpoch: Int
        var bytes: Int
    }

    public enum ArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
        case notAnArchive
        case unsupportedVersion(UInt32)
        case truncated
        case badHeader(String)

        public var description: String {
            switch self {
            case .notAnArchive: return "not a forecastd model (bad magic bytes)"
            case .unsupportedVersion(let v): return "model archive version \(v) is not supported (this build reads \(ModelArchive.version))"
            case .truncated: return "the model archive is truncated"
            case .badHeader(let why): return "the model archive's header is damaged: \(why)"
            }
        }
    }

    public static func encode(_ model: TrainedForecaster) throws -> [UInt8] {
        let keys = model.scalers.keys.sorted()
        let others = model.members.dropFirst().map { ModelFormat.encode($0.network) }
        let header = Header(settings: model.settings, frequency: model.grid.frequency.description,
                            timeZone: model.grid.timeZone.identifier, keys: keys,
                            centers: keys.map { model.scalers[$0]!.center }, scales: keys.map { model.scalers[$0]!.scale },
                            bestEpoch: model.bestEpoch, profiles: model.profiles.isEmpty ? nil : model.profiles,
                            covariateScalers: model.covariateScalers.isEmpty ? nil : model.covariateScalers,
                            baselineSpreads: model.baselineSpreads.isEmpty ? nil : model.baselineSpreads,
                            members: others.isEmpty ? nil : zip(model.members.dropFirst(), others).map {
                                Member(seed: $0.settings.seed, lags: $0.settings.lags, calibration: $0.settings.calibration,
                                       bestEpoch: $0.bestEpoch, bytes: $1.count)
                            })
        let json = try JSONEncoder().encode(header)
        var bytes = magic
        append(version, to: &bytes)
        append(UInt32(json.count), to: &bytes)
        bytes += json
        bytes += ModelFormat.encode(model.network)
        for network in others { bytes += network }
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> TrainedForecaster {
        guard bytes.count >= 12 else { throw bytes.starts(with: magic.prefix(bytes.count)) && !bytes.isEmpty ? ArchiveError.truncated : ArchiveError.notAnArchive }
        guard Array(bytes[0..<4]) == magic else { throw ArchiveError.notAnArchive }
        let version = read(bytes, at: 4)
        guard version == Self.version else { throw ArchiveError.unsupportedVersion(version) }
        let length = Int(read(bytes, at: 8))
        guard bytes.count >= 12 + length else { throw ArchiveError.truncated }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[12..<(12 + length)]))
        } catch {
            throw ArchiveError.badHeader(String(describing: error))
        }
        guard header.keys.count == header.centers.count, header.keys.count == header.scales.count,
              header.centers.allSatisfy(\.isFinite), header.scales.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw ArchiveError.badHeader("the scalers are damaged")
        }
        let grid: TimeGrid
        do {
            grid = try TimeGrid(frequency: header.frequency, timeZone: header.timeZone)
        } catch {
            throw ArchiveError.badHeader(String(describing: error))
        }
        let memberBytes = (header.members ?? []).map(\.bytes)
        guard memberBytes.allSatisfy({ $0 > 0 }), memberBytes.reduce(0, +) < bytes.count - 12 - length,
              (header.members ?? []).allSatisfy({ (1...ForecasterSettings.maximumWeekLags).contains($0.lags ?? 1) }) else {
            throw ArchiveError.badHeader("the ensemble's networks are damaged")
        }
        var end = bytes.count - memberBytes.reduce(0, +)
        let (network, _) = try ModelFormat.decode(Array(bytes[(12 + length)..<end]))
        // Each further network as its settings describe it: the first one's but for what sets it apart.
        let memberSettings = (header.members ?? []).map { member -> ForecasterSettings in
            var settings = header.settings
            settings.seed = member.seed
            settings.lags = member.lags ?? header.settings.lags
            settings.calibration = member.calibration
            return settings
        }
        var others: [RecurrentNetwork] = []
        for (count, settings) in zip(memberBytes, memberSettings) {
            var expected = network.config
            expected.inputSize = FeatureLayout(grid: grid, settings: settings).inputSize
            let (other, _) = try ModelFormat.decode(Array(bytes[end..<(end + count)]), expecting: expected)
            others.append(other)
            end += count
        }
        var scalers: [String: RobustScaler] = [:]
        for (i, key) in header.keys.enumerated() {
            scalers[key] = RobustScaler(center: header.centers[i], scale: header.scales[i])
        }
        let expected = RecurrentForecaster.networkConfig(header.settings, layout: FeatureLayout(grid: grid, settings: header.settings))
        let c = network.config
        guard c.inputSize == expected.inputSize, c.outputSize == expected.outputSize, c.decoder == expected.decoder,
              c.decoderDepth == expected.decoderDepth, c.futureFeatures == expected.futureFeatures, c.feedback == expected.feedback,
              c.decoder == .dense && c.feedback == .none || c.horizon == expected.horizon && c.median == expected.median else {
            throw ArchiveError.badHeader("the network's sizes do not match its settings")
        }
        guard (header.profiles ?? [:]).values.allSatisfy({ $0.period >= 2 && $0.factors.allSatisfy(\.isFinite) }) else {
            throw ArchiveError.badHeader("the seasonal profiles are damaged")
        }
        let covariates = header.settings.covariateColumns.count
        guard (header.covariateScalers ?? [:]).values.allSatisfy({ list in
            list.count == covariates && list.allSatisfy { $0.center.isFinite && $0.scale.isFinite && $0.scale > 0 }
        }) else {
            throw ArchiveError.badHeader("the covariate scalers are damaged")
        }
        guard (header.baselineSpreads ?? [:]).values.allSatisfy({ spread in
            !spread.levels.isEmpty && !spread.offsets.isEmpty && spread.offsets.allSatisfy { $0.count == spread.levels.count && $0.allSatisfy(\.isFinite) }
        }) else {
            throw ArchiveError.badHeader("the baseline spreads are damaged")
        }
        let model = { (settings: ForecasterSettings, network: RecurrentNetwork, bestEpoch: Int, members: [TrainedForecaster]) in
            TrainedForecaster(settings: settings, grid: grid, network: network, scalers: scalers, profiles: header.profiles ?? [:],
                              covariateScalers: header.covariateScalers ?? [:], baselineSpreads: header.baselineSpreads ?? [:],
                              members: members, history: [], bestEpoch: bestEpoch)
        }
        guard let described = header.members, !described.isEmpty else { return model(header.settings, network, header.bestEpoch, []) }
        let first = model(header.settings, network, header.bestEpoch, [])
        let members = [first] + zip(described, zip(memberSettings, others)).map { member, other in
            model(other.0, other.1, member.bestEpoch, [])
        }
        return model(header.settings, network, header.bestEpoch, members)
    }

    static func append(_ value: UInt32, to bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    static func read(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << UInt32(8 * $1) }
    }
}
