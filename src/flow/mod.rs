//! Bounded bidirectional flow table.
//!
//! Flows are keyed by a canonical (transport, lower endpoint, higher
//! endpoint) key, so both directions of a conversation land in one entry; the
//! entry itself records who the client (initiator) and the server are.
//! Orientation: a SYN without ACK names the client, a SYN-ACK names the
//! server; otherwise (mid-stream start, UDP) the port classes decide: a
//! ghost port facing one that is not is the server (a well-known source
//! port such as 53 or 443 does not change that; only a UDP datagram from a
//! ghost port to a known service port makes the ghost side the client), a
//! known service port facing an unknown one is the server; then a
//! port below 1024 facing a port at or above 1024 is the server, a port in
//! the dynamic range (49152-65535) facing one outside it is the client, and
//! failing both the first packet's sender is the client.
//!
//! Memory is bounded by [`FlowConfig::max_flows`] and the per-direction
//! payload cap; time is capture time, never wall-clock time. Flows leave the
//! table when idle longer than the timeout, when a closed TCP connection's
//! 4-tuple is reused by a new SYN, when the table is full (the least recently
//! active eighth is evicted), or at the end of input. Each flow that leaves is
//! handed to the caller through [`FlowTable::drain_finished`], with the
//! reason, so nothing is dropped silently.

use std::net::IpAddr;

use hashbrown::HashTable;
use serde::Serialize;

use crate::Transport;
use crate::decode::{Packet, PacketKind, tcp_flags};

/// One side of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Endpoint {
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
}

/// Canonical, direction-free flow key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// TCP or UDP.
    pub transport: Transport,
    /// The lower endpoint.
    pub lo: Endpoint,
    /// The higher endpoint.
    pub hi: Endpoint,
}

/// Hashes the key in three wide words (the derived impl feeds the hasher
/// a dozen small writes per packet).
impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        fn bits(ip: &IpAddr) -> u128 {
            match ip {
                IpAddr::V4(a) => u128::from(a.to_bits()),
                // The top bit marks IPv6, so ::a.b.c.d does not hash like
                // a.b.c.d (equality decides anyway; this only spreads them).
                IpAddr::V6(a) => a.to_bits() ^ (1 << 127),
            }
        }
        let ports = (u64::from(self.lo.port) << 32)
            | (u64::from(self.hi.port) << 16)
            | u64::from(self.transport == Transport::Udp);
        h.write_u64(ports);
        h.write_u128(bits(&self.lo.ip));
        h.write_u128(bits(&self.hi.ip));
    }
}

impl FlowKey {
    /// Builds the canonical key of a packet (either direction gives the same key).
    pub fn of(transport: Transport, a: Endpoint, b: Endpoint) -> FlowKey {
        if a <= b {
            FlowKey {
                transport,
                lo: a,
                hi: b,
            }
        } else {
            FlowKey {
                transport,
                lo: b,
                hi: a,
            }
        }
    }
}

/// Per-direction counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirStats {
    /// Packets.
    pub packets: u64,
    /// Frame bytes on the wire (original length).
    pub bytes: u64,
    /// Transport payload bytes on the wire.
    pub payload_bytes: u64,
    /// OR of the TCP flags seen in this direction.
    pub tcp_flags: u8,
    /// Packets with RST set.
    pub rsts: u32,
}

/// How the client/server roles were decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Orientation {
    /// A SYN without ACK was seen from the client.
    Syn,
    /// A SYN-ACK was seen from the server.
    SynAck,
    /// Port heuristic (well-known vs ephemeral, dynamic range).
    PortHeuristic,
    /// The first packet's sender is taken as the client.
    FirstPacket,
}

/// Why a flow left the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// Still active when input ended.
    EndOfInput,
    /// Idle longer than the timeout (capture time).
    IdleTimeout,
    /// Evicted because the table was full (`--max-flows`).
    Evicted,
    /// A closed TCP connection's 4-tuple was reused by a new SYN.
    Reused,
}

/// Payload bytes kept from the start of one direction, for identification.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PayloadHead {
    /// The bytes (at most the configured cap).
    pub bytes: Vec<u8>,
    next_seq: Option<u32>,
    /// A gap or reordering stopped collection before the cap.
    pub gap: bool,
}

impl PayloadHead {
    fn push(&mut self, data: &[u8], seq: Option<u32>, cap: usize) {
        if data.is_empty() || self.gap || self.bytes.len() >= cap {
            return;
        }
        if let Some(seq) = seq {
            match self.next_seq {
                Some(n) if n != seq => {
                    // Retransmission (seq before next) is ignored; a hole stops collection.
                    if seq.wrapping_sub(n) < 0x8000_0000 {
                        self.gap = true;
                    }
                    return;
                }
                _ => {}
            }
            self.next_seq = Some(seq.wrapping_add(data.len() as u32));
        }
        let room = cap - self.bytes.len();
        let take = data.get(..room.min(data.len())).unwrap_or(data);
        if self.bytes.capacity() == 0 {
            self.bytes.reserve_exact(cap.min(take.len().max(64)));
        }
        self.bytes.extend_from_slice(take);
    }
}

/// A bidirectional flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    /// Sequence number in order of creation (deterministic tie-breaker).
    pub id: u64,
    /// TCP or UDP.
    pub transport: Transport,
    /// Initiator.
    pub client: Endpoint,
    /// Responder.
    pub server: Endpoint,
    /// How the roles were decided.
    pub orientation: Orientation,
    /// Client → server counters.
    pub c2s: DirStats,
    /// Server → client counters.
    pub s2c: DirStats,
    /// First packet time, ns since the epoch.
    pub first_ts: i64,
    /// Last packet time, ns since the epoch.
    pub last_ts: i64,
    /// ICMP errors that quoted this flow.
    pub icmp_errors: u32,
    /// Type and code of the last ICMP error.
    pub icmp_last: Option<(u8, u8)>,
    /// First payload bytes (client → server, server → client); allocated
    /// at the first kept byte, so flows without kept payload stay small.
    heads: Option<Box<Extra>>,
    /// Outermost VLAN id of the first packet.
    pub vlan: Option<u16>,
    /// Packets that were the first fragment of a fragmented datagram.
    pub fragments: u32,
    /// Why it left the table (set when it does).
    pub end: EndReason,
    /// Payload kept: 0 none, [`SNIFF`] the first `sniff_cap` bytes, [`FULL`] up to `payload_cap`.
    keep_payload: u8,
    fin_c2s: bool,
    fin_s2c: bool,
}

/// What only some flows have, boxed so a flow stays small: the payload
/// heads (ghost-port flows) and the tunnel the flow came out of.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Extra {
    heads: [PayloadHead; 2],
    tunnel: Option<crate::decode::Tunnel>,
}

/// An empty payload head, for flows that kept none.
static EMPTY_HEAD: PayloadHead = PayloadHead {
    bytes: Vec::new(),
    next_seq: None,
    gap: false,
};

/// Prefetch hint for the cache lines of `t` (x86-64; nothing elsewhere).
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch_lines<T>(t: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let p = (t as *const T).cast::<i8>();
        let mut off = 0;
        while off < std::mem::size_of::<T>() {
            // SAFETY: a prefetch is only a hint: it never faults, whatever the
            // address, and reads nothing the program can observe.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(off)) };
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = t;
}

/// A packet's (source, destination) endpoints.
#[inline]
fn endpoints(p: &Packet<'_>) -> (Endpoint, Endpoint) {
    let src = Endpoint {
        ip: p.src,
        port: p.src_port,
    };
    let dst = Endpoint {
        ip: p.dst,
        port: p.dst_port,
    };
    (src, dst)
}

/// The table's hash of a key.
#[inline]
fn hash_of(key: &FlowKey) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(key)
}

impl Flow {
    /// The flow's canonical key.
    pub fn key(&self) -> FlowKey {
        FlowKey::of(self.transport, self.client, self.server)
    }

    /// True when `key` is this flow's key (either orientation).
    #[inline]
    fn has_key(&self, key: &FlowKey) -> bool {
        self.transport == key.transport
            && ((self.client == key.lo && self.server == key.hi)
                || (self.client == key.hi && self.server == key.lo))
    }

    /// A finished flow known only from a flow record (Zeek conn.log,
    /// Suricata EVE, VPC flow logs...): the endpoints, no payload, no
    /// counters yet (the caller fills the public fields).
    pub fn from_record(id: u64, transport: Transport, client: Endpoint, server: Endpoint) -> Flow {
        Flow {
            id,
            transport,
            client,
            server,
            ..Flow::vacant()
        }
    }

    /// An unused slot of the table.
    fn vacant() -> Flow {
        let nobody = Endpoint {
            ip: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            port: 0,
        };
        Flow {
            id: 0,
            transport: Transport::Tcp,
            client: nobody,
            server: nobody,
            orientation: Orientation::FirstPacket,
            c2s: DirStats::default(),
            s2c: DirStats::default(),
            first_ts: 0,
            last_ts: 0,
            icmp_errors: 0,
            icmp_last: None,
            heads: None,
            vlan: None,
            fragments: 0,
            end: EndReason::EndOfInput,
            keep_payload: 0,
            fin_c2s: false,
            fin_s2c: false,
        }
    }

    /// The tunnel the flow's first tunnelled packet came out of (outer
    /// addresses kept as context).
    pub fn tunnel(&self) -> Option<crate::decode::Tunnel> {
        self.heads.as_deref().and_then(|x| x.tunnel)
    }

    /// First payload bytes client → server (empty when none were kept).
    pub fn c2s_head(&self) -> &PayloadHead {
        self.heads.as_deref().map_or(&EMPTY_HEAD, |h| &h.heads[0])
    }

    /// First payload bytes server → client (empty when none were kept).
    pub fn s2c_head(&self) -> &PayloadHead {
        self.heads.as_deref().map_or(&EMPTY_HEAD, |h| &h.heads[1])
    }

    /// The server answered: for TCP a SYN-ACK, payload, or any packet that is
    /// not a RST; for UDP any datagram back.
    pub fn answered(&self) -> bool {
        match self.transport {
            Transport::Udp => self.s2c.packets > 0,
            Transport::Tcp => {
                self.s2c.tcp_flags & tcp_flags::SYN != 0
                    || self.s2c.payload_bytes > 0
                    || (self.s2c.packets > 0 && self.s2c.rsts == 0)
            }
        }
    }

    /// The server refused with a RST and never sent SYN-ACK or data.
    pub fn rejected(&self) -> bool {
        self.s2c.rsts > 0 && self.s2c.tcp_flags & tcp_flags::SYN == 0 && self.s2c.payload_bytes == 0
    }

    /// Payload went both ways.
    pub fn data_exchanged(&self) -> bool {
        self.c2s.payload_bytes > 0 && self.s2c.payload_bytes > 0
    }

    /// Total packets both ways.
    pub fn packets(&self) -> u64 {
        self.c2s.packets + self.s2c.packets
    }

    fn swap_roles(&mut self, orientation: Orientation) {
        std::mem::swap(&mut self.client, &mut self.server);
        std::mem::swap(&mut self.c2s, &mut self.s2c);
        if let Some(h) = self.heads.as_deref_mut() {
            h.heads.swap(0, 1);
        }
        std::mem::swap(&mut self.fin_c2s, &mut self.fin_s2c);
        self.orientation = orientation;
    }

    fn closed(&self) -> bool {
        (self.fin_c2s && self.fin_s2c) || self.c2s.rsts > 0 || self.s2c.rsts > 0
    }
}

/// Set of (transport, port) pairs, as a bitmap.
#[derive(Clone)]
pub struct PortSet {
    bits: Box<[u64; 2048]>,
}

impl Default for PortSet {
    fn default() -> Self {
        PortSet {
            bits: Box::new([0; 2048]),
        }
    }
}

impl std::fmt::Debug for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PortSet({} ports)",
            self.bits.iter().map(|w| w.count_ones()).sum::<u32>()
        )
    }
}

impl PortSet {
    fn index(t: Transport, port: u16) -> (usize, u64) {
        let i = (usize::from(t == Transport::Udp) << 16) | usize::from(port);
        (i / 64, 1u64 << (i % 64))
    }
    /// Adds a pair.
    pub fn insert(&mut self, t: Transport, port: u16) {
        let (w, b) = Self::index(t, port);
        if let Some(x) = self.bits.get_mut(w) {
            *x |= b;
        }
    }
    /// Tests a pair.
    pub fn contains(&self, t: Transport, port: u16) -> bool {
        let (w, b) = Self::index(t, port);
        self.bits.get(w).is_some_and(|x| x & b != 0)
    }
}

/// Flow table settings.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Maximum flows held at once.
    pub max_flows: usize,
    /// Idle timeout for TCP, in ns of capture time.
    pub tcp_timeout_ns: i64,
    /// Idle timeout for UDP, in ns of capture time.
    pub udp_timeout_ns: i64,
    /// Payload bytes kept per direction.
    pub payload_cap: usize,
    /// Keep payload only for flows whose server port is in this set (None: all flows).
    pub payload_ports: Option<PortSet>,
    /// Flows whose server port is in this set (and not in `payload_ports`)
    /// keep only the first `sniff_cap` bytes: enough to recognise a protocol.
    pub sniff_ports: Option<PortSet>,
    /// Bytes kept per direction for `sniff_ports` flows.
    pub sniff_cap: usize,
    /// Ports of known, implemented services: when a flow starts without a
    /// SYN, the side on such a port (facing one that is not) is the server.
    pub service_ports: Option<PortSet>,
    /// Ghost ports (and ports a site rule names): when a flow starts
    /// without a SYN, the side on such a port (facing one that is not) is
    /// the server, whatever the other port is, except for a UDP datagram
    /// sent from such a port to a known service port (a ghost *source*
    /// port, decided by who spoke first).
    pub ghost_ports: Option<PortSet>,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 100_000,
            tcp_timeout_ns: 300 * 1_000_000_000,
            udp_timeout_ns: 60 * 1_000_000_000,
            payload_cap: 512,
            payload_ports: None,
            sniff_ports: None,
            sniff_cap: 64,
            service_ports: None,
            ghost_ports: None,
        }
    }
}

/// Counters about the table itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FlowStats {
    /// Flows created.
    pub created: u64,
    /// Flows that ended by idle timeout.
    pub timed_out: u64,
    /// Flows evicted because the table was full.
    pub evicted: u64,
    /// Flows ended because a closed TCP 4-tuple was reused.
    pub reused: u64,
    /// Largest number of flows held at once.
    pub peak: u64,
    /// ICMP errors whose quoted flow was not in the table.
    pub icmp_unmatched: u64,
}

const SWEEP_INTERVAL_NS: i64 = 5 * 1_000_000_000;

/// Flow slots reserved when a table is made (address space only: a slot's
/// memory is used when a flow first needs it, and reused through the free
/// list after). The slab never moves below this; larger tables grow.
pub const PREALLOC_FLOWS_MAX: usize = 1 << 18;

/// The bounded flow table: a key → slot index map (small buckets, sized for
/// `max_flows` once, never rehashed) over a slab of flows reused through a
/// free list.
pub struct FlowTable {
    map: HashTable<u32>,
    slots: Vec<Flow>,
    free: Vec<u32>,
    cfg: FlowConfig,
    next_id: u64,
    finished: Vec<Flow>,
    stats: FlowStats,
    last_sweep: Option<i64>,
    /// (last packet time, id, slot) of the flows a sweep or an eviction
    /// looks at: 24 bytes a flow.
    scratch: Vec<(i64, u64, u32)>,
}

impl FlowTable {
    /// A new, empty table.
    pub fn new(cfg: FlowConfig) -> FlowTable {
        let cfg = FlowConfig {
            max_flows: cfg.max_flows.max(1),
            ..cfg
        };
        let prealloc = cfg.max_flows.min(PREALLOC_FLOWS_MAX);
        let slots = Vec::with_capacity(prealloc);
        FlowTable {
            map: HashTable::with_capacity(cfg.max_flows.min(PREALLOC_FLOWS_MAX.max(1 << 20))),
            free: Vec::new(),
            slots,
            cfg,
            next_id: 0,
            finished: Vec::new(),
            stats: FlowStats::default(),
            last_sweep: None,
            scratch: Vec::new(),
        }
    }

    /// The ports whose flows keep payload (None: every flow).
    pub fn payload_ports(&self) -> Option<&PortSet> {
        self.cfg.payload_ports.as_ref()
    }

    /// The table's settings.
    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    /// Payload bytes kept per direction.
    pub fn payload_cap(&self) -> usize {
        self.cfg.payload_cap
    }

    /// Flows on these server ports keep only the first `sniff_cap` bytes.
    pub fn sniff_ports(&self) -> Option<&PortSet> {
        self.cfg.sniff_ports.as_ref()
    }

    /// Bytes kept per direction on a sniff port.
    pub fn sniff_cap(&self) -> usize {
        self.cfg.sniff_cap
    }

    /// Counters.
    pub fn stats(&self) -> FlowStats {
        self.stats
    }

    /// The flows currently held, in no particular order (live capture peeks
    /// at them; see `Analyzer::peek`).
    pub fn iter(&self) -> impl Iterator<Item = &Flow> {
        self.map.iter().filter_map(|&i| self.slots.get(i as usize))
    }

    /// The slot of the flow with `key` (whose hash is `hash`).
    #[inline]
    fn find(&self, key: &FlowKey, hash: u64) -> Option<u32> {
        let slots = &self.slots;
        self.map
            .find(hash, |&i| {
                slots.get(i as usize).is_some_and(|f| f.has_key(key))
            })
            .copied()
    }

    /// The table's hash of the flow `p` belongs to (the same for both
    /// directions): what [`FlowTable::update_hashed`] and
    /// [`FlowTable::prefetch`] take, so that a packet is hashed once.
    #[inline]
    pub fn packet_hash(p: &Packet<'_>) -> u64 {
        let (a, b) = endpoints(p);
        hash_of(&FlowKey::of(p.transport, a, b))
    }

    /// Asks the CPU to fetch the flow whose packet hash is `hash`, so that a
    /// later update finds it in cache: the two-thread scan calls this a few
    /// packets ahead. Changes nothing.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        let slots = &self.slots;
        // Every candidate whose tag matches is fetched; none is compared.
        let _ = self.map.find(hash, |&i| {
            if let Some(f) = slots.get(i as usize) {
                prefetch_lines(f);
            }
            false
        });
    }

    /// Takes the flow in `slot` out of the table, freeing the slot.
    fn take_slot(&mut self, slot: u32) -> Option<Flow> {
        let hash = hash_of(&self.slots.get(slot as usize)?.key());
        let entry = self.map.find_entry(hash, |&i| i == slot).ok()?;
        entry.remove();
        let f = std::mem::replace(self.slots.get_mut(slot as usize)?, Flow::vacant());
        self.free.push(slot);
        Some(f)
    }

    /// Flows currently held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no flow is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Flows that left the table since the last call, oldest first.
    pub fn drain_finished(&mut self) -> std::vec::Drain<'_, Flow> {
        self.finished.drain(..)
    }

    /// True when [`Self::drain_finished`] has something.
    pub fn has_finished(&self) -> bool {
        !self.finished.is_empty()
    }

    /// Ends every flow (end of input), in creation order.
    pub fn finish_all(&mut self) {
        let mut done = std::mem::take(&mut self.finished);
        self.finish_all_with(|f| done.push(f));
        self.finished = done;
    }

    /// [`FlowTable::finish_all`], handing each flow to `f` (in creation
    /// order) instead of collecting them: no second copy of a full table.
    pub fn finish_all_with(&mut self, mut f: impl FnMut(Flow)) {
        let mut idx: Vec<u32> = self.map.drain().collect();
        idx.sort_unstable_by_key(|&i| self.slots.get(i as usize).map_or(0, |f| f.id));
        for i in idx {
            if let Some(slot) = self.slots.get_mut(i as usize) {
                let mut flow = std::mem::replace(slot, Flow::vacant());
                flow.end = EndReason::EndOfInput;
                f(flow);
            }
        }
        self.free.clear();
        self.free.extend((0..self.slots.len() as u32).rev());
    }

    /// Adds one packet observed at `ts` (ns) with `wire_len` frame bytes.
    pub fn update(&mut self, p: &Packet<'_>, ts: i64, wire_len: u32) {
        self.update_hashed(p, Self::packet_hash(p), ts, wire_len);
    }

    /// [`FlowTable::update`] with the packet's hash already computed by
    /// [`FlowTable::packet_hash`].
    pub fn update_hashed(&mut self, p: &Packet<'_>, hash: u64, ts: i64, wire_len: u32) {
        debug_assert_eq!(hash, Self::packet_hash(p));
        self.maybe_sweep(ts);
        let (a, b) = endpoints(p);
        let key = FlowKey::of(p.transport, a, b);
        let syn_only = p.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;

        if let PacketKind::IcmpError { icmp_type, code } = p.kind {
            match self
                .find(&key, hash)
                .and_then(|i| self.slots.get_mut(i as usize))
            {
                Some(f) => {
                    f.icmp_errors += 1;
                    f.icmp_last = Some((icmp_type, code));
                    f.last_ts = f.last_ts.max(ts);
                }
                None => self.stats.icmp_unmatched += 1,
            }
            return;
        }

        // One hash lookup per packet of a known flow; room is made first
        // only when the table is full and the flow is new.
        let mut found = self.find(&key, hash);
        if let Some(i) = found
            && syn_only
            && p.transport == Transport::Tcp
            && self.slots.get(i as usize).is_some_and(Flow::closed)
        {
            // A new connection on a closed 4-tuple: end the old flow.
            if let Some(mut old) = self.take_slot(i) {
                old.end = EndReason::Reused;
                self.stats.reused += 1;
                self.finished.push(old);
            }
            found = None;
        }
        if found.is_none() && self.map.len() >= self.cfg.max_flows {
            self.make_room(ts);
        }
        let cap = self.cfg.payload_cap;
        let len_before = self.map.len() as u64;
        let cfg = &self.cfg;
        let slot = match found {
            Some(i) => i as usize,
            None => {
                self.next_id += 1;
                self.stats.created += 1;
                self.stats.peak = self.stats.peak.max(len_before + 1);
                let flow = new_flow(cfg, self.next_id, p, ts, a, b);
                let i = match self.free.pop() {
                    Some(i) => {
                        if let Some(s) = self.slots.get_mut(i as usize) {
                            *s = flow;
                        }
                        i
                    }
                    None => {
                        self.slots.push(flow);
                        (self.slots.len() - 1) as u32
                    }
                };
                let slots = &self.slots;
                self.map.insert_unique(hash, i, |&j| {
                    slots.get(j as usize).map_or(0, |f| hash_of(&f.key()))
                });
                i as usize
            }
        };
        let Some(f) = self.slots.get_mut(slot) else {
            return;
        };
        // A SYN or SYN-ACK fixes the roles of a flow that began mid-stream.
        if f.transport == Transport::Tcp
            && !matches!(f.orientation, Orientation::Syn | Orientation::SynAck)
        {
            let from_client = f.client == a;
            if syn_only && !from_client {
                f.swap_roles(Orientation::Syn);
                f.keep_payload = payload_mode(cfg, f.transport, f.server.port);
            } else if syn_only {
                f.orientation = Orientation::Syn;
            } else if p.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK)
                == (tcp_flags::SYN | tcp_flags::ACK)
            {
                if from_client {
                    f.swap_roles(Orientation::SynAck);
                    f.keep_payload = payload_mode(cfg, f.transport, f.server.port);
                } else {
                    f.orientation = Orientation::SynAck;
                }
            }
        }
        let from_client = f.client == a;
        let (dir, fin) = if from_client {
            (&mut f.c2s, &mut f.fin_c2s)
        } else {
            (&mut f.s2c, &mut f.fin_s2c)
        };
        dir.packets += 1;
        dir.bytes += u64::from(wire_len);
        dir.payload_bytes += u64::from(p.payload_len);
        dir.tcp_flags |= p.tcp_flags;
        if p.tcp_flags & tcp_flags::RST != 0 {
            dir.rsts += 1;
        }
        if p.tcp_flags & tcp_flags::FIN != 0 {
            *fin = true;
        }
        if f.keep_payload != 0 && !p.payload.is_empty() {
            let seq = (p.transport == Transport::Tcp).then_some(p.seq);
            let cap = if f.keep_payload == SNIFF {
                cfg.sniff_cap
            } else {
                cap
            };
            let heads = f.heads.get_or_insert_with(Default::default);
            heads.heads[usize::from(!from_client)].push(p.payload, seq, cap);
        }
        if p.first_fragment {
            f.fragments += 1;
        }
        if let Some(t) = p.tunnel {
            let x = f.heads.get_or_insert_with(Default::default);
            x.tunnel.get_or_insert(t);
        }
        f.last_ts = f.last_ts.max(ts);
    }

    fn maybe_sweep(&mut self, ts: i64) {
        match self.last_sweep {
            None => self.last_sweep = Some(ts),
            Some(last) if ts.saturating_sub(last) >= SWEEP_INTERVAL_NS => {
                self.last_sweep = Some(ts);
                self.expire(ts);
            }
            _ => {}
        }
    }

    /// Ends flows idle longer than their timeout at capture time `now`.
    pub fn expire(&mut self, now: i64) {
        let (tcp_to, udp_to) = (self.cfg.tcp_timeout_ns, self.cfg.udp_timeout_ns);
        self.scratch.clear();
        // The slab in memory order (a vacant slot has id 0): sequential
        // reads, not the index table's random order.
        for (i, f) in self.slots.iter().enumerate() {
            if f.id == 0 {
                continue;
            }
            let i = i as u32;
            let to = if f.transport == Transport::Tcp {
                tcp_to
            } else {
                udp_to
            };
            if now.saturating_sub(f.last_ts) > to {
                self.scratch.push((f.last_ts, f.id, i));
            }
        }
        self.scratch.sort_unstable_by_key(|&(_, id, _)| id);
        if !self.scratch.is_empty() {
            log::debug!(
                "flow table: sweep at capture time {}: {} idle flows timed out, {} remain",
                crate::timefmt::rfc3339_micros(now),
                self.scratch.len(),
                self.map.len() - self.scratch.len()
            );
        }
        for i in 0..self.scratch.len() {
            let slot = self.scratch[i].2;
            if let Some(mut f) = self.take_slot(slot) {
                f.end = EndReason::IdleTimeout;
                self.stats.timed_out += 1;
                self.finished.push(f);
            }
        }
    }

    /// The table is full: expire idle flows, then evict the least recently
    /// active eighth (at least one flow).
    fn make_room(&mut self, now: i64) {
        self.expire(now);
        if self.map.len() < self.cfg.max_flows {
            return;
        }
        self.scratch.clear();
        let slots = &self.slots;
        self.scratch.extend(
            slots
                .iter()
                .enumerate()
                .filter(|(_, f)| f.id != 0)
                .map(|(i, f)| (f.last_ts, f.id, i as u32)),
        );
        let n = (self.cfg.max_flows / 8).max(1).min(self.scratch.len());
        if n < self.scratch.len() {
            self.scratch
                .select_nth_unstable_by_key(n, |&(ts, id, _)| (ts, id));
        }
        log::debug!(
            "flow table: full at {} flows (--max-flows): evicting the {n} least recently active",
            self.map.len()
        );
        let victims = &mut self.scratch[..n];
        victims.sort_unstable_by_key(|&(_, id, _)| id);
        for i in 0..n {
            let slot = self.scratch[i].2;
            if let Some(mut f) = self.take_slot(slot) {
                f.end = EndReason::Evicted;
                self.stats.evicted += 1;
                self.finished.push(f);
            }
        }
    }
}

const SNIFF: u8 = 1;
const FULL: u8 = 2;

/// Payload is kept in full for flows whose server port is in the payload
/// set (all flows when there is none), the first bytes only for flows on a
/// sniff port, else not at all.
fn payload_mode(cfg: &FlowConfig, t: Transport, server_port: u16) -> u8 {
    if cfg
        .payload_ports
        .as_ref()
        .is_none_or(|s| s.contains(t, server_port))
    {
        FULL
    } else if cfg
        .sniff_ports
        .as_ref()
        .is_some_and(|s| s.contains(t, server_port))
    {
        SNIFF
    } else {
        0
    }
}

fn new_flow(cfg: &FlowConfig, id: u64, p: &Packet<'_>, ts: i64, a: Endpoint, b: Endpoint) -> Flow {
    let flags = p.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK);
    let (client, server, orientation) = if p.transport == Transport::Tcp && flags == tcp_flags::SYN
    {
        (a, b, Orientation::Syn)
    } else if p.transport == Transport::Tcp && flags == tcp_flags::SYN | tcp_flags::ACK {
        (b, a, Orientation::SynAck)
    } else if let Some(a_is_server) = port_heuristic(cfg, p.transport, a.port, b.port) {
        if a_is_server {
            (b, a, Orientation::PortHeuristic)
        } else {
            (a, b, Orientation::PortHeuristic)
        }
    } else {
        (a, b, Orientation::FirstPacket)
    };
    Flow {
        id,
        transport: p.transport,
        client,
        server,
        orientation,
        c2s: DirStats::default(),
        s2c: DirStats::default(),
        first_ts: ts,
        last_ts: ts,
        icmp_errors: 0,
        icmp_last: None,
        heads: p.tunnel.map(|t| {
            Box::new(Extra {
                heads: Default::default(),
                tunnel: Some(t),
            })
        }),
        vlan: p.vlan,
        fragments: 0,
        end: EndReason::EndOfInput,
        keep_payload: payload_mode(cfg, p.transport, server.port),
        fin_c2s: false,
        fin_s2c: false,
    }
}

/// Returns Some(true) when port `a` (the sender's) looks like the server's,
/// Some(false) when `b` does, None when the ports do not tell. A known service
/// port facing an unknown one wins; then, for TCP only (a mid-stream start), a
/// port below 1024 facing one above, and a port outside the dynamic range
/// facing one inside it. UDP otherwise trusts the first packet: its sender is
/// the client.
fn port_heuristic(cfg: &FlowConfig, t: Transport, a: u16, b: u16) -> Option<bool> {
    const DYNAMIC: u16 = 49152;
    // A ghost port facing one that is not is the server: a well-known
    // client source port (53, 123, 443 mid-stream) never demotes it. Only a
    // UDP datagram *from* the ghost port *to* a known service says
    // otherwise: who spoke first is the client (a ghost source port).
    if let Some(ghost) = &cfg.ghost_ports {
        match (ghost.contains(t, a), ghost.contains(t, b)) {
            (true, false) => {
                let to_service = cfg.service_ports.as_ref().is_some_and(|s| s.contains(t, b));
                return Some(!(t == Transport::Udp && to_service));
            }
            (false, true) => return Some(false),
            _ => {}
        }
    }
    if let Some(svc) = &cfg.service_ports {
        match (svc.contains(t, a), svc.contains(t, b)) {
            (true, false) => return Some(true),
            (false, true) => return Some(false),
            _ => {}
        }
        if t == Transport::Udp {
            return None;
        }
    }
    if a < 1024 && b >= 1024 {
        return Some(true);
    }
    if b < 1024 && a >= 1024 {
        return Some(false);
    }
    if a < DYNAMIC && b >= DYNAMIC {
        return Some(true);
    }
    if b < DYNAMIC && a >= DYNAMIC {
        return Some(false);
    }
    None
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(
        src: &str,
        sp: u16,
        dst: &str,
        dp: u16,
        flags: u8,
        payload: &'static [u8],
    ) -> Packet<'static> {
        Packet {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            transport: if flags == 0xff {
                Transport::Udp
            } else {
                Transport::Tcp
            },
            src_port: sp,
            dst_port: dp,
            tcp_flags: if flags == 0xff { 0 } else { flags },
            seq: 1,
            payload,
            payload_len: payload.len() as u32,
            vlan: None,
            first_fragment: false,
            kind: PacketKind::Normal,
            tunnel: None,
        }
    }

    const S: u8 = tcp_flags::SYN;
    const SA: u8 = tcp_flags::SYN | tcp_flags::ACK;
    const A: u8 = tcp_flags::ACK;

    /// The slab holds up to --max-flows flows: keep a flow small
    /// (docs/design.md and docs/performance.md quote this size).
    #[test]
    fn a_flow_stays_small() {
        let size = std::mem::size_of::<Flow>();
        eprintln!("size_of::<Flow>() = {size}");
        assert!(size <= 160, "{size} bytes");
    }

    #[test]
    fn both_directions_one_flow_and_roles_from_syn() {
        let mut t = FlowTable::new(FlowConfig::default());
        t.update(&pkt("10.0.0.1", 40000, "10.0.0.2", 386, S, b""), 0, 60);
        t.update(&pkt("10.0.0.2", 386, "10.0.0.1", 40000, SA, b""), 1, 60);
        t.update(&pkt("10.0.0.1", 40000, "10.0.0.2", 386, A, b"hi"), 2, 62);
        assert_eq!(t.len(), 1);
        t.finish_all();
        let f: Vec<Flow> = t.drain_finished().collect();
        assert_eq!(f[0].server.port, 386);
        assert_eq!(f[0].orientation, Orientation::Syn);
        assert_eq!((f[0].c2s.packets, f[0].s2c.packets), (2, 1));
        assert!(f[0].answered());
        assert_eq!(f[0].c2s_head().bytes, b"hi");
    }

    #[test]
    fn synack_first_reorients() {
        let mut t = FlowTable::new(FlowConfig::default());
        // Mid-stream: both ports high, first packet is the SYN-ACK from the server.
        t.update(&pkt("10.0.0.2", 5000, "10.0.0.1", 6000, SA, b""), 0, 60);
        t.finish_all();
        let f: Vec<Flow> = t.drain_finished().collect();
        assert_eq!(f[0].server.port, 5000);
        assert_eq!(f[0].orientation, Orientation::SynAck);
    }

    #[test]
    fn port_heuristic_mid_stream() {
        let mut t = FlowTable::new(FlowConfig::default());
        t.update(&pkt("10.0.0.2", 443, "10.0.0.1", 50123, A, b"x"), 0, 60);
        t.finish_all();
        let f: Vec<Flow> = t.drain_finished().collect();
        assert_eq!(f[0].server.port, 443);
        assert_eq!(f[0].orientation, Orientation::PortHeuristic);
    }

    #[test]
    fn udp_first_packet_unless_a_service_port_says_otherwise() {
        let mut svc = PortSet::default();
        svc.insert(Transport::Udp, 53);
        let cfg = FlowConfig {
            service_ports: Some(svc),
            ..Default::default()
        };
        let mut t = FlowTable::new(cfg);
        // NFS client on a privileged source port talking to mountd on 1048.
        t.update(&pkt("10.0.0.1", 706, "10.0.0.2", 1048, 0xff, b"x"), 0, 60);
        // A DNS answer seen before its query.
        t.update(&pkt("10.0.0.9", 53, "10.0.0.1", 40000, 0xff, b"x"), 1, 60);
        t.finish_all();
        let f: Vec<Flow> = t.drain_finished().collect();
        assert_eq!(f[0].server.port, 1048);
        assert_eq!(f[0].orientation, Orientation::FirstPacket);
        assert_eq!(f[1].server.port, 53);
        assert_eq!(f[1].orientation, Orientation::PortHeuristic);
    }

    /// A well-known client source port never demotes a ghost-port server
    /// (UDP from 53/123/5353, TCP mid-stream from 443); a UDP datagram from
    /// a ghost port to a known service keeps the ghost side as the client.
    #[test]
    fn ghost_port_is_the_server_whatever_the_source_port() {
        let mut svc = PortSet::default();
        let mut ghost = PortSet::default();
        for p in [53, 123, 5353, 80] {
            svc.insert(Transport::Udp, p);
        }
        svc.insert(Transport::Tcp, 443);
        ghost.insert(Transport::Udp, 384);
        ghost.insert(Transport::Tcp, 386);
        let cfg = FlowConfig {
            service_ports: Some(svc),
            ghost_ports: Some(ghost),
            ..Default::default()
        };
        let mut t = FlowTable::new(cfg);
        for (i, sp) in [53u16, 123, 5353].into_iter().enumerate() {
            let c = format!("10.0.0.{}", i + 1);
            t.update(&pkt(&c, sp, "10.0.1.1", 384, 0xff, b"q"), 0, 60);
            t.update(&pkt("10.0.1.1", 384, &c, sp, 0xff, b"a"), 1, 60);
        }
        // Mid-stream TCP, first packet from the server, then from the client on 443.
        t.update(&pkt("10.0.1.2", 386, "10.0.0.9", 443, A, b"s"), 2, 60);
        t.update(&pkt("10.0.0.9", 443, "10.0.1.2", 386, A, b"c"), 3, 60);
        // A ghost source port towards DNS: the ghost side spoke first.
        t.update(&pkt("10.0.0.7", 384, "10.0.1.53", 53, 0xff, b"q"), 4, 60);
        t.finish_all();
        let f: Vec<Flow> = t.drain_finished().collect();
        for x in &f[..4] {
            assert!(matches!(x.server.port, 384 | 386), "{x:?}");
            assert_eq!(x.orientation, Orientation::PortHeuristic);
        }
        assert_eq!(f[3].client.port, 443);
        assert_eq!((f[4].client.port, f[4].server.port), (384, 53));
    }

    #[test]
    fn eviction_is_bounded_and_counted() {
        let mut t = FlowTable::new(FlowConfig {
            max_flows: 16,
            ..Default::default()
        });
        for i in 0..100u16 {
            t.update(
                &pkt("10.0.0.1", 1024 + i, "10.0.0.2", 386, S, b""),
                i64::from(i),
                60,
            );
            assert!(t.len() <= 16);
        }
        let evicted = t.stats().evicted;
        assert_eq!(evicted + t.len() as u64, 100);
        let drained: Vec<Flow> = t.drain_finished().collect();
        assert!(drained.iter().all(|f| f.end == EndReason::Evicted));
        assert_eq!(drained.len() as u64, evicted);
    }

    #[test]
    fn idle_timeout_in_capture_time() {
        let mut t = FlowTable::new(FlowConfig::default());
        t.update(&pkt("10.0.0.1", 40000, "10.0.0.2", 384, 0xff, b"a"), 0, 60);
        t.update(
            &pkt("10.0.0.1", 40001, "10.0.0.2", 384, 0xff, b"a"),
            61_000_000_000,
            60,
        );
        t.update(
            &pkt("10.0.0.1", 40001, "10.0.0.2", 384, 0xff, b"a"),
            62_000_000_000,
            60,
        );
        assert_eq!(t.stats().timed_out, 1);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn payload_head_capped_and_retransmission_ignored() {
        let mut h = PayloadHead::default();
        h.push(b"abcd", Some(100), 6);
        h.push(b"abcd", Some(100), 6);
        h.push(b"efgh", Some(104), 6);
        assert_eq!(h.bytes, b"abcdef");
        let mut g = PayloadHead::default();
        g.push(b"ab", Some(1), 10);
        g.push(b"zz", Some(10), 10);
        g.push(b"cd", Some(3), 10);
        assert_eq!(g.bytes, b"ab");
        assert!(g.gap);
    }

    #[test]
    fn reused_tuple_after_rst_starts_new_flow() {
        let mut t = FlowTable::new(FlowConfig::default());
        t.update(&pkt("10.0.0.1", 40000, "10.0.0.2", 386, S, b""), 0, 60);
        t.update(
            &pkt("10.0.0.2", 386, "10.0.0.1", 40000, tcp_flags::RST | A, b""),
            1,
            60,
        );
        t.update(
            &pkt("10.0.0.1", 40000, "10.0.0.2", 386, S, b""),
            60_000_000_000,
            60,
        );
        assert_eq!(t.stats().reused, 1);
        assert_eq!(t.stats().created, 2);
    }
}
