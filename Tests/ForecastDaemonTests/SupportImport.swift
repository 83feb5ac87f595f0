// StoreTestCase, the model-cell shorthands and TestSupport (the throwaway database), re-exported
// here once so that every file of this test target sees them without an import of its own.
@_exported import ServiceTestSupport
