/// Optimisers over the flat parameter vector, and the learning-rate schedule.

public protocol Optimizer: AnyObject {
    /// The rate of the next update; the trainer sets it from its schedule before each update.
    var learningRate: Float { get set }
    /// One step: `parameters -= f(gradients)`, both of length `count`.
    func update(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, count: Int)
    /// Forgets the moment estimates (e.g. before training a fresh network).
    func reset()
}

/// Adam (Kingma & Ba) with bias correction, as PyTorch's `torch.optim.Adam`; a non-zero
/// `weightDecay` is decoupled (AdamW): parameters shrink by `lr × weightDecay` each step,
/// independent of the gradient scale.
public final class Adam: Optimizer {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    public private(set) var step = 0
    private var m: [Float] = []
    private var v: [Float] = []

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0) {
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    public func reset() { step = 0; m = []; v = [] }

    public func update(parameters p: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>, count: Int) {
        if m.count != count {
            m = [Float](repeating: 0, count: count)
            v = [Float](repeating: 0, count: count)
            step = 0
        }
        step += 1
        let b1 = beta1, b2 = beta2, eps = epsilon
        let bc1 = 1 - Float(Double(b1).power(step)), bc2 = 1 - Float(Double(b2).power(step))
        let stepSize = learningRate / bc1
        let invSqrtBc2 = 1 / bc2.squareRoot()
        let decay = 1 - learningRate * weightDecay
        m.withUnsafeMutableBufferPointer { mb in
            v.withUnsafeMutableBufferPointer { vb in
                let mp = mb.baseAddress!, vp = vb.baseAddress!
                // Eight lanes at a time: this pass is serial, after the threads have joined, so it
                // counts at every size. Lanes and the scalar tail use the same operations, so
                // results do not depend on where a parameter falls.
                let decay8 = V8(repeating: decay), step8 = V8(repeating: stepSize)
                let inv8 = V8(repeating: invSqrtBc2), eps8 = V8(repeating: eps)
                var i = 0
                while i + 8 <= count {
                    let gi = load8(g + i)
                    let mi = b1 * load8(mp + i) + (1 - b1) * gi
                    let vi = b2 * load8(vp + i) + (1 - b2) * gi * gi
                    store8(mi, mp + i); store8(vi, vp + i)
                    var pi = load8(p + i)
                    if weightDecay != 0 { pi = pi * decay8 }
                    store8(pi - step8 * mi / (vi.squareRoot() * inv8 + eps8), p + i)
                    i += 8
                }
                while i < count {
                    let gi = g[i]
                    let mi = b1 * mp[i] + (1 - b1) * gi
                    let vi = b2 * vp[i] + (1 - b2) * gi * gi
                    mp[i] = mi; vp[i] = vi
                    var pi = p[i]
                    if weightDecay != 0 { pi *= decay }
                    p[i] = pi - stepSize * mi / (vi.squareRoot() * invSqrtBc2 + eps)
                    i += 1
                }
            }
        }
    }
}

/// Stochastic gradient descent with (optionally Nesterov) momentum and L2 weight decay, as
/// PyTorch's `torch.optim.SGD`.
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float, weightDecay: Float, nesterov: Bool
    private var velocity: [Float] = []

    public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0, nesterov: Bool = false) {
        self.learningRate = learningRate
        self.momentum = momentum; self.weightDecay = weightDecay; self.nesterov = nesterov
    }

    public func reset() { velocity = [] }

    public func update(parameters p: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>, count: Int) {
        if velocity.count != count { velocity = [Float](repeating: 0, count: count) }
        let lr = learningRate, mu = momentum, wd = weightDecay
        velocity.withUnsafeMutableBufferPointer { vb in
            let v = vb.baseAddress!
            for i in 0..<count {
                let gi = g[i] + wd * p[i]
                if mu == 0 { p[i] -= lr * gi; continue }
                v[i] = mu * v[i] + gi
                p[i] -= lr * (nesterov ? gi + mu * v[i] : v[i])
            }
        }
    }
}

/// A multiplier on the base learning rate by update number: linear warm-up from
/// `1/warmupSteps`, then the decay, counted from the end of the warm-up.
public struct LearningRateSchedule: Sendable, Codable, Equatable {
    public enum Decay: Sendable, Codable, Equatable {
        case constant
        /// × `factor` every `every` updates.
        case step(every: Int, factor: Float)
        /// Cosine from 1 down to `minimumFactor` over `totalSteps` updates, then flat.
        case cosine(totalSteps: Int, minimumFactor: Float)
        /// × `gamma` per update.
        case exponential(gamma: Float)
    }

    public var warmupSteps: Int
    public var decay: Decay

    public init(warmupSteps: Int = 0, decay: Decay = .constant) {
        self.warmupSteps = max(0, warmupSteps)
        self.decay = decay
    }

    public static let constant = LearningRateSchedule()

    /// The multiplier for update number `step` (0-based).
    public func factor(at step: Int) -> Float {
        if step < warmupSteps { return Float(step + 1) / Float(warmupSteps) }
        let s = step - warmupSteps
        switch decay {
        case .constant:
            return 1
        case .step(let every, let factor):
            return Float(Double(factor).power(s / max(every, 1)))
        case .cosine(let total, let minimum):
            let progress = min(1, Double(s) / Double(max(total, 1)))
            let cosine = 0.5 * (1 + cosPi(progress))
            return minimum + (1 - minimum) * Float(cosine)
        case .exponential(let gamma):
            return Float(Double(gamma).power(s))
        }
    }
}

extension Double {
    /// Integer power by squaring; avoids importing libm for pow.
    func power(_ n: Int) -> Double {
        var result = 1.0, base = self, e = n
        if e < 0 { base = 1 / base; e = -e }
        while e > 0 {
            if e & 1 == 1 { result *= base }
            base *= base
            e >>= 1
        }
        return result
    }
}

#if canImport(Glibc)
import Glibc
private func cosPi(_ x: Double) -> Double { Glibc.cos(Double.pi * x) }
#else
import Foundation
private func cosPi(_ x: Double) -> Double { Foundation.cos(Double.pi * x) }
#endif
