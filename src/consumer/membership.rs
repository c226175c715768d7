//! Consumer group membership (in progress).
