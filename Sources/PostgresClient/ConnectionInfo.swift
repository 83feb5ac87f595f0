import CLibPQ
import Foundation

/// Helpers for connection strings and SQL identifiers that need no connection.
public enum PostgresConnectionInfo {
    /// The connection string or URI in `keyword=value` form with the passwords masked, safe to
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
                parts.append("\(name)=\(isPasswordKey(Substring(name)) ? "********" : quoted(String(cString: value)))")
            }
            option += 1
        }
        return parts.joined(separator: " ")
    }

    /// libpq's error `message` about `conninfo` with nothing in it that may be a password.
    /// libpq quotes what it could not parse, a whole URI included, so: an echo of the whole
    /// string becomes its redacted form (a URI libpq cannot parse: with its password masked);
    /// for a string libpq cannot parse, every other quoted fragment but a single character or a
    /// libpq keyword becomes `"…"` (a bare token may be a password typed without its keyword);
    /// and every password, as written and percent-decoded, becomes `********` wherever it is.
    public static func redacting(_ message: String, of conninfo: String) -> String {
        guard !conninfo.isEmpty else { return message }
        let parses = parsedOptions(conninfo).map { PQconninfoFree($0) } != nil
        let echo = parses ? redacted(conninfo) : masked(conninfo)
        var result = ""
        var rest = Substring(message)
        // Quoted fragments: text between pairs of double quotes, as libpq writes them.
        while let open = rest.firstIndex(of: "\""),
              let close = rest[rest.index(after: open)...].firstIndex(of: "\"") {
            let fragment = rest[rest.index(after: open)..<close]
            result += rest[...open]
            if fragment == conninfo {
                result += echo
            } else if !parses, fragment.count > 1, !keywords.contains(String(fragment)) {
                result += "…"
            } else {
                result += fragment
            }
            result += "\""
            rest = rest[rest.index(after: close)...]
        }
        result += rest
        result = result.replacingOccurrences(of: conninfo, with: echo)
        for secret in possibleSecrets(conninfo).sorted(by: { $0.count > $1.count }) where !secret.isEmpty {
            result = result.replacingOccurrences(of: secret, with: "********")
        }
        return result
    }

    /// A URI with its password, password parameters and bare query tokens masked, for showing
    /// where libpq stopped; anything else is not shown at all.
    static func masked(_ conninfo: String) -> String {
        guard let uri = URIParts(conninfo) else { return "<unparsable connection string>" }
        var text = uri.scheme
        if let user = uri.userinfo { text += user.firstIndex(of: ":").map { user[...$0] + "********@" } ?? user + "@" }
        text += uri.rest
        if let query = uri.query {
            text += "?" + query.split(separator: "&", omittingEmptySubsequences: false).map { parameter in
                guard let equals = parameter.firstIndex(of: "=") else { return parameter.isEmpty ? "" : "********" }
                return isPasswordKey(parameter[..<equals]) ? parameter[...equals] + "********" : String(parameter)
            }.joined(separator: "&")
        }
        return text
    }

    /// Every password in `conninfo`: the values libpq parses, and, found without libpq (the
    /// string may not parse), a URI's password and password parameters and the `password=`
    /// values of keyword strings; each as written and percent-decoded. (A bare token, which may
    /// be a password without its keyword, is left to the quoted-fragment rule of `redacting`.)
    static func possibleSecrets(_ conninfo: String) -> Set<String> {
        var found: [Substring] = []
        if let uri = URIParts(conninfo) {
            if let user = uri.userinfo, let colon = user.firstIndex(of: ":") { found.append(user[user.index(after: colon)...]) }
            for parameter in (uri.query ?? "").split(separator: "&") {
                guard let equals = parameter.firstIndex(of: "=") else { continue }
                if isPasswordKey(parameter[..<equals]) { found.append(parameter[parameter.index(after: equals)...]) }
            }
        } else {
            for (key, value) in keywordPairs(conninfo) where isPasswordKey(key) {
                if let value { found.append(value) }
            }
        }
        var secrets = Set(found.map(String.init))
        for secret in secrets { if let decoded = secret.removingPercentEncoding { secrets.insert(decoded) } }
        if let options = parsedOptions(conninfo) {
            defer { PQconninfoFree(options) }
            var option = options
            while let keyword = option.pointee.keyword {
                if let value = option.pointee.val, isPasswordKey(Substring(String(cString: keyword))) { secrets.insert(String(cString: value)) }
                option += 1
            }
        }
        return secrets
    }

    static func isPasswordKey(_ key: Substring) -> Bool {
        (String(key).removingPercentEncoding ?? String(key)).lowercased().hasSuffix("password")
    }

    /// libpq's parse of the string, nil when it cannot parse it; the caller frees it.
    static func parsedOptions(_ conninfo: String) -> UnsafeMutablePointer<PQconninfoOption>? {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let options = PQconninfoParse(conninfo, &errorMessage)
        if let errorMessage { PQfreemem(errorMessage) }
        return options
    }

    /// The connection keywords this libpq knows (`host`, `dbname`, `sslmode`, ...).
    static let keywords: Set<String> = {
        guard let defaults = PQconndefaults() else { return [] }
        defer { PQconninfoFree(defaults) }
        var names: Set<String> = []
        var option = defaults
        while let keyword = option.pointee.keyword {
            names.insert(String(cString: keyword))
            option += 1
        }
        return names
    }()

    /// A `postgresql://` or `postgres://` URI cut where libpq cuts it, but leniently: the user
    /// part runs to the last `@` before the query, so a password holding `/` is still found.
    struct URIParts {
        var scheme: String
        var userinfo: Substring?
        /// Host, port and path.
        var rest: Substring
        var query: Substring?

        init?(_ text: String) {
            guard let scheme = ["postgresql://", "postgres://"].first(where: { text.hasPrefix($0) }) else { return nil }
            self.scheme = scheme
            let body = text.dropFirst(scheme.count)
            let question = body.firstIndex(of: "?")
            let beforeQuery = body[..<(question ?? body.endIndex)]
            if let at = beforeQuery.lastIndex(of: "@") {
                userinfo = beforeQuery[..<at]
                rest = beforeQuery[beforeQuery.index(after: at)...]
            } else {
                rest = beforeQuery
            }
            query = question.map { body[body.index(after: $0)...] }
        }
    }

    /// `key=value` pairs of libpq's keyword syntax, read leniently (an unterminated quote runs
    /// to the end); a token without `=` comes back with a nil value.
    static func keywordPairs(_ text: String) -> [(Substring, Substring?)] {
        var pairs: [(Substring, Substring?)] = []
        var index = text.startIndex
        func skipSpaces() { while index < text.endIndex, text[index].isWhitespace { index = text.index(after: index) } }
        while true {
            skipSpaces()
            guard index < text.endIndex else { return pairs }
            let keyStart = index
            while index < text.endIndex, !text[index].isWhitespace, text[index] != "=" { index = text.index(after: index) }
            let key = text[keyStart..<index]
            skipSpaces()
            guard index < text.endIndex, text[index] == "=" else { pairs.append((key, nil)); continue }
            index = text.index(after: index)
            skipSpaces()
            let quoted = index < text.endIndex && text[index] == "'"
            if quoted { index = text.index(after: index) }
            let valueStart = index
            while index < text.endIndex {
                let character = text[index]
                if character == "\\" {
                    index = text.index(after: index)
                    if index < text.endIndex { index = text.index(after: index) }
                    continue
                }
                if quoted ? character == "'" : character.isWhitespace { break }
                index = text.index(after: index)
            }
            pairs.append((key, text[valueStart..<index]))
            if quoted, index < text.endIndex { index = text.index(after: index) }
        }
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
