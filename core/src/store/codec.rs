//! The envelope every store file shares, and a bounds-checked reader and
//! writer for the little-endian body. See FORMAT.md.

use roaring::RoaringBitmap;

/// First bytes of every hitmap file.
pub(crate) const MAGIC: &[u8; 7] = b"HITMAP\0";
/// The on-disk format version this build writes; it reads every version
/// from 1 up to it. Version 2 changed the bodies of day (`D`) and
/// dictionary (`T`) files; version 3 split a day file's body into
/// sections compressed one by one; version 4 keeps the visitor history in
/// month pages (`P`) and totals (`N`) instead of one table (`V`, still
/// read); version 5 adds visits-grouped reports to rollups with reports
/// (`R`, `.rep`: an older build cannot read those and answers their
/// periods from days); version 6 adds recorded conversions to the day
/// files of days that have any; version 7 adds each visitor's first
/// visit start and the order index to the visitor totals (`N`), and
/// keeps the referrer type and all-referrers reports of rollups with
/// reports under new numbers (their search rows are keywords); version 8
/// adds goal rollups (`R`, `.gol`: [`GOALS_VERSION`]); version 9 counts
/// the time spent on a page until the next page view (Matomo's rule) in
/// report rollups, whose older ones are read from their days until
/// rebuilt ([`REPORTS_VERSION`]); version 10 adds product views to the
/// conversions section of the day files of days that have any
/// ([`VIEWS_VERSION`]); version 11 lets a day file hold visits without
/// actions ([`EMPTY_VISITS_VERSION`]); version 12 adds the operating
/// system family, device brand, device model and browser engine reports
/// to report rollups ([`REPORTS_VERSION`]); version 13 counts an event
/// row's visits once per event combination in report rollups (Matomo's
/// event visits); version 14 adds the actions' load timings and bandwidth
/// to the day files of days that have any ([`PERF_VERSION`]) and to
/// report rollups' action rows ([`REPORTS_VERSION`]); version 15 adds
/// the distinct visitors entering and leaving on each page row of report
/// rollups ([`REPORTS_VERSION`]) and a 26th day-file section, the site
/// searches' categories and result counts, to the day files of days that
/// have any ([`SEARCH_VERSION`]); version 16 leaves the entry and exit
/// page reports (visits-grouped report numbers 18 to 21) out of report
/// rollups ([`REPORTS_VERSION`]); version 17 adds Matomo's URL of a
/// page row whose label several URLs share to report rollups
/// ([`PAGE_URLS_VERSION`]); version 18 adds content impressions and
/// interactions to the conversions section of the day files of days that
/// have any ([`CONTENTS_VERSION`]); the other kinds are the same in all.
pub(crate) const FORMAT_VERSION: u16 = 18;

/// The version of a day file with content impressions or interactions
/// (conversion kind 9, its name, piece, target and interaction after the
/// items): an older build refuses it by version. Days without any keep
/// their version.
pub(crate) const CONTENTS_VERSION: u16 = 18;

/// The version of a report rollup whose page rows name their URL (the
/// first day's, when a label has several URLs): older ones are read from
/// their days until rebuilt.
pub(crate) const PAGE_URLS_VERSION: u16 = 17;

/// The version of a day file with site search categories or result
/// counts (a 26th section, after the conversions section and the load
/// timings section, which it always has): an older build refuses it by
/// version. Days without any keep their version.
pub(crate) const SEARCH_VERSION: u16 = 15;

/// The version of a day file with load timings or bandwidth (a 25th
/// section, after the conversions section, which it always has): an older
/// build refuses it by version. Days without any keep their version.
pub(crate) const PERF_VERSION: u16 = 14;

/// The version of a day file with a visit without actions (a conversion
/// alone): its action times skip that visit, which an older build would
/// misread, so it refuses the file by version.
pub(crate) const EMPTY_VISITS_VERSION: u16 = 11;

/// The version of a day file whose conversions section holds product
/// views (kind 8): an older build refuses it by version instead of
/// misreading it. Days without views keep their version.
pub(crate) const VIEWS_VERSION: u16 = 10;

/// The version of a goal rollup (a month's or year's goal sums).
pub(crate) const GOALS_VERSION: u16 = 8;

/// The version of visitor totals with first visit starts.
pub(crate) const TOTALS_VERSION: u16 = 7;

/// The version of a day file with recorded conversions (a 24th section);
/// days without any keep version 3's bytes.
pub(crate) const CONVERSIONS_VERSION: u16 = 6;
/// The version of a rollup with reports (visits-grouped reports, new in
/// 5; the referrer type and all-referrers reports renumbered in 7; the
/// time spent on pages until the next page view in 9; the device
/// reports in 12; event visits by combination in 13; the action rows'
/// load timings and bandwidth in 14; their entering and leaving visitors
/// in 15; the entry and exit page reports left out in 16, which an older
/// build would miss, so it refuses the file by version; the page rows'
/// URLs in 17).
pub(crate) const REPORTS_VERSION: u16 = 17;

/// The oldest rollup whose reports are used (an older one lacks the page
/// rows' URLs, [`PAGE_URLS_VERSION`]): an older one's reports are not
/// used, its periods read from their days until `hitmap check --upgrade`
/// or a write to its month rebuilds it.
pub(crate) const REPORTS_CURRENT_FROM: u16 = 17;

/// The version of the manifest and the visitor history's files.
pub(crate) const HISTORY_VERSION: u16 = 4;
/// The version that last changed a day file's body (a store's older day
/// files are rewritten by `hitmap check --upgrade`).
pub(crate) const DAY_VERSION: u16 = 3;

/// The version a file of `kind` is written in: the last version that
/// changed that kind (the manifest's names the history's files since 4),
/// so files of unchanged kinds keep their bytes.
pub(crate) fn version_of(kind: Kind) -> u16 {
    match kind {
        Kind::Manifest | Kind::Page => HISTORY_VERSION,
        Kind::Totals => TOTALS_VERSION,
        Kind::Rollup => ROLLUP_VERSION,
        _ => DAY_VERSION,
    }
}
/// magic (7) + kind (1) + version (2) + reserved (2) + body length (8).
pub(crate) const HEADER: usize = 20;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Manifest = b'M',
    Config = b'C',
    Bundle = b'B',
    Dicts = b'T',
    Day = b'D',
    Wal = b'W',
    History = b'V',
    Page = b'P',
    Totals = b'N',
    Rollup = b'R',
}

/// The version of a rollup without reports (a report rollup is written in
/// [`FORMAT_VERSION`]).
pub(crate) const ROLLUP_VERSION: u16 = DAY_VERSION;

/// [`seal`] in a given version (a rollup with reports is written in the
/// version that last changed its body; tests and fuzzing feed older
/// bodies through it).
pub(crate) fn seal_in(kind: Kind, version: u16, body: &[u8]) -> Vec<u8> {
    sealed(kind, version, body)
}

/// Wraps a body: header, body, CRC-32 of both.
pub(crate) fn seal(kind: Kind, body: &[u8]) -> Vec<u8> {
    sealed(kind, version_of(kind), body)
}

fn sealed(kind: Kind, version: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len() + 4);
    out.extend_from_slice(MAGIC);
    out.push(kind as u8);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks the envelope and returns the body, or what is wrong with it.
pub(crate) fn open(kind: Kind, bytes: &[u8]) -> Result<&[u8], String> {
    open_versioned(kind, bytes).map(|(_, body)| body)
}

/// [`open`], with the format version the file was written in.
#[deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
pub(crate) fn open_versioned(kind: Kind, bytes: &[u8]) -> Result<(u16, &[u8]), String> {
    let truncated = || {
        format!(
            "truncated: {} bytes, shorter than any hitmap file",
            bytes.len()
        )
    };
    let (header, rest) = bytes.split_at_checked(HEADER).ok_or_else(truncated)?;
    let (Some(magic), Some(&found), Some(version), Some(len)) = (
        header.get(..7),
        header.get(7),
        header.get(8..10).and_then(|v| <[u8; 2]>::try_from(v).ok()),
        header.get(12..20).and_then(|v| <[u8; 8]>::try_from(v).ok()),
    ) else {
        return Err(truncated());
    };
    if rest.len() < 4 {
        return Err(truncated());
    }
    if magic != MAGIC {
        return Err("not a hitmap file (bad magic bytes)".into());
    }
    if found != kind as u8 {
        return Err(format!(
            "holds kind '{}' where kind '{}' was expected",
            found as char, kind as u8 as char
        ));
    }
    let version = u16::from_le_bytes(version);
    if version > FORMAT_VERSION {
        return Err(format!(
            "format version {version} is newer than this hitmap reads ({FORMAT_VERSION}): upgrade hitmap"
        ));
    }
    if version == 0 {
        return Err("format version 0 is not a valid version".into());
    }
    let expected = (HEADER as u64)
        .saturating_add(u64::from_le_bytes(len))
        .saturating_add(4);
    if expected != bytes.len() as u64 {
        return Err(format!(
            "truncated or padded: header says {expected} bytes, file has {}",
            bytes.len()
        ));
    }
    let (sealed, crc) = bytes.split_last_chunk::<4>().ok_or_else(truncated)?;
    if crc32fast::hash(sealed) != u32::from_le_bytes(*crc) {
        return Err("checksum mismatch: the file is corrupt".into());
    }
    Ok((version, sealed.get(HEADER..).ok_or_else(truncated)?))
}

/// A fixed-width value stored little-endian.
trait LeBytes: Sized {
    const WIDTH: usize;
    /// From exactly `WIDTH` bytes.
    fn get(bytes: &[u8]) -> Self;
}

macro_rules! le_bytes {
    ($($t:ty),*) => {$(
        impl LeBytes for $t {
            const WIDTH: usize = std::mem::size_of::<$t>();
            fn get(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("chunks of WIDTH"))
            }
        }
    )*};
}

le_bytes!(u32, i64, f64);

/// Appends little-endian values and arrays.
#[derive(Default)]
pub(crate) struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u8s(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.buf.extend_from_slice(v);
    }
    /// A count, then `n` little-endian `u32`s from `v` (what
    /// [`Reader::u32s`] reads).
    pub(crate) fn u32s_of(&mut self, n: usize, v: impl Iterator<Item = u32>) {
        self.u64(n as u64);
        self.buf.reserve(n * 4);
        let start = self.buf.len();
        for x in v {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
        debug_assert_eq!(self.buf.len() - start, n * 4, "u32s_of: wrong count");
    }
    pub(crate) fn str(&mut self, s: &str) {
        self.u8s(s.as_bytes());
    }
    /// An unsigned LEB128 varint: 7 bits a byte, low bits first.
    pub(crate) fn var(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }
    /// A bitmap: its byte length, then roaring's portable serialization.
    pub(crate) fn bitmap(&mut self, b: &RoaringBitmap) {
        self.u64(b.serialized_size() as u64);
        b.serialize_into(&mut self.buf)
            .expect("writing to a Vec cannot fail");
    }
    /// A count, then each value as a varint.
    pub(crate) fn vars(&mut self, v: impl ExactSizeIterator<Item = u64>) {
        self.var(v.len() as u64);
        for x in v {
            self.var(x);
        }
    }
}

/// Reads what [`Writer`] wrote; every read is bounds-checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

pub(crate) type ReadResult<T> = Result<T, String>;

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> ReadResult<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| format!("body ends early at byte {} (wanted {n} more)", self.pos))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn u32(&mut self) -> ReadResult<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }
    pub(crate) fn u64(&mut self) -> ReadResult<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
    fn count(&mut self, width: usize) -> ReadResult<usize> {
        let n = self.u64()?;
        let bytes = n
            .checked_mul(width as u64)
            .filter(|&b| b <= (self.buf.len() - self.pos) as u64);
        bytes
            .map(|_| n as usize)
            .ok_or_else(|| format!("array of {n} items at byte {} runs past the end", self.pos))
    }
    /// A varint as [`Writer::var`] writes it; at most ten bytes, no bits
    /// past the 64th.
    #[inline]
    pub(crate) fn var(&mut self) -> ReadResult<u64> {
        // Most numbers of a day file (ids, deltas) take one byte.
        match self.buf.get(self.pos) {
            Some(&b) if b < 0x80 => {
                self.pos += 1;
                Ok(u64::from(b))
            }
            _ => self.var_long(),
        }
    }
    #[inline(never)]
    fn var_long(&mut self) -> ReadResult<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or_else(|| {
                format!("body ends early at byte {} inside a number", self.pos)
            })?;
            self.pos += 1;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                break;
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("a number before byte {} is too long", self.pos))
    }
    /// A varint that must fit in a `u32`.
    pub(crate) fn var_u32(&mut self) -> ReadResult<u32> {
        let v = self.var()?;
        u32::try_from(v).map_err(|_| format!("{v} before byte {} is out of range", self.pos))
    }
    /// A count of items that take at least one byte each, so that it
    /// cannot claim more than the body holds.
    pub(crate) fn var_count(&mut self) -> ReadResult<usize> {
        let n = self.var()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.buf.len() - self.pos)
            .ok_or_else(|| format!("array of {n} items at byte {} runs past the end", self.pos))
    }
    /// What [`Writer::vars`] wrote, each value a `u32`.
    pub(crate) fn vars_u32(&mut self) -> ReadResult<Vec<u32>> {
        let n = self.var_count()?;
        (0..n).map(|_| self.var_u32()).collect()
    }
    /// What [`Writer::vars`] wrote.
    pub(crate) fn vars_u64(&mut self) -> ReadResult<Vec<u64>> {
        let n = self.var_count()?;
        (0..n).map(|_| self.var()).collect()
    }
    /// `n` raw bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> ReadResult<&'a [u8]> {
        self.take(n)
    }
    pub(crate) fn u8s(&mut self) -> ReadResult<Vec<u8>> {
        let n = self.count(1)?;
        Ok(self.take(n)?.to_vec())
    }
    pub(crate) fn u32s(&mut self) -> ReadResult<Vec<u32>> {
        self.array()
    }
    /// What [`Reader::u32s`] reads, without collecting it: the values
    /// decoded in place as they are iterated.
    pub(crate) fn u32s_iter(
        &mut self,
    ) -> ReadResult<impl ExactSizeIterator<Item = u32> + Clone + 'a> {
        self.values()
    }
    pub(crate) fn i64s(&mut self) -> ReadResult<Vec<i64>> {
        self.array()
    }
    pub(crate) fn f64s(&mut self) -> ReadResult<Vec<f64>> {
        self.array()
    }
    fn array<T: LeBytes + 'a>(&mut self) -> ReadResult<Vec<T>> {
        Ok(self.values()?.collect())
    }
    /// A count, then that many fixed-width values, decoded as iterated.
    fn values<T: LeBytes + 'a>(&mut self) -> ReadResult<impl ExactSizeIterator<Item = T> + Clone + 'a> {
        let n = self.count(T::WIDTH)?;
        Ok(self.take(n * T::WIDTH)?.chunks_exact(T::WIDTH).map(T::get))
    }
    /// A string as [`Writer::str`] writes it, borrowed from the input.
    pub(crate) fn str_ref(&mut self) -> ReadResult<&'a str> {
        let at = self.pos;
        std::str::from_utf8(self.bytes_ref()?)
            .map_err(|_| format!("a string at byte {at} is not UTF-8"))
    }
    /// Bytes as [`Writer::str`] writes a string (length first), borrowed
    /// from the input and not checked.
    pub(crate) fn bytes_ref(&mut self) -> ReadResult<&'a [u8]> {
        let n = self.count(1)?;
        self.take(n)
    }
    pub(crate) fn str(&mut self) -> ReadResult<String> {
        String::from_utf8(self.u8s()?)
            .map_err(|_| format!("a string before byte {} is not UTF-8", self.pos))
    }
    /// A bitmap, read with roaring's validating deserializer.
    pub(crate) fn bitmap(&mut self) -> ReadResult<RoaringBitmap> {
        let n = self.count(1)?;
        let bytes = self.take(n)?;
        let mut cursor = bytes;
        let b = RoaringBitmap::deserialize_from(&mut cursor)
            .map_err(|e| format!("a bitmap before byte {} is invalid: {e}", self.pos))?;
        if !cursor.is_empty() {
            return Err(format!(
                "a bitmap before byte {} has trailing bytes",
                self.pos
            ));
        }
        Ok(b)
    }
    /// Bytes not read yet.
    pub(crate) fn rest_len(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub(crate) fn finish(&self) -> ReadResult<()> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(format!(
                "{} unexpected bytes after the body",
                self.buf.len() - self.pos
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips_and_detects_damage() {
        let sealed = seal(Kind::Day, b"body");
        assert_eq!(open(Kind::Day, &sealed).unwrap(), b"body");
        assert!(open(Kind::Dicts, &sealed).unwrap_err().contains("kind"));
        let mut flipped = sealed.clone();
        flipped[21] ^= 1;
        assert!(open(Kind::Day, &flipped).unwrap_err().contains("checksum"));
        assert!(
            open(Kind::Day, &sealed[..sealed.len() - 1])
                .unwrap_err()
                .contains("truncated")
        );
        let mut newer = sealed.clone();
        newer[8] = u8::try_from(FORMAT_VERSION + 1).unwrap();
        assert!(open(Kind::Day, &newer).unwrap_err().contains("newer"));
    }

    #[test]
    fn varints_round_trip_and_reject_overlong_numbers() {
        let values = [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX];
        let mut w = Writer::default();
        w.vars(values.iter().copied());
        let mut r = Reader::new(&w.buf);
        let n = r.var_count().unwrap();
        let back: Vec<u64> = (0..n).map(|_| r.var().unwrap()).collect();
        assert_eq!(back, values);
        r.finish().unwrap();
        assert!(Reader::new(&[0xff; 11]).var().is_err());
        assert!(Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).var().is_err());
        assert!(Reader::new(&[0x80]).var().is_err());
        let mut big = Writer::default();
        big.var(1 << 32);
        assert!(Reader::new(&big.buf).var_u32().is_err());
        let mut claims = Writer::default();
        claims.var(5);
        claims.var(1);
        assert!(Reader::new(&claims.buf).vars_u32().is_err());
    }

    #[test]
    fn reader_never_reads_past_the_end() {
        let mut w = Writer::default();
        w.u32s_of(3, [1, 2, 3].into_iter());
        let mut r = Reader::new(&w.buf[..w.buf.len() - 1]);
        assert!(r.u32s().is_err());
        let mut huge = Writer::default();
        huge.u64(u64::MAX);
        assert!(Reader::new(&huge.buf).u32s().is_err());
    }
}
