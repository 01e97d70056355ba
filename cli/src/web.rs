//! The dashboard's files (`cli/web/`), embedded in the binary: `GET /`
//! answers the page, `GET /assets/...` its script, style sheet and the
//! vendored chart library. The page asks the server's own Reporting API
//! for everything it shows.

use crate::http::Response;

const INDEX: &str = include_str!("../web/index.html");
const ASSETS: [(&str, &str, &str); 4] = [
    (
        "/assets/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/app.js"),
    ),
    (
        "/assets/app.css",
        "text/css; charset=utf-8",
        include_str!("../web/app.css"),
    ),
    (
        "/assets/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/vendor/uPlot.iife.min.js"),
    ),
    (
        "/assets/uPlot.min.css",
        "text/css; charset=utf-8",
        include_str!("../web/vendor/uPlot.min.css"),
    ),
];

/// The dashboard page.
///
/// # Examples
/// ```
/// let page = hitmap_cli::web::index();
/// assert!(page.body.contains("/assets/app.js"));
/// ```
pub fn index() -> Response {
    Response {
        status: 200,
        content_type: "text/html; charset=utf-8",
        body: INDEX.to_string(),
    }
}

/// One of the dashboard's files by its path, if it is one.
///
/// # Examples
/// ```
/// assert!(hitmap_cli::web::asset("/assets/app.css").is_some());
/// assert!(hitmap_cli::web::asset("/assets/nope.js").is_none());
/// ```
pub fn asset(path: &str) -> Option<Response> {
    ASSETS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, content_type, body)| Response {
            status: 200,
            content_type,
            body: (*body).to_string(),
        })
}
