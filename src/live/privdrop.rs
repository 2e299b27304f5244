//! Dropping root after the capture is open: `setgroups([gid])`, `setgid`,
//! `setuid` to the `--user` account (default `nobody`), then a check that
//! the drop holds (real and effective ids are the user's and `setuid(0)`
//! fails). The open capture handle, savefile and report file keep working.

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
    nix::unistd::setgroups(&[gid]).map_err(err("setgroups"))?;
    nix::unistd::setgid(gid).map_err(err("setgid"))?;
    nix::unistd::setuid(uid).map_err(err("setuid"))?;
    let held = Uid::current() == uid
        && Uid::effective() == uid
        && Gid::current() == gid
        && Gid::effective() == gid
        && (uid.is_root() || nix::unistd::setuid(Uid::from_raw(0)).is_err());
    if held {
        Ok(())
    } else {
        Err(PrivError::NotDropped(acct.name.clone()))
    }
}
