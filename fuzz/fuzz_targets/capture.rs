//! Bytes → the native pcap/pcapng reader (compression detected) → the full
//! per-frame analysis → report. Reading must end in frames, a clean end or
//! an error; nothing may panic.
#![no_main]

use ghostport::analysis::{AnalysisConfig, Analyzer};
use ghostport::capture::{FrameSource, open_reader};
use ghostport::flow::FlowConfig;
use ghostport::knowledge::KnowledgeBase;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let kb = KnowledgeBase::builtin();
    let cfg = AnalysisConfig {
        flow: FlowConfig {
            max_flows: 8,
            ..FlowConfig::default()
        },
        ..AnalysisConfig::default()
    };
    let reader = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(mut src) = open_reader("fuzz", reader) else {
        return;
    };
    let mut az = Analyzer::new(kb, &cfg);
    let mut frames = 0u64;
    while let Ok(Some(frame)) = src.next_frame() {
        assert!(frame.data.len() <= data.len());
        az.frame(&frame);
        frames += 1;
        assert!(az.active_flows() <= 8);
    }
    // After Err or end, the source stays ended.
    assert!(matches!(src.next_frame(), Ok(None)));
    let _ = src.finish();
    let (packets, flows, _outcome) = az.finish();
    assert_eq!(packets.frames, frames);
    assert!(flows.peak <= 8);
});
