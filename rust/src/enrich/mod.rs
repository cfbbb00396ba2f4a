//! Concurrent header parsing of many URLs into an Arrow batch of `{band}_metadata` structs.
