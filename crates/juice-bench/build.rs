include!("../juice-core/build/sodium.rs");

fn main() {
    link_libsodium();
}
