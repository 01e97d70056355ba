//! Opening inputs: a file or stdin, decompressed by its magic bytes.
//!
//! Every intake that reads files (NDJSON hits, access logs) opens them
//! here, so gzip, bzip2 and zstd work the same everywhere and nothing is
//! loaded whole: the reader streams.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::{Error, Result};

/// Buffer size of the readers.
const BUFFER: usize = 1 << 20;

/// How an input is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip (`.gz`), several members read in a row.
    Gzip,
    /// bzip2 (`.bz2`), several streams read in a row.
    Bzip2,
    /// Zstandard (`.zst`).
    Zstd,
}

impl Compression {
    /// The compression that `head` (the first bytes of an input) starts
    /// with.
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::input::Compression;
    /// assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
    /// assert_eq!(Compression::sniff(b"BZh91AY&SY"), Compression::Bzip2);
    /// assert_eq!(Compression::sniff(b"1.2.3.4 - -"), Compression::None);
    /// ```
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.len() >= 4 && head.starts_with(b"BZh") && head[3].is_ascii_digit() {
            Compression::Bzip2
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Wraps a reader so that compressed input comes out decompressed.
///
/// # Errors
/// The first bytes cannot be read, or the zstd decoder cannot start.
///
/// # Examples
/// ```
/// use std::io::{Read, Write};
/// let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
/// gz.write_all(b"hello\n")?;
/// let bytes = gz.finish()?;
/// let mut out = String::new();
/// hitmap_intake::input::decompress(std::io::Cursor::new(bytes))?.read_to_string(&mut out)?;
/// assert_eq!(out, "hello\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decompress<R: Read + Send + 'static>(reader: R) -> std::io::Result<Box<dyn BufRead + Send>> {
    let mut reader = BufReader::with_capacity(BUFFER, reader);
    let kind = Compression::sniff(reader.fill_buf()?);
    Ok(match kind {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            BUFFER,
            flate2::read::MultiGzDecoder::new(reader),
        )),
        Compression::Bzip2 => Box::new(BufReader::with_capacity(
            BUFFER,
            bzip2::read::MultiBzDecoder::new(reader),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            BUFFER,
            zstd::stream::read::Decoder::with_buffer(reader)?,
        )),
    })
}

/// Opens a path (`-` is stdin), decompressed by its magic bytes.
///
/// # Errors
/// [`Error::Input`] naming the path.
///
/// # Examples
/// ```
/// let err = hitmap_intake::input::open("/no/such/file.log".as_ref()).err().unwrap();
/// assert!(err.to_string().starts_with("cannot open /no/such/file.log"));
/// ```
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    open_counted(path, |_| {})
}

/// [`open`], calling `progress` with the number of raw (compressed)
/// bytes each read takes from the file: for progress bars.
///
/// # Errors
/// As [`open`].
pub fn open_counted(
    path: &Path,
    progress: impl FnMut(u64) + Send + 'static,
) -> Result<Box<dyn BufRead + Send>> {
    let what = |verb: &'static str| {
        let p = path.display().to_string();
        move |e: std::io::Error| Error::Input(format!("cannot {verb} {p}: {e}"))
    };
    let raw: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).map_err(what("open"))?)
    };
    decompress(Counted {
        inner: raw,
        progress,
    })
    .map_err(what("read"))
}

/// Reports the bytes that pass through.
struct Counted<R, F> {
    inner: R,
    progress: F,
}

impl<R: Read, F: FnMut(u64)> Read for Counted<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
}
