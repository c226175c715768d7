//! Feeds arbitrary bytes to the record batch decoder, as a Fetch response's
//! `records` field, with CRC checks off so that the fuzzer reaches the
//! record, legacy message and decompression parsers. Any panic is a bug.

#![no_main]

use kafka_sync::protocol::records::{decode_batches, DecodeOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = DecodeOptions::default()
        .with_check_crcs(false)
        .with_max_decompressed_size(4 << 20);
    for batch in decode_batches(data, options) {
        let Ok(batch) = batch else { break };
        let _ = batch.control_type();
        let Ok(records) = batch.records() else {
            continue;
        };
        for record in records {
            if record.is_err() {
                break;
            }
        }
    }
});
