//! Replays every fuzz corpus (`fuzz/corpus/<target>/`) through the function its cargo-fuzz
//! target calls, on stable: each input found once, crash or seed, stays a regression test.

use std::path::Path;

use crate::common::root;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = root().join("fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no corpus", dir.display());
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let name = file
            .strip_prefix(root())
            .unwrap_or(Path::new("?"))
            .display()
            .to_string();
        // The stack the binary's threads have (the main thread's 8 MiB), not a test thread's 2.
        let replayed = std::thread::Builder::new()
            .stack_size(16 << 20)
            .spawn(move || run(&data))
            .unwrap()
            .join();
        if replayed.is_err() {
            panic!("{name} fails its fuzz property (message above)");
        }
    }
}

#[test]
fn fuzz_corpus_manifest() {
    replay("manifest", kubectl_waves::fuzz::manifest);
}

#[test]
fn fuzz_corpus_annotations() {
    replay("annotations", kubectl_waves::fuzz::annotations);
}

#[test]
fn fuzz_corpus_edit() {
    replay("edit", kubectl_waves::fuzz::edit);
}

#[test]
fn fuzz_corpus_lua_health() {
    replay("lua_health", kubectl_waves::fuzz::lua_health);
}
