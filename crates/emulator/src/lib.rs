//! cfstream-emulator: not built yet.
#![deny(missing_docs)]
