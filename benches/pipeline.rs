//! Criterion benchmarks of the per-packet pipeline: decode of one frame,
//! flow-table update of an established flow, and an end-to-end scan of a
//! fixture. Run with `cargo bench --bench pipeline`; the whole-program
//! comparison with other tools is `benches/bench-compare`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ghostport::analysis::{self, AnalysisConfig, Analyzer};
use ghostport::capture::{Frame, Input, linktypes};
use ghostport::decode::{self, LinkType};
use ghostport::flow::{FlowConfig, FlowTable};
use ghostport::knowledge::KnowledgeBase;

/// An Ethernet + IPv4 + TCP frame (ACK with `payload` bytes).
fn tcp_frame(src_port: u16, dst_port: u16, seq: u32, payload: usize) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([192, 0, 2, 10], [198, 51, 100, 20], 64)
        .tcp(src_port, dst_port, seq, 64240)
        .ack(1);
    let data = vec![0x5a; payload];
    let mut out = Vec::with_capacity(builder.size(payload));
    // Writing into a Vec cannot fail.
    let _ = builder.write(&mut out, &data);
    out
}

fn bench_decode(c: &mut Criterion) {
    let frame = tcp_frame(51000, 443, 1000, 1400);
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ethernet_ipv4_tcp_1400", |b| {
        b.iter(|| decode::decode(Some(LinkType::Ethernet), black_box(&frame)).is_ok())
    });
    g.finish();
}

fn bench_flow_update(c: &mut Criterion) {
    let frame = tcp_frame(51000, 443, 1000, 1400);
    let Ok(p) = decode::decode(Some(LinkType::Ethernet), &frame) else {
        panic!("benchmark frame does not decode");
    };
    let mut table = FlowTable::new(FlowConfig::default());
    // 10 000 other flows so that lookups hit a realistic table.
    for i in 0..10_000u32 {
        let mut q = p;
        q.src = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        table.update(&q, 1_000, 1454);
    }
    let mut ts = 2_000i64;
    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Elements(1));
    g.bench_function("update_established", |b| {
        b.iter(|| {
            ts += 1_000;
            table.update(black_box(&p), ts, 1454);
        })
    });
    g.finish();
}

fn bench_analyzer_frame(c: &mut Criterion) {
    let kb = KnowledgeBase::builtin();
    let mut az = Analyzer::new(kb, &AnalysisConfig::default());
    let frame = tcp_frame(51000, 443, 1000, 1400);
    let mut ts = 1_000_000_000i64;
    let mut g = c.benchmark_group("analyzer");
    g.throughput(Throughput::Elements(1));
    g.bench_function("frame_established", |b| {
        b.iter(|| {
            ts += 1_000;
            let f = Frame {
                ts_nanos: ts,
                linktype: linktypes::ETHERNET,
                data: &frame,
                orig_len: frame.len() as u32,
                caplen: frame.len() as u32,
            };
            az.frame(black_box(&f))
        })
    });
    g.finish();
}

fn bench_scan(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo.pcapng");
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let kb = KnowledgeBase::builtin();
    let cfg = AnalysisConfig::default();
    let inputs = vec![Input::Path(path)];
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(size));
    g.bench_function("fixture_demo_pcapng", |b| {
        b.iter(|| {
            analysis::scan(black_box(&inputs), kb, &cfg, &mut ())
                .packets
                .frames
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_decode,
    bench_flow_update,
    bench_analyzer_frame,
    bench_scan
);
criterion_main!(benches);
