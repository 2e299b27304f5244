//! Creating output files safely in folders other users can write to.
//!
//! ghostport often runs as root (`live`, `sudo ghostport scan`) and writes
//! into folders others may write to: a shared evidence folder, `/tmp`. A
//! user there can plant a symbolic link (or a hard link) at the name
//! ghostport is about to write, so that root truncates `/etc/shadow`, or
//! can guess a temporary name and get there first. Every file ghostport
//! writes is opened here, which:
//!
//! * never follows a symbolic link at the file's name (`O_NOFOLLOW`): a
//!   link there is an error naming it;
//! * creates a file that must be new with `O_EXCL`;
//! * overwrites an existing file in place only when it is a regular file
//!   with a single link (or a device / FIFO such as `/dev/null`, written as
//!   it is);
//! * writes temporary files under random names, created exclusively in the
//!   target's folder, then renamed over the target (a rename replaces a
//!   planted link, it never writes through it);
//! * hands a file to another user with `fchown` on the open descriptor,
//!   and only a file this process created.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Mode of created files, before the umask.
const MODE: u32 = 0o644;

/// A file opened for writing by [`open_output`].
#[derive(Debug)]
pub struct Output {
    /// The open file.
    pub file: File,
    /// True when this call created it (so it may be handed to another user).
    pub created: bool,
}

impl Output {
    /// Hands the file to `uid:gid` through its descriptor — only when this
    /// process created it; a file that existed before keeps its owner.
    pub fn hand_to(&self, uid: u32, gid: u32) -> io::Result<()> {
        if self.created {
            std::os::unix::fs::fchown(&self.file, Some(uid), Some(gid))?;
        }
        Ok(())
    }
}

/// The error for a symbolic link found where a file was to be written.
fn link_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "it is a symbolic link; ghostport does not write through links it did not create (remove it or choose another name)",
    )
}

/// Maps ELOOP (O_NOFOLLOW met a link) to [`link_error`].
fn nofollow_err(e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        link_error()
    } else {
        e
    }
}

/// True when `path` is a symbolic link that only root or this user could
/// have made or moved: owned by root or by this user, in a folder owned by
/// one of them that nobody else may write to. `/dev/stdout` is one; a link
/// planted in `/tmp` or a shared folder never is.
fn trusted_link(path: &Path) -> bool {
    let me = nix::unistd::Uid::effective().as_raw();
    let ours = |uid: u32| uid == 0 || uid == me;
    let Ok(link) = fs::symlink_metadata(path) else {
        return false;
    };
    if !link.is_symlink() || !ours(link.uid()) {
        return false;
    }
    fs::metadata(parent_of(path)).is_ok_and(|d| ours(d.uid()) && d.mode() & 0o022 == 0)
}

/// An error when `path` is a symbolic link that is not
/// [trusted](trusted_link) (for a folder about to be written into).
pub fn no_untrusted_link(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_symlink() && !trusted_link(path) => Err(link_error()),
        _ => Ok(()),
    }
}

/// Creates `path`, which must not exist (not even as a dangling link).
pub fn create_new(path: &Path) -> io::Result<File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(nofollow_err)
}

/// Opens an existing `path` for writing, following a link only when it is
/// [trusted](trusted_link). A regular file must have one link and is
/// truncated; a device or FIFO is used as it is.
pub fn open_existing(path: &Path) -> io::Result<File> {
    let flags = if trusted_link(path) {
        0
    } else {
        libc::O_NOFOLLOW
    };
    let file = fs::OpenOptions::new()
        .write(true)
        .custom_flags(flags)
        .open(path)
        .map_err(nofollow_err)?;
    let m = file.metadata()?;
    if m.is_file() {
        if m.nlink() > 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "it has {} hard links; ghostport does not overwrite a file linked elsewhere (remove it or choose another name)",
                    m.nlink()
                ),
            ));
        }
        file.set_len(0)?;
    }
    Ok(file)
}

/// Opens `path` for writing in place: created new (`O_EXCL`), or, when
/// `overwrite` is set and it exists, truncated when it is a regular file
/// with one link (a device is written as it is). Never through a link.
pub fn open_output(path: &Path, overwrite: bool) -> io::Result<Output> {
    match create_new(path) {
        Ok(file) => Ok(Output {
            file,
            created: true,
        }),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && overwrite => {
            // A dangling link also gives EEXIST: O_NOFOLLOW names it.
            Ok(Output {
                file: open_existing(path)?,
                created: false,
            })
        }
        Err(e) => Err(e),
    }
}

/// True when `path` is a device, FIFO or socket (written in place, never
/// replaced), itself or through a [trusted](trusted_link) link.
pub fn is_special(path: &Path) -> bool {
    let m = if trusted_link(path) {
        fs::metadata(path)
    } else {
        fs::symlink_metadata(path)
    };
    m.is_ok_and(|m| !m.is_file() && !m.is_dir() && !m.is_symlink())
}

/// The folder a file is written in ("." for a bare name).
pub fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A temporary file with a random name, created exclusively in the
/// target's folder (so the final rename stays on one file system), removed
/// if dropped before [`commit`](Self::commit).
#[derive(Debug)]
pub struct TempFile {
    inner: tempfile::NamedTempFile,
    target: PathBuf,
}

impl TempFile {
    /// Creates the temporary file for `target`.
    pub fn new(target: &Path) -> io::Result<TempFile> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let inner = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".ghostport-tmp")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(MODE))
            .tempfile_in(parent_of(target))?;
        Ok(TempFile {
            inner,
            target: target.to_path_buf(),
        })
    }

    /// The open file.
    pub fn file(&mut self) -> &mut File {
        self.inner.as_file_mut()
    }

    /// Its current (random) name.
    pub fn path(&self) -> &Path {
        self.inner.path()
    }

    /// Renames it over the target. Without `overwrite`, an existing target
    /// (a file or a link) is an `AlreadyExists` error and stays as it is.
    pub fn commit(self, overwrite: bool) -> io::Result<()> {
        let TempFile { inner, target } = self;
        let r = if overwrite {
            inner.persist(&target).map(|_| ())
        } else {
            inner.persist_noclobber(&target).map(|_| ())
        };
        r.map_err(|e| e.error)
    }
}

/// A private folder (mode 0700, random name) created exclusively inside
/// `dir`, removed with what it holds when dropped: files written there
/// cannot be touched by other users before they are renamed into `dir`.
pub fn private_dir_in(dir: &Path) -> io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(".ghostport-tmp.")
        .tempdir_in(dir)
}

/// Renames `from` (in a folder only this process writes) to `to`; without
/// `overwrite`, an existing `to` is an `AlreadyExists` error.
pub fn rename_into_place(from: &Path, to: &Path, overwrite: bool) -> io::Result<()> {
    if overwrite {
        return fs::rename(from, to);
    }
    // link(2) fails with EEXIST instead of replacing; it follows no link.
    match fs::hard_link(from, to) {
        Ok(()) => fs::remove_file(from),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        // A file system without hard links: check, then rename.
        Err(_) => {
            if fs::symlink_metadata(to).is_ok() {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            fs::rename(from, to)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gp-safefile-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        // A shared folder: links others plant here are never followed.
        fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
        d
    }

    /// A link as another user would plant it (owned by `nobody` when root).
    fn plant(target: &Path, link: &Path) {
        std::os::unix::fs::symlink(target, link).unwrap();
        if nix::unistd::Uid::effective().is_root() {
            std::os::unix::fs::lchown(link, Some(65534), Some(65534)).unwrap();
        }
    }

    #[test]
    fn never_writes_through_a_symlink() {
        let d = scratch("link");
        let victim = d.join("victim");
        fs::write(&victim, b"secret").unwrap();
        let link = d.join("out");
        plant(&victim, &link);
        let e = open_output(&link, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        let e = open_output(&link, true).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let e = create_new(&link).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        // A dangling link is not followed to create its target either.
        let dangling = d.join("dangling");
        plant(&d.join("made"), &dangling);
        assert!(open_output(&dangling, true).is_err());
        assert!(!d.join("made").exists());
        assert_eq!(fs::read(&victim).unwrap(), b"secret");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn refuses_a_hard_linked_file_and_keeps_existing_owners() {
        let d = scratch("hard");
        let victim = d.join("victim");
        fs::write(&victim, b"secret").unwrap();
        fs::hard_link(&victim, d.join("out")).unwrap();
        let e = open_output(&d.join("out"), true).unwrap_err();
        assert!(e.to_string().contains("hard links"), "{e}");
        assert_eq!(fs::read(&victim).unwrap(), b"secret");
        // An existing single-link file is truncated and not "created".
        fs::write(d.join("old"), b"old").unwrap();
        let o = open_output(&d.join("old"), true).unwrap();
        assert!(!o.created);
        assert_eq!(fs::metadata(d.join("old")).unwrap().len(), 0);
        assert!(open_output(&d.join("old"), false).is_err());
        let o = open_output(&d.join("new"), false).unwrap();
        assert!(o.created);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn temp_files_are_random_and_replace_a_planted_link() {
        let d = scratch("tmp");
        let victim = d.join("victim");
        fs::write(&victim, b"secret").unwrap();
        let target = d.join("r.json");
        let a = TempFile::new(&target).unwrap();
        let b = TempFile::new(&target).unwrap();
        assert_ne!(a.path(), b.path());
        assert_eq!(a.path().parent(), Some(d.as_path()));
        drop(b);
        plant(&victim, &target);
        let mut a = a;
        a.file().write_all(b"report").unwrap();
        // Without overwrite the link stays; with it, the link is replaced.
        let e = a.commit(false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        let mut a = TempFile::new(&target).unwrap();
        a.file().write_all(b"report").unwrap();
        a.commit(true).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"secret");
        assert!(!fs::symlink_metadata(&target).unwrap().is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"report");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 2, "temp file left");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn rename_into_place_keeps_an_existing_target_without_overwrite() {
        let d = scratch("rename");
        fs::write(d.join("a"), b"new").unwrap();
        fs::write(d.join("b"), b"old").unwrap();
        assert!(rename_into_place(&d.join("a"), &d.join("b"), false).is_err());
        assert_eq!(fs::read(d.join("b")).unwrap(), b"old");
        rename_into_place(&d.join("a"), &d.join("b"), true).unwrap();
        assert_eq!(fs::read(d.join("b")).unwrap(), b"new");
        fs::remove_dir_all(&d).unwrap();
    }
}
