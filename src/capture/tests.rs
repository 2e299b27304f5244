//! Tests of the capture module on blobs built in code.

use std::io::{Cursor, Write};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::input::{hex, open_stream};
use super::testutil::{NgBlob, PcapBlob, Rng};
use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Owned {
    ts: i64,
    linktype: u32,
    data: Vec<u8>,
    orig_len: u32,
}

fn drain(mut src: Box<dyn FrameSource + Send>) -> (Vec<Owned>, Option<CaptureError>, InputSummary) {
    let mut frames = Vec::new();
    let err = loop {
        match src.next_frame() {
            Ok(Some(f)) => {
                assert_eq!(f.caplen as usize, f.data.len());
                frames.push(Owned {
                    ts: f.ts_nanos,
                    linktype: f.linktype,
                    data: f.data.to_vec(),
                    orig_len: f.orig_len,
                })
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    // Sticky end.
    assert!(matches!(src.next_frame(), Ok(None)));
    (frames, err, src.finish())
}

fn read_bytes(bytes: &[u8]) -> (Vec<Owned>, Option<CaptureError>, InputSummary) {
    match open_reader("t.pcap", Box::new(Cursor::new(bytes.to_vec()))) {
        Ok(src) => drain(src),
        Err(e) => panic!("open failed: {e}"),
    }
}

/// Same, through a tiny buffer that must compact and grow.
fn read_bytes_small_buf(bytes: &[u8]) -> (Vec<Owned>, Option<CaptureError>) {
    let opened = open_stream(
        "t.pcap".into(),
        Box::new(Cursor::new(bytes.to_vec())),
        None,
        None,
        true,
    );
    let src = match opened.and_then(|o| NativeSource::with_capacity(o, 64)) {
        Ok(s) => s,
        Err(e) => panic!("open failed: {e}"),
    };
    let (f, e, _) = drain(Box::new(src));
    (f, e)
}

fn open_err(bytes: &[u8]) -> CaptureError {
    match open_reader("t.pcap", Box::new(Cursor::new(bytes.to_vec()))) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ghostport-capture-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).ok();
    d
}

#[test]
fn pcap_all_magics() {
    for be in [false, true] {
        for nanos in [false, true] {
            for modified in [false, true] {
                if nanos && modified {
                    continue;
                }
                let mut b = PcapBlob::with_magic(be, nanos, modified, 1, 65535);
                b.record(1_600_000_000_123_456_789, &payload(60, 1));
                b.record(1_600_000_001_000_001_000, &payload(1514, 2));
                b.record(1_600_000_002_000_000_000, &[]);
                let (frames, err, sum) = read_bytes(&b.out);
                assert!(err.is_none(), "{err:?}");
                assert_eq!(frames.len(), 3);
                let sub = if nanos { 123_456_789 } else { 123_456_000 };
                assert_eq!(frames[0].ts, 1_600_000_000_000_000_000 + sub);
                assert_eq!(frames[1].ts, 1_600_000_001_000_001_000);
                assert_eq!(frames[0].data, payload(60, 1));
                assert_eq!(frames[1].data, payload(1514, 2));
                assert_eq!(frames[1].orig_len, 1518);
                assert!(frames[2].data.is_empty(), "zero-length record is a frame");
                assert_eq!(frames[0].linktype, 1);
                assert_eq!(sum.frames, 3);
                assert_eq!(sum.format, "pcap");
                assert_eq!(sum.linktypes, vec![1]);
                assert_eq!(sum.first_ts_nanos, Some(frames[0].ts));
                assert_eq!(sum.last_ts_nanos, Some(frames[2].ts));
                assert_eq!(sum.sha256, hex(&Sha256::digest(&b.out)));
                assert_eq!(sum.size, b.out.len() as u64);
                assert_eq!(read_bytes_small_buf(&b.out).0, frames);
            }
        }
    }
}

#[test]
fn pcap_header_only_is_empty_capture() {
    let b = PcapBlob::new(false, false, 113, 0);
    let (frames, err, sum) = read_bytes(&b.out);
    assert!(frames.is_empty() && err.is_none());
    assert_eq!(sum.linktypes, vec![113]);
    assert_eq!(sum.first_ts_nanos, None);
}

#[test]
fn pcap_linktype_fcs_bits_masked() {
    let b = PcapBlob::new(false, false, 0x1400_0001, 0);
    let (_, _, sum) = read_bytes(&b.out);
    assert_eq!(sum.linktypes, vec![1]);
}

#[test]
fn truncated_record_after_complete_frames() {
    let mut b = PcapBlob::new(false, false, 1, 65535);
    for i in 0..6 {
        b.record(1_000_000_000 * i, &payload(100, i as u8));
    }
    let full = b.out.len();
    b.record(7_000_000_000, &payload(100, 7));
    // Cut in the middle of the 7th record's data.
    let cut = &b.out[..full + 16 + 50];
    let (frames, err, _) = read_bytes(cut);
    assert_eq!(frames.len(), 6);
    let e = err.expect("truncation error");
    assert!(
        matches!(e, CaptureError::Truncated { packet: 7, .. }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "t.pcap: truncated record at byte {full} (packet 7): the file was cut short; results up to packet 6 are complete"
        )
    );
    assert_eq!(e.complete_frames(), Some(6));
    // Cut inside the record header.
    let (frames, err) = read_bytes_small_buf(&b.out[..full + 5]);
    assert_eq!(frames.len(), 6);
    assert!(matches!(
        err,
        Some(CaptureError::Truncated { packet: 7, .. })
    ));
}

#[test]
fn truncated_file_header() {
    let b = PcapBlob::new(false, false, 1, 65535);
    let e = open_err(&b.out[..10]);
    assert!(
        e.to_string().contains("truncated file header at byte 0"),
        "{e}"
    );
}

#[test]
fn corrupt_record_length_is_an_error_without_allocation() {
    let mut b = PcapBlob::new(false, false, 1, 65535);
    b.record(0, &payload(10, 0));
    let at = b.out.len();
    b.raw_record(1, 0, 0xffff_fff0, 60, &payload(60, 0));
    let (frames, err, _) = read_bytes(&b.out);
    assert_eq!(frames.len(), 1);
    let e = err.expect("corrupt");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("corrupt record length 4294967280 (snaplen 65535, maximum 262144) at byte {at} (packet 2)")),
        "{msg}"
    );
    assert!(
        msg.ends_with("results up to packet 1 are complete"),
        "{msg}"
    );
}

#[test]
fn caplen_above_snaplen_is_clamped() {
    let mut b = PcapBlob::new(true, false, 1, 100);
    b.record(0, &payload(300, 3));
    b.record(0, &payload(50, 4));
    let (frames, err, sum) = read_bytes(&b.out);
    assert!(err.is_none());
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].data, payload(100, 3));
    assert_eq!(frames[1].data, payload(50, 4));
    assert_eq!(sum.skipped.clamped_records, 1);
}

#[test]
fn garbage_after_header() {
    let mut b = PcapBlob::new(false, false, 1, 65535);
    let mut rng = Rng(7);
    b.out.extend((0..1000).map(|_| 0xf0 | (rng.next() as u8)));
    let (frames, err, _) = read_bytes(&b.out);
    assert!(frames.is_empty());
    let msg = err.expect("error").to_string();
    assert!(
        msg.contains("corrupt record length") && msg.contains("at byte 24"),
        "{msg}"
    );
}

#[test]
fn not_a_capture_and_empty() {
    let e = open_err(b"\x12\x34\x56\x78 hello");
    assert_eq!(
        e.to_string(),
        "t.pcap: not a pcap or pcapng file (magic 0x12345678)"
    );
    let e = open_err(b"");
    assert!(matches!(e, CaptureError::Empty { .. }));
    let e = open_err(b"ab");
    assert_eq!(
        e.to_string(),
        "t.pcap: not a pcap or pcapng file (magic 0x61620000)"
    );
    // gzip of text
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"just some text").ok();
    let gz = gz.finish().unwrap_or_default();
    let e = open_err(&gz);
    assert_eq!(
        e.to_string(),
        "t.pcap: decompressed gzip data is not a pcap or pcapng file (magic 0x6a757374)"
    );
}

fn sample_pcapng() -> (Vec<u8>, Vec<Owned>) {
    let mut ng = NgBlob::new();
    let mut want = Vec::new();
    ng.shb(false);
    ng.idb(1, 0, None, None); // micro
    ng.idb(113, 128, Some(9), Some(100)); // nano, +100 s, snaplen 128
    ng.idb(101, 65535, Some(0x80 | 10), None); // 1/1024 s
    ng.block(0x0bad_cafe, &payload(37, 0)); // unknown
    ng.block(5, &payload(20, 0)); // ISB: known, not counted
    ng.epb(0, 1_600_000_000_000_001, &payload(60, 1));
    want.push(Owned {
        ts: 1_600_000_000_000_001_000,
        linktype: 1,
        data: payload(60, 1),
        orig_len: 70,
    });
    ng.epb(1, 5, &payload(200, 2)); // clamped to 128
    want.push(Owned {
        ts: 100_000_000_005,
        linktype: 113,
        data: payload(128, 2),
        orig_len: 210,
    });
    ng.epb(2, 2048, &payload(3, 3));
    want.push(Owned {
        ts: 2_000_000_000,
        linktype: 101,
        data: payload(3, 3),
        orig_len: 13,
    });
    ng.spb(61, &payload(61, 4)); // SPB: iface 0, last ts, caplen = min(orig, snaplen)
    want.push(Owned {
        ts: 2_000_000_000,
        linktype: 1,
        data: payload(61, 4),
        orig_len: 61,
    });
    ng.epb(9, 0, &payload(10, 0)); // no such interface: skipped
    ng.pb(0, 7, &payload(0, 0)); // obsolete PB, empty
    want.push(Owned {
        ts: 7_000,
        linktype: 1,
        data: vec![],
        orig_len: 0,
    });
    // Second section, big-endian, interfaces reset.
    ng.shb(true);
    ng.idb(229, 0, Some(3), Some(-1));
    ng.epb(0, 2500, &payload(41, 5));
    want.push(Owned {
        ts: 1_500_000_000,
        linktype: 229,
        data: payload(41, 5),
        orig_len: 51,
    });
    (ng.out.clone(), want)
}

#[test]
fn pcapng_sections_interfaces_resolutions() {
    let (bytes, want) = sample_pcapng();
    let (frames, err, sum) = read_bytes(&bytes);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames, want);
    assert_eq!(sum.format, "pcapng");
    assert_eq!(sum.linktypes, vec![1, 113, 101, 229]);
    assert_eq!(sum.skipped.unknown_blocks, 1);
    assert_eq!(sum.skipped.unknown_interface, 1);
    assert_eq!(sum.skipped.clamped_records, 1);
    assert_eq!(read_bytes_small_buf(&bytes).0, want);
}

#[test]
fn pcapng_truncated_and_corrupt_blocks() {
    let (bytes, want) = sample_pcapng();
    // Every cut point: never a panic, frames are a prefix, error iff cut
    // mid-block.
    for cut in 4..bytes.len() {
        let r = open_reader("t.pcapng", Box::new(Cursor::new(bytes[..cut].to_vec())));
        let Ok(src) = r else { continue };
        let (frames, err, _) = drain(src);
        assert!(frames.len() <= want.len());
        assert_eq!(frames[..], want[..frames.len()]);
        if let Some(e) = err {
            assert!(
                matches!(e, CaptureError::Truncated { .. }),
                "cut {cut}: {e}"
            );
        }
    }
    // Bad block length.
    let mut ng = NgBlob::new();
    ng.shb(false)
        .idb(1, 0, None, None)
        .epb(0, 1, &payload(8, 0));
    let good = ng.out.len();
    ng.out.extend_from_slice(&6u32.to_le_bytes());
    ng.out.extend_from_slice(&13u32.to_le_bytes());
    ng.out.extend_from_slice(&[0; 12]);
    let (frames, err, _) = read_bytes(&ng.out);
    assert_eq!(frames.len(), 1);
    let msg = err.expect("err").to_string();
    assert!(
        msg.contains(&format!(
            "corrupt pcapng block length 13 (block type 0x00000006) at byte {good} (packet 2)"
        )),
        "{msg}"
    );
    // Trailer mismatch.
    let mut ng = NgBlob::new();
    ng.shb(false)
        .idb(1, 0, None, None)
        .epb(0, 1, &payload(8, 0));
    let last = ng.out.len() - 4;
    ng.out[last] ^= 0x40;
    let (frames, err, _) = read_bytes(&ng.out);
    assert!(frames.is_empty());
    assert!(err.expect("err").to_string().contains("trailing length"));
    // caplen larger than the block.
    let mut ng = NgBlob::new();
    ng.shb(false)
        .idb(1, 0, None, None)
        .epb_raw(0, 1, 200, 200, &payload(8, 0));
    let (_, err, _) = read_bytes(&ng.out);
    assert!(err.expect("err").to_string().contains("larger than its"));
    // caplen above 256 KiB.
    let mut ng = NgBlob::new();
    ng.shb(false)
        .idb(1, 0, None, None)
        .epb_raw(0, 1, 300_000, 300_000, &payload(8, 0));
    let (_, err, _) = read_bytes(&ng.out);
    assert!(
        err.expect("err")
            .to_string()
            .contains("corrupt record length 300000")
    );
    // Bad byte-order magic.
    let mut ng = NgBlob::new();
    ng.shb(false);
    ng.out[8] = 0;
    let (_, err, _) = read_bytes(&ng.out);
    assert!(err.expect("err").to_string().contains("byte-order magic"));
}

#[test]
fn pcapng_big_unknown_block_is_streamed() {
    let mut ng = NgBlob::new();
    ng.shb(false).idb(1, 0, None, None);
    ng.block(0x1234, &vec![0u8; 1 << 20]);
    ng.epb(0, 1, &payload(8, 0));
    let (frames, err) = read_bytes_small_buf(&ng.out);
    assert!(err.is_none());
    assert_eq!(frames.len(), 1);
}

#[test]
fn gzip_and_zstd_transparent() {
    let (bytes, want) = sample_pcapng();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes).ok();
    let gz = gz.finish().unwrap_or_default();
    let (frames, err, sum) = read_bytes(&gz);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames, want);
    assert_eq!(sum.format, "pcapng+gzip");
    assert_eq!(sum.sha256, hex(&Sha256::digest(&gz)));
    assert_eq!(sum.size, gz.len() as u64);

    let zs = zstd::encode_all(Cursor::new(&bytes), 3).unwrap_or_default();
    let (frames, err, sum) = read_bytes(&zs);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames, want);
    assert_eq!(sum.format, "pcapng+zstd");
    assert_eq!(sum.sha256, hex(&Sha256::digest(&zs)));

    // A truncated gzip stream: complete frames, then a truncation error.
    let mut b = PcapBlob::new(false, false, 1, 65535);
    for i in 0..200 {
        b.record(i * 1000, &payload(300, i as u8));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&b.out).ok();
    let gz = gz.finish().unwrap_or_default();
    let (frames, err, sum) = read_bytes(&gz[..gz.len() / 2]);
    assert!(frames.len() < 200);
    let e = err.expect("truncated");
    assert!(matches!(e, CaptureError::Truncated { .. }), "{e:?}");
    assert!(e.to_string().contains("of the decompressed data"), "{e}");
    assert_eq!(sum.sha256, hex(&Sha256::digest(&gz[..gz.len() / 2])));
}

#[test]
fn files_hash_on_side_thread_and_libpcap_agrees() {
    let dir = tmpdir("files");
    let mut b = PcapBlob::new(false, true, 1, 65535);
    for i in 0..50u64 {
        b.record(
            1_700_000_000_000_000_000 + i * 1_234_567,
            &payload(40 + i as usize, i as u8),
        );
    }
    let p = dir.join("a.pcap");
    std::fs::write(&p, &b.out).ok();
    let input = Input::Path(p.clone());
    let native = open(&input, ReaderKind::Native).map(drain);
    let lib = open(&input, ReaderKind::Libpcap).map(drain);
    let (Ok(native), Ok(lib)) = (native, lib) else {
        panic!("open failed")
    };
    assert_eq!(native.0, lib.0);
    assert!(native.1.is_none() && lib.1.is_none());
    let sha = hex(&Sha256::digest(&b.out));
    assert_eq!(native.2.sha256, sha);
    assert_eq!(lib.2.sha256, sha);
    assert_eq!(native.2.size, b.out.len() as u64);
    assert_eq!(native.2.name, p.display().to_string());
    assert_eq!(input.size(), Some(b.out.len() as u64));
    assert_eq!(Input::Stdin.size(), None);

    // libpcap refuses compressed input and stdin with a pointer to native.
    let gzp = dir.join("a.pcap.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.out).ok();
    std::fs::write(&gzp, gz.finish().unwrap_or_default()).ok();
    let e = open(&Input::Path(gzp.clone()), ReaderKind::Libpcap)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        e,
        Some(format!(
            "{}: the libpcap reader cannot read gzip-compressed input; use the native reader (`--reader native`, the default)",
            gzp.display()
        ))
    );
    let e = open(&Input::Stdin, ReaderKind::Libpcap)
        .err()
        .map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.contains("cannot read standard input")));
    // Missing file.
    let e = open(&Input::Path(dir.join("nope.pcap")), ReaderKind::Native)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        e,
        Some(format!(
            "cannot open {}: no such file or directory",
            dir.join("nope.pcap").display()
        ))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn expand_inputs_walks_directories() {
    let dir = tmpdir("walk");
    for f in [
        "b.pcap",
        "a.pcap",
        ".hidden.pcap",
        "sub/c.pcap",
        ".git/x.pcap",
        "sub/deeper/a.pcapng",
    ] {
        let p = dir.join(f);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).ok();
        }
        std::fs::write(&p, b"x").ok();
    }
    std::fs::create_dir_all(dir.join("empty")).ok();
    let args = vec![dir.display().to_string(), "-".to_string()];
    let got = expand_inputs(&args).unwrap_or_default();
    let want: Vec<Input> = ["a.pcap", "b.pcap", "sub/c.pcap", "sub/deeper/a.pcapng"]
        .iter()
        .map(|f| Input::Path(dir.join(f)))
        .chain([Input::Stdin])
        .collect();
    assert_eq!(got, want);
    let e = expand_inputs(&[dir.join("empty").display().to_string()])
        .err()
        .map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.contains("directory contains no files")));
    let e = expand_inputs(&[dir.join("missing").display().to_string()])
        .err()
        .map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.ends_with("no such file or directory")));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Random mutations of valid captures: never a panic, never more frames
/// than bytes allow, and every error names the input.
#[test]
fn mutated_inputs_never_panic() {
    let (ng, _) = sample_pcapng();
    let mut b = PcapBlob::new(false, false, 1, 200);
    for i in 0..20 {
        b.record(i, &payload(i as usize * 7, 1));
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for base in [ng, b.out.clone()] {
        for _ in 0..3000 {
            let mut m = base.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(m.len());
                match rng.below(3) {
                    0 => m[i] = rng.next() as u8,
                    1 => m[i] ^= 1 << rng.below(8),
                    _ => m.truncate(i.max(1)),
                }
            }
            let Ok(src) = open_reader("m", Box::new(Cursor::new(m.clone()))) else {
                continue;
            };
            let (frames, err, _) = drain(src);
            let bytes: usize = frames.iter().map(|f| f.data.len()).sum();
            assert!(bytes <= m.len());
            if let Some(e) = err {
                assert!(e.to_string().starts_with("m: "), "{e}");
            }
        }
    }
}

/// A pipe (like stdin): no size, hashed inline, gzip still detected.
#[cfg(unix)]
#[test]
fn fifo_input_is_hashed_inline() {
    let dir = tmpdir("fifo");
    let fifo = dir.join("in.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("skipping: mkfifo not available");
        return;
    }
    let (bytes, want) = sample_pcapng();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).ok();
    let gz = gz.finish().unwrap_or_default();
    // Trailing bytes after the gzip member still count in the hash.
    let stored = gz.clone();
    let writer = {
        let fifo = fifo.clone();
        let stored = stored.clone();
        std::thread::spawn(move || std::fs::write(&fifo, &stored))
    };
    let src = open(&Input::Path(fifo.clone()), ReaderKind::Native);
    let Ok(src) = src else {
        panic!("open fifo failed")
    };
    assert_eq!(src.total_size(), None);
    let (frames, err, sum) = drain(src);
    let _ = writer.join();
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames, want);
    assert_eq!(sum.sha256, hex(&Sha256::digest(&stored)));
    assert_eq!(sum.size, stored.len() as u64);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreadable_summary_and_linktype_error() {
    let dir = tmpdir("unreadable");
    let p = dir.join("notes.txt");
    std::fs::write(&p, b"hello").ok();
    let s = InputSummary::unreadable(&Input::Path(p.clone()));
    assert_eq!(s.size, 5);
    assert_eq!(s.sha256, hex(&Sha256::digest(b"hello")));
    assert_eq!(s.format, "unreadable");
    let s = InputSummary::unreadable(&Input::Path(dir.join("missing")));
    assert_eq!((s.size, s.sha256.as_str()), (0, ""));
    let e = CaptureError::UnsupportedLinkType(182);
    assert!(
        e.to_string()
            .starts_with("unsupported link type 182 (MFR); ghostport decodes ETHERNET")
    );
    let json = serde_json::to_value(InputSummary::unreadable(&Input::Stdin)).unwrap_or_default();
    assert_eq!(json["name"], "<stdin>");
    assert_eq!(json["skipped"]["unknown_blocks"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}
