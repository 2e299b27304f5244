//! Dropping root after the capture is open: `no_new_privs`, an empty
//! capability bounding set (and empty inheritable / ambient sets), then
//! `setgroups([gid])`, `setgid`, `setuid` to the `--user` account (default
//! `nobody`), then a check that the drop holds (real and effective ids are
//! the user's, no capability is left in any set, `setuid(0)` fails). Even
//! a process that later executes a setuid-root or file-capability program
//! cannot regain privileges. The open capture handle, savefile and report
//! file keep working.
//!
//! [`shed_file_capabilities`] is the same for a run that needs no privilege
//! at all (`scan` installed with `setcap`), and [`keep_only`] what the
//! attribution helper keeps.

use nix::unistd::{Gid, Uid, User};

/// Errors dropping privileges (the run stops: capturing as root when a drop
/// was asked for is not an option).
#[derive(Debug, thiserror::Error)]
pub enum PrivError {
    /// No such account.
    #[error(
        "cannot drop privileges: no user '{0}' (pick one with --user, or keep root with --no-drop)"
    )]
    NoUser(String),
    /// A system call failed.
    #[error("cannot drop privileges to '{user}': {call} failed: {errno}")]
    Call {
        /// The account.
        user: String,
        /// Which call.
        call: &'static str,
        /// errno.
        errno: nix::errno::Errno,
    },
    /// The drop did not hold.
    #[error(
        "privilege drop to '{0}' did not hold (ids unchanged or root regained); refusing to continue"
    )]
    NotDropped(String),
}

/// The account dropped to.
#[derive(Clone, Debug)]
pub struct Account {
    /// Name.
    pub name: String,
    /// uid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
}

/// True when running with effective uid 0.
pub fn is_root() -> bool {
    Uid::effective().is_root()
}

/// Looks an account up.
pub fn account(name: &str) -> Result<Account, PrivError> {
    match User::from_name(name) {
        Ok(Some(u)) => Ok(Account {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
        }),
        _ => Err(PrivError::NoUser(name.to_string())),
    }
}

/// Drops to `acct` and verifies the drop.
pub fn drop_to(acct: &Account) -> Result<(), PrivError> {
    let err = |call: &'static str| {
        move |errno| PrivError::Call {
            user: acct.name.clone(),
            call,
            errno,
        }
    };
    let gid = Gid::from_raw(acct.gid);
    let uid = Uid::from_raw(acct.uid);
    // While still root: nothing this process or its children execute may
    // grant privileges again, and no capability can ever be raised.
    nix::sys::prctl::set_no_new_privs().map_err(err("prctl(PR_SET_NO_NEW_PRIVS)"))?;
    let caps_err = |call: &'static str| {
        move |_: caps::errors::CapsError| PrivError::Call {
            user: acct.name.clone(),
            call,
            errno: nix::errno::Errno::last(),
        }
    };
    caps::clear(None, caps::CapSet::Bounding).map_err(caps_err("prctl(PR_CAPBSET_DROP)"))?;
    // Kernels before 4.3 have no ambient set (nothing to clear there).
    let _ = caps::clear(None, caps::CapSet::Ambient);
    caps::clear(None, caps::CapSet::Inheritable).map_err(caps_err("capset"))?;
    nix::unistd::setgroups(&[gid]).map_err(err("setgroups"))?;
    nix::unistd::setgid(gid).map_err(err("setgid"))?;
    nix::unistd::setuid(uid).map_err(err("setuid"))?;
    let held = Uid::current() == uid
        && Uid::effective() == uid
        && Gid::current() == gid
        && Gid::effective() == gid
        && (uid.is_root() || nix::unistd::setuid(Uid::from_raw(0)).is_err())
        && (uid.is_root() || no_capabilities_left());
    if held {
        Ok(())
    } else {
        Err(PrivError::NotDropped(acct.name.clone()))
    }
}

/// True when no capability is left in any set and `no_new_privs` is on.
fn no_capabilities_left() -> bool {
    [
        caps::CapSet::Permitted,
        caps::CapSet::Effective,
        caps::CapSet::Inheritable,
        caps::CapSet::Bounding,
    ]
    .into_iter()
    .all(|set| caps::read(None, set).is_ok_and(|c| c.is_empty()))
        && caps::read(None, caps::CapSet::Ambient).map_or(true, |c| c.is_empty())
        && nix::sys::prctl::get_no_new_privs().unwrap_or(false)
}

/// For a run that needs no privilege (`scan`, `port`, ...): when the
/// binary was given file capabilities (`setcap cap_net_raw,cap_net_admin=eip`
/// for unprivileged live capture) and runs as a normal user, drop every
/// capability before reading anything, so a hostile capture file is parsed
/// without them, and set `no_new_privs`. Root is left as it is (root needs
/// no file capabilities; a root run decides for itself).
pub fn shed_file_capabilities() -> std::io::Result<()> {
    if Uid::effective().is_root() || Uid::current().is_root() {
        return Ok(());
    }
    let _ = nix::sys::prctl::set_no_new_privs();
    // Kernels before 4.3 have no ambient set (nothing to clear there).
    let _ = caps::clear(None, caps::CapSet::Ambient);
    let has_any = [caps::CapSet::Permitted, caps::CapSet::Inheritable]
        .into_iter()
        .any(|set| caps::read(None, set).map_or(true, |c| !c.is_empty()));
    if !has_any {
        return Ok(());
    }
    for set in [
        caps::CapSet::Inheritable,
        caps::CapSet::Effective,
        caps::CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    Ok(())
}

/// Keeps only `keep` of this process's capabilities: the bounding set is
/// cut to them (while `CAP_SETPCAP` is still there), then the permitted and
/// effective sets; inheritable and ambient sets are emptied and
/// `no_new_privs` is set. Used by the attribution helper, which needs only
/// to read other processes' `/proc/PID/fd`.
pub fn keep_only(keep: &[caps::Capability]) -> std::io::Result<()> {
    let io = |e: caps::errors::CapsError| std::io::Error::other(e.to_string());
    nix::sys::prctl::set_no_new_privs().map_err(std::io::Error::from)?;
    let keep: caps::CapsHashSet = keep.iter().copied().collect();
    if let Ok(bounding) = caps::read(None, caps::CapSet::Bounding) {
        for c in bounding.difference(&keep) {
            caps::drop(None, caps::CapSet::Bounding, *c).map_err(io)?;
        }
    }
    let _ = caps::clear(None, caps::CapSet::Ambient);
    caps::clear(None, caps::CapSet::Inheritable).map_err(io)?;
    let permitted = caps::read(None, caps::CapSet::Permitted).map_err(io)?;
    let kept: caps::CapsHashSet = permitted.intersection(&keep).copied().collect();
    caps::set(None, caps::CapSet::Effective, &kept).map_err(io)?;
    caps::set(None, caps::CapSet::Permitted, &kept).map_err(io)?;
    Ok(())
}
