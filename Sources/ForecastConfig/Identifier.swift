/// Rules for SQL identifiers taken from the configuration. Identifiers are always quoted when
/// they reach SQL; these checks only reject what cannot be a table or schema name at all.
public enum Identifier {
    /// Letters, digits and `_`, not starting with a digit: a schema name forecastd creates.
    public static func isPlain(_ name: String) -> Bool {
        guard let first = name.first, !first.isNumber, name.count <= 63 else { return false }
        return name.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" }
    }

    /// `table` or `schema.table`; each part non-empty. Quoting happens when the SQL is written.
    public static func isQualifiedName(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return (1...2).contains(parts.count) && parts.allSatisfy { !$0.isEmpty && $0.count <= 63 && !$0.contains("\"") && !$0.contains("\0") }
    }
}
