//! Hits from Arrow columns (feature `arrow`): what a DataFrame (polars,
//! pandas with pyarrow, a pyarrow Table, DuckDB) hands over through the
//! Arrow C stream interface, read column by column into typed hits with
//! no JSON in between.
//!
//! Columns are the contract's fields (`docs/hits.md`). Strings may be any
//! Arrow string type (plain, large, view, dictionary); `site` any integer
//! type; `ts` integer Unix seconds, a timestamp with a time zone (any
//! unit, floored to the second), whole float seconds, or RFC 3339 text;
//! `event` and `campaign` structs of the object's keys; `dims` a struct
//! (one child per dimension) or a map of strings. Null (and NaN, and the
//! empty string) is a missing value, as in NDJSON.
//!
//! A column the contract does not know, or of a type that cannot hold
//! the field, fails the call with [`Error::Format`] before any row of its
//! batch is read (a stream's batches all have its schema, so nothing is
//! ingested); a row whose values break the contract is rejected alone,
//! with its 1-based row number and the same reason NDJSON would give.
//!
//! # Examples
//! ```
//! use std::sync::Arc;
//! use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
//! use hitmap::{Engine, Query, SiteConfig};
//! use hitmap_intake::arrow::{ingest_batches, ArrowOptions};
//!
//! let batch = RecordBatch::try_from_iter([
//!     ("site", Arc::new(Int64Array::from(vec![1, 1, 0])) as ArrayRef),
//!     ("ts", Arc::new(Int64Array::from(vec![1_717_200_000, 1_717_200_060, 1]))),
//!     ("visitor", Arc::new(StringArray::from(vec!["a", "a", "b"]))),
//!     ("url", Arc::new(StringArray::from(vec!["https://x.org/", "https://x.org/b", "https://x.org/"]))),
//! ])?;
//! let mut engine = Engine::in_memory();
//! engine.add_site(SiteConfig::new(1))?;
//! let out = ingest_batches(&mut engine, [Ok(batch)], &ArrowOptions::default())?;
//! assert_eq!(out.accepted, 2);
//! assert_eq!(out.rejected[0].line, 3); // site 0
//! let summary = engine.query(&Query::site(1).range("2024-06-01", "2024-06-01"))?.visits_summary();
//! assert_eq!(summary.nb_actions, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, StringViewArray, StructArray,
};
use arrow_schema::{ArrowError, DataType, TimeUnit};
use hitmap::{
    CampaignRef, Engine, EventRef, HitRef, HitType, IngestOptions, IngestOutcome, Rejected,
};
use xxhash_rust::xxh3::Xxh3;

use crate::{Error, Result};

/// How [`ingest_batches`] commits.
#[derive(Debug, Clone)]
pub struct ArrowOptions {
    /// Rows per committed chunk; each chunk is atomic and has an identity
    /// (the hash of its hits, or `batch_id#n`), so a re-run skips it.
    pub chunk_rows: usize,
    /// Names the input instead of recognising chunks by content.
    pub batch_id: Option<String>,
    /// Ingests even chunks the store already holds.
    pub force: bool,
}

impl Default for ArrowOptions {
    fn default() -> ArrowOptions {
        ArrowOptions {
            chunk_rows: 1 << 18,
            batch_id: None,
            force: false,
        }
    }
}

/// Ingests record batches in chunks of [`ArrowOptions::chunk_rows`] rows,
/// each committed (or skipped, if the store holds it) in order. Rows are
/// numbered from 1 across all batches in [`IngestOutcome::rejected`].
///
/// # Errors
/// [`Error::Format`] for a column the contract does not know or of a type
/// that cannot hold its field, [`Error::Input`] when the stream fails,
/// [`Error::Engine`] when a commit fails. Chunks committed before stay.
pub fn ingest_batches<I>(
    engine: &mut Engine,
    batches: I,
    options: &ArrowOptions,
) -> Result<IngestOutcome>
where
    I: IntoIterator<Item = std::result::Result<RecordBatch, ArrowError>>,
{
    let mut total = IngestOutcome::default();
    let mut index = 0u64;
    let chunks = Chunks {
        batches: batches.into_iter(),
        rows: options.chunk_rows.max(1) as u64,
        current: None,
        next_row: 1,
        pending: Chunk::default(),
        failed: false,
    };
    let threads = engine.query_threads();
    let mut spare = Spare::default();
    for chunk in chunks {
        let chunk = chunk?;
        chunk
            .read(threads, &mut spare)
            .commit(engine, options, &mut index, &mut total, &mut spare)?;
    }
    Ok(total)
}

/// The vectors of a chunk's blocks, kept for the next chunk: a block's
/// hits are large (`HitRef` is about a kilobyte), and vectors made afresh
/// for every chunk had the kernel fault in and zero their pages again
/// (BENCHMARKS.md, "The DataFrame path").
#[derive(Default)]
struct Spare {
    hits: Vec<Vec<HitRef<'static>>>,
    rows: Vec<Vec<u64>>,
    identity: Vec<Vec<u8>>,
}

/// `v`'s allocation, emptied, for hits that borrow another chunk: a
/// vector of values of one layout collected in place keeps its buffer.
fn recycle<'b>(mut v: Vec<HitRef<'_>>) -> Vec<HitRef<'b>> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector was emptied"))
        .collect()
}

/// The vectors one block is read into.
struct Buffers<'c> {
    hits: Vec<HitRef<'c>>,
    rows: Vec<u64>,
    identity: Vec<u8>,
}

/// Chunks of hits read from a stream of batches.
struct Chunks<B> {
    batches: B,
    rows: u64,
    /// The batch being read, its columns and the next row in it.
    current: Option<(RecordBatch, Arc<Columns>, usize)>,
    /// The row number of the next row read.
    next_row: u64,
    pending: Chunk,
    failed: bool,
}

impl<B> Iterator for Chunks<B>
where
    B: Iterator<Item = std::result::Result<RecordBatch, ArrowError>>,
{
    type Item = Result<Chunk>;

    fn next(&mut self) -> Option<Result<Chunk>> {
        if self.failed {
            return None;
        }
        loop {
            if let Some((batch, columns, at)) = &mut self.current {
                while *at < batch.num_rows() {
                    let left = batch.num_rows() - *at;
                    let take = left.min((self.rows - self.pending.size) as usize);
                    if self.pending.size == 0 {
                        self.pending.first_row = self.next_row;
                    }
                    self.pending
                        .parts
                        .push((Arc::clone(columns), *at..*at + take));
                    *at += take;
                    self.pending.size += take as u64;
                    self.next_row += take as u64;
                    if self.pending.size >= self.rows {
                        return Some(Ok(std::mem::take(&mut self.pending)));
                    }
                }
                self.current = None;
            }
            match self.batches.next() {
                None => {
                    let last = std::mem::take(&mut self.pending);
                    return (last.size > 0).then_some(Ok(last));
                }
                Some(Err(e)) => {
                    self.failed = true;
                    return Some(Err(Error::Input(format!("reading the Arrow stream: {e}"))));
                }
                Some(Ok(batch)) => match Columns::of(&batch) {
                    Ok(columns) => self.current = Some((batch, Arc::new(columns), 0)),
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                },
            }
        }
    }
}

/// A chunk's rows, not yet read: ranges of rows of one or more batches.
#[derive(Default)]
struct Chunk {
    parts: Vec<(Arc<Columns>, std::ops::Range<usize>)>,
    /// The number of the chunk's first row.
    first_row: u64,
    size: u64,
}

/// A chunk's rows read: its hits (borrowing the chunk's columns, in the
/// blocks the threads read them in), their row numbers, the rows that are
/// not hits, and the chunk's identity.
struct Read<'c> {
    blocks: Vec<Block<'c>>,
    rows: Vec<u64>,
    rejected: Vec<Rejected>,
    size: u64,
    hasher: Xxh3,
}

/// Rows read on one thread: the rows that are hits with their row
/// numbers, the rows that are not, and the identity bytes of the hits, in
/// row order.
struct Block<'c> {
    hits: Vec<HitRef<'c>>,
    rows: Vec<u64>,
    rejected: Vec<Rejected>,
    identity: Vec<u8>,
}

/// Rows at least this many to a thread: fewer are read on the calling one.
const ROWS_PER_THREAD: usize = 4096;

impl Chunk {
    /// Reads the chunk's rows on up to `threads` threads; the hits,
    /// rejects and identity are the same on any number.
    fn read(&self, threads: usize, spare: &mut Spare) -> Read<'_> {
        // Each part split in about equal runs, one per thread.
        let n = self.size as usize;
        let runs = threads.clamp(1, (n / ROWS_PER_THREAD).max(1));
        let mut jobs: Vec<(&Columns, std::ops::Range<usize>, u64, Buffers<'_>)> = Vec::new();
        let mut row = self.first_row;
        for (columns, range) in &self.parts {
            let len = range.len();
            for p in 0..runs {
                let (a, b) = (len * p / runs, len * (p + 1) / runs);
                if a < b {
                    let buffers = Buffers {
                        hits: recycle(spare.hits.pop().unwrap_or_default()),
                        rows: spare.rows.pop().unwrap_or_default(),
                        identity: spare.identity.pop().unwrap_or_default(),
                    };
                    jobs.push((
                        columns,
                        range.start + a..range.start + b,
                        row + a as u64,
                        buffers,
                    ));
                }
            }
            row += len as u64;
        }
        let blocks = hitmap::par::map_jobs(jobs, runs, |(columns, range, first, buffers)| {
            read_rows(columns, range, first, buffers)
        });
        let mut out = Read {
            blocks: Vec::with_capacity(blocks.len()),
            rows: Vec::with_capacity(n),
            rejected: Vec::new(),
            size: self.size,
            hasher: Xxh3::default(),
        };
        for mut block in blocks {
            out.hasher.update(&block.identity);
            out.rows.extend_from_slice(&block.rows);
            out.rejected.append(&mut block.rejected);
            spare.identity.push(std::mem::take(&mut block.identity));
            out.blocks.push(block);
        }
        out
    }
}

/// Rows `range` of a batch's columns, the first numbered `first`, read
/// into `buffers` (emptied).
fn read_rows<'c>(
    columns: &'c Columns,
    range: std::ops::Range<usize>,
    first: u64,
    buffers: Buffers<'c>,
) -> Block<'c> {
    let Buffers {
        mut hits,
        mut rows,
        mut identity,
    } = buffers;
    // `hits` comes emptied (`recycle`); the others as a block left them.
    rows.clear();
    identity.clear();
    hits.reserve(range.len());
    rows.reserve(range.len());
    identity.reserve(range.len() * 160);
    let mut block = Block {
        hits,
        rows,
        rejected: Vec::new(),
        identity,
    };
    for i in range.clone() {
        let row = first + (i - range.start) as u64;
        match columns.hit(i) {
            Ok(hit) => {
                identity_bytes(&hit, &mut block.identity);
                block.hits.push(hit);
                block.rows.push(row);
            }
            Err(reason) => block.rejected.push(Rejected { line: row, reason }),
        }
    }
    block
}

impl Read<'_> {
    /// Hands the chunk's hits to the engine; the blocks' vectors go back
    /// to `spare`.
    fn commit(
        mut self,
        engine: &mut Engine,
        options: &ArrowOptions,
        index: &mut u64,
        total: &mut IngestOutcome,
        spare: &mut Spare,
    ) -> Result<()> {
        let outcome = self.hand_over(engine, options, index, total);
        self.give_back(spare);
        outcome
    }

    /// The blocks' vectors, back to `spare` for the next chunk.
    fn give_back(self, spare: &mut Spare) {
        for block in self.blocks {
            spare.hits.push(recycle(block.hits));
            spare.rows.push(block.rows);
        }
    }

    fn hand_over(
        &mut self,
        engine: &mut Engine,
        options: &ArrowOptions,
        index: &mut u64,
        total: &mut IngestOutcome,
    ) -> Result<()> {
        let id = match &options.batch_id {
            Some(b) => format!("{b}#{index}"),
            None => format!("arrow:{:032x}", self.hasher.digest128()),
        };
        *index += 1;
        let opts = IngestOptions::default().batch_id(id).force(options.force);
        // Collected, so the engine knows the batch's size: one larger than
        // its live limit is not written out for a write-ahead log first.
        let hits: Vec<&HitRef<'_>> = self.blocks.iter().flat_map(|b| b.hits.iter()).collect();
        let out = engine.ingest_refs_with(hits, &opts)?;
        total.accepted += out.accepted;
        total.batches += out.batches;
        total.skipped_batches += out.skipped_batches;
        if out.skipped_batches > 0 {
            total.skipped_lines += self.size;
            return Ok(());
        }
        // The engine numbers the hits it was given: back to row numbers.
        let mut rejected = std::mem::take(&mut self.rejected);
        for r in out.rejected {
            let row = usize::try_from(r.line)
                .ok()
                .and_then(|l| l.checked_sub(1))
                .and_then(|i| self.rows.get(i));
            if let Some(&line) = row {
                rejected.push(Rejected {
                    line,
                    reason: r.reason,
                });
            }
        }
        rejected.sort_by_key(|r| r.line);
        total.rejected.extend(rejected);
        Ok(())
    }
}

/// Appends a hit's fields to `out`, the bytes of its chunk's content
/// identity: each optional value as a 0 byte when absent, else a 1 byte,
/// its length (8 bytes, little-endian) and its bytes, so fields cannot
/// run together. Chunks written by earlier versions are recognised by
/// these bytes: they must not change.
fn identity_bytes(hit: &HitRef, out: &mut Vec<u8>) {
    fn feed(out: &mut Vec<u8>, value: Option<&[u8]>) {
        match value {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                out.extend_from_slice(&(v.len() as u64).to_le_bytes());
                out.extend_from_slice(v);
            }
        }
    }
    fn text(out: &mut Vec<u8>, s: Option<&str>) {
        feed(out, s.map(str::as_bytes));
    }
    text(out, Some(hit.visitor));
    text(out, Some(hit.kind.name()));
    for s in [
        hit.url,
        hit.title,
        hit.referrer,
        hit.user,
        hit.device,
        hit.browser,
        hit.os,
        hit.country,
        hit.language,
        hit.search,
        hit.visit,
        hit.referrer_type,
        hit.referrer_name,
        hit.referrer_keyword,
        hit.browser_version,
        hit.os_version,
        hit.resolution,
    ] {
        text(out, s);
    }
    match &hit.event {
        None => text(out, None),
        Some(e) => {
            text(out, Some(e.category));
            text(out, Some(e.action));
            text(out, e.name);
            let value = e.value.map(|v| v.to_bits().to_le_bytes());
            feed(out, value.as_ref().map(|v| &v[..]));
        }
    }
    match &hit.campaign {
        None => text(out, None),
        Some(c) => {
            for s in [c.name, c.source, c.medium, c.keyword, c.content, c.id] {
                text(out, s);
            }
        }
    }
    for &(k, v) in &hit.dims {
        text(out, Some(k));
        text(out, Some(v));
    }
    text(out, None);
    out.extend_from_slice(&hit.site.to_le_bytes());
    out.extend_from_slice(&hit.ts.to_le_bytes());
    out.extend_from_slice(&[hit.local_hour.unwrap_or(u8::MAX), u8::from(hit.new_visit)]);
    // The location's fields, then conversions: after everything else,
    // and only for the hits that carry them, so earlier chunks keep
    // their identity.
    if hit.region.is_some()
        || hit.region_name.is_some()
        || hit.city.is_some()
        || hit.latitude.is_some()
        || hit.longitude.is_some()
    {
        out.push(3);
        for s in [hit.region, hit.region_name, hit.city] {
            text(out, s);
        }
        for v in [hit.latitude, hit.longitude] {
            let b = v.map(|v| v.to_bits().to_le_bytes());
            feed(out, b.as_ref().map(|b| &b[..]));
        }
    }
    // The device's brand, model and engine: after the location, only
    // for the hits that carry them, for the same reason.
    if hit.device_brand.is_some() || hit.device_model.is_some() || hit.browser_engine.is_some() {
        out.push(4);
        for s in [hit.device_brand, hit.device_model, hit.browser_engine] {
            text(out, s);
        }
    }
    // Load timings and bandwidth: only for the hits that carry them.
    if !hit.perf.is_empty() {
        out.push(5);
        for v in hit
            .perf
            .times
            .iter()
            .map(|t| t.map(u64::from))
            .chain([hit.perf.bandwidth])
        {
            let b = v.map(u64::to_le_bytes);
            feed(out, b.as_ref().map(|b| &b[..]));
        }
    }
    // A site search's category and result count: only for the hits that
    // carry them.
    if hit.search_category.is_some() || hit.search_count.is_some() {
        out.push(6);
        text(out, hit.search_category);
        let b = hit.search_count.map(u32::to_le_bytes);
        feed(out, b.as_ref().map(|b| &b[..]));
    }
    // The browser's plugins: only for the hits that carry them.
    if hit.plugins.is_some() {
        out.push(7);
        text(out, hit.plugins);
    }
    if let Some(c) = &hit.conversion {
        let number = |out: &mut Vec<u8>, v: Option<f64>| {
            let b = v.map(|v| v.to_bits().to_le_bytes());
            feed(out, b.as_ref().map(|b| &b[..]));
        };
        out.push(2);
        let goal = c.goal.map(|g| g.to_le_bytes());
        feed(out, goal.as_ref().map(|g| &g[..]));
        for v in [c.revenue, c.subtotal, c.tax, c.shipping, c.discount] {
            number(out, v);
        }
        text(out, c.order_id.as_deref());
        for item in &c.items {
            text(out, Some(&item.sku));
            text(out, item.name.as_deref());
            for cat in &item.categories {
                text(out, Some(cat));
            }
            text(out, None);
            number(out, item.price);
            let q = item.quantity.map(|q| q.to_le_bytes());
            feed(out, q.as_ref().map(|q| &q[..]));
        }
        text(out, None);
        // A content's parts: only for the hits that carry one.
        if let Some(content) = &c.content {
            out.push(8);
            text(out, Some(&content.name));
            for part in [&content.piece, &content.target, &content.interaction] {
                text(out, part.as_deref());
            }
        }
    }
}

/// A batch's columns, each read into the type its field needs.
struct Columns {
    site: Option<Int64Array>,
    ts: Option<Times>,
    visitor: Option<Strings>,
    kind: Option<Strings>,
    /// url .. search, in [`TEXT`] order.
    text: Vec<Option<Strings>>,
    event: Option<EventColumns>,
    dims: Option<Dims>,
    visit: Option<Strings>,
    /// referrer_type .. city, in [`ATTRS`] order.
    attrs: Vec<Option<Strings>>,
    /// `latitude`, `longitude`.
    coordinates: [Option<arrow_array::Float64Array>; 2],
    campaign: Option<[Option<Strings>; 6]>,
    local_hour: Option<Int64Array>,
    new_visit: Option<arrow_array::BooleanArray>,
    /// `time_network` .. `bandwidth` ([`hitmap::Perf::FIELDS`]).
    perf: Vec<Option<Int64Array>>,
    /// `search_category`, `search_count`.
    search: (Option<Strings>, Option<Int64Array>),
    /// `goal`, `revenue`, `order`, `items`.
    conversion: ConversionColumns,
}

/// The conversion fields' columns (docs/hits.md, "Conversions").
#[derive(Default)]
struct ConversionColumns {
    goal: Option<Int64Array>,
    revenue: Option<arrow_array::Float64Array>,
    /// The `order` struct, its `id` and its amounts (subtotal, tax,
    /// shipping, discount).
    order: Option<(
        StructArray,
        Option<Strings>,
        [Option<arrow_array::Float64Array>; 4],
    )>,
    items: Option<ItemsColumn>,
    /// The `content` struct and its name, piece, target and interaction.
    content: Option<(StructArray, [Option<Strings>; 4])>,
}

/// The keys of a content hit's `content`.
const CONTENT_KEYS: [&str; 4] = ["name", "piece", "target", "interaction"];

/// `items`: JSON text as in NDJSON, or a list of structs.
enum ItemsColumn {
    Json(Strings),
    List(Box<ItemList>),
}

struct ItemList {
    list: arrow_array::ListArray,
    sku: Option<Strings>,
    name: Option<Strings>,
    /// One category per item, or a list of them.
    category: Option<Categories>,
    price: Option<arrow_array::Float64Array>,
    quantity: Option<Int64Array>,
}

enum Categories {
    One(Strings),
    Many(arrow_array::ListArray, Strings),
}

/// A numeric column as `f64`.
fn floats(name: &str, col: &ArrayRef) -> Result<arrow_array::Float64Array> {
    if !(col.data_type().is_numeric() || *col.data_type() == DataType::Null) {
        return Err(format_error(name, "numbers", col.data_type()));
    }
    Ok(cast_to(name, col, &DataType::Float64)?
        .as_primitive::<Float64Type>()
        .clone())
}

/// A list column (large lists too) as a `ListArray`.
fn list_of(name: &str, col: &ArrayRef) -> Result<Option<arrow_array::ListArray>> {
    Ok(match col.data_type() {
        DataType::List(_) => Some(col.as_list::<i32>().clone()),
        DataType::LargeList(f) => Some(
            cast_to(name, col, &DataType::List(f.clone()))?
                .as_list::<i32>()
                .clone(),
        ),
        _ => None,
    })
}

impl ConversionColumns {
    fn of(col: &dyn Fn(&str) -> Option<ArrayRef>) -> Result<ConversionColumns> {
        let goal = col("goal").map(|c| ints("goal", &c)).transpose()?;
        let revenue = col("revenue").map(|c| floats("revenue", &c)).transpose()?;
        let order = match col("order") {
            None => None,
            Some(c) => {
                let keys = ["id", "subtotal", "tax", "shipping", "discount"];
                let s = struct_of("order", &c, &keys)?.clone();
                let id = match child(&s, "id") {
                    Some(c) if is_int(c.data_type()) => Some(Strings::Utf8(
                        cast_to("order.id", &c, &DataType::Utf8)?
                            .as_string::<i32>()
                            .clone(),
                    )),
                    Some(c) => Some(strings("order.id", &c)?),
                    None => None,
                };
                let mut amounts: [Option<arrow_array::Float64Array>; 4] = Default::default();
                for (slot, k) in amounts.iter_mut().zip(&keys[1..]) {
                    *slot = child(&s, k)
                        .map(|c| floats(&format!("order.{k}"), &c))
                        .transpose()?;
                }
                Some((s, id, amounts))
            }
        };
        let items = match col("items") {
            None => None,
            Some(c) if is_text(c.data_type()) => Some(ItemsColumn::Json(strings("items", &c)?)),
            Some(c) => {
                let list = list_of("items", &c)?.ok_or_else(|| {
                    format_error(
                        "items",
                        "a list of structs {sku, name, category, price, quantity} or JSON text",
                        c.data_type(),
                    )
                })?;
                let values = list.values().clone();
                let s = struct_of(
                    "items",
                    &values,
                    &["sku", "name", "category", "price", "quantity"],
                )?;
                let category = match child(s, "category") {
                    None => None,
                    Some(c) => match list_of("items.category", &c)? {
                        Some(l) => {
                            let names = strings("items.category", l.values())?;
                            Some(Categories::Many(l, names))
                        }
                        None => Some(Categories::One(strings("items.category", &c)?)),
                    },
                };
                Some(ItemsColumn::List(Box::new(ItemList {
                    sku: child(s, "sku")
                        .map(|c| strings("items.sku", &c))
                        .transpose()?,
                    name: child(s, "name")
                        .map(|c| strings("items.name", &c))
                        .transpose()?,
                    category,
                    price: child(s, "price")
                        .map(|c| floats("items.price", &c))
                        .transpose()?,
                    quantity: child(s, "quantity")
                        .map(|c| ints("items.quantity", &c))
                        .transpose()?,
                    list,
                })))
            }
        };
        let content = match col("content") {
            None => None,
            Some(c) => {
                let s = struct_of("content", &c, &CONTENT_KEYS)?.clone();
                let mut parts: [Option<Strings>; 4] = Default::default();
                for (slot, k) in parts.iter_mut().zip(CONTENT_KEYS) {
                    *slot = child(&s, k)
                        .map(|c| strings(&format!("content.{k}"), &c))
                        .transpose()?;
                }
                Some((s, parts))
            }
        };
        Ok(ConversionColumns {
            goal,
            revenue,
            order,
            items,
            content,
        })
    }

    /// Row `i`'s conversion, if it has any conversion field.
    fn row(&self, i: usize) -> std::result::Result<Option<hitmap::Conversion>, String> {
        let float = |a: Option<&arrow_array::Float64Array>, k: usize| {
            a.and_then(|a| a.is_valid(k).then(|| a.value(k)))
                .filter(|v| !v.is_nan())
        };
        let mut c = hitmap::Conversion::default();
        let mut any = false;
        if let Some(g) = self.goal.as_ref().and_then(|g| value_i64(g, i)) {
            c.goal = Some(
                u32::try_from(g)
                    .ok()
                    .filter(|g| (1..=i32::MAX as u32).contains(g))
                    .ok_or("`goal` must be a goal id, an integer from 1")?,
            );
            any = true;
        }
        if let Some(r) = float(self.revenue.as_ref(), i) {
            c.revenue = Some(r);
            any = true;
        }
        if let Some((s, id, amounts)) = &self.order
            && s.is_valid(i)
        {
            c.order_id = text(id.as_ref(), i).map(str::to_owned);
            [c.subtotal, c.tax, c.shipping, c.discount] =
                std::array::from_fn(|k| float(amounts[k].as_ref(), i));
            any = true;
        }
        match &self.items {
            Some(ItemsColumn::Json(j)) => {
                if let Some(t) = text(Some(j), i) {
                    c.items = hitmap::items_from_json(t)?;
                    any = true;
                }
            }
            Some(ItemsColumn::List(l)) if l.list.is_valid(i) => {
                let offsets = l.list.value_offsets();
                for k in offsets[i] as usize..offsets[i + 1] as usize {
                    let categories = match &l.category {
                        None => Vec::new(),
                        Some(Categories::One(s)) => {
                            text(Some(s), k).map(str::to_owned).into_iter().collect()
                        }
                        Some(Categories::Many(list, names)) if list.is_valid(k) => {
                            let o = list.value_offsets();
                            (o[k] as usize..o[k + 1] as usize)
                                .filter_map(|j| text(Some(names), j).map(str::to_owned))
                                .collect()
                        }
                        Some(Categories::Many(..)) => Vec::new(),
                    };
                    let quantity = match l.quantity.as_ref().and_then(|q| value_i64(q, k)) {
                        None => None,
                        Some(q) => Some(u32::try_from(q).map_err(|_| {
                            format!("`items[].quantity` must be a whole number from 0, got {q}")
                        })?),
                    };
                    c.items.push(hitmap::Item {
                        sku: text(l.sku.as_ref(), k).unwrap_or_default().to_owned(),
                        name: text(l.name.as_ref(), k).map(str::to_owned),
                        categories,
                        price: float(l.price.as_ref(), k),
                        quantity,
                    });
                }
                any = true;
            }
            _ => {}
        }
        if let Some((s, parts)) = &self.content
            && s.is_valid(i)
        {
            let [name, piece, target, interaction] =
                std::array::from_fn(|k| text(parts[k].as_ref(), i).map(str::to_owned));
            c.content = Some(hitmap::Content {
                name: name.unwrap_or_default(),
                piece,
                target,
                interaction,
            });
            any = true;
        }
        Ok(any.then_some(c))
    }
}

/// Optional text fields of a hit, in column order.
const TEXT: [&str; 10] = [
    "url", "title", "referrer", "user", "device", "browser", "os", "country", "language", "search",
];
/// Recorded visit attributes, in column order.
const ATTRS: [&str; 13] = [
    "referrer_type",
    "referrer_name",
    "referrer_keyword",
    "browser_version",
    "os_version",
    "resolution",
    "region",
    "region_name",
    "city",
    "device_brand",
    "device_model",
    "browser_engine",
    "plugins",
];
const CAMPAIGN_KEYS: [&str; 6] = ["name", "source", "medium", "keyword", "content", "id"];

enum Times {
    Seconds(arrow_array::Int64Array, i64),
    Floats(arrow_array::Float64Array),
    Text(Strings),
}

struct EventColumns {
    nulls: StructArray,
    category: Option<Strings>,
    action: Option<Strings>,
    name: Option<Strings>,
    value: Option<arrow_array::Float64Array>,
}

enum Dims {
    /// One child column per dimension.
    Struct(StructArray, Vec<(String, Strings)>),
    /// A map of name to value per row (boxed: one per batch).
    Map(Box<(arrow_array::MapArray, Strings, Strings)>),
}

fn format_error(column: &str, want: &str, got: &DataType) -> Error {
    Error::Format(format!(
        "column `{column}`: expected {want}, got Arrow type {got}"
    ))
}

fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => true,
        DataType::Dictionary(_, v) => is_text(v),
        _ => false,
    }
}

fn is_int(t: &DataType) -> bool {
    t.is_integer() || *t == DataType::Null
}

/// A string column as it came (UTF-8, or string views as polars gives
/// them), or cast to UTF-8.
enum Strings {
    Utf8(StringArray),
    View(StringViewArray),
}

impl Strings {
    fn is_valid(&self, i: usize) -> bool {
        match self {
            Strings::Utf8(a) => a.is_valid(i),
            Strings::View(a) => a.is_valid(i),
        }
    }

    fn value(&self, i: usize) -> &str {
        match self {
            Strings::Utf8(a) => a.value(i),
            Strings::View(a) => a.value(i),
        }
    }
}

/// A string-typed column, read without a copy when it is UTF-8 or views.
fn strings(name: &str, col: &ArrayRef) -> Result<Strings> {
    match col.data_type() {
        DataType::Utf8 => Ok(Strings::Utf8(col.as_string::<i32>().clone())),
        DataType::Utf8View => Ok(Strings::View(col.as_string_view().clone())),
        t if is_text(t) => Ok(Strings::Utf8(
            cast_to(name, col, &DataType::Utf8)?
                .as_string::<i32>()
                .clone(),
        )),
        t => Err(format_error(name, "strings", t)),
    }
}

/// An integer column as `i64` (values beyond it become null, then a
/// reject). A float column of whole numbers is one too: pandas stores an
/// integer column with missing values as floats (NaN for missing).
fn ints(name: &str, col: &ArrayRef) -> Result<Int64Array> {
    if matches!(col.data_type(), DataType::Float32 | DataType::Float64) {
        let floats = cast_to(name, col, &DataType::Float64)?;
        let floats = floats.as_primitive::<arrow_array::types::Float64Type>();
        let whole = |x: f64| x.is_nan() || (x.fract() == 0.0 && x.abs() < 9.2e18);
        if let Some(x) = floats.iter().flatten().find(|x| !whole(*x)) {
            return Err(Error::Format(format!(
                "column `{name}`: expected integers, got {x}"
            )));
        }
        // NaN is pandas' missing value.
        return Ok(floats
            .iter()
            .map(|x| x.filter(|x| !x.is_nan()).map(|x| x as i64))
            .collect());
    }
    if !is_int(col.data_type()) {
        return Err(format_error(name, "integers", col.data_type()));
    }
    Ok(cast_to(name, col, &DataType::Int64)?
        .as_primitive::<Int64Type>()
        .clone())
}

/// `col` cast to `to`, or an error naming the column.
fn cast_to(name: &str, col: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    arrow_cast::cast(col, to).map_err(|e| Error::Format(format!("column `{name}`: {e}")))
}

/// A struct column whose fields are all keys the contract knows.
fn struct_of<'a>(name: &str, col: &'a ArrayRef, keys: &[&str]) -> Result<&'a StructArray> {
    let DataType::Struct(fields) = col.data_type() else {
        return Err(format_error(
            name,
            &format!("a struct of {}", keys.join(", ")),
            col.data_type(),
        ));
    };
    if let Some(f) = fields.iter().find(|f| !keys.contains(&f.name().as_str())) {
        return Err(Error::Format(format!(
            "column `{name}`: unknown key `{}` (expected {})",
            f.name(),
            keys.join(", ")
        )));
    }
    Ok(col.as_struct())
}

fn times(col: &ArrayRef) -> Result<Times> {
    let t = col.data_type();
    Ok(match t {
        DataType::Timestamp(_, None) => {
            return Err(Error::Format(
                "column `ts`: timestamps without a time zone name no instant; give the column a time zone (polars: .dt.replace_time_zone(\"UTC\"), pandas: .dt.tz_localize(\"UTC\"))".into(),
            ));
        }
        DataType::Timestamp(unit, Some(_)) => {
            let per_second = match unit {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            };
            let values: arrow_array::Int64Array = match unit {
                TimeUnit::Second => col.as_primitive::<TimestampSecondType>().reinterpret_cast(),
                TimeUnit::Millisecond => col
                    .as_primitive::<TimestampMillisecondType>()
                    .reinterpret_cast(),
                TimeUnit::Microsecond => col
                    .as_primitive::<TimestampMicrosecondType>()
                    .reinterpret_cast(),
                TimeUnit::Nanosecond => col
                    .as_primitive::<TimestampNanosecondType>()
                    .reinterpret_cast(),
            };
            Times::Seconds(values, per_second)
        }
        t if is_int(t) => Times::Seconds(ints("ts", col)?, 1),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Times::Floats(
            cast_to("ts", col, &DataType::Float64)?
                .as_primitive::<Float64Type>()
                .clone(),
        ),
        t if is_text(t) => Times::Text(strings("ts", col)?),
        t => {
            return Err(format_error(
                "ts",
                "integer Unix seconds, a timestamp with a time zone or RFC 3339 strings",
                t,
            ));
        }
    })
}

fn child(s: &StructArray, key: &str) -> Option<ArrayRef> {
    s.column_by_name(key).cloned()
}

impl Columns {
    fn of(batch: &RecordBatch) -> Result<Columns> {
        let schema = batch.schema();
        for f in schema.fields() {
            let name = f.name().as_str();
            if !hitmap::HIT_FIELDS.contains(&name) {
                return Err(Error::Format(format!(
                    "column `{name}` is not a field of the hit contract (docs/hits.md): drop or rename it"
                )));
            }
        }
        // An all-null column of no type (a frame whose rows all lack the
        // field) is a missing field.
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .filter(|c| *c.data_type() != DataType::Null)
        };
        let text_col = |name: &str| col(name).map(|c| strings(name, c)).transpose();
        let event = match col("event") {
            None => None,
            Some(c) => {
                let s = struct_of("event", c, &["category", "action", "name", "value"])?.clone();
                let text = |k: &str| -> Result<Option<Strings>> {
                    child(&s, k)
                        .map(|c| strings(&format!("event.{k}"), &c))
                        .transpose()
                };
                let value = match child(&s, "value") {
                    None => None,
                    Some(v) if v.data_type().is_numeric() || *v.data_type() == DataType::Null => {
                        Some(
                            cast_to("event.value", &v, &DataType::Float64)?
                                .as_primitive::<Float64Type>()
                                .clone(),
                        )
                    }
                    Some(v) => return Err(format_error("event.value", "numbers", v.data_type())),
                };
                Some(EventColumns {
                    category: text("category")?,
                    action: text("action")?,
                    name: text("name")?,
                    value,
                    nulls: s,
                })
            }
        };
        let dims = match col("dims") {
            None => None,
            Some(c) => match c.data_type() {
                DataType::Struct(_) => {
                    let s = c.as_struct().clone();
                    let children = s
                        .fields()
                        .iter()
                        .zip(s.columns())
                        .map(|(f, c)| {
                            Ok((f.name().clone(), strings(&format!("dims.{}", f.name()), c)?))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    Some(Dims::Struct(s, children))
                }
                DataType::Map(_, _) => {
                    let m = c.as_map().clone();
                    let keys = strings("dims (keys)", m.keys())?;
                    let values = strings("dims (values)", m.values())?;
                    Some(Dims::Map(Box::new((m, keys, values))))
                }
                t => return Err(format_error("dims", "a struct or a map of strings", t)),
            },
        };
        let campaign = match col("campaign") {
            None => None,
            Some(c) => {
                let s = struct_of("campaign", c, &CAMPAIGN_KEYS)?;
                let mut out: [Option<Strings>; 6] = Default::default();
                for (slot, k) in out.iter_mut().zip(CAMPAIGN_KEYS) {
                    *slot = child(s, k)
                        .map(|c| strings(&format!("campaign.{k}"), &c))
                        .transpose()?;
                }
                Some(out)
            }
        };
        let visit = match col("visit") {
            Some(c) if is_int(c.data_type()) => Some(Strings::Utf8(
                cast_to("visit", c, &DataType::Utf8)?
                    .as_string::<i32>()
                    .clone(),
            )),
            Some(_) => text_col("visit")?,
            None => None,
        };
        let new_visit = match col("new_visit") {
            None => None,
            Some(c) if *c.data_type() == DataType::Boolean => Some(c.as_boolean().clone()),
            Some(c) => return Err(format_error("new_visit", "booleans", c.data_type())),
        };
        Ok(Columns {
            site: col("site").map(|c| ints("site", c)).transpose()?,
            ts: col("ts").map(times).transpose()?,
            visitor: text_col("visitor")?,
            kind: text_col("type")?,
            text: TEXT.iter().map(|n| text_col(n)).collect::<Result<_>>()?,
            event,
            dims,
            visit,
            attrs: ATTRS.iter().map(|n| text_col(n)).collect::<Result<_>>()?,
            coordinates: [
                col("latitude").map(|c| floats("latitude", c)).transpose()?,
                col("longitude")
                    .map(|c| floats("longitude", c))
                    .transpose()?,
            ],
            campaign,
            local_hour: col("local_hour")
                .map(|c| ints("local_hour", c))
                .transpose()?,
            new_visit,
            perf: hitmap::Perf::FIELDS
                .iter()
                .map(|n| col(n).map(|c| ints(n, c)).transpose())
                .collect::<Result<_>>()?,
            search: (
                text_col("search_category")?,
                col("search_count")
                    .map(|c| ints("search_count", c))
                    .transpose()?,
            ),
            conversion: ConversionColumns::of(&|name| col(name).cloned())?,
        })
    }

    /// Row `i` as a hit, or why it cannot be one.
    fn hit(&self, i: usize) -> std::result::Result<HitRef<'_>, String> {
        // As in NDJSON: a value of the wrong shape first (site, ts, type,
        // in column order), then a required field that is missing.
        let site = self.site.as_ref().and_then(|s| value_i64(s, i)).map(|s| {
            u32::try_from(s)
                .ok()
                .filter(|s| (1..=i32::MAX as u32).contains(s))
                .ok_or_else(|| format!("`site` must be an integer from 1 to {}, got {s}", i32::MAX))
        });
        let ts = match &self.ts {
            None => None,
            Some(Times::Seconds(a, per)) => value_i64(a, i).map(|v| Ok(v.div_euclid(*per))),
            Some(Times::Floats(a)) => match a.is_valid(i).then(|| a.value(i)) {
                Some(f) if f.is_nan() => None,
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(Ok(f as i64)),
                Some(f) => Some(Err(format!(
                    "`ts` must be an RFC 3339 string or integer Unix seconds, got {f}"
                ))),
                None => None,
            },
            Some(Times::Text(a)) => raw(Some(a), i).map(|s| {
                chrono::DateTime::parse_from_rfc3339(s)
                    .map(|t| t.timestamp())
                    .map_err(|e| {
                        format!("`ts` {s:?} is not an RFC 3339 time ({e}); write e.g. 2026-03-01T12:34:56Z")
                    })
            }),
        };
        // An empty type is an error, as in NDJSON, not missing.
        let kind = match raw(self.kind.as_ref(), i) {
            None => Ok(HitType::Pageview),
            Some("") => Err("`type` must be pageview, download, outlink, search, event, goal, order, cart, product_view or content, got \"\" (leave it out for a pageview)".to_owned()),
            Some(t) => HitType::parse(t).ok_or_else(|| {
                format!("`type` must be pageview, download, outlink, search, event, goal, order, cart, product_view or content, got {t:?}")
            }),
        };
        let site = site.transpose()?;
        let ts = ts.transpose()?;
        let kind = kind?;
        let site = site.ok_or("missing required field `site`")?;
        let ts = ts.ok_or("missing required field `ts`")?;
        // An empty visitor is checked by the contract's rules (its length).
        let visitor = raw(self.visitor.as_ref(), i).ok_or("missing required field `visitor`")?;
        let mut hit = HitRef {
            site,
            ts,
            visitor,
            kind,
            ..HitRef::default()
        };
        let [
            url,
            title,
            referrer,
            user,
            device,
            browser,
            os,
            country,
            language,
            search,
        ] = std::array::from_fn(|k| text(self.text.get(k).and_then(Option::as_ref), i));
        (hit.url, hit.title, hit.referrer, hit.user) = (url, title, referrer, user);
        (hit.device, hit.browser, hit.os, hit.country) = (device, browser, os, country);
        (hit.language, hit.search) = (language, search);
        if let Some(e) = &self.event
            && e.nulls.is_valid(i)
        {
            let category = text(e.category.as_ref(), i);
            let action = text(e.action.as_ref(), i);
            let value = e
                .value
                .as_ref()
                .and_then(|v| v.is_valid(i).then(|| v.value(i)))
                .filter(|v| !v.is_nan());
            if category.is_some() || action.is_some() || value.is_some() {
                hit.event = Some(EventRef {
                    category: category.unwrap_or_default(),
                    action: action.unwrap_or_default(),
                    name: text(e.name.as_ref(), i),
                    value,
                });
            }
        }
        match &self.dims {
            Some(Dims::Struct(s, children)) if s.is_valid(i) => {
                for (name, values) in children {
                    if let Some(v) = text(Some(values), i) {
                        hit.dims.push((name.as_str(), v));
                    }
                }
            }
            Some(Dims::Map(map)) if map.0.is_valid(i) => {
                let (m, keys, values) = &**map;
                let offsets = m.value_offsets();
                let (from, to) = (offsets[i] as usize, offsets[i + 1] as usize);
                for k in from..to {
                    if let (Some(name), Some(v)) = (text(Some(keys), k), text(Some(values), k)) {
                        hit.dims.push((name, v));
                    }
                }
            }
            _ => {}
        }
        hit.dims.sort_by(|a, b| a.0.cmp(b.0));
        hit.visit = text(self.visit.as_ref(), i);
        let [
            rtype,
            rname,
            rkeyword,
            bversion,
            osversion,
            resolution,
            region,
            region_name,
            city,
            brand,
            model,
            engine,
            plugins,
        ] = std::array::from_fn(|k| text(self.attrs.get(k).and_then(Option::as_ref), i));
        hit.plugins = plugins;
        (hit.device_brand, hit.device_model, hit.browser_engine) = (brand, model, engine);
        (hit.referrer_type, hit.referrer_name, hit.referrer_keyword) = (rtype, rname, rkeyword);
        (hit.browser_version, hit.os_version, hit.resolution) = (bversion, osversion, resolution);
        (hit.region, hit.region_name, hit.city) = (region, region_name, city);
        [hit.latitude, hit.longitude] = std::array::from_fn(|k| {
            self.coordinates[k]
                .as_ref()
                .and_then(|a| a.is_valid(i).then(|| a.value(i)))
                .filter(|v| !v.is_nan())
        });
        if let Some(c) = &self.campaign {
            let [name, source, medium, keyword, content, id] =
                std::array::from_fn(|k| text(c[k].as_ref(), i));
            let campaign = CampaignRef {
                name,
                source,
                medium,
                keyword,
                content,
                id,
            };
            if campaign != CampaignRef::default() {
                hit.campaign = Some(campaign);
            }
        }
        if let Some(h) = self.local_hour.as_ref().and_then(|h| value_i64(h, i)) {
            hit.local_hour =
                Some(u8::try_from(h).ok().filter(|h| *h < 24).ok_or_else(|| {
                    format!("`local_hour` must be an integer from 0 to 23, got {h}")
                })?);
        }
        hit.new_visit = self
            .new_visit
            .as_ref()
            .is_some_and(|b| b.is_valid(i) && b.value(i));
        for (f, c) in self.perf.iter().enumerate() {
            let Some(v) = c.as_ref().and_then(|c| value_i64(c, i)) else {
                continue;
            };
            let name = hitmap::Perf::FIELDS[f];
            let max = hitmap::Perf::max(f);
            let v = u64::try_from(v)
                .ok()
                .filter(|v| *v <= max)
                .ok_or_else(|| format!("`{name}` must be an integer from 0 to {max}, got {v}"))?;
            match f {
                6 => hit.perf.bandwidth = Some(v),
                _ => hit.perf.times[f] = Some(v as u32),
            }
        }
        hit.search_category = text(self.search.0.as_ref(), i);
        if let Some(n) = self.search.1.as_ref().and_then(|c| value_i64(c, i)) {
            hit.search_count = Some(u32::try_from(n).map_err(|_| {
                format!(
                    "`search_count` must be an integer from 0 to {}, got {n}",
                    u32::MAX
                )
            })?);
        }
        hit.conversion = self.conversion.row(i)?;
        Ok(hit)
    }
}

fn value_i64(a: &Int64Array, i: usize) -> Option<i64> {
    a.is_valid(i).then(|| a.value(i))
}

/// Row `i` of a string column as it is (null is missing).
fn raw(a: Option<&Strings>, i: usize) -> Option<&str> {
    let a = a?;
    a.is_valid(i).then(|| a.value(i))
}

/// Row `i` of a string column; null and "" are missing.
fn text(a: Option<&Strings>, i: usize) -> Option<&str> {
    let a = a?;
    (a.is_valid(i) && !a.value(i).is_empty()).then(|| a.value(i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BooleanArray, Float64Array};
    use arrow_schema::{Field, Fields};

    /// The next chunk's hits go where the last chunk's were: a recycled
    /// vector keeps its buffer, emptied (the kernel does not fault in and
    /// zero a chunk's hits again).
    #[test]
    fn a_recycled_vector_keeps_its_buffer() {
        let text = String::from("v");
        let mut v: Vec<HitRef<'_>> = Vec::with_capacity(1000);
        v.push(HitRef {
            visitor: &text,
            ..HitRef::default()
        });
        let (buffer, capacity) = (v.as_ptr() as usize, v.capacity());
        let w: Vec<HitRef<'static>> = recycle(v);
        assert!(w.is_empty());
        assert_eq!((w.as_ptr() as usize, w.capacity()), (buffer, capacity));
    }

    /// A chunk's identity is what a re-run recognises it by, in stores
    /// written by every earlier version: the digest of these rows is fixed.
    #[test]
    fn a_chunks_identity_does_not_change_between_versions() {
        let text = |v: &[Option<&str>]| -> ArrayRef { Arc::new(StringArray::from(v.to_vec())) };
        let event = StructArray::new(
            Fields::from(vec![
                Field::new("category", DataType::Utf8, true),
                Field::new("action", DataType::Utf8, true),
                Field::new("value", DataType::Float64, true),
            ]),
            vec![
                text(&[None, Some("video"), None, None]),
                text(&[None, Some("play"), None, None]),
                Arc::new(Float64Array::from(vec![None, Some(2.5), None, None])),
            ],
            Some(vec![false, true, false, false].into()),
        );
        let dims = StructArray::new(
            Fields::from(vec![Field::new("department", DataType::Utf8, true)]),
            vec![text(&[Some("HR"), None, Some("IT"), None])],
            None,
        );
        let batch = RecordBatch::try_from_iter([
            (
                "site",
                Arc::new(Int64Array::from(vec![1, 1, 1, 1])) as ArrayRef,
            ),
            (
                "ts",
                Arc::new(Int64Array::from(vec![
                    1_717_200_000,
                    1_717_200_060,
                    1_717_200_120,
                    1_717_200_180,
                ])),
            ),
            (
                "visitor",
                text(&[Some("a"), Some("a"), Some("b"), Some("")]),
            ),
            (
                "type",
                text(&[
                    Some("pageview"),
                    Some("event"),
                    Some("pageview"),
                    Some("nope"),
                ]),
            ),
            (
                "url",
                text(&[
                    Some("https://x.org/a"),
                    Some("https://x.org/a"),
                    Some("https://x.org/é"),
                    None,
                ]),
            ),
            ("title", text(&[Some("A"), None, None, None])),
            ("country", text(&[None, None, Some("gb"), None])),
            ("event", Arc::new(event)),
            ("dims", Arc::new(dims)),
            (
                "new_visit",
                Arc::new(BooleanArray::from(vec![false, false, true, false])),
            ),
        ])
        .unwrap();
        let mut chunks = Chunks {
            batches: [Ok(batch)].into_iter(),
            rows: 100,
            current: None,
            next_row: 1,
            pending: Chunk::default(),
            failed: false,
        };
        let chunk = chunks.next().unwrap().unwrap();
        // On any number of threads, into new vectors or ones a chunk
        // read before gave back.
        let mut spare = Spare::default();
        for threads in [1, 2, 1, 2] {
            let read = chunk.read(threads, &mut spare);
            assert_eq!((read.rows.len(), read.rejected.len()), (3, 1));
            assert_eq!(
                format!("{:032x}", read.hasher.digest128()),
                "0bee6d8526c20b152901c86a7381a35f"
            );
            read.give_back(&mut spare);
        }
    }
}
