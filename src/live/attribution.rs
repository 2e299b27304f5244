//! Local attribution (Linux): which process on this host owns the socket of
//! a ghost-port endpoint — what `ss -tanp` or `lsof -i :386` would show.
//!
//! `/proc/net/{tcp,tcp6,udp,udp6}` give each socket's local and remote
//! address, state, owner uid and inode; `/proc/PID/fd/*` links read
//! `socket:[INODE]`, which names the processes holding it. A socket whose
//! local address is the endpoint (or a wildcard listener on its port, when
//! the endpoint's address is this host's) is the *server* side; one whose
//! remote address is the endpoint is a local *client*. Reading other users'
//! `/proc/PID/fd` needs root: after a privilege drop the lookup runs in a
//! small helper process started before the drop (see [`Attributor`]).
//!
//! Never fails: no permission, a process gone, or no /proc end up in
//! [`LocalAttribution::status`] and `detail`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::MetadataExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::Transport;
pub use crate::classify::attribution::{LocalAttribution, LocalSocket, ProcessInfo};

/// Most sockets listed per attribution (the rest are counted).
const MAX_SOCKETS: usize = 16;
/// Most bytes of a command line kept.
const MAX_CMDLINE: usize = 4096;

/// A socket line of /proc/net/{tcp,udp}{,6}.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcSocket {
    /// Local address.
    pub local: (IpAddr, u16),
    /// Remote address.
    pub remote: (IpAddr, u16),
    /// State number.
    pub state: u8,
    /// Owner uid.
    pub uid: u32,
    /// Inode (0 for sockets in TIME_WAIT).
    pub inode: u64,
}

fn parse_addr(s: &str) -> Option<(IpAddr, u16)> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let ip = match a.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(a, 16).ok()?.to_ne_bytes(),
        )),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                let w = u32::from_str_radix(a.get(i * 8..i * 8 + 8)?, 16).ok()?;
                b.get_mut(i * 4..i * 4 + 4)?
                    .copy_from_slice(&w.to_ne_bytes());
            }
            let v6 = Ipv6Addr::from(b);
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        }
        _ => return None,
    };
    Some((ip, port))
}

/// Parses the text of /proc/net/{tcp,udp}{,6}; malformed lines are skipped.
pub fn parse_proc_net(text: &str) -> Vec<ProcSocket> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            Some(ProcSocket {
                local: parse_addr(f.get(1)?)?,
                remote: parse_addr(f.get(2)?)?,
                state: u8::from_str_radix(f.get(3)?, 16).ok()?,
                uid: f.get(7)?.parse().ok()?,
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

fn state_name(t: Transport, s: u8) -> &'static str {
    match (t, s) {
        (Transport::Udp, 1) => "ESTABLISHED",
        (Transport::Udp, 7) => "UNCONN",
        (_, 1) => "ESTABLISHED",
        (_, 2) => "SYN-SENT",
        (_, 3) => "SYN-RECV",
        (_, 4) => "FIN-WAIT-1",
        (_, 5) => "FIN-WAIT-2",
        (_, 6) => "TIME-WAIT",
        (_, 7) => "CLOSE",
        (_, 8) => "CLOSE-WAIT",
        (_, 9) => "LAST-ACK",
        (_, 10) => "LISTEN",
        (_, 11) => "CLOSING",
        _ => "UNKNOWN",
    }
}

fn fmt_ep(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

fn user_name(uid: u32) -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// How long a read of the socket tables serves further lookups: reading
/// /proc/net/tcp walks the kernel's whole connection hash table (several
/// milliseconds), too slow to do per finding on a busy link.
const SOCKETS_FRESH: std::time::Duration = std::time::Duration::from_millis(1000);
/// A lookup that finds nothing re-reads tables older than this (a socket
/// opened just now must not be missed), at most this often.
const SOCKETS_RECHECK: std::time::Duration = std::time::Duration::from_millis(250);

/// When the socket tables were read, and what they held (None: unreadable).
type SocketRead = Option<(std::time::Instant, Option<Vec<ProcSocket>>)>;

thread_local! {
    /// The last read of /proc/net/{tcp,tcp6} and {udp,udp6}, by transport.
    static SOCKETS: std::cell::RefCell<[SocketRead; 2]> =
        const { std::cell::RefCell::new([None, None]) };
}

/// Looks the endpoint up in /proc (see the module docs). `local_ips` are
/// this host's addresses (loopback is always local). The socket tables are
/// read at most once a second, and again when a lookup finds nothing in a
/// read older than 250 ms: at most 4 reads a second however many findings
/// a flood brings.
pub fn attribute(
    transport: Transport,
    ip: IpAddr,
    port: u16,
    local_ips: &[IpAddr],
) -> LocalAttribution {
    let root = std::path::Path::new("/proc");
    let slot = usize::from(transport == Transport::Udp);
    SOCKETS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let now = std::time::Instant::now();
        let mut fresh = false;
        let entry = &mut cache[slot];
        if entry
            .as_ref()
            .is_none_or(|(at, _)| now.duration_since(*at) >= SOCKETS_FRESH)
        {
            *entry = Some((now, read_sockets(root, transport)));
            fresh = true;
        }
        let a = match entry {
            Some((_, sockets)) => {
                attribute_with(root, transport, ip, port, local_ips, sockets.as_deref())
            }
            None => LocalAttribution::default(),
        };
        let missed = matches!(a.status.as_str(), "no-socket" | "not-local");
        let old = entry
            .as_ref()
            .is_some_and(|(at, _)| now.duration_since(*at) >= SOCKETS_RECHECK);
        if missed && !fresh && old {
            let sockets = read_sockets(root, transport);
            let a = attribute_with(root, transport, ip, port, local_ips, sockets.as_deref());
            *entry = Some((now, sockets));
            return a;
        }
        a
    })
}

/// The sockets of `transport` in `proc_root`/net; None when unreadable.
fn read_sockets(proc_root: &std::path::Path, transport: Transport) -> Option<Vec<ProcSocket>> {
    let files: [&str; 2] = match transport {
        Transport::Tcp => ["net/tcp", "net/tcp6"],
        Transport::Udp => ["net/udp", "net/udp6"],
    };
    let mut sockets = Vec::new();
    let mut readable = false;
    for f in files {
        if let Ok(text) = std::fs::read_to_string(proc_root.join(f)) {
            readable = true;
            sockets.extend(parse_proc_net(&text));
        }
    }
    readable.then_some(sockets)
}

#[cfg(test)]
fn attribute_in(
    proc_root: &std::path::Path,
    transport: Transport,
    ip: IpAddr,
    port: u16,
    local_ips: &[IpAddr],
) -> LocalAttribution {
    let sockets = read_sockets(proc_root, transport);
    attribute_with(
        proc_root,
        transport,
        ip,
        port,
        local_ips,
        sockets.as_deref(),
    )
}

fn attribute_with(
    proc_root: &std::path::Path,
    transport: Transport,
    ip: IpAddr,
    port: u16,
    local_ips: &[IpAddr],
    sockets: Option<&[ProcSocket]>,
) -> LocalAttribution {
    let Some(sockets) = sockets else {
        return LocalAttribution {
            status: "unavailable".into(),
            detail: format!(
                "cannot read {}/net/{}: local attribution needs Linux /proc",
                proc_root.display(),
                transport
            ),
            ..LocalAttribution::default()
        };
    };
    let is_local = ip.is_loopback() || local_ips.contains(&ip);
    let mut matched: Vec<(&'static str, &ProcSocket)> = Vec::new();
    for s in sockets {
        if s.local.1 == port && (s.local.0 == ip || (is_local && s.local.0.is_unspecified())) {
            matched.push(("server", s));
        } else if s.remote == (ip, port) {
            matched.push(("client", s));
        }
    }
    // Listeners first, then server, then client sockets; stable otherwise.
    matched.sort_by_key(|(role, s)| (s.state != 10, *role != "server", s.inode));
    if matched.is_empty() {
        let (status, detail) = if is_local {
            (
                "no-socket",
                format!(
                    "{} is on this host but no {transport} socket uses it now (closed, or the process is gone)",
                    fmt_ep(ip, port)
                ),
            )
        } else {
            (
                "not-local",
                format!(
                    "{} is not on this host and no local {transport} socket talks to it",
                    fmt_ep(ip, port)
                ),
            )
        };
        return LocalAttribution {
            status: status.into(),
            detail,
            ..LocalAttribution::default()
        };
    }
    let omitted = matched.len().saturating_sub(MAX_SOCKETS) as u64;
    matched.truncate(MAX_SOCKETS);
    let wanted: BTreeSet<u64> = matched
        .iter()
        .map(|(_, s)| s.inode)
        .filter(|i| *i != 0)
        .collect();
    let (owners, unreadable) = socket_owners(proc_root, &wanted);
    let mut out = Vec::new();
    let mut any_process = false;
    for (role, s) in matched {
        let processes: Vec<ProcessInfo> = owners
            .get(&s.inode)
            .map(|pids| {
                pids.iter()
                    .take(8)
                    .map(|pid| process_info(proc_root, *pid))
                    .collect()
            })
            .unwrap_or_default();
        any_process |= !processes.is_empty();
        out.push(LocalSocket {
            role: role.into(),
            local: fmt_ep(s.local.0, s.local.1),
            remote: fmt_ep(s.remote.0, s.remote.1),
            state: state_name(transport, s.state).into(),
            uid: s.uid,
            user: user_name(s.uid),
            inode: s.inode,
            processes,
        });
    }
    let (status, detail) = if any_process {
        let first = out
            .iter()
            .flat_map(|s| s.processes.iter().map(move |p| (s, p)))
            .next();
        let detail = match first {
            Some((s, p)) => format!(
                "{} socket {} ({}) held by pid {} {}{}",
                s.role,
                s.local,
                s.state,
                p.pid,
                p.exe.as_deref().unwrap_or("(executable unreadable)"),
                p.user
                    .as_deref()
                    .map(|u| format!(" user {u}"))
                    .unwrap_or_default()
            ),
            None => String::new(),
        };
        ("found", detail)
    } else if unreadable > 0 {
        (
            "no-permission",
            format!(
                "{} matching socket(s), but {unreadable} process(es) could not be read: run as root (or keep privileges with --no-drop) to name the process",
                out.len()
            ),
        )
    } else {
        (
            "no-socket",
            format!(
                "{} matching socket(s), but no process holds them now (the process is gone, or the socket is in TIME-WAIT)",
                out.len()
            ),
        )
    };
    LocalAttribution {
        status: status.into(),
        detail,
        sockets: out,
        sockets_omitted: omitted,
    }
}

/// inode → pids holding it, and how many processes' fds were unreadable.
fn socket_owners(
    proc_root: &std::path::Path,
    wanted: &BTreeSet<u64>,
) -> (BTreeMap<u64, Vec<u32>>, u64) {
    let mut owners: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    let mut unreadable = 0u64;
    if wanted.is_empty() {
        return (owners, 0);
    }
    let Ok(dir) = std::fs::read_dir(proc_root) else {
        return (owners, 0);
    };
    let mut pids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let fd_dir = proc_root.join(pid.to_string()).join("fd");
        let Ok(fds) = std::fs::read_dir(&fd_dir) else {
            // Gone since the listing, or not ours to read.
            if proc_root.join(pid.to_string()).exists() {
                unreadable += 1;
            }
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
            else {
                continue;
            };
            if wanted.contains(&inode) {
                let v = owners.entry(inode).or_default();
                if !v.contains(&pid) {
                    v.push(pid);
                }
            }
        }
    }
    (owners, unreadable)
}

fn process_info(proc_root: &std::path::Path, pid: u32) -> ProcessInfo {
    let dir = proc_root.join(pid.to_string());
    let exe = std::fs::read_link(dir.join("exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    let cmdline = std::fs::read(dir.join("cmdline"))
        .map(|mut b| {
            b.truncate(MAX_CMDLINE);
            b.split(|c| *c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let uid = std::fs::metadata(&dir).ok().map(|m| m.uid());
    ProcessInfo {
        pid,
        exe,
        cmdline,
        uid,
        user: uid.and_then(user_name),
    }
}

#[derive(Serialize, Deserialize)]
struct Request {
    transport: Transport,
    ip: IpAddr,
    port: u16,
}

/// Does the lookups: in this process, or — after a privilege drop — in a
/// helper process started (still privileged) before the drop, which only
/// reads /proc and answers one JSON line per request.
pub enum Attributor {
    /// Look up in this process.
    InProcess {
        /// This host's addresses.
        local_ips: Vec<IpAddr>,
    },
    /// Ask the helper.
    Helper(HelperProc),
    /// The helper died.
    Broken(String),
}

impl Attributor {
    /// In-process lookups.
    pub fn in_process() -> Attributor {
        Attributor::InProcess {
            local_ips: crate::capture::live::local_addresses(),
        }
    }

    /// Starts `exe attribution-helper` (call before dropping privileges).
    pub fn spawn_helper(exe: &std::path::Path) -> std::io::Result<Attributor> {
        let mut child = Command::new(exe)
            .arg("attribution-helper")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (Some(to), Some(from)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other("helper pipes missing"));
        };
        Ok(Attributor::Helper(HelperProc {
            child,
            to: Some(to),
            from: BufReader::new(from),
        }))
    }

    /// Looks the endpoint up; never fails.
    pub fn lookup(&mut self, transport: Transport, ip: IpAddr, port: u16) -> LocalAttribution {
        match self {
            Attributor::InProcess { local_ips } => attribute(transport, ip, port, local_ips),
            Attributor::Broken(why) => LocalAttribution {
                status: "unavailable".into(),
                detail: format!("attribution helper unavailable: {why}"),
                ..LocalAttribution::default()
            },
            Attributor::Helper(h) => {
                let req = Request {
                    transport,
                    ip,
                    port,
                };
                let result = (|| -> std::io::Result<LocalAttribution> {
                    let line = serde_json::to_string(&req).map_err(std::io::Error::other)?;
                    let to =
                        h.to.as_mut()
                            .ok_or_else(|| std::io::Error::other("the helper is closed"))?;
                    writeln!(to, "{line}")?;
                    to.flush()?;
                    let mut answer = String::new();
                    if h.from.read_line(&mut answer)? == 0 {
                        return Err(std::io::Error::other("the helper exited"));
                    }
                    serde_json::from_str(&answer).map_err(std::io::Error::other)
                })();
                match result {
                    Ok(a) => a,
                    Err(e) => {
                        *self = Attributor::Broken(e.to_string());
                        self.lookup(transport, ip, port)
                    }
                }
            }
        }
    }
}

/// The helper process; dropping it closes its stdin (which ends it: after a
/// privilege drop it may not be signalled) and reaps it.
pub struct HelperProc {
    child: Child,
    to: Option<ChildStdin>,
    from: BufReader<ChildStdout>,
}

impl Drop for HelperProc {
    fn drop(&mut self) {
        drop(self.to.take());
        let _ = self.child.wait();
    }
}

/// Distinct endpoints the helper answers for: the default findings cap.
const MAX_HELPER_ENDPOINTS: usize = 10_000;

/// The helper's main loop (`ghostport attribution-helper`, hidden): one
/// request per line on stdin, one answer per line on stdout, until EOF.
pub fn helper_main() -> std::io::Result<()> {
    // Only what reading other processes' /proc/PID/fd needs: tracing
    // access (PTRACE_MODE_READ) and reading their 0500 fd folders.
    super::privdrop::keep_only(&[
        caps::Capability::CAP_SYS_PTRACE,
        caps::Capability::CAP_DAC_READ_SEARCH,
    ])?;
    close_inherited_descriptors();
    let local_ips = crate::capture::live::local_addresses();
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    // The capture process asks once per finding: a process taken over by
    // hostile traffic cannot use the helper to list every socket on the
    // host beyond as many endpoints as a run has findings.
    let mut asked: std::collections::HashSet<(Transport, IpAddr, u16)> = Default::default();
    for line in stdin.lock().lines() {
        let line = line?;
        let answer = match serde_json::from_str::<Request>(&line) {
            Ok(r) if r.port == 0 => LocalAttribution {
                status: "unavailable".into(),
                detail: "no attribution for port 0".into(),
                ..LocalAttribution::default()
            },
            Ok(r)
                if !asked.contains(&(r.transport, r.ip, r.port))
                    && asked.len() >= MAX_HELPER_ENDPOINTS =>
            {
                LocalAttribution {
                    status: "unavailable".into(),
                    detail: format!(
                        "the attribution helper answers for at most {MAX_HELPER_ENDPOINTS} endpoints"
                    ),
                    ..LocalAttribution::default()
                }
            }
            Ok(r) => {
                asked.insert((r.transport, r.ip, r.port));
                attribute(r.transport, r.ip, r.port, &local_ips)
            }
            Err(e) => LocalAttribution {
                status: "unavailable".into(),
                detail: format!("bad request to the attribution helper: {e}"),
                ..LocalAttribution::default()
            },
        };
        let text = serde_json::to_string(&answer).map_err(std::io::Error::other)?;
        writeln!(out, "{text}")?;
        out.flush()?;
    }
    Ok(())
}

/// Closes every descriptor but standard input, output and error: the
/// capture socket and output files of the process that started the helper
/// are marked close-on-exec, this makes sure of it.
fn close_inherited_descriptors() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // Nothing in this fresh process owns them (the folder's own
        // descriptor is already closed: EBADF is fine).
        let _ = nix::unistd::close(fd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0182 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:C350 0100007F:0182 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0000000000000000 20 4 30 10 -1
   garbage line
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0180 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:0182 0000000000000000FFFF00000100007F:C351 01 00000000:00000000 00:00000000 00000000     0        0 778 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn parses_proc_net_lines() {
        let v = parse_proc_net(TCP);
        assert_eq!(v.len(), 2, "the garbage line is skipped");
        assert_eq!(v[0].local, ("127.0.0.1".parse().unwrap(), 386));
        assert_eq!(v[0].state, 10);
        assert_eq!(v[0].inode, 4242);
        assert_eq!(v[1].remote, ("127.0.0.1".parse().unwrap(), 386));
        assert_eq!(v[1].uid, 1000);
        let v6 = parse_proc_net(TCP6);
        assert_eq!(v6[0].local, ("::".parse().unwrap(), 384));
        assert_eq!(
            v6[1].local,
            ("127.0.0.1".parse().unwrap(), 386),
            "v4-mapped is shown as v4"
        );
    }

    #[test]
    fn matches_server_and_client_sockets_in_a_fake_proc() {
        let root = std::env::temp_dir().join(format!("gp-proc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("net")).unwrap();
        std::fs::write(root.join("net/tcp"), TCP).unwrap();
        std::fs::write(root.join("net/tcp6"), TCP6).unwrap();
        let a = attribute_in(
            &root,
            Transport::Tcp,
            "127.0.0.1".parse().unwrap(),
            386,
            &[],
        );
        // No process directories: sockets found, processes not.
        assert_eq!(a.status, "no-socket", "{a:?}");
        let roles: Vec<(&str, &str)> = a
            .sockets
            .iter()
            .map(|s| (s.role.as_str(), s.state.as_str()))
            .collect();
        assert_eq!(
            roles,
            [
                ("server", "LISTEN"),
                ("server", "ESTABLISHED"),
                ("client", "ESTABLISHED")
            ]
        );
        let a = attribute_in(
            &root,
            Transport::Tcp,
            "192.0.2.1".parse().unwrap(),
            386,
            &[],
        );
        assert_eq!(a.status, "not-local");
        // A wildcard listener on [::]:384 serves a local address.
        let mine: IpAddr = "10.1.2.3".parse().unwrap();
        let a = attribute_in(&root, Transport::Tcp, mine, 384, &[mine]);
        assert_eq!(a.sockets.len(), 1);
        let a = attribute_in(&root, Transport::Udp, mine, 384, &[mine]);
        assert_eq!(a.status, "unavailable");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn names_this_process_for_its_own_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let a = attribute(Transport::Tcp, "127.0.0.1".parse().unwrap(), port, &[]);
        if a.status == "unavailable" {
            eprintln!("skipping: no /proc ({})", a.detail);
            return;
        }
        assert_eq!(a.status, "found", "{a:?}");
        let p = &a.sockets[0].processes[0];
        assert_eq!(p.pid, std::process::id());
        assert_eq!(
            p.exe.as_deref().map(std::path::PathBuf::from),
            std::env::current_exe().ok()
        );
    }
}
