//! No code: this crate exists so that `cargo build -p juice-sodium` builds libsodium from the
//! source bundled in `libsodium-sys-stable`. `scripts/with-sodium.js` then points libzmq's build
//! (headers) and our link step (`libsodium.a`) at the result, so no system libsodium is needed.

pub use libsodium_sys as sys;
