//! Any bytes as a store file (configuration, dictionaries, day archive,
//! day bundle): decoded or refused with a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hitmap::fuzzing::store_decoders(data);
});
