#![no_main]
// cargo +nightly fuzz run edit (see docs/reliability.md); the same function replays
// fuzz/corpus/edit/ on stable in tests/it/fuzz_corpus.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kubectl_waves::fuzz::edit(data));
