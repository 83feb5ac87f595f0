import Forecasting

/// `cell: .lstm` in the tests' models, for `.network(.lstm)`.
extension ModelCell {
    public static let lstm = ModelCell.network(.lstm)
    public static let gru = ModelCell.network(.gru)
    public static let rnn = ModelCell.network(.rnn)
}
