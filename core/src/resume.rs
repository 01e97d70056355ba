//! Where an NDJSON input stands in a store, so that a file ingested again
//! after it grew (a cron job over a log that is still written), was
//! renamed (`access.log` → `access.log.1`) or was compressed
//! (`access.log.2.gz`) resumes after the part the store holds instead of
//! counting that part twice.
//!
//! An input is known by its first line: the cursor `input:<hash of the
//! first line>` (committed with each chunk, in the manifest) holds up to
//! [`MAX_PREFIXES`] committed prefixes, each a byte length and the hash
//! of those bytes (xxh3-128), most recent first. A later read hashes the
//! input from its start and resumes after the longest prefix whose hash
//! matches; names, paths and compression do not matter, only bytes. A
//! file rewritten from the start matches no prefix and is read whole
//! (its chunks, if identical to committed ones, are still skipped by
//! their content identity). A prefix always ends at a line end, so a
//! line that was still being written is read again once it is whole.

use std::io::BufRead;

use xxhash_rust::xxh3::Xxh3Default;

/// Committed prefixes kept per first line (inputs that share their first
/// line share the cursor; the oldest prefix is forgotten first).
pub(crate) const MAX_PREFIXES: usize = 8;

/// Longest first line that names an input; a longer one names none (the
/// input is then read as before, by chunk identities only).
pub(crate) const MAX_FIRST_LINE: usize = 64 << 10;

/// The start of every input cursor's name.
pub(crate) const CURSOR_PREFIX: &str = "input:";

/// Input cursors a store keeps: the inputs committed most recently (a log
/// rotated daily makes a new first line each day).
pub(crate) const MAX_INPUTS: usize = 4096;

/// The cursor name of an input whose first line (with its `\n`) is
/// `line`.
pub(crate) fn cursor_name(line: &[u8]) -> String {
    format!("{CURSOR_PREFIX}{:016x}", xxhash_rust::xxh3::xxh3_64(line))
}

/// The prefixes a cursor value lists (`LEN:HASH;…`); a part that does not
/// parse is left out (the store's `g<generation>` stamp among them).
pub(crate) fn parse(value: &str) -> Vec<(u64, u128)> {
    value
        .split(';')
        .filter_map(|p| {
            let (len, hash) = p.split_once(':')?;
            Some((len.parse().ok()?, u128::from_str_radix(hash, 16).ok()?))
        })
        .take(MAX_PREFIXES)
        .collect()
}

fn format(prefixes: &[(u64, u128)]) -> String {
    prefixes
        .iter()
        .map(|(len, hash)| format!("{len}:{hash:032x}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// Counts lines as bytes stream by: every `\n` (for line numbers) and the
/// lines that hold more than JSON whitespace (what a skip reports).
#[derive(Clone, Default)]
pub(crate) struct LineCount {
    pub(crate) lines: u64,
    pub(crate) filled: u64,
    open_has_text: bool,
}

impl LineCount {
    fn add(&mut self, bytes: &[u8]) {
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', bytes) {
            let text = self.open_has_text || has_text(&bytes[start..end]);
            self.lines += 1;
            self.filled += u64::from(text);
            self.open_has_text = false;
            start = end + 1;
        }
        self.open_has_text |= has_text(&bytes[start..]);
    }
}

/// Whether a last line without its `\n` is a whole JSON value (a
/// hand-made file's last line) rather than a line still being written.
pub(crate) fn is_whole(line: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

fn has_text(b: &[u8]) -> bool {
    b.iter().any(|c| !matches!(c, b' ' | b'\t' | b'\r'))
}

/// An input under way: the hash and length of its bytes so far and at
/// its last line end, and the cursor value each commit records.
#[derive(Clone)]
pub(crate) struct InputMark {
    pub(crate) name: String,
    prefixes: Vec<(u64, u128)>,
    /// The prefixes this input holds (replaced in the value by its own).
    extends: Vec<usize>,
    /// Every byte so far.
    hasher: Xxh3Default,
    pos: u64,
    /// The bytes up to the last line end.
    at_line_end: (Xxh3Default, u64),
    /// Bytes after the last line end (a line under way, or a last line
    /// without its `\n`); `None` past [`MAX_FIRST_LINE`] (no hit).
    tail: Option<Vec<u8>>,
    pub(crate) count: LineCount,
}

impl InputMark {
    /// An input read from its start.
    pub(crate) fn new(name: String, prefixes: Vec<(u64, u128)>) -> InputMark {
        InputMark {
            name,
            prefixes,
            extends: Vec::new(),
            hasher: Xxh3Default::new(),
            pos: 0,
            at_line_end: (Xxh3Default::new(), 0),
            tail: Some(Vec::new()),
            count: LineCount::default(),
        }
    }

    /// Takes in the next bytes of the input.
    pub(crate) fn advance(&mut self, bytes: &[u8]) {
        self.count.add(bytes);
        let rest = match memchr::memrchr(b'\n', bytes) {
            Some(i) => {
                self.hasher.update(&bytes[..=i]);
                self.pos += (i + 1) as u64;
                self.at_line_end = (self.hasher.clone(), self.pos);
                self.tail = Some(Vec::new());
                &bytes[i + 1..]
            }
            None => bytes,
        };
        self.hasher.update(rest);
        self.pos += rest.len() as u64;
        // Only a last line short enough to be a hit is kept to be judged.
        if let Some(tail) = &mut self.tail {
            if tail.len() + rest.len() <= MAX_FIRST_LINE {
                tail.extend_from_slice(rest);
            } else {
                self.tail = None;
            }
        }
    }

    /// The committed prefix the bytes so far make: all of them when the
    /// last line, without its `\n`, is a whole JSON value (a hand-made
    /// file's last line; read again it would count twice), else up to
    /// the last line end (a line under way is read again once whole).
    fn prefix(&self) -> (u64, u128) {
        self.prefix_with(is_whole)
    }

    /// [`InputMark::prefix`] with `whole` judging a last line without its
    /// `\n`.
    fn prefix_with(&self, whole: impl Fn(&[u8]) -> bool) -> (u64, u128) {
        if self.tail.as_ref().is_some_and(|t| t.is_empty() || whole(t)) {
            (self.pos, self.hasher.digest128())
        } else {
            (self.at_line_end.1, self.at_line_end.0.digest128())
        }
    }

    /// The cursor value once the bytes so far are committed: this
    /// input's prefix first, then the others of its first line.
    pub(crate) fn value(&self) -> String {
        self.value_with(self.prefix())
    }

    fn value_with(&self, prefix: (u64, u128)) -> String {
        let mut prefixes = vec![prefix];
        prefixes.extend(
            self.prefixes
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.extends.contains(i))
                .map(|(_, p)| *p),
        );
        prefixes.truncate(MAX_PREFIXES);
        format(&prefixes)
    }

    /// The hash of every byte so far.
    pub(crate) fn digest(&self) -> u128 {
        self.hasher.digest128()
    }

    /// Bytes so far.
    pub(crate) fn len(&self) -> u64 {
        self.pos
    }
}

/// `reader.fill_buf()`, tried again when a signal interrupts it.
pub(crate) fn fill_buf<R: BufRead>(reader: &mut R) -> std::io::Result<&[u8]> {
    loop {
        match reader.fill_buf() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
            Ok(_) => break,
        }
    }
    // Buffered now: a second call reads nothing.
    reader.fill_buf()
}

/// Reads the first line of `reader` (at most [`MAX_FIRST_LINE`] bytes, its
/// `\n` included when it has one).
pub(crate) fn first_line<R: BufRead>(reader: &mut R) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    loop {
        let buf = fill_buf(reader)?;
        if buf.is_empty() || line.len() > MAX_FIRST_LINE {
            return Ok(line);
        }
        let (take, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        if done {
            return Ok(line);
        }
    }
}

/// Feeds `reader`'s next `n` bytes to `mark` (all of them, or fewer at the
/// end of the input); returns how many.
pub(crate) fn feed<R: BufRead>(
    reader: &mut R,
    n: u64,
    mark: &mut InputMark,
) -> std::io::Result<u64> {
    let mut done = 0u64;
    while done < n {
        let buf = fill_buf(reader)?;
        if buf.is_empty() {
            break;
        }
        let take = buf
            .len()
            .min(usize::try_from(n - done).unwrap_or(usize::MAX));
        mark.advance(&buf[..take]);
        reader.consume(take);
        done += take as u64;
    }
    Ok(done)
}

/// Where a read of an input that begins with `mark`'s bytes resumes: the
/// longest of its first line's committed prefixes that this input holds,
/// found by reading on from `reader` (which has given `mark` its bytes so
/// far) to each prefix's end. `Some((mark at that prefix, whether the
/// reader stands right after it))`; `None` when no prefix matches.
pub(crate) fn find<R: BufRead>(
    reader: &mut R,
    mut mark: InputMark,
) -> std::io::Result<Option<(InputMark, bool)>> {
    let mut ends: Vec<(u64, usize)> = mark
        .prefixes
        .iter()
        .enumerate()
        .map(|(i, p)| (p.0, i))
        .collect();
    ends.sort_unstable();
    let mut best = None;
    let mut held = Vec::new();
    for (end, i) in ends {
        if end < mark.len() {
            continue; // within the first line: not a prefix this read can end
        }
        let want = end - mark.len();
        if feed(reader, want, &mut mark)? < want {
            break; // the input ends first
        }
        if mark.digest() == mark.prefixes[i].1 {
            held.push(i);
            best = Some(mark.clone());
        }
    }
    let at_end = mark.len();
    Ok(best.map(|mut m| {
        m.extends = held;
        let here = m.len() == at_end;
        (m, here)
    }))
}

/// Where an input a host reads itself (access logs) stands in a store,
/// as [`crate::Engine::ingest_ndjson_resuming`] keeps it for NDJSON: the
/// bytes read so far, and the cursor each commit of them records, so that
/// the same input read again (grown, renamed or compressed) resumes after
/// what the store holds. Made by [`crate::Engine::resume_input`].
#[derive(Clone)]
pub struct InputCursor(pub(crate) InputMark);

impl InputCursor {
    /// Takes in the next bytes read (after the resume point).
    pub fn advance(&mut self, bytes: &[u8]) {
        self.0.advance(bytes);
    }

    /// Bytes of the input so far, the skipped part included.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether nothing was read yet.
    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    /// Lines of the input so far (`\n` seen), the skipped part included.
    pub fn lines(&self) -> u64 {
        self.0.count.lines
    }

    /// The cursor (name, value) a commit of the bytes so far records
    /// ([`crate::IngestOptions::cursor`]); `tail_whole` tells whether a
    /// last line without its `\n` is whole (it then counts as read; else
    /// it is read again once whole).
    pub fn cursor(&self, tail_whole: bool) -> (String, String) {
        let prefix = self.0.prefix_with(|_| tail_whole);
        (self.0.name.clone(), self.0.value_with(prefix))
    }
}

/// An input opened by [`crate::Engine::resume_input`]: its reader, standing
/// where the read resumes, and the cursor to commit with what is read.
pub struct Resumed<R> {
    /// The input, after the part the store holds (at its start when the
    /// store holds none of it).
    pub reader: R,
    /// `None` when the input has no whole first line to be known by: it is
    /// read whole, with no cursor.
    pub cursor: Option<InputCursor>,
    /// Lines skipped (the part the store holds).
    pub skipped_lines: u64,
    /// Of those, lines with more than whitespace.
    pub skipped_filled: u64,
}

/// [`crate::Engine::resume_input`]: `prefixes` are those the store holds
/// for the input's first line (`cursor` looks them up by name).
pub(crate) fn resume<R: BufRead>(
    mut open: impl FnMut() -> std::io::Result<R>,
    cursor: impl Fn(&str) -> Vec<(u64, u128)>,
    force: bool,
) -> std::io::Result<Resumed<R>> {
    let mut reader = open()?;
    let first = first_line(&mut reader)?;
    let fresh = |reader: R, cursor: Option<InputCursor>| Resumed {
        reader,
        cursor,
        skipped_lines: 0,
        skipped_filled: 0,
    };
    let ended = first.ends_with(b"\n");
    // An input of one line without its `\n` (under way, or a whole last
    // line) is known by that line as it will be once ended: read again
    // when it has grown, the part the store holds is skipped.
    let line = first.strip_suffix(b"\n").unwrap_or(&first);
    if first.is_empty() || (!ended && first.len() > MAX_FIRST_LINE) {
        return Ok(fresh(open()?, None));
    }
    let name = cursor_name(&[line, b"\n"].concat());
    let prefixes = cursor(&name);
    let start = || InputCursor(InputMark::new(name.clone(), prefixes.clone()));
    if prefixes.is_empty() || force {
        return Ok(fresh(open()?, Some(start())));
    }
    let mut mark = InputMark::new(name.clone(), prefixes.clone());
    mark.advance(line);
    // A prefix that ends with the first line, before its `\n`: the line
    // was committed whole while it had none.
    let short = mark
        .prefixes
        .iter()
        .position(|p| *p == (mark.len(), mark.digest()))
        .map(|i| {
            let mut m = mark.clone();
            m.extends = vec![i];
            m
        });
    mark.advance(&first[line.len()..]);
    let found = match ended {
        true => find(&mut reader, mark)?,
        false => None,
    };
    let (at, reader) = match (found, short) {
        (None, None) => return Ok(fresh(open()?, Some(start()))),
        (Some((mut at, here)), short) if here => {
            at.extends
                .extend(short.map(|s| s.extends).unwrap_or_default());
            (at, reader)
        }
        // Only the line without its `\n` was read: the reader stands
        // right after it.
        (None, Some(at)) if !ended => (at, reader),
        (Some((mut at, _)), short) => {
            at.extends
                .extend(short.map(|s| s.extends).unwrap_or_default());
            let again = skip_to(&mut open, &at)?;
            (at, again)
        }
        (None, Some(at)) => {
            let again = skip_to(&mut open, &at)?;
            (at, again)
        }
    };
    // A whole line the prefix ends with, without its `\n`, is skipped too.
    let open_line = at.len() > at.at_line_end.1;
    Ok(Resumed {
        reader,
        skipped_lines: at.count.lines + u64::from(open_line),
        skipped_filled: at.count.filled + u64::from(open_line && at.count.open_has_text),
        cursor: Some(InputCursor(at)),
    })
}

/// The input opened again and read up to `at` (a prefix found by reading
/// on past it, looking for a longer one).
fn skip_to<R: BufRead>(
    open: &mut impl FnMut() -> std::io::Result<R>,
    at: &InputMark,
) -> std::io::Result<R> {
    let mut again = open()?;
    let mut check = InputMark::new(String::new(), Vec::new());
    if feed(&mut again, at.len(), &mut check)? < at.len() || check.digest() != at.digest() {
        return Err(std::io::Error::other(
            "the input changed while it was read; read it again",
        ));
    }
    Ok(again)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_back_and_keep_at_most_eight() {
        // A line under way is not in the prefix; a whole last line is.
        let mut m = InputMark::new("input:x".into(), Vec::new());
        m.advance(b"{\"a\":1}\n{\"b\"");
        assert_eq!(m.len(), 12);
        let v = parse(&m.value());
        assert_eq!(v, [(8, xxhash_rust::xxh3::xxh3_128(b"{\"a\":1}\n"))]);
        m.advance(b":2}");
        let v = parse(&m.value());
        assert_eq!(
            v,
            [(15, xxhash_rust::xxh3::xxh3_128(b"{\"a\":1}\n{\"b\":2}"))]
        );
        let many: Vec<(u64, u128)> = (0..12).map(|i| (i, u128::from(i))).collect();
        assert_eq!(parse(&format(&many)).len(), MAX_PREFIXES);
        assert!(parse("junk;3:zz;4:0a").eq(&[(4, 10)]));
    }

    #[test]
    fn lines_are_counted_across_reads() {
        let mut c = LineCount::default();
        c.add(b"a\n \n");
        c.add(b"  b");
        c.add(b"c\n\n");
        assert_eq!((c.lines, c.filled), (4, 2));
    }

    #[test]
    fn the_longest_matching_prefix_wins() {
        let text = b"l1\nl2\nl3\nl4\n";
        let h = |n: usize| xxhash_rust::xxh3::xxh3_128(&text[..n]);
        // Prefixes of 6 and 9 bytes match; one of 12 bytes does not.
        let prefixes = vec![(6, h(6)), (12, 7), (9, h(9))];
        let mut reader = &text[..];
        let mut mark = InputMark::new("n".into(), prefixes);
        let first = first_line(&mut reader).unwrap();
        mark.advance(&first);
        let (m, here) = find(&mut reader, mark).unwrap().unwrap();
        assert_eq!(m.len(), 9);
        assert_eq!(m.digest(), h(9));
        assert!(!here, "read on to the 12-byte prefix");
        assert_eq!(m.count.lines, 3);
        assert_eq!(parse(&m.value())[0], (9, h(9)));
        assert_eq!(
            parse(&m.value()),
            [(9, h(9)), (12, 7)],
            "the prefixes it holds are replaced"
        );
    }
}
