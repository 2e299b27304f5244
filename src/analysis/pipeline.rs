//! The two-thread scan of one input: a reading thread reads, parses and
//! decodes frames into batches of small packet records; the analysing
//! thread (the caller's) puts them into the flow table and classifies, in
//! the same order. The flow half sees exactly the packets, in exactly the
//! order, that a one-thread scan gives it, so the results are identical;
//! `tests/readers.rs` checks that on every capture in the corpus.
//!
//! Payload bytes cross over only for packets whose flow may keep them (a
//! port in the table's payload set, at most the payload cap); every other
//! packet is a fixed-size record. Batches are recycled: no allocation per
//! packet after the first few batches.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::{Analyzer, FrameDecoder, Progress};
use crate::capture::{CaptureError, FrameSource};
use crate::decode::{Packet, Skip};
use crate::flow::{FlowTable, PortSet};
use crate::identify::negotiate::MAX_CONTROL_PAYLOAD;

/// Records per batch: large enough to make the hand-over cheap, small
/// enough that the batches in flight stay in the caches.
const BATCH: usize = 2048;
/// The analysing side asks for the flow of the packet this many records
/// ahead, so that its cache misses overlap the work on the ones before.
const PREFETCH_AHEAD: usize = 8;
/// Batches in flight from the reading thread.
const IN_FLIGHT: usize = 4;

struct Rec {
    packet: Packet<'static>,
    /// `FlowTable::packet_hash` of the packet, computed on the reading side.
    hash: u64,
    ts: i64,
    wire_len: u32,
    /// Kept payload bytes in the batch's arena.
    payload_at: u32,
    payload_len: u32,
}

#[derive(Default)]
struct Batch {
    recs: Vec<Rec>,
    arena: Vec<u8>,
    /// The source's read position after the last frame of the batch.
    position: u64,
    /// Frames read from this input so far, skipped ones included.
    frames: u64,
}

/// Reads `source` to its end on a second thread, feeding `az` (see the
/// module docs). Same result and same error as `super::read_all`.
pub(super) fn read_all(
    az: &mut Analyzer<'_>,
    source: &mut (dyn FrameSource + Send),
    base: u64,
    progress: &mut dyn Progress,
) -> Result<(), CaptureError> {
    let copy = CopyCaps {
        payload: az.table.payload_ports().cloned(),
        sniff: az.table.sniff_ports().cloned(),
        cap: az.table.payload_cap(),
        sniff_cap: az.table.sniff_cap(),
        control: az.control_ports.clone(),
    };
    let (full_tx, full_rx) = sync_channel::<Batch>(IN_FLIGHT);
    let (empty_tx, empty_rx) = sync_channel::<Batch>(IN_FLIGHT + 2);
    let frames_before = az.decoder.frames();
    // The source goes to the thread through this slot, so that it is still
    // here if the thread cannot start.
    let slot = std::sync::Mutex::new(Some(source));
    let slot_ref = &slot;
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("ghostport-decode".into())
            .spawn_scoped(scope, move || {
                let source = slot_ref.lock().ok().and_then(|mut s| s.take());
                match source {
                    Some(src) => reader(src, &full_tx, &empty_rx, &copy),
                    None => (FrameDecoder::default(), Ok(())),
                }
            });
        let reader = match reader {
            Ok(r) => r,
            // No thread: read here instead.
            Err(_) => {
                return match slot.lock().ok().and_then(|mut s| s.take()) {
                    Some(src) => super::read_all(az, src, base, progress),
                    None => Ok(()),
                };
            }
        };
        apply(az, &full_rx, &empty_tx, base, frames_before, progress);
        match reader.join() {
            Ok((decoder, result)) => {
                az.decoder.absorb(&decoder);
                result
            }
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

/// The analysing side: every record into the flow table, in order.
fn apply(
    az: &mut Analyzer<'_>,
    full: &Receiver<Batch>,
    empty: &SyncSender<Batch>,
    base: u64,
    frames_before: u64,
    progress: &mut dyn Progress,
) {
    for mut batch in full.iter() {
        for (i, r) in batch.recs.iter().enumerate() {
            if let Some(next) = batch.recs.get(i + PREFETCH_AHEAD) {
                az.table.prefetch(next.hash);
            }
            let start = r.payload_at as usize;
            let payload = batch
                .arena
                .get(start..start + r.payload_len as usize)
                .unwrap_or(&[]);
            let p: Packet<'_> = r.packet;
            az.packet(&Packet { payload, ..p }, r.hash, r.ts, r.wire_len);
        }
        progress.update(base + batch.position, frames_before + batch.frames);
        batch.recs.clear();
        batch.arena.clear();
        let _ = empty.try_send(batch);
    }
}

/// How many payload bytes of a packet cross to the analysing thread: what
/// the flow table may keep of it (`FlowTable::copy_cap`, here without the table).
struct CopyCaps {
    payload: Option<PortSet>,
    sniff: Option<PortSet>,
    cap: usize,
    sniff_cap: usize,
    /// Control ports (negotiated ports): their packets cross whole, up to
    /// what the analysing side looks at.
    control: PortSet,
}

impl CopyCaps {
    #[inline]
    fn cap_for(&self, p: &Packet<'_>) -> usize {
        let on = |s: &PortSet| {
            s.contains(p.transport, p.src_port) || s.contains(p.transport, p.dst_port)
        };
        if on(&self.control) {
            self.cap.max(MAX_CONTROL_PAYLOAD)
        } else if self.payload.as_ref().is_none_or(on) {
            self.cap
        } else if self.sniff.as_ref().is_some_and(on) {
            self.sniff_cap
        } else {
            0
        }
    }
}

/// The reading side. Returns its frame counters and how the input ended.
fn reader(
    source: &mut (dyn FrameSource + Send),
    full: &SyncSender<Batch>,
    empty: &Receiver<Batch>,
    copy: &CopyCaps,
) -> (FrameDecoder, Result<(), CaptureError>) {
    let mut dec = FrameDecoder::default();
    let mut checked_link = false;
    let mut batch = Batch::default();
    // Batches in existence: at most IN_FLIGHT + 2 (the channel of empty
    // ones holds them all, so none is ever dropped and remade).
    let mut made = 1usize;
    let mut send = |batch: &mut Batch, pos: u64, frames: u64| -> bool {
        let mut next = if made < IN_FLIGHT + 2 {
            empty.try_recv().unwrap_or_else(|_| {
                made += 1;
                Batch::default()
            })
        } else {
            match empty.recv() {
                Ok(b) => b,
                Err(_) => return false,
            }
        };
        if next.recs.capacity() == 0 {
            next.recs.reserve_exact(BATCH);
        }
        std::mem::swap(batch, &mut next);
        next.position = pos;
        next.frames = frames;
        full.send(next).is_ok()
    };
    let result = loop {
        let frame = match source.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        match dec.frame(&frame) {
            Ok(p) => {
                let take = p.payload.len().min(copy.cap_for(&p));
                let at = batch.arena.len();
                if let Some(bytes) = p.payload.get(..take) {
                    batch.arena.extend_from_slice(bytes);
                }
                batch.recs.push(Rec {
                    hash: FlowTable::packet_hash(&p),
                    packet: Packet {
                        src: p.src,
                        dst: p.dst,
                        transport: p.transport,
                        src_port: p.src_port,
                        dst_port: p.dst_port,
                        tcp_flags: p.tcp_flags,
                        seq: p.seq,
                        payload: &[],
                        payload_len: p.payload_len,
                        vlan: p.vlan,
                        first_fragment: p.first_fragment,
                        kind: p.kind,
                        tunnel: p.tunnel,
                    },
                    ts: frame.ts_nanos,
                    wire_len: frame.orig_len.max(frame.caplen),
                    payload_at: at as u32,
                    payload_len: (batch.arena.len() - at) as u32,
                });
            }
            Err(skip) => {
                if !checked_link && skip == Skip::UnsupportedLinkType {
                    checked_link = true;
                    let lt = frame.linktype;
                    if source.linktypes().len() <= 1 {
                        break Err(CaptureError::UnsupportedLinkType(lt));
                    }
                }
            }
        }
        if batch.recs.len() >= BATCH && !send(&mut batch, source.position(), dec.frames()) {
            // The analysing side is gone: nothing more to do.
            return (dec, Ok(()));
        }
    };
    send(&mut batch, source.position(), dec.frames());
    (dec, result)
}
