// Shared by the build scripts of every crate that produces a linked artifact (juice-core's tests,
// the juice-node cdylib, the juice-bench binary).
//
// libzmq is built with CURVE backed by libsodium (see .cargo/config.toml), but zmq-sys does not
// link libsodium itself. A `rustc-link-lib` from one of our crates would land before libzmq on the
// linker command line, where a static archive cannot satisfy it, so the archive is passed as a
// trailing link argument instead.
fn link_libsodium() {
    println!("cargo:rerun-if-env-changed=SODIUM_LIB_DIR");
    let target = std::env::var("TARGET").unwrap_or_default();
    let archive = if target.contains("msvc") { "libsodium.lib" } else { "libsodium.a" };
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    if let Ok(dir) = std::env::var("SODIUM_LIB_DIR") {
        dirs.push(dir.into());
    }
    if let Ok(out) = std::process::Command::new("pkg-config")
        .args(["--variable=libdir", "libsodium"])
        .output()
    {
        if out.status.success() {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !dir.is_empty() {
                dirs.push(dir.into());
            }
        }
    }
    let arch = target.split('-').next().unwrap_or("");
    for dir in [
        format!("/usr/lib/{arch}-linux-gnu"),
        "/usr/lib".to_string(),
        "/usr/local/lib".to_string(),
        "/opt/homebrew/lib".to_string(),
    ] {
        dirs.push(dir.into());
    }
    match dirs.iter().map(|d| d.join(archive)).find(|p| p.is_file()) {
        Some(path) => println!("cargo:rustc-link-arg={}", path.display()),
        None => panic!(
            "juice-messaging needs a static libsodium ({archive}) to build libzmq with CURVE. \
             Build through the npm scripts (npm run build:native, npm test, npm run cargo -- ...), \
             which build it from the source bundled in libsodium-sys-stable, or point \
             SODIUM_LIB_DIR at a directory holding your own. Searched: {dirs:?}"
        ),
    }
}
