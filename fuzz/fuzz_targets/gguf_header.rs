//! Fuzz target for our GGUF header reader: any bytes must give a header or an error,
//! never a panic, an abort or a huge allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = noa_registry::gguf::parse(data, data.len() as u64) {
        // Exercise the accessors on whatever parsed.
        let _ = h.summary();
        let _ = h.chat_template();
    }
});
