//! Unit tests of the read-write engine; interop tests with h5py are in tests/rw_interop.rs.
