//! Raw hits and visits out as Arrow record batches and Parquet files
//! (feature `parquet`): what Dask, Spark, DuckDB, polars and BI tools read
//! natively. Hits have the input contract's columns with their types
//! (`docs/hits.md`), so a file read back into a DataFrame and ingested
//! (Python's `Engine.ingest`, the Arrow intake) gives the same archives;
//! visits have [`VisitRecord`]'s. One record batch, and one Parquet row
//! group, per local day.

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, Date32Array, Float64Array, ListArray, RecordBatch, StringArray, StructArray,
    TimestampSecondArray, UInt8Array, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::export::VisitRecord;
use crate::hit::Hit;
use crate::query::IntoDay;

/// What [`Engine::export_arrow`] and [`Engine::export_parquet`] give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// The stored hits, as the input contract's records
    /// ([`Engine::export_hits`]).
    Hits,
    /// One row per stored visit ([`Engine::export_visits`]).
    Visits,
}

impl ExportKind {
    /// `hits` or `visits`.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(hitmap::ExportKind::parse("visits"), Some(hitmap::ExportKind::Visits));
    /// assert_eq!(hitmap::ExportKind::parse("rows"), None);
    /// ```
    pub fn parse(text: &str) -> Option<ExportKind> {
        match text {
            "hits" => Some(ExportKind::Hits),
            "visits" => Some(ExportKind::Visits),
            _ => None,
        }
    }
}

/// What a Parquet export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    /// Rows written.
    pub rows: u64,
    /// Row groups (one per local day with rows; a very large day is split
    /// at the writer's row group size).
    pub row_groups: u64,
}

fn arrow_err(e: impl std::fmt::Display) -> Error {
    Error::Io(std::io::Error::other(format!(
        "cannot write the export: {e}"
    )))
}

fn utc_seconds() -> DataType {
    DataType::Timestamp(TimeUnit::Second, Some("UTC".into()))
}

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn texts<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(values.collect::<StringArray>())
}

fn floats(values: impl Iterator<Item = Option<f64>>) -> ArrayRef {
    Arc::new(values.collect::<Float64Array>())
}

const EVENT_KEYS: [&str; 3] = ["category", "action", "name"];
const CAMPAIGN_KEYS: [&str; 6] = ["name", "source", "medium", "keyword", "content", "id"];
const ORDER_AMOUNTS: [&str; 4] = ["subtotal", "tax", "shipping", "discount"];

fn event_fields() -> Fields {
    let mut f: Vec<Field> = EVENT_KEYS.iter().map(|k| text(k)).collect();
    f.push(Field::new("value", DataType::Float64, true));
    f.into()
}

fn campaign_fields() -> Fields {
    CAMPAIGN_KEYS.iter().map(|k| text(k)).collect()
}

/// A content hit's `content`: name, piece, target, interaction.
fn content_fields() -> Fields {
    ["name", "piece", "target", "interaction"]
        .iter()
        .map(|k| text(k))
        .collect()
}

fn order_fields() -> Fields {
    let mut f = vec![text("id")];
    f.extend(
        ORDER_AMOUNTS
            .iter()
            .map(|k| Field::new(*k, DataType::Float64, true)),
    );
    f.into()
}

fn category_field() -> Field {
    Field::new_list(
        "category",
        Field::new_list_field(DataType::Utf8, true),
        true,
    )
}

fn item_fields() -> Fields {
    vec![
        Field::new("sku", DataType::Utf8, false),
        text("name"),
        category_field(),
        Field::new("price", DataType::Float64, true),
        Field::new("quantity", DataType::UInt32, true),
    ]
    .into()
}

/// The hits' schema for a site whose custom dimensions are `dims` (a
/// struct with one child each; no `dims` column without any).
fn hits_schema(dims: &[String]) -> SchemaRef {
    let mut f = vec![
        Field::new("site", DataType::UInt32, false),
        Field::new("ts", utc_seconds(), false),
        Field::new("visitor", DataType::Utf8, false),
        Field::new("type", DataType::Utf8, false),
    ];
    for k in [
        "url", "title", "referrer", "user", "device", "browser", "os", "country", "language",
        "search",
    ] {
        f.push(text(k));
    }
    f.push(Field::new("event", DataType::Struct(event_fields()), true));
    if !dims.is_empty() {
        let children: Fields = dims.iter().map(|d| text(d)).collect();
        f.push(Field::new("dims", DataType::Struct(children), true));
    }
    for k in [
        "visit",
        "referrer_type",
        "referrer_name",
        "referrer_keyword",
    ] {
        f.push(text(k));
    }
    f.push(Field::new(
        "campaign",
        DataType::Struct(campaign_fields()),
        true,
    ));
    for k in ["browser_version", "os_version", "resolution"] {
        f.push(text(k));
    }
    f.push(Field::new("local_hour", DataType::UInt8, true));
    f.push(Field::new("new_visit", DataType::Boolean, true));
    f.push(Field::new("goal", DataType::UInt32, true));
    f.push(Field::new("revenue", DataType::Float64, true));
    f.push(Field::new("order", DataType::Struct(order_fields()), true));
    f.push(Field::new_list(
        "items",
        Field::new_list_field(DataType::Struct(item_fields()), true),
        true,
    ));
    for k in ["region", "region_name", "city"] {
        f.push(text(k));
    }
    f.push(Field::new("latitude", DataType::Float64, true));
    f.push(Field::new("longitude", DataType::Float64, true));
    for k in ["device_brand", "device_model", "browser_engine"] {
        f.push(text(k));
    }
    for k in crate::hit::Perf::FIELDS {
        f.push(Field::new(k, DataType::UInt64, true));
    }
    f.push(text("search_category"));
    f.push(Field::new("search_count", DataType::UInt32, true));
    f.push(text("plugins"));
    f.push(Field::new(
        "content",
        DataType::Struct(content_fields()),
        true,
    ));
    Arc::new(Schema::new(f))
}

fn visits_schema() -> SchemaRef {
    let mut f = vec![
        Field::new("site", DataType::UInt32, false),
        Field::new("date", DataType::Date32, false),
        Field::new("visitor", DataType::Utf8, false),
        Field::new("first_ts", utc_seconds(), false),
        Field::new("length", DataType::UInt32, false),
        Field::new("actions", DataType::UInt32, false),
        text("entry_url"),
        text("exit_url"),
        Field::new("referrer_type", DataType::Utf8, false),
        Field::new("visitor_type", DataType::Utf8, false),
        Field::new("visit_count", DataType::UInt32, false),
    ];
    for k in [
        "user", "referrer", "device", "browser", "os", "country", "language",
    ] {
        f.push(text(k));
    }
    Arc::new(Schema::new(f))
}

/// A struct column of `children`, null where `valid` is false.
fn structs(fields: Fields, children: Vec<ArrayRef>, valid: Vec<bool>) -> Result<ArrayRef> {
    let nulls = valid.iter().any(|v| !v).then(|| valid.into());
    Ok(Arc::new(
        StructArray::try_new(fields, children, nulls).map_err(arrow_err)?,
    ))
}

/// A list column: `lengths` items per row of `values`, null where
/// `valid` is false.
fn lists(field: Field, lengths: &[usize], values: ArrayRef, valid: Vec<bool>) -> Result<ArrayRef> {
    let nulls = valid.iter().any(|v| !v).then(|| valid.into());
    Ok(Arc::new(
        ListArray::try_new(
            Arc::new(field),
            arrow_buffer_offsets(lengths),
            values,
            nulls,
        )
        .map_err(arrow_err)?,
    ))
}

fn arrow_buffer_offsets(lengths: &[usize]) -> arrow_buffer::OffsetBuffer<i32> {
    arrow_buffer::OffsetBuffer::from_lengths(lengths.iter().copied())
}

/// One day's hits as a record batch of `schema` (`dims`: the struct's
/// children, in order).
fn ev(h: &Hit) -> Option<&crate::hit::Event> {
    h.event.as_ref()
}

fn conv(h: &Hit) -> Option<&crate::hit::Conversion> {
    h.conversion.as_ref()
}

fn hits_batch(schema: &SchemaRef, dims: &[String], hits: &[Hit]) -> Result<RecordBatch> {
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(hits.iter().map(|h| h.site).collect::<UInt32Array>()),
        Arc::new(
            TimestampSecondArray::from(hits.iter().map(|h| h.ts).collect::<Vec<_>>())
                .with_timezone("UTC"),
        ),
        texts(hits.iter().map(|h| Some(h.visitor.as_str()))),
        texts(hits.iter().map(|h| Some(h.kind.name()))),
    ];
    let fields: [fn(&Hit) -> &Option<String>; 10] = [
        |h| &h.url,
        |h| &h.title,
        |h| &h.referrer,
        |h| &h.user,
        |h| &h.device,
        |h| &h.browser,
        |h| &h.os,
        |h| &h.country,
        |h| &h.language,
        |h| &h.search,
    ];
    for f in fields {
        cols.push(texts(hits.iter().map(|h| f(h).as_deref())));
    }
    cols.push(structs(
        event_fields(),
        vec![
            texts(hits.iter().map(|h| ev(h).map(|e| e.category.as_str()))),
            texts(hits.iter().map(|h| ev(h).map(|e| e.action.as_str()))),
            texts(hits.iter().map(|h| ev(h).and_then(|e| e.name.as_deref()))),
            floats(hits.iter().map(|h| ev(h).and_then(|e| e.value))),
        ],
        hits.iter().map(|h| h.event.is_some()).collect(),
    )?);
    if !dims.is_empty() {
        let children = dims
            .iter()
            .map(|name| {
                let mut b = StringBuilder::new();
                for h in hits {
                    b.append_option(h.dims.iter().find(|(k, _)| k == name).map(|(_, v)| v));
                }
                Arc::new(b.finish()) as ArrayRef
            })
            .collect();
        let children_fields: Fields = dims.iter().map(|d| text(d)).collect();
        cols.push(structs(
            children_fields,
            children,
            hits.iter().map(|h| !h.dims.is_empty()).collect(),
        )?);
    }
    let visit_fields: [fn(&Hit) -> &Option<String>; 4] = [
        |h| &h.visit,
        |h| &h.referrer_type,
        |h| &h.referrer_name,
        |h| &h.referrer_keyword,
    ];
    for f in visit_fields {
        cols.push(texts(hits.iter().map(|h| f(h).as_deref())));
    }
    let campaign: [fn(&crate::hit::Campaign) -> &Option<String>; 6] = [
        |c| &c.name,
        |c| &c.source,
        |c| &c.medium,
        |c| &c.keyword,
        |c| &c.content,
        |c| &c.id,
    ];
    cols.push(structs(
        campaign_fields(),
        campaign
            .iter()
            .map(|f| {
                texts(
                    hits.iter()
                        .map(|h| h.campaign.as_ref().and_then(|c| f(c).as_deref())),
                )
            })
            .collect(),
        hits.iter().map(|h| h.campaign.is_some()).collect(),
    )?);
    let versions: [fn(&Hit) -> &Option<String>; 3] =
        [|h| &h.browser_version, |h| &h.os_version, |h| &h.resolution];
    for f in versions {
        cols.push(texts(hits.iter().map(|h| f(h).as_deref())));
    }
    cols.push(Arc::new(
        hits.iter().map(|h| h.local_hour).collect::<UInt8Array>(),
    ));
    let mut new_visit = BooleanBuilder::new();
    for h in hits {
        new_visit.append_option(h.new_visit.then_some(true));
    }
    cols.push(Arc::new(new_visit.finish()));
    cols.push(Arc::new(
        hits.iter()
            .map(|h| conv(h).and_then(|c| c.goal))
            .collect::<UInt32Array>(),
    ));
    cols.push(floats(hits.iter().map(|h| conv(h).and_then(|c| c.revenue))));
    let amounts: [fn(&crate::hit::Conversion) -> Option<f64>; 4] =
        [|c| c.subtotal, |c| c.tax, |c| c.shipping, |c| c.discount];
    let mut order = vec![texts(
        hits.iter()
            .map(|h| conv(h).and_then(|c| c.order_id.as_deref())),
    )];
    order.extend(
        amounts
            .iter()
            .map(|f| floats(hits.iter().map(|h| conv(h).and_then(f)))),
    );
    let is_order = |h: &Hit| {
        conv(h).is_some_and(|c| c.order_id.is_some() || amounts.iter().any(|f| f(c).is_some()))
    };
    cols.push(structs(
        order_fields(),
        order,
        hits.iter().map(is_order).collect(),
    )?);
    let items: Vec<&crate::hit::Item> = hits
        .iter()
        .filter_map(conv)
        .flat_map(|c| &c.items)
        .collect();
    let categories = lists(
        Field::new_list_field(DataType::Utf8, true),
        &items.iter().map(|i| i.categories.len()).collect::<Vec<_>>(),
        texts(
            items
                .iter()
                .flat_map(|i| i.categories.iter().map(|c| Some(c.as_str()))),
        ),
        items.iter().map(|i| !i.categories.is_empty()).collect(),
    )?;
    let item_structs = structs(
        item_fields(),
        vec![
            texts(items.iter().map(|i| Some(i.sku.as_str()))),
            texts(items.iter().map(|i| i.name.as_deref())),
            categories,
            floats(items.iter().map(|i| i.price)),
            Arc::new(items.iter().map(|i| i.quantity).collect::<UInt32Array>()),
        ],
        vec![true; items.len()],
    )?;
    let counts: Vec<usize> = hits
        .iter()
        .map(|h| conv(h).map_or(0, |c| c.items.len()))
        .collect();
    cols.push(lists(
        Field::new_list_field(DataType::Struct(item_fields()), true),
        &counts,
        item_structs,
        counts.iter().map(|n| *n > 0).collect(),
    )?);
    let places: [fn(&Hit) -> &Option<String>; 3] = [|h| &h.region, |h| &h.region_name, |h| &h.city];
    for f in places {
        cols.push(texts(hits.iter().map(|h| f(h).as_deref())));
    }
    cols.push(floats(hits.iter().map(|h| h.latitude)));
    cols.push(floats(hits.iter().map(|h| h.longitude)));
    let devices: [fn(&Hit) -> &Option<String>; 3] = [
        |h| &h.device_brand,
        |h| &h.device_model,
        |h| &h.browser_engine,
    ];
    for f in devices {
        cols.push(texts(hits.iter().map(|h| f(h).as_deref())));
    }
    for i in 0..crate::hit::Perf::FIELDS.len() {
        cols.push(Arc::new(
            hits.iter().map(|h| h.perf.get(i)).collect::<UInt64Array>(),
        ));
    }
    cols.push(texts(hits.iter().map(|h| h.search_category.as_deref())));
    cols.push(Arc::new(
        hits.iter().map(|h| h.search_count).collect::<UInt32Array>(),
    ));
    cols.push(texts(hits.iter().map(|h| h.plugins.as_deref())));
    fn content(h: &Hit) -> Option<&crate::hit::Content> {
        h.conversion.as_ref().and_then(|c| c.content.as_ref())
    }
    let parts: [fn(&crate::hit::Content) -> Option<&str>; 4] = [
        |c| Some(c.name.as_str()),
        |c| c.piece.as_deref(),
        |c| c.target.as_deref(),
        |c| c.interaction.as_deref(),
    ];
    cols.push(structs(
        content_fields(),
        parts
            .iter()
            .map(|f| texts(hits.iter().map(|h| content(h).and_then(f))))
            .collect(),
        hits.iter().map(|h| content(h).is_some()).collect(),
    )?);
    RecordBatch::try_new(schema.clone(), cols).map_err(arrow_err)
}

/// One day's visits as a record batch.
fn visits_batch(schema: &SchemaRef, site: u32, visits: &[VisitRecord]) -> Result<RecordBatch> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(vec![site; visits.len()])),
        Arc::new(Date32Array::from(
            visits
                .iter()
                .map(|v| (v.date - epoch).num_days() as i32)
                .collect::<Vec<_>>(),
        )),
        texts(visits.iter().map(|v| Some(v.visitor.as_str()))),
        Arc::new(
            TimestampSecondArray::from(visits.iter().map(|v| v.first_ts).collect::<Vec<_>>())
                .with_timezone("UTC"),
        ),
        Arc::new(visits.iter().map(|v| v.length).collect::<UInt32Array>()),
        Arc::new(visits.iter().map(|v| v.actions).collect::<UInt32Array>()),
        texts(visits.iter().map(|v| v.entry_url.as_deref())),
        texts(visits.iter().map(|v| v.exit_url.as_deref())),
        texts(visits.iter().map(|v| Some(v.referrer_type))),
        texts(visits.iter().map(|v| Some(v.visitor_type))),
        Arc::new(
            visits
                .iter()
                .map(|v| v.visit_count)
                .collect::<UInt32Array>(),
        ),
    ];
    let fields: [fn(&VisitRecord) -> &Option<String>; 7] = [
        |v| &v.user,
        |v| &v.referrer,
        |v| &v.device,
        |v| &v.browser,
        |v| &v.os,
        |v| &v.country,
        |v| &v.language,
    ];
    for f in fields {
        cols.push(texts(visits.iter().map(|v| f(v).as_deref())));
    }
    RecordBatch::try_new(schema.clone(), cols).map_err(arrow_err)
}

impl Engine {
    /// The site's custom dimension names (the `dims` struct's children),
    /// in the order the site first saw them.
    fn export_dims(&self, site: u32) -> Result<Vec<String>> {
        let d = &self.site_state(site)?.dicts.dim_names;
        Ok((0..d.len() as u32)
            .map(|i| d.value(i))
            .filter(|n| !n.starts_with('$'))
            .map(str::to_owned)
            .collect())
    }

    /// The schema of [`Engine::export_arrow`]'s batches for a site.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, ExportKind, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1).dimension("plan"))?;
    /// let schema = e.export_schema(1, ExportKind::Hits)?;
    /// assert_eq!(schema.field(1).name(), "ts");
    /// assert!(schema.field_with_name("dims").is_ok());
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn export_schema(&self, site: u32, what: ExportKind) -> Result<SchemaRef> {
        Ok(match what {
            ExportKind::Hits => hits_schema(&self.export_dims(site)?),
            ExportKind::Visits => {
                self.site_state(site)?;
                visits_schema()
            }
        })
    }

    /// The stored hits or visits of a site's local days `from..=to` as
    /// Arrow record batches, one per day with data, all of
    /// [`Engine::export_schema`]: typed columns (`ts` and `first_ts` UTC
    /// timestamps, `date` a date, counts unsigned, `event`, `campaign`,
    /// `order` and `dims` structs, `items` a list of structs). Exported
    /// hits read back through the Arrow intake give the same archives.
    ///
    /// # Examples
    /// ```
    /// use arrow_array::Array;
    /// use hitmap::{Engine, ExportKind, Hit, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([
    ///     Hit::pageview(1, 1_717_200_000, "a", "https://x.org/"),
    ///     Hit::pageview(1, 1_717_300_000, "a", "https://x.org/b"),
    /// ])?;
    /// let days = e.export_arrow(1, "2024-06-01", "2024-06-30", ExportKind::Visits)?;
    /// assert_eq!(days.len(), 2);
    /// assert_eq!(days[0].num_rows(), 1);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn export_arrow(
        &self,
        site: u32,
        from: impl IntoDay,
        to: impl IntoDay,
        what: ExportKind,
    ) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        self.export_days(site, from, to, what, |b| {
            out.push(b);
            Ok(())
        })?;
        Ok(out)
    }

    /// Writes the stored hits or visits of a site's local days
    /// `from..=to` as one Parquet file (zstd pages) to `out`: the columns
    /// of [`Engine::export_arrow`], a row group per day, so readers skip
    /// days by their statistics. Days are read one at a time.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, ExportKind, Hit, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")])?;
    /// let mut file = Vec::new();
    /// let done = e.export_parquet(1, "2024-06-01", "2024-06-01", ExportKind::Hits, &mut file)?;
    /// assert_eq!((done.rows, done.row_groups), (1, 1));
    /// assert_eq!(&file[..4], b"PAR1");
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn export_parquet<W: std::io::Write + Send>(
        &self,
        site: u32,
        from: impl IntoDay,
        to: impl IntoDay,
        what: ExportKind,
        out: W,
    ) -> Result<Exported> {
        use parquet::arrow::ArrowWriter;
        use parquet::basic::{Compression, ZstdLevel};
        use parquet::file::properties::WriterProperties;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .build();
        let schema = self.export_schema(site, what)?;
        let mut writer = ArrowWriter::try_new(out, schema, Some(props)).map_err(arrow_err)?;
        let mut rows = 0u64;
        self.export_days(site, from, to, what, |b| {
            rows += b.num_rows() as u64;
            writer.write(&b).map_err(arrow_err)?;
            // A row group per day.
            writer.flush().map_err(arrow_err)
        })?;
        let meta = writer.close().map_err(arrow_err)?;
        Ok(Exported {
            rows,
            row_groups: meta.num_row_groups() as u64,
        })
    }

    /// Each day's batch of the range, oldest first, to `each`.
    fn export_days(
        &self,
        site: u32,
        from: impl IntoDay,
        to: impl IntoDay,
        what: ExportKind,
        mut each: impl FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let (from, to) = (from.into_day()?, to.into_day()?);
        let dims = self.export_dims(site)?;
        let schema = match what {
            ExportKind::Hits => hits_schema(&dims),
            ExportKind::Visits => visits_schema(),
        };
        for day in self.site_days(site)? {
            if day < from || day > to {
                continue;
            }
            let batch = match what {
                ExportKind::Hits => hits_batch(&schema, &dims, &self.export_hits(site, day, day)?)?,
                ExportKind::Visits => {
                    visits_batch(&schema, site, &self.export_visits(site, day, day)?)?
                }
            };
            if batch.num_rows() > 0 {
                each(batch)?;
            }
        }
        Ok(())
    }
}
