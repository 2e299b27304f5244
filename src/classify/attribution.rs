//! What a finding says about the local process behind its endpoint (filled
//! by `live`'s attribution, read by the reports). Plain data: the lookup
//! itself lives in `crate::live::attribution`.

use serde::{Deserialize, Serialize};

/// The local process(es) behind a ghost-port endpoint.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LocalAttribution {
    /// "found", "not-local" (neither the endpoint nor a client of it is on
    /// this host), "no-socket" (no matching socket now: closed, or the
    /// process is gone), "no-permission" (sockets found but their processes
    /// could not be read), "unavailable" (no /proc or no helper).
    pub status: String,
    /// One line for humans.
    pub detail: String,
    /// Matching sockets with their processes.
    #[serde(default)]
    pub sockets: Vec<LocalSocket>,
    /// Matching sockets beyond the list's cap.
    #[serde(default)]
    pub sockets_omitted: u64,
}

/// One matching socket.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LocalSocket {
    /// "server" (its local address is the endpoint) or "client" (its remote address is).
    pub role: String,
    /// Local address:port.
    pub local: String,
    /// Remote address:port.
    pub remote: String,
    /// TCP state (LISTEN, ESTABLISHED, ...); UDP: UNCONN or ESTABLISHED.
    pub state: String,
    /// Owner uid of the socket.
    pub uid: u32,
    /// Owner user name, when known.
    pub user: Option<String>,
    /// Socket inode.
    pub inode: u64,
    /// Processes holding it (several after fork).
    pub processes: Vec<ProcessInfo>,
}

/// A process holding a socket.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// Executable path (None when unreadable or gone).
    pub exe: Option<String>,
    /// Command line, argument by argument (capped).
    pub cmdline: Vec<String>,
    /// Owner uid.
    pub uid: Option<u32>,
    /// Owner user name.
    pub user: Option<String>,
}

impl LocalAttribution {
    /// One line for humans: the detail, prefixed by the status unless found.
    pub fn summary(&self) -> String {
        if self.status == "found" {
            self.detail.clone()
        } else {
            format!("{}: {}", self.status, self.detail)
        }
    }
}
