//! End-to-end tests (harness being written).
