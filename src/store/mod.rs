//! Store implementations of [`crate::core::store::Store`].
