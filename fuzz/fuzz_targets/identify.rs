//! Every payload recogniser via `identify`, on both transports and with the
//! two directions either way round. Field values must be sanitised (no
//! control characters reach a report).
#![no_main]

use ghostport::Transport;
use ghostport::identify::identify;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = if rest.is_empty() { 0 } else { usize::from(split) * rest.len() / 255 };
    let (a, b) = rest.split_at(at.min(rest.len()));
    for t in [Transport::Tcp, Transport::Udp] {
        for (c, s) in [(a, b), (b, a), (rest, &[][..]), (&[][..], rest)] {
            let id = identify(t, c, s);
            for (k, v) in &id.fields {
                assert!(!k.chars().any(char::is_control), "control char in key {k:?}");
                assert!(!v.chars().any(char::is_control), "control char in {k}={v:?}");
            }
        }
    }
});
