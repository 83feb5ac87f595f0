import Foundation
import PostgresClient

/// One numbered SQL file of `migrations/`, e.g. `0001_init.sql`.
public struct MigrationFile: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var sql: String

    /// Reads `NNNN_name.sql` files in version order; any other file is ignored, but two files
    /// with one number, or a gap in the numbers, are errors.
    public static func load(directory: String) throws -> [MigrationFile] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw MigrationError.missingDirectory(directory)
        }
        var files: [MigrationFile] = []
        for name in names where name.hasSuffix(".sql") {
            let digits = name.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let version = Int(digits), name.dropFirst(digits.count).first == "_" else { continue }
            let sql = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            files.append(MigrationFile(version: version, name: name, sql: sql))
        }
        files.sort { $0.version < $1.version }
        for (expected, file) in zip(1..., files) where file.version != expected {
            throw MigrationError.badNumbering("expected migration number \(expected), found \(file.name) in \(directory)")
        }
        return files
    }

    /// Where the migrations of this build are: `$FORECASTD_MIGRATIONS` when set, else the first
    /// folder below that holds `0001_init.sql`.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let dir = environment["FORECASTD_MIGRATIONS"], !dir.isEmpty { return dir }
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        // Installed next to the binary first, then the checkout this binary was built from
        // (so a development build never picks up an older installed copy), then the usual places.
        let candidates = [
            executable.deletingLastPathComponent().appendingPathComponent("../share/forecastd/migrations").standardized.path,
            URL(fileURLWithPath: #filePath).appendingPathComponent("../../../migrations").standardized.path,
            "/usr/share/forecastd/migrations",
            "/usr/local/share/forecastd/migrations",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/0001_init.sql") } ?? candidates.last!
    }
}

public enum MigrationError: Error, Sendable, CustomStringConvertible {
    case missingDirectory(String)
    case badNumbering(String)
    case edited(name: String, applied: String, now: String)
    case unknownApplied(version: Int, name: String)
    case failed(name: String, underlying: String)

    public var description: String {
        switch self {
        case .missingDirectory(let dir):
            return "no migrations folder at \(dir) (set FORECASTD_MIGRATIONS to the folder holding 0001_init.sql)"
        case .badNumbering(let message):
            return message
        case .edited(let name, let applied, let now):
            return "migration \(name) was edited after it was applied (checksum \(applied.prefix(12)) in the database, \(now.prefix(12)) in the file); applied migrations are never edited: restore the file and add a new numbered one"
        case .unknownApplied(let version, let name):
            return "the database has migration \(version) (\(name)) that this forecastd does not know: the schema is newer than this binary"
        case .failed(let name, let underlying):
            return "migration \(name) failed and was rolled back: \(underlying)"
        }
    }
}

/// Applies migrations in order, each in its own transaction, recorded with a checksum in
/// `schema_migrations` inside the configured schema. A session advisory lock makes concurrent
/// runs from several hosts wait for each other instead of racing.
public struct Migrator: Sendable {
    public var schema: String
    public var files: [MigrationFile]

    public init(schema: String, files: [MigrationFile]) {
        self.schema = schema
        self.files = files
    }

    public struct Status: Sendable, Equatable {
        public var applied: [Int]
        public var pending: [String]
        public var isCurrent: Bool { pending.isEmpty }
    }

    var quotedSchema: String { quoteIdentifier(schema) }

    /// Applies what is pending and returns the names applied (empty when the schema was current).
    @discardableResult
    public func migrate(on connection: PostgresConnection) async throws -> [String] {
        let schema = self.schema
        let files = self.files
        let quotedSchema = self.quotedSchema
        return try await connection.withAdvisoryLock(key: "forecastd.migrate.\(schema)") { db in
            try db.executeScript("""
                SET client_min_messages TO warning;
                CREATE SCHEMA IF NOT EXISTS \(quotedSchema);
                CREATE TABLE IF NOT EXISTS \(quotedSchema).schema_migrations (
                    version    integer PRIMARY KEY,
                    name       text NOT NULL,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                );
                """)
            let applied = try Self.appliedChecksums(db, quotedSchema: quotedSchema)
            let pending = try Self.verify(files: files, applied: applied, db: db)
            var names: [String] = []
            for file in pending {
                do {
                    try db.transaction { tx in
                        try tx.execute("SELECT set_config('search_path', $1, true)", quotedSchema + ", public")
                        try tx.executeScript(file.sql)
                        try tx.execute("""
                            INSERT INTO \(quotedSchema).schema_migrations (version, name, checksum)
                            VALUES ($1, $2, encode(sha256(convert_to($3, 'UTF8')), 'hex'))
                            """, file.version, file.name, file.sql)
                    }
                } catch let error as PostgresError {
                    throw MigrationError.failed(name: file.name, underlying: error.description)
                }
                names.append(file.name)
            }
            return names
        }
    }

    /// What `migrate` would do, without doing it: the daemon refuses to start on a stale schema.
    public func status(on connection: PostgresConnection) async throws -> Status {
        let files = self.files
        let quotedSchema = self.quotedSchema
        return try await connection.withConnection { db in
            let exists = try db.query("SELECT to_regclass($1) IS NOT NULL", quotedSchema + ".schema_migrations")
            guard try exists.first?.decode(0, as: Bool.self) == true else {
                return Status(applied: [], pending: files.map(\.name))
            }
            let applied = try Self.appliedChecksums(db, quotedSchema: quotedSchema)
            let pending = try Self.verify(files: files, applied: applied, db: db)
            return Status(applied: applied.keys.sorted(), pending: pending.map(\.name))
        }
    }

    static func appliedChecksums(_ db: isolated PostgresConnection, quotedSchema: String) throws -> [Int: (name: String, checksum: String)] {
        var applied: [Int: (name: String, checksum: String)] = [:]
        for row in try db.query("SELECT version, name, checksum FROM \(quotedSchema).schema_migrations") {
            applied[try row.decode(0, as: Int.self)] = (try row.decode(1, as: String.self), try row.decode(2, as: String.self))
        }
        return applied
    }

    /// Checks applied files against their recorded checksums and returns the pending ones.
    static func verify(files: [MigrationFile], applied: [Int: (name: String, checksum: String)], db: isolated PostgresConnection) throws -> [MigrationFile] {
        let known = Set(files.map(\.version))
        if let unknown = applied.keys.sorted().first(where: { !known.contains($0) }) {
            throw MigrationError.unknownApplied(version: unknown, name: applied[unknown]!.name)
        }
        var pending: [MigrationFile] = []
        for file in files {
            guard let record = applied[file.version] else {
                pending.append(file)
                continue
            }
            let checksum = try db.query("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')", file.sql)[0].decode(0, as: String.self)
            if checksum != record.checksum {
                throw MigrationError.edited(name: file.name, applied: record.checksum, now: checksum)
            }
        }
        return pending
    }
}
