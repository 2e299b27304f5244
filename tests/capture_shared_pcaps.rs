//! Both readers on the real captures in shared/pcaps: same frames (count,
//! timestamps, bytes, lengths, link type), same stopping point on broken
//! files, and hashes / counts as in MANIFEST.tsv.
//!
//! The directory is $GHOSTPORT_SHARED_PCAPS, else ../shared/pcaps relative
//! to the crate; the test is skipped (with a message) if it is missing.

use std::path::PathBuf;

use ghostport::capture::{
    CaptureError, FrameSource, Input, InputSummary, ReaderKind, canonical_linktype, open,
};

fn pcaps_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("GHOSTPORT_SHARED_PCAPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps"));
    if dir.join("MANIFEST.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: no MANIFEST.tsv in {} (set GHOSTPORT_SHARED_PCAPS)",
            dir.display()
        );
        None
    }
}

struct Row {
    file: String,
    sha256: String,
    packets: Option<u64>,
}

fn manifest(dir: &std::path::Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(f), Some(s), Some(p)) = (col("file"), col("sha256"), col("packets")) else {
        return Vec::new();
    };
    lines
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Some(Row {
                file: c.get(f)?.to_string(),
                sha256: c.get(s)?.to_string(),
                // "6 (read error after)" counts too: frames before the error.
                packets: c
                    .get(p)?
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok()),
            })
        })
        .collect()
}

type Frames = Vec<(i64, u32, Vec<u8>, u32)>;

fn read_all(src: Box<dyn FrameSource + Send>) -> (Frames, Option<CaptureError>, InputSummary) {
    let mut src = src;
    let mut frames = Vec::new();
    let err = loop {
        match src.next_frame() {
            Ok(Some(f)) => frames.push((
                f.ts_nanos,
                canonical_linktype(f.linktype),
                f.data.to_vec(),
                f.orig_len,
            )),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    (frames, err, src.finish())
}

#[test]
fn native_and_libpcap_agree_on_shared_pcaps() {
    let Some(dir) = pcaps_dir() else { return };
    let rows = manifest(&dir);
    assert!(!rows.is_empty(), "MANIFEST.tsv has no rows");
    let mut compared = 0;
    for row in &rows {
        let input = Input::Path(dir.join(&row.file));
        let native = match open(&input, ReaderKind::Native) {
            Ok(s) => read_all(s),
            Err(e) => panic!("{}: native open failed: {e}", row.file),
        };
        let (nframes, nerr, nsum) = &native;
        eprintln!(
            "{}: native {} frames, {} linktypes {:?}, error: {}",
            row.file,
            nframes.len(),
            nsum.format,
            nsum.linktypes,
            nerr.as_ref().map_or("none".to_string(), |e| e.to_string())
        );
        assert_eq!(nsum.sha256, row.sha256, "{}: sha256", row.file);
        assert_eq!(nsum.frames, nframes.len() as u64);
        match (row.packets, nerr) {
            (Some(p), None) => {
                assert_eq!(nframes.len() as u64, p, "{}: frames vs MANIFEST", row.file)
            }
            // For broken files MANIFEST's count comes from another reader;
            // the comparison with libpcap below is what counts.
            (Some(p), Some(_)) if p != nframes.len() as u64 => eprintln!(
                "{}: note: MANIFEST says {p} frames before the error",
                row.file
            ),
            _ => {}
        }
        if nsum.format.contains('+') {
            // Compressed: libpcap cannot read it, and says so.
            let e = open(&input, ReaderKind::Libpcap)
                .err()
                .map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains("--reader native")),
                "{}: {e:?}",
                row.file
            );
            continue;
        }
        let lib = match open(&input, ReaderKind::Libpcap) {
            Ok(s) => read_all(s),
            Err(e) => {
                eprintln!("{}: libpcap cannot open it: {e}", row.file);
                continue;
            }
        };
        let (lframes, lerr, lsum) = &lib;
        if let Some(e) = lerr {
            eprintln!("{}: libpcap error: {e}", row.file);
            // libpcap cannot read pcapng files whose interfaces differ in
            // link type or snaplen; the native reader can.
            if nerr.is_none() && e.to_string().contains("different from") {
                eprintln!("{}: libpcap limitation, native result kept", row.file);
                continue;
            }
            assert!(
                nerr.is_some(),
                "{}: libpcap failed, native did not",
                row.file
            );
        }
        assert_eq!(nframes.len(), lframes.len(), "{}: frame count", row.file);
        for (i, (n, l)) in nframes.iter().zip(lframes).enumerate() {
            assert_eq!(n.0, l.0, "{}: timestamp of frame {}", row.file, i + 1);
            assert_eq!(n.1, l.1, "{}: linktype of frame {}", row.file, i + 1);
            assert_eq!(n.3, l.3, "{}: orig_len of frame {}", row.file, i + 1);
            assert!(n.2 == l.2, "{}: data of frame {}", row.file, i + 1);
        }
        assert_eq!(lsum.sha256, row.sha256, "{}: libpcap sha256", row.file);
        compared += 1;
    }
    eprintln!("compared both readers on {compared} files");
    assert!(compared > 0);
}
