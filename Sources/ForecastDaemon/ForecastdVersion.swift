/// The version forecastd reports (`forecastd version`, logs, `runs.host`'s neighbours).

public enum ForecastdVersion {
    public static let version = "0.1.0"

    public static var build: String {
        #if DEBUG
        let configuration = "debug"
        #else
        let configuration = "release"
        #endif
        #if arch(x86_64)
        let arch = "x86_64"
        #elseif arch(arm64)
        let arch = "arm64"
        #else
        let arch = "unknown-arch"
        #endif
        return "\(configuration), \(arch), Swift 6"
    }
}
