//! Opening inputs: files or stdin, SHA-256 of the stored bytes, transparent
//! gzip / zstd decompression chosen by magic bytes.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use super::error::CaptureError;

/// One input: a file or standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file (or anything else `open()` can read, such as a FIFO).
    Path(PathBuf),
    /// Standard input, named "-" on the command line.
    Stdin,
}

impl Input {
    /// The name used in messages and reports: the path as given, or "<stdin>".
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".to_string(),
        }
    }

    /// Size in bytes as stored, for a regular file; None for stdin, pipes
    /// and unreadable paths (for a progress bar's total).
    pub fn size(&self) -> Option<u64> {
        match self {
            Input::Path(p) => std::fs::metadata(p)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len()),
            Input::Stdin => None,
        }
    }
}

/// Compression found by magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub(crate) fn detect(prefix: &[u8]) -> Compression {
        match prefix {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            _ => Compression::None,
        }
    }

    pub(crate) fn name(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Zstd => Some("zstd"),
        }
    }
}

const HASH_BUF: usize = 128 << 10;

/// The raw bytes of an input as stored. Counts what was read, and hashes it
/// when no side thread does.
pub(crate) struct RawInput {
    inner: Box<dyn Read + Send>,
    hasher: Option<Sha256>,
    count: u64,
    prefix: [u8; 8],
    prefix_len: usize,
    prefix_pos: usize,
}

impl RawInput {
    fn new(inner: Box<dyn Read + Send>, hash_inline: bool) -> RawInput {
        RawInput {
            inner,
            hasher: hash_inline.then(Sha256::new),
            count: 0,
            prefix: [0; 8],
            prefix_len: 0,
            prefix_pos: 0,
        }
    }

    /// Bytes read from the underlying file so far.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    fn read_inner(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = loop {
            match self.inner.read(buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        let n = n.min(buf.len());
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }

    /// Reads (and keeps for later reads) up to 8 bytes: the magic.
    pub(crate) fn peek(&mut self) -> io::Result<&[u8]> {
        let mut tmp = [0u8; 8];
        while self.prefix_len < self.prefix.len() {
            let want = self.prefix.len() - self.prefix_len;
            let n = self.read_inner(&mut tmp[..want])?;
            if n == 0 {
                break;
            }
            self.prefix[self.prefix_len..self.prefix_len + n].copy_from_slice(&tmp[..n]);
            self.prefix_len += n;
        }
        Ok(&self.prefix[self.prefix_pos..self.prefix_len])
    }

    /// Reads the rest of the input so that an inline hash covers all of it,
    /// and returns the hash (None when a side thread hashes).
    fn finish_hash(&mut self) -> io::Result<Option<String>> {
        if self.hasher.is_none() {
            return Ok(None);
        }
        let mut buf = vec![0u8; HASH_BUF];
        while self.read_inner(&mut buf)? != 0 {}
        Ok(self.hasher.take().map(|h| hex(&h.finalize())))
    }
}

impl Read for RawInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.prefix_pos < self.prefix_len {
            let n = (self.prefix_len - self.prefix_pos).min(buf.len());
            buf[..n].copy_from_slice(&self.prefix[self.prefix_pos..self.prefix_pos + n]);
            self.prefix_pos += n;
            return Ok(n);
        }
        self.read_inner(buf)
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// SHA-256 of a file, read once with a 128 KiB buffer (measured: 1 MiB
/// reads cost 3x the kernel time, the copies miss L2). Stops early (returning
/// an error) when `cancel` is set.
pub(crate) fn hash_file(path: &Path, cancel: &AtomicBool) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; HASH_BUF];
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(io::Error::other("hashing cancelled"));
        }
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n.min(buf.len())]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(hex(&h.finalize()))
}

/// Hashes a regular file on a side thread, so the hash costs no time on the
/// reading thread (the file is read twice, the second time from the page
/// cache).
pub(crate) struct SideHasher {
    handle: Option<JoinHandle<io::Result<String>>>,
    cancel: Arc<AtomicBool>,
}

impl SideHasher {
    pub(crate) fn spawn(path: PathBuf) -> SideHasher {
        let cancel = Arc::new(AtomicBool::new(false));
        let c2 = Arc::clone(&cancel);
        let handle = std::thread::Builder::new()
            .name("ghostport-sha256".into())
            .spawn(move || hash_file(&path, &c2))
            .ok();
        SideHasher { handle, cancel }
    }

    /// Waits for the hash; an empty string if it could not be computed.
    pub(crate) fn join(mut self) -> String {
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(Ok(h))) => h,
            _ => String::new(),
        }
    }
}

impl Drop for SideHasher {
    fn drop(&mut self) {
        if self.handle.is_some() {
            self.cancel.store(true, Ordering::Relaxed);
        }
    }
}

/// The end of an input: its SHA-256 (from the side thread, or inline after
/// reading the rest) and its size as stored.
pub(crate) fn finish_input(
    side_hasher: Option<SideHasher>,
    buf: &mut super::buf::RecordBuf<Decoded>,
    total_size: Option<u64>,
) -> (String, u64) {
    let sha256 = match side_hasher {
        Some(h) => h.join(),
        None => buf
            .get_mut()
            .finish_hash()
            .ok()
            .flatten()
            .unwrap_or_default(),
    };
    let size = total_size.unwrap_or_else(|| buf.get_ref().raw().count());
    (sha256, size)
}

/// The capture stream after decompression.
pub(crate) enum Decoded {
    Plain(RawInput),
    Gzip(Box<flate2::read::MultiGzDecoder<BufReader<RawInput>>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, BufReader<RawInput>>>),
}

impl Decoded {
    pub(crate) fn raw(&self) -> &RawInput {
        match self {
            Decoded::Plain(r) => r,
            Decoded::Gzip(d) => d.get_ref().get_ref(),
            Decoded::Zstd(d) => d.get_ref().get_ref(),
        }
    }

    fn raw_mut(&mut self) -> &mut RawInput {
        match self {
            Decoded::Plain(r) => r,
            Decoded::Gzip(d) => d.get_mut().get_mut(),
            Decoded::Zstd(d) => d.get_mut().get_mut(),
        }
    }

    /// Finishes an inline hash (reading any rest of the raw input).
    pub(crate) fn finish_hash(&mut self) -> io::Result<Option<String>> {
        self.raw_mut().finish_hash()
    }
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Plain(r) => r.read(buf),
            Decoded::Gzip(d) => d.read(buf),
            Decoded::Zstd(d) => d.read(buf),
        }
    }
}

/// An opened input, not yet parsed.
pub(crate) struct Opened {
    pub(crate) name: String,
    pub(crate) stream: Decoded,
    pub(crate) compression: Compression,
    pub(crate) total_size: Option<u64>,
    pub(crate) side_hasher: Option<SideHasher>,
}

const DECOMPRESS_BUF: usize = 256 << 10;

/// Opens a file or stdin, sniffs compression and starts hashing.
pub(crate) fn open_input(input: &Input, hash: bool) -> Result<Opened, CaptureError> {
    let name = input.name();
    let (reader, total_size, side_hasher): (Box<dyn Read + Send>, _, _) = match input {
        Input::Path(p) => {
            let f = File::open(p).map_err(|cause| CaptureError::Open {
                path: p.clone(),
                cause,
            })?;
            let meta = f.metadata().map_err(|cause| CaptureError::Open {
                path: p.clone(),
                cause,
            })?;
            if meta.is_dir() {
                return Err(CaptureError::Open {
                    path: p.clone(),
                    cause: io::Error::from(io::ErrorKind::IsADirectory),
                });
            }
            if meta.is_file() {
                (
                    Box::new(f),
                    Some(meta.len()),
                    hash.then(|| SideHasher::spawn(p.clone())),
                )
            } else {
                // FIFO, character device, /dev/fd/N: cannot be read twice.
                (Box::new(f), None, None)
            }
        }
        Input::Stdin => (Box::new(io::stdin()), None, None),
    };
    let hash_inline = hash && side_hasher.is_none();
    open_stream(name, reader, total_size, side_hasher, hash_inline)
}

/// Sniffs compression on any reader, hashing inline if asked.
pub(crate) fn open_stream(
    name: String,
    reader: Box<dyn Read + Send>,
    total_size: Option<u64>,
    side_hasher: Option<SideHasher>,
    hash_inline: bool,
) -> Result<Opened, CaptureError> {
    let read_err = |name: &str, cause| CaptureError::Read {
        name: name.to_string(),
        offset: super::error::Offset {
            byte: 0,
            decompressed: false,
        },
        packet: 1,
        cause,
    };
    let mut raw = RawInput::new(reader, hash_inline);
    let prefix = raw.peek().map_err(|e| read_err(&name, e))?;
    if prefix.is_empty() {
        return Err(CaptureError::Empty { name });
    }
    let compression = Compression::detect(prefix);
    let stream = match compression {
        Compression::None => Decoded::Plain(raw),
        Compression::Gzip => Decoded::Gzip(Box::new(flate2::read::MultiGzDecoder::new(
            BufReader::with_capacity(DECOMPRESS_BUF, raw),
        ))),
        Compression::Zstd => {
            let d = zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(
                DECOMPRESS_BUF,
                raw,
            ))
            .map_err(|e| read_err(&name, e))?;
            Decoded::Zstd(Box::new(d))
        }
    };
    Ok(Opened {
        name,
        stream,
        compression,
        total_size,
        side_hasher,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_detect() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(Compression::detect(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::detect(&[0xd4, 0xc3]), Compression::None);
    }

    #[test]
    fn raw_input_hashes_everything_once() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let mut raw = RawInput::new(Box::new(io::Cursor::new(data.clone())), true);
        assert_eq!(raw.peek().map(<[u8]>::len).unwrap_or(0), 8);
        let mut first = [0u8; 3];
        assert_eq!(raw.read(&mut first).ok(), Some(3));
        assert_eq!(&first, &data[..3]);
        let mut rest = Vec::new();
        raw.read_to_end(&mut rest).ok();
        assert_eq!(rest, &data[3..]);
        let h = raw.finish_hash().ok().flatten();
        assert_eq!(h, Some(hex(&Sha256::digest(&data))));
        assert_eq!(raw.count(), 5000);
    }
}
