import CLibPQ

/// Helpers for connection strings and SQL identifiers that need no connection.
public enum PostgresConnectionInfo {
    /// The connection string or URI in `keyword=value` form with the password masked, safe to
    /// log. libpq parses it, so a password inside a URI (`postgresql://user:secret@host/db`) or
    /// its query string is masked as well. A string libpq cannot parse is not echoed at all,
    /// because it might still hold a password.
    public static func redacted(_ conninfo: String) -> String {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            if let errorMessage { PQfreemem(errorMessage) }
            return "<unparsable connection string>"
        }
        defer { PQconninfoFree(options) }
        var parts: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                let name = String(cString: keyword)
                parts.append("\(name)=\(name == "password" ? "********" : quoted(String(cString: value)))")
            }
            option += 1
        }
        return parts.joined(separator: " ")
    }

    /// A value in libpq's keyword=value syntax: quoted when empty or holding spaces, quotes or backslashes.
    private static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "'" || $0 == "\\" }) else { return value }
        return "'" + value.replacingAll("\\", with: "\\\\").replacingAll("'", with: "\\'") + "'"
    }
}

/// Quotes an identifier for SQL, part by part: `public.weather` becomes `"public"."weather"` and
/// `my"table` becomes `"my""table"`. Splitting on dots means a name that itself contains a dot
/// must be quoted by the caller; pass `qualified: false` to treat the whole string as one name.
public func quoteIdentifier(_ name: String, qualified: Bool = true) -> String {
    let parts = qualified ? name.split(separator: ".", omittingEmptySubsequences: false).map(String.init) : [name]
    return parts.map { "\"" + $0.replacingAll("\"", with: "\"\"") + "\"" }.joined(separator: ".")
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        guard contains(target) else { return self }
        var result = ""
        result.reserveCapacity(utf8.count + 8)
        for character in self {
            if character == target { result += replacement } else { result.append(character) }
        }
        return result
    }
}
