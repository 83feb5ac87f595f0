/// NeuralNet owns the recurrent networks: Elman RNN, LSTM and GRU cells with their forward
/// and backward passes side by side over explicit Float32 buffers, the dense head, losses,
/// optimisers, truncated BPTT training and the binary model format.
import CBLAS

public enum BLAS {
    /// OpenBLAS's description of its build (version, kernel, threading).
    public static var configuration: String { String(cString: openblas_get_config()) }
}
