#![no_main]
// cargo +nightly fuzz run lua_health (see docs/reliability.md); the same function replays
// fuzz/corpus/lua_health/ on stable in tests/it/fuzz_corpus.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| kubectl_waves::fuzz::lua_health(data));
