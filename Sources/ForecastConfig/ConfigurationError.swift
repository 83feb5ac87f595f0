/// A configuration problem, told the way a user can fix it: the file, the line and the key.
/// A file with several problems throws the first (in the file's order) with the others in
/// `more`, each printed on a line of its own.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var file: String? {
        didSet { for i in more.indices { more[i].file = file } }
    }
    public var line: Int?
    public var key: String?
    public var message: String
    /// The file's further problems, after this one.
    public var more: [ConfigurationError] = []

    public init(file: String? = nil, line: Int? = nil, key: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var location = file ?? "configuration"
        if let line { location += ":\(line)" }
        let own = key.map { "\(location): \($0): \(message)" } ?? "\(location): \(message)"
        return ([own] + more.map(\.description)).joined(separator: "\n")
    }
}
