include!("build/sodium.rs");

fn main() {
    link_libsodium();
}
