//! IANA `service-names-port-numbers.csv` import: rows or an error, no panic;
//! a parsed registry must load into a knowledge base.
#![no_main]

use ghostport::knowledge::KnowledgeBase;
use ghostport::knowledge::registry::parse_registry_csv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rows) = parse_registry_csv(text) {
        let kb = KnowledgeBase::builtin().with_registry(rows, None);
        let _ = kb.class(386, ghostport::Transport::Tcp);
    }
});
