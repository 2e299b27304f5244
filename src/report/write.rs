//! Writing report files atomically: a temporary file next to the target,
//! renamed into place only when complete, so an interrupted run never leaves
//! a half-written report. An existing file is kept unless `force` is set.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::safefile;

/// Errors writing an output file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The target exists and `--force` was not given.
    #[error("{0}: file exists (use --force to overwrite)")]
    Exists(PathBuf),
    /// I/O failure.
    #[error("cannot write {}: {}", .0.display(), describe(.1))]
    Io(PathBuf, io::Error),
}

/// The I/O error, with the fix when the disk is full.
fn describe(e: &io::Error) -> String {
    // A renderer may have wrapped the operating system's error.
    let inner = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<io::Error>())
        .unwrap_or(e);
    match inner.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge => {
            let s = inner.to_string();
            let s = s.find(" (os error").and_then(|i| s.get(..i)).unwrap_or(&s);
            format!(
                "{} (free space, or write the report elsewhere)",
                s.to_lowercase()
            )
        }
        _ => e.to_string(),
    }
}

/// Writes `path` through `fill`, atomically: a temporary file with a
/// random name created exclusively next to it, renamed over it when
/// complete (see [`crate::safefile`]). `-` means standard output.
pub fn write_file(
    path: &Path,
    force: bool,
    fill: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> Result<(), WriteError> {
    if path == Path::new("-") {
        let stdout = io::stdout();
        let mut lock = BufWriter::new(stdout.lock());
        return fill(&mut lock)
            .and_then(|_| lock.flush())
            .or_else(|e| {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(|e| WriteError::Io("standard output".into(), e));
    }
    let io_err = |e| WriteError::Io(path.to_path_buf(), e);
    // A device or FIFO (/dev/null, /dev/stdout, a named pipe) is written in
    // place: renaming a temporary file over it would replace the device.
    if safefile::is_special(path) {
        let file = safefile::open_existing(path).map_err(io_err)?;
        let mut w = BufWriter::new(file);
        return fill(&mut w).and_then(|_| w.flush()).map_err(io_err);
    }
    if !force && fs::symlink_metadata(path).is_ok() {
        return Err(WriteError::Exists(path.to_path_buf()));
    }
    let mut tmp = safefile::TempFile::new(path).map_err(io_err)?;
    let mut w = BufWriter::new(tmp.file());
    fill(&mut w).map_err(io_err)?;
    let file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
    file.sync_all().map_err(io_err)?;
    // Dropping `tmp` on an error above removes it.
    tmp.commit(force).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            WriteError::Exists(path.to_path_buf())
        } else {
            io_err(e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_overwrite_and_leaves_no_temp_on_error() {
        let dir = std::env::temp_dir().join(format!("gp-write-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.json");
        write_file(&p, false, &mut |w| w.write_all(b"one")).unwrap();
        assert!(matches!(
            write_file(&p, false, &mut |w| w.write_all(b"two")),
            Err(WriteError::Exists(_))
        ));
        let r = write_file(&p, true, &mut |_| Err(io::Error::other("boom")));
        assert!(r.is_err());
        assert_eq!(fs::read(&p).unwrap(), b"one");
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "temp file left behind"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_full_disk_names_the_fix() {
        let e = WriteError::Io("r.json".into(), io::Error::from_raw_os_error(28));
        assert_eq!(
            e.to_string(),
            "cannot write r.json: no space left on device (free space, or write the report elsewhere)"
        );
        let wrapped = io::Error::other(io::Error::from_raw_os_error(28));
        assert!(
            WriteError::Io("r.json".into(), wrapped)
                .to_string()
                .ends_with("(free space, or write the report elsewhere)")
        );
    }

    #[test]
    fn devices_are_written_in_place_not_replaced() {
        let p = Path::new("/dev/null");
        if fs::metadata(p).map_or(true, |m| m.is_file()) {
            eprintln!("skipping: /dev/null is missing or not a device on this machine");
            return;
        }
        write_file(p, false, &mut |w| w.write_all(b"x")).unwrap();
        write_file(p, true, &mut |w| w.write_all(b"x")).unwrap();
        let m = fs::metadata(p).unwrap();
        assert!(!m.is_file(), "/dev/null was replaced by a regular file");
    }
}
