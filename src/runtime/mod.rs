//! Runtime adapters: one per engine and access path, all implementing
//! [`crate::core::runtime::Runtime`].
