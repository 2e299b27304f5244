//! Link layer + etherparse decode: first byte picks the link type, the rest
//! is the frame. `decode` must return a packet or a skip reason, never panic,
//! and a packet's payload must lie inside the frame. The hand-written fast
//! path must agree with the general (etherparse) path on every input.
#![no_main]

use ghostport::decode::{LinkType, decode, decode_general};
use libfuzzer_sys::fuzz_target;

/// LINKTYPE numbers: every supported one, plus one unsupported.
const LINKTYPES: [u32; 16] = [
    1, 0, 108, 101, 12, 14, 228, 229, 113, 276, 9, 50, 104, 239, 258, 147,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let lt = LINKTYPES[usize::from(sel) % LINKTYPES.len()];
    let link = LinkType::from_linktype(lt);
    let result = decode(link, frame);
    assert_eq!(result, decode_general(link, frame), "fast path disagrees");
    if let Ok(p) = result {
        assert!(p.payload.len() <= frame.len());
        let start = p.payload.as_ptr() as usize;
        let fstart = frame.as_ptr() as usize;
        assert!(
            p.payload.is_empty()
                || (start >= fstart && start + p.payload.len() <= fstart + frame.len())
        );
    }
});
