#![no_main]
// cargo +nightly fuzz run annotations (see docs/reliability.md); the same function replays
// fuzz/corpus/annotations/ on stable in tests/it/fuzz_corpus.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kubectl_waves::fuzz::annotations(data));
