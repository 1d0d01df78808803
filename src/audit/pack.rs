//! The evidence pack for a period.
