// TestDatabase and HTTPTestClient live in the shared TestSupport target; re-exported here once
// so that every file of this test target sees them without an import of its own.
@_exported import ServiceTestSupport
