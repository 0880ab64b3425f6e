include!("../juice-core/build/sodium.rs");

fn main() {
    napi_build::setup();
    link_libsodium();
}
