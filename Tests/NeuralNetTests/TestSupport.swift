import XCTest
@testable import NeuralNet

/// Random window data for checks: inputs, targets, a mask with some holes (NaN targets behind
/// them, which must not leak into loss or gradient) and a random carried-in state.
struct WindowData {
    var inputs: [Float]
    var targets: [Float]
    var mask: [Float]?
    var state: RecurrentState

    init(config: NetworkConfig, steps: Int, batch: Int, masked: Bool, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        func u() -> Float { 2 * rng.nextFloat() - 1 }
        inputs = (0..<(steps * batch * config.inputSize)).map { _ in u() }
        var t = (0..<(steps * batch * config.outputSize)).map { _ in u() }
        if masked {
            var m = [Float](repeating: 1, count: t.count)
            for i in m.indices where rng.nextFloat() < 0.3 { m[i] = 0; t[i] = .nan }
            mask = m
        }
        targets = t
        state = RecurrentState(config: config, batch: batch)
        for l in 0..<config.layers {
            state.hidden[l] = state.hidden[l].map { _ in 0.5 * u() }
            if config.cell == .lstm { state.cell[l] = state.cell[l].map { _ in u() } }
        }
    }
}

/// Compares the analytic gradient with central differences of the Float32 loss. The tolerance is
/// fitted to Float32: a loss of O(1) carries ~1e-7 rounding, so with eps = 4e-3 the difference
/// quotient is good to ~1e-4 absolute, plus an O(eps²) truncation term.
func assertGradientMatchesFiniteDifferences(
    _ config: NetworkConfig, loss: Loss = .mse, steps: Int = 5, batch: Int = 3, masked: Bool = true,
    lossFromStep: Int = 0, dropoutSeed: UInt64? = nil, seed: UInt64 = 7, stride step: Int = 1,
    file: StaticString = #filePath, line: UInt = #line
) throws {
    let net = try RecurrentNetwork(config: config, seed: seed)
    let d = WindowData(config: config, steps: steps, batch: batch, masked: masked, seed: seed &+ 100)
    func lossAt() throws -> Double {
        try net.lossAndGradient(inputs: d.inputs, targets: d.targets, mask: d.mask, steps: steps, batch: batch,
                                state: d.state, loss: loss, lossFromStep: lossFromStep, dropoutSeed: dropoutSeed)
    }
    let l0 = try lossAt()
    XCTAssertTrue(l0.isFinite, "loss not finite", file: file, line: line)
    let analytic = net.gradients
    var p = net.parameters
    let eps: Float = 4e-3
    var worst = 0.0, failures = 0
    var num2 = 0.0, diff2 = 0.0
    for i in Swift.stride(from: 0, to: p.count, by: step) {
        let saved = p[i]
        p[i] = saved + eps; net.parameters = p
        let lp = try lossAt()
        p[i] = saved - eps; net.parameters = p
        let lm = try lossAt()
        p[i] = saved
        let numeric = (lp - lm) / Double(2 * eps)
        let a = Double(analytic[i])
        let err = abs(numeric - a)
        num2 += numeric * numeric; diff2 += err * err
        let tol = 3e-4 + 2e-2 * max(abs(numeric), abs(a))
        if err > tol {
            failures += 1
            if failures <= 5 {
                let name = net.tensors.last { $0.offset <= i }!.name
                XCTFail("\(config.cell) grad[\(i)] (\(name)): analytic \(a) numeric \(numeric)", file: file, line: line)
            }
        }
        worst = max(worst, err / max(1e-3, abs(numeric)))
    }
    net.parameters = p
    XCTAssertLessThan((diff2 / max(num2, 1e-12)).squareRoot(), 5e-3, "relative gradient error", file: file, line: line)
}
