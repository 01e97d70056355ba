//! Reporting API answers as Arrow record batches (feature `arrow`), for
//! hosts that hand rows to DataFrames without a JSON round trip (the
//! Python module's `Engine.api_arrow` and `Report.to_arrow`).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, RecordBatchOptions, StringArray,
};
use arrow_schema::{Field, Schema};
use serde_json::Value;

use crate::api::{ActionTable, ApiOptions, ApiRequest};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::render::Format;

impl Engine {
    /// Answers a Reporting API request as one Arrow record batch: a column
    /// per key of the rows (in first-seen order), a row per report row.
    /// Counts are `Int64`, ratios `Float64`, labels `Utf8`; a key a row
    /// lacks is null there. A one-row answer (`VisitsSummary.get` for one
    /// period) is one row. Answers keyed by period or site (`date=last7`,
    /// `idSite=all`) are not tables: ask for one period (`period=range`
    /// covers several days) or use [`Engine::api`].
    ///
    /// # Examples
    /// ```
    /// use arrow_array::{Array, Int64Array, StringArray};
    /// use hitmap::{ApiOptions, Engine, Hit, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([
    ///     Hit::pageview(1, 1_717_200_000, "a", "https://x.org/news"),
    ///     Hit::pageview(1, 1_717_200_060, "b", "https://x.org/news"),
    ///     Hit::pageview(1, 1_717_200_120, "b", "https://x.org/about"),
    /// ])?;
    /// let batch = e.api_arrow(
    ///     "method=Actions.getPageUrls&flat=1&idSite=1&period=day&date=2024-06-01",
    ///     &ApiOptions::default(),
    /// )?;
    /// let label = batch.column_by_name("label").unwrap();
    /// let label = label.as_any().downcast_ref::<StringArray>().unwrap();
    /// let visitors = batch.column_by_name("nb_uniq_visitors").unwrap();
    /// let visitors = visitors.as_any().downcast_ref::<Int64Array>().unwrap();
    /// assert_eq!((label.value(0), visitors.value(0)), ("/news", 2));
    /// assert_eq!(batch.num_rows(), 2);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn api_arrow(&self, query: &str, options: &ApiOptions) -> Result<RecordBatch> {
        let request = ApiRequest::parse(query)?;
        if request.format != Format::Json {
            return Err(Error::Request(
                "api_arrow answers in Arrow: leave out format= (or use format=json)".into(),
            ));
        }
        if let Some(table) = self.action_table(&request, options) {
            return action_batch(&table);
        }
        rows_to_batch(&self.answer_with(&request, options)?)
    }
}

/// A flat action report's typed rows as the record batch
/// [`rows_to_batch`] builds from the generic path's JSON rows.
fn action_batch(t: &ActionTable) -> Result<RecordBatch> {
    rows_to_batch(&Value::Array(
        t.json_rows().into_iter().map(Value::Object).collect(),
    ))
}

/// The rows of an answer as a record batch (see [`Engine::api_arrow`]).
fn rows_to_batch(answer: &Value) -> Result<RecordBatch> {
    let not_a_table = || {
        Error::Request(
            "this answer is keyed by period or site, not a table of rows: ask for one period (period=range covers several days) and one site, or use api()".into(),
        )
    };
    let one;
    let rows: Vec<&serde_json::Map<String, Value>> = match answer {
        Value::Array(items) => items
            .iter()
            .map(|r| r.as_object().ok_or_else(not_a_table))
            .collect::<Result<_>>()?,
        // One summary; its `comparisons` (`compare=1`) a cell of JSON text.
        Value::Object(m)
            if m.iter()
                .all(|(k, v)| k == "comparisons" || (!v.is_object() && !v.is_array())) =>
        {
            one = m;
            vec![one]
        }
        _ => return Err(not_a_table()),
    };
    let mut names: Vec<&str> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for row in &rows {
        for key in row.keys() {
            index.entry(key).or_insert_with(|| {
                names.push(key);
                names.len() - 1
            });
        }
    }
    let mut fields = Vec::with_capacity(names.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(names.len());
    for name in names {
        let cells: Vec<Option<&Value>> = rows
            .iter()
            .map(|r| r.get(name).filter(|v| !v.is_null()))
            .collect();
        let column = column(&cells);
        fields.push(Field::new(name, column.data_type().clone(), true));
        columns.push(column);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options)
        .map_err(|e| Error::Request(format!("cannot build the Arrow table: {e}")))
}

/// One column: booleans, integers, numbers, or text (anything else is
/// written as its JSON text).
fn column(cells: &[Option<&Value>]) -> ArrayRef {
    let present = || cells.iter().flatten();
    if present().all(|v| v.is_boolean()) && present().next().is_some() {
        return Arc::new(BooleanArray::from(each(cells, Value::as_bool)));
    }
    if present().all(|v| v.is_i64()) {
        return Arc::new(Int64Array::from(each(cells, Value::as_i64)));
    }
    if present().all(|v| v.is_number()) {
        return Arc::new(Float64Array::from(each(cells, Value::as_f64)));
    }
    Arc::new(StringArray::from(each(cells, |v| {
        Some(match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    })))
}

/// `f` of each cell that has a value.
fn each<T>(cells: &[Option<&Value>], f: impl Fn(&Value) -> Option<T>) -> Vec<Option<T>> {
    cells.iter().map(|c| c.and_then(&f)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_schema::DataType;
    use serde_json::json;

    #[test]
    fn a_compared_summary_is_one_row() {
        let batch = rows_to_batch(&json!({
            "nb_visits": 3,
            "comparisons": [{"nb_visits": 3, "compareSegment": ""}],
        }))
        .unwrap();
        assert_eq!(batch.num_rows(), 1);
        let c = batch
            .column_by_name("comparisons")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert!(c.value(0).starts_with("[{"), "{}", c.value(0));
        assert!(rows_to_batch(&json!({"2024-06-01": {"nb_visits": 1}})).is_err());
    }

    #[test]
    fn columns_take_the_type_of_their_values() {
        let batch = rows_to_batch(&json!([
            {"label": "a", "n": 1, "r": 0.5, "b": true, "x": [1]},
            {"label": "b", "n": 2, "r": 1, "m": "only here"},
        ]))
        .unwrap();
        let types: Vec<(String, DataType)> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        assert_eq!(
            types,
            [
                ("label".into(), DataType::Utf8),
                ("n".into(), DataType::Int64),
                ("r".into(), DataType::Float64),
                ("b".into(), DataType::Boolean),
                ("x".into(), DataType::Utf8),
                ("m".into(), DataType::Utf8),
            ]
        );
        let m = batch.column(5);
        assert!(m.is_null(0) && !m.is_null(1));
        let b = batch.column(3);
        assert!(!b.is_null(0) && b.is_null(1));
        let x = batch
            .column(4)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(x.value(0), "[1]");
        let r = batch
            .column(2)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!((r.value(0), r.value(1)), (0.5, 1.0));
    }

    /// Every request the typed path answers gets the batch the generic
    /// rows give, column for column; the others still answer.
    #[test]
    fn typed_action_rows_give_the_batch_of_the_generic_rows() {
        let (typed, answers) = crate::api::typed_tests::agree(
            |e, q, options| e.api_arrow(q, options),
            |e, request, options| {
                e.answer_with(request, options)
                    .and_then(|a| rows_to_batch(&a))
            },
            |t| action_batch(t).unwrap(),
        );
        let rows: usize = answers.iter().map(RecordBatch::num_rows).sum();
        // Most requests took the typed path, over many rows.
        assert!(typed > 100 && rows > 5_000, "{typed} typed, {rows} rows");
    }

    #[test]
    fn one_row_answers_and_empty_answers() {
        let one = rows_to_batch(&json!({"nb_visits": 3, "bounce_rate": 0.5})).unwrap();
        assert_eq!((one.num_rows(), one.num_columns()), (1, 2));
        let none = rows_to_batch(&json!([])).unwrap();
        assert_eq!((none.num_rows(), none.num_columns()), (0, 0));
        for keyed in [
            json!({"2024-06-01": {"nb_visits": 1}}),
            json!({"2024-06-01": [], "2024-06-02": []}),
            json!([1, 2]),
            json!("text"),
        ] {
            let err = rows_to_batch(&keyed).unwrap_err().to_string();
            assert!(err.contains("one period"), "{err}");
        }
    }
}
