//! IANA `service-names-port-numbers.xml` import: rows or an error, no panic.
#![no_main]

use ghostport::knowledge::KnowledgeBase;
use ghostport::knowledge::registry::parse_registry_xml_dated;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((rows, updated)) = parse_registry_xml_dated(text) {
        let kb = KnowledgeBase::builtin().with_registry(rows, updated);
        let _ = kb.class(384, ghostport::Transport::Udp);
    }
});
