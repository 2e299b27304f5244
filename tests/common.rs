//! Helpers shared by the integration tests: run the real binary, parse JSON.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ghostport"))
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The shared real captures (read-only), or None with a printed reason.
pub fn shared_pcaps() -> Option<PathBuf> {
    let dir = std::env::var_os("GHOSTPORT_SHARED_PCAPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps"));
    if dir.join("MANIFEST.tsv").exists() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: shared captures not found at {} (set GHOSTPORT_SHARED_PCAPS)",
            dir.display()
        );
        None
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn run(args: &[&str]) -> Run {
    let out: Output = bin().args(args).output().expect("run ghostport");
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_ne!(r.code, 101, "ghostport panicked on {args:?}:\n{}", r.stderr);
    assert_ne!(
        r.code, -1,
        "ghostport was killed on {args:?}:\n{}",
        r.stderr
    );
    r
}

/// `scan -F json` of the given paths (plus extra args).
pub fn scan_json(paths: &[PathBuf], extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args: Vec<String> = vec!["scan".into(), "-q".into(), "-F".into(), "json".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let r = run(&a);
    (r.code, r.json())
}

/// (port, transport) of every ghost-port finding, sorted.
pub fn finding_ports(report: &serde_json::Value) -> Vec<(u64, String)> {
    let mut v: Vec<(u64, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "ghost-port")
        .map(|f| {
            (
                f["server"]["port"].as_u64().unwrap(),
                f["transport"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A tmpfs of a few KiB mounted on a folder of its own in the temp dir;
/// unmounted (and the folder removed) on drop, also when the test fails.
/// `None`, with a printed reason, without root or when mounting fails.
pub struct TinyFs(pub PathBuf);

impl TinyFs {
    pub fn mount(name: &str, size: &str) -> Option<TinyFs> {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipping: mounting a small tmpfs needs root (CI runs as root)");
            return None;
        }
        let d = std::env::temp_dir().join(format!("gp-tinyfs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&d)
            .status();
        match st {
            Ok(s) if s.success() => Some(TinyFs(d)),
            other => {
                eprintln!("skipping: cannot mount a tmpfs here ({other:?})");
                let _ = std::fs::remove_dir_all(&d);
                None
            }
        }
    }

    /// Fills the file system up, so that not even a small file fits.
    pub fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.0.join("filler")).unwrap();
        let block = [0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let byte = [0u8; 1];
        while f.write_all(&byte).is_ok() {}
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
