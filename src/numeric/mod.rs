//! Integer building blocks (placeholder until the numeric module lands).
