@testable import Forecasting

/// `cell: .lstm` in the store tests' models, for `.network(.lstm)`.
extension ModelCell {
    static let lstm = ModelCell.network(.lstm)
    static let gru = ModelCell.network(.gru)
    static let rnn = ModelCell.network(.rnn)
}
