//! The hit record of the input contract (`docs/hits.md`), owned and borrowed.


use std::borrow::Cow;

/// The kind of action a hit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum HitType {
    /// A page view (the default).
    #[default]
    Pageview = 0,
    /// A file download.
    Download = 1,
    /// A click on a link to another site.
    Outlink = 2,
    /// A site search.
    Search = 3,
    /// A Matomo-style event.
    Event = 4,
    /// A recorded conversion of a goal (Matomo's tracker `idgoal=N`): not
    /// an action; it counts toward its goal in the visit it falls in.
    Goal = 5,
    /// An ecommerce order (Matomo `idgoal=0` with `ec_id`): not an action.
    Order = 6,
    /// An ecommerce cart update (Matomo `idgoal=0` without `ec_id`): not
    /// an action; a visit whose last cart update has no order after it is
    /// an abandoned cart.
    Cart = 7,
    /// A product page view (Matomo's `_pks`, `_pkn`, `_pkc`, `_pkp` on a
    /// page view): not an action (its page view is one); it feeds the
    /// view columns of the products reports.
    ProductView = 8,
    /// A content impression or interaction (Matomo's content tracking:
    /// `c_n`, `c_p`, `c_t`, `c_i`): not an action (Matomo counts none);
    /// it keeps its visit open and feeds the Contents reports.
    Content = 9,
}

impl HitType {
    /// The name used in NDJSON input (`pageview`, `download`, ...).
    ///
    /// # Examples
    /// ```
    /// assert_eq!(hitmap::HitType::Outlink.name(), "outlink");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            HitType::Pageview => "pageview",
            HitType::Download => "download",
            HitType::Outlink => "outlink",
            HitType::Search => "search",
            HitType::Event => "event",
            HitType::Goal => "goal",
            HitType::Order => "order",
            HitType::Cart => "cart",
            HitType::ProductView => "product_view",
            HitType::Content => "content",
        }
    }

    /// Parses an input name; `None` for anything else.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(hitmap::HitType::parse("search"), Some(hitmap::HitType::Search));
    /// assert_eq!(hitmap::HitType::parse("click"), None);
    /// ```
    pub fn parse(name: &str) -> Option<HitType> {
        Some(match name {
            "pageview" => HitType::Pageview,
            "download" => HitType::Download,
            "outlink" => HitType::Outlink,
            "search" => HitType::Search,
            "event" => HitType::Event,
            "goal" => HitType::Goal,
            "order" => HitType::Order,
            "cart" => HitType::Cart,
            "product_view" => HitType::ProductView,
            "content" => HitType::Content,
            _ => return None,
        })
    }

    /// Whether a hit of this kind is an action of its visit (every kind
    /// but the recorded conversions, `goal`, `order`, `cart`, and
    /// `product_view`).
    ///
    /// # Examples
    /// ```
    /// assert!(hitmap::HitType::Event.is_action());
    /// assert!(!hitmap::HitType::Order.is_action());
    /// ```
    pub fn is_action(self) -> bool {
        (self as u8) < HitType::Goal as u8
    }

    /// Whether this kind needs a `url`.
    pub(crate) fn needs_url(self) -> bool {
        matches!(
            self,
            HitType::Pageview | HitType::Download | HitType::Outlink
        )
    }
}

/// A Matomo-style event (`type: "event"`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    /// Event category (required).
    pub category: String,
    /// Event action (required).
    pub action: String,
    /// Event name.
    pub name: Option<String>,
    /// Event value.
    pub value: Option<f64>,
}

/// How long a page took to load and how many bytes an action sent: what
/// Matomo's page performance (`pf_net`, `pf_srv`, `pf_tfr`, `pf_dm1`,
/// `pf_dm2`, `pf_onl`) and bandwidth (`bw_bytes`) tracker parameters
/// record. Timings belong to page views; bandwidth to any action.
///
/// # Examples
/// ```
/// use hitmap::{Hit, Perf};
/// let mut perf = Perf::default();
/// perf.times[Perf::SERVER] = Some(198); // milliseconds
/// perf.bandwidth = Some(5_609); // bytes
/// let hit = Hit::pageview(1, 1_717_200_000, "v", "https://x.org/").with_perf(perf);
/// assert!(hit.validate().is_ok());
/// assert!(hit.to_ndjson().contains(r#""time_server":198"#));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Perf {
    /// Milliseconds of each phase of a page view's loading, by
    /// [`Perf::TIMINGS`] position: network, server, transfer, DOM
    /// processing, DOM completion, on load; each 0 to
    /// [`Perf::MAX_TIME_MS`].
    pub times: [Option<u32>; 6],
    /// Bytes sent, 0 to [`Perf::MAX_BANDWIDTH`].
    pub bandwidth: Option<u64>,
}

impl Perf {
    /// The timings' names: each is the hit contract's field `time_<name>`
    /// and Matomo's report columns `sum_time_<name>`, `avg_time_<name>`.
    pub const TIMINGS: [&'static str; 6] = [
        "network",
        "server",
        "transfer",
        "dom_processing",
        "dom_completion",
        "on_load",
    ];
    /// The hit contract's fields, timings then bandwidth.
    pub const FIELDS: [&'static str; 7] = [
        "time_network",
        "time_server",
        "time_transfer",
        "time_dom_processing",
        "time_dom_completion",
        "time_on_load",
        "bandwidth",
    ];
    /// Position of the network time in [`Perf::times`].
    pub const NETWORK: usize = 0;
    /// Position of the server time (Matomo's generation time).
    pub const SERVER: usize = 1;
    /// Position of the transfer time.
    pub const TRANSFER: usize = 2;
    /// Position of the DOM processing time.
    pub const DOM_PROCESSING: usize = 3;
    /// Position of the DOM completion time.
    pub const DOM_COMPLETION: usize = 4;
    /// Position of the on-load time.
    pub const ON_LOAD: usize = 5;
    /// The longest timing kept, in milliseconds (Matomo's column is an
    /// unsigned 24-bit integer and its tracker ignores longer ones).
    pub const MAX_TIME_MS: u32 = 16_777_215;
    /// The largest bandwidth kept, in bytes (2^53 - 1: exact in JSON).
    pub const MAX_BANDWIDTH: u64 = (1 << 53) - 1;

    /// The largest value field `i` of [`Perf::FIELDS`] may hold.
    ///
    /// # Examples
    /// ```
    /// use hitmap::Perf;
    /// assert_eq!(Perf::max(Perf::SERVER), 16_777_215);
    /// assert_eq!(Perf::max(6), Perf::MAX_BANDWIDTH);
    /// ```
    pub const fn max(i: usize) -> u64 {
        if i == 6 {
            Perf::MAX_BANDWIDTH
        } else {
            Perf::MAX_TIME_MS as u64
        }
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.times.iter().all(Option::is_none) && self.bandwidth.is_none()
    }

    /// Field `i` of [`Perf::FIELDS`] as a number.
    pub(crate) fn get(&self, i: usize) -> Option<u64> {
        match i {
            6 => self.bandwidth,
            _ => self.times.get(i).copied().flatten().map(u64::from),
        }
    }
}

/// What a recorded conversion (`goal`, `order` and `cart` hits) carries:
/// Matomo's tracker parameters `idgoal`, `revenue`, `ec_id`, `ec_st`,
/// `ec_tx`, `ec_sh`, `ec_dt` and `ec_items`.
///
/// # Examples
/// ```
/// use hitmap::{Conversion, Hit, HitType, Item};
/// let order = Hit::new(1, 1_717_200_000, "v", HitType::Order).with_conversion(Conversion {
///     order_id: Some("A-17".into()),
///     revenue: Some(30.0),
///     items: vec![Item::new("SKU-1").price(15.0).quantity(2)],
///     ..Conversion::default()
/// });
/// assert!(order.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Conversion {
    /// The goal a `goal` hit converts (1 or more); unused by orders and
    /// carts.
    pub goal: Option<u32>,
    /// A goal conversion's revenue (without it: the goal's own revenue),
    /// an order's grand total (required), a cart's total.
    pub revenue: Option<f64>,
    /// The order id (required for an order): an id counts once a day.
    pub order_id: Option<String>,
    /// The order's subtotal (Matomo `ec_st`).
    pub subtotal: Option<f64>,
    /// The order's tax (`ec_tx`).
    pub tax: Option<f64>,
    /// The order's shipping (`ec_sh`).
    pub shipping: Option<f64>,
    /// The order's discount (`ec_dt`).
    pub discount: Option<f64>,
    /// The products of an order or cart (`ec_items`).
    pub items: Vec<Item>,
    /// What a `content` hit shows or records an interaction with
    /// (required for those hits, absent on the others).
    pub content: Option<Content>,
}

/// A content block a page showed (an impression) or that the visitor
/// interacted with: Matomo's content tracking (`c_n`, `c_p`, `c_t`,
/// `c_i`), the rows of `Contents.getContentNames` and `getContentPieces`.
///
/// # Examples
/// ```
/// use hitmap::{Content, Conversion, Hit, HitType};
/// let banner = Content::new("Banner").piece("/img/sale.png").target("https://x.org/sale");
/// let click = banner.clone().interaction("click");
/// let hit = Hit::new(1, 1_717_200_000, "v", HitType::Content)
///     .with_url("https://x.org/")
///     .with_conversion(Conversion::content(click));
/// assert!(hit.validate().is_ok());
/// assert!(hit.to_ndjson().contains(r#""interaction":"click""#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Content {
    /// The content's name (required, 1 to 255 bytes: Matomo's `c_n`).
    pub name: String,
    /// The piece shown: an image's path, a text (`c_p`).
    pub piece: Option<String>,
    /// Where the content leads (`c_t`).
    pub target: Option<String>,
    /// The interaction (`click`, `submit`: `c_i`); without one the hit is
    /// an impression.
    pub interaction: Option<String>,
}

impl Content {
    /// A content impression of `name`.
    pub fn new(name: impl Into<String>) -> Content {
        Content {
            name: name.into(),
            ..Content::default()
        }
    }

    /// Sets the piece.
    pub fn piece(mut self, piece: impl Into<String>) -> Content {
        self.piece = Some(piece.into());
        self
    }

    /// Sets the target.
    pub fn target(mut self, target: impl Into<String>) -> Content {
        self.target = Some(target.into());
        self
    }

    /// Empty piece, target and interaction as none (Matomo stores an
    /// empty `c_p`, `c_t` or `c_i` as no value).
    pub(crate) fn normalized(mut self) -> Content {
        for part in [&mut self.piece, &mut self.target, &mut self.interaction] {
            if part.as_deref() == Some("") {
                *part = None;
            }
        }
        self
    }

    /// The part a contents segment compares (`contentName`,
    /// `contentPiece`, `contentTarget`, `contentInteraction`), if set.
    pub(crate) fn segment_part(&self, field: &str) -> Option<&str> {
        match field {
            "contentName" => Some(&self.name),
            "contentPiece" => self.piece.as_deref(),
            "contentTarget" => self.target.as_deref(),
            "contentInteraction" => self.interaction.as_deref(),
            _ => None,
        }
    }

    /// Makes it an interaction (`click`).
    pub fn interaction(mut self, interaction: impl Into<String>) -> Content {
        self.interaction = Some(interaction.into());
        self
    }

    /// The contract's rules: a name, every part at most
    /// [`MAX_CONTENT_BYTES`] (an empty piece, target or interaction is
    /// none: [`Content::normalized`]).
    fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("a content hit needs `content.name` (Matomo's c_n)".into());
        }
        for (field, v) in [
            ("name", Some(&self.name)),
            ("piece", self.piece.as_ref()),
            ("target", self.target.as_ref()),
            ("interaction", self.interaction.as_ref()),
        ] {
            match v {
                Some(v) if v.len() > MAX_CONTENT_BYTES => {
                    return Err(format!(
                        "`content.{field}` must be at most {MAX_CONTENT_BYTES} bytes long, got {} bytes",
                        v.len()
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Longest part of a [`Content`] kept.
pub(crate) const MAX_CONTENT_BYTES: usize = 1024;

/// One product of an order or cart.
///
/// # Examples
/// ```
/// let i = hitmap::Item::new("SKU-1").name("Mug").category("Kitchen").price(9.5).quantity(3);
/// assert_eq!((i.sku.as_str(), i.quantity), ("SKU-1", Some(3)));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Item {
    /// The product's SKU (required).
    pub sku: String,
    /// The product's name.
    pub name: Option<String>,
    /// Up to five categories.
    pub categories: Vec<String>,
    /// The unit price (without it: 0).
    pub price: Option<f64>,
    /// The quantity (without it: 1).
    pub quantity: Option<u32>,
}

impl Item {
    /// An item with only its SKU.
    pub fn new(sku: impl Into<String>) -> Item {
        Item {
            sku: sku.into(),
            ..Item::default()
        }
    }

    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Item {
        self.name = Some(name.into());
        self
    }

    /// Adds a category.
    pub fn category(mut self, category: impl Into<String>) -> Item {
        self.categories.push(category.into());
        self
    }

    /// Sets the unit price.
    pub fn price(mut self, price: f64) -> Item {
        self.price = Some(price);
        self
    }

    /// Sets the quantity.
    pub fn quantity(mut self, quantity: u32) -> Item {
        self.quantity = Some(quantity);
        self
    }
}

/// Most items one order or cart may carry.
pub(crate) const MAX_ITEMS: usize = 1000;

impl Conversion {
    /// A conversion of goal `goal`.
    ///
    /// # Examples
    /// ```
    /// let c = hitmap::Conversion::goal(3).revenue(12.5);
    /// assert_eq!((c.goal, c.revenue), (Some(3), Some(12.5)));
    /// ```
    pub fn goal(goal: u32) -> Conversion {
        Conversion {
            goal: Some(goal),
            ..Conversion::default()
        }
    }

    /// What a `content` hit records.
    ///
    /// # Examples
    /// ```
    /// let c = hitmap::Conversion::content(hitmap::Content::new("Banner"));
    /// assert_eq!(c.content.unwrap().name, "Banner");
    /// ```
    pub fn content(content: Content) -> Conversion {
        Conversion {
            content: Some(content),
            ..Conversion::default()
        }
    }

    /// Sets the revenue.
    pub fn revenue(mut self, revenue: f64) -> Conversion {
        self.revenue = Some(revenue);
        self
    }

    /// The contract's rules for a conversion of kind `kind`.
    /// A product view: one item (SKU, name, categories and price, each
    /// optional but not all missing; no quantity) and nothing else.
    fn validate_view(&self) -> Result<(), String> {
        if self.goal.is_some() || self.revenue.is_some() || self.order_id.is_some() || self.has_amounts() {
            return Err("a product_view hit carries only `items` (the product viewed)".into());
        }
        let [item] = self.items.as_slice() else {
            return Err(format!(
                "a product_view hit needs `items` with exactly one product (sku, name, category, price), got {}",
                self.items.len()
            ));
        };
        if item.sku.len() > 255 || item.name.as_ref().is_some_and(|n| n.len() > 255) {
            return Err("a viewed product's `sku` and `name` are at most 255 bytes".into());
        }
        if item.sku.is_empty() && item.name.is_none() && item.categories.is_empty() {
            return Err("a product_view hit's product needs a `sku`, a `name` or a `category`".into());
        }
        if item.categories.len() > 5 {
            return Err(format!("the viewed product has {} categories; at most 5", item.categories.len()));
        }
        if item.price.is_some_and(|p| !p.is_finite()) {
            return Err("the viewed product's `price` must be a finite number".into());
        }
        if item.quantity.is_some() {
            return Err("a viewed product has no `quantity`".into());
        }
        Ok(())
    }

    /// A content hit: its content and nothing else.
    fn validate_content(&self) -> Result<(), String> {
        let Some(content) = &self.content else {
            return Err("a content hit needs `content` with its `name` (Matomo's c_n)".into());
        };
        if self.goal.is_some() || self.revenue.is_some() || self.order_id.is_some() || self.has_amounts() || !self.items.is_empty() {
            return Err("a content hit carries only `content`".into());
        }
        content.validate()
    }

    pub(crate) fn validate(&self, kind: HitType) -> Result<(), String> {
        if kind != HitType::Content && self.content.is_some() {
            return Err(format!("`content` belongs to content hits, not a {} hit", kind.name()));
        }
        let finite = |name: &str, v: Option<f64>| match v {
            Some(x) if !x.is_finite() => Err(format!("`{name}` must be a finite number")),
            _ => Ok(()),
        };
        finite("revenue", self.revenue)?;
        for (name, v) in [
            ("order.subtotal", self.subtotal),
            ("order.tax", self.tax),
            ("order.shipping", self.shipping),
            ("order.discount", self.discount),
        ] {
            finite(name, v)?;
        }
        match kind {
            HitType::Goal => {
                if !self.goal.is_some_and(|g| g >= 1 && g <= i32::MAX as u32) {
                    return Err("`goal` (the goal id, 1 or more) is required for a goal hit".into());
                }
                if self.order_id.is_some() || !self.items.is_empty() || self.has_amounts() {
                    return Err("`order` and `items` belong to order and cart hits, not a goal hit".into());
                }
            }
            HitType::Order => {
                match self.order_id.as_deref() {
                    None | Some("") => return Err("`order.id` is required for an order hit".into()),
                    Some(id) if id.len() > 100 => {
                        return Err(format!("`order.id` must be at most 100 bytes long, got {} bytes", id.len()));
                    }
                    _ => {}
                }
                if self.revenue.is_none() {
                    return Err("`revenue` (the order's grand total) is required for an order hit".into());
                }
            }
            HitType::Cart => {
                if self.order_id.is_some() || self.has_amounts() {
                    return Err("a cart hit has no `order`: send an order hit for a purchase".into());
                }
            }
            HitType::ProductView => return self.validate_view(),
            HitType::Content => return self.validate_content(),
            _ => return Err(format!("a {} hit carries no conversion", kind.name())),
        }
        if kind != HitType::Goal && self.goal.is_some() {
            return Err(format!("`goal` belongs to goal hits, not an {} hit", kind.name()));
        }
        if self.items.len() > MAX_ITEMS {
            return Err(format!("`items` has {} entries; at most {MAX_ITEMS} are kept", self.items.len()));
        }
        for item in &self.items {
            if item.sku.is_empty() || item.sku.len() > 255 {
                return Err("every item needs a `sku` of 1 to 255 bytes".into());
            }
            if item.categories.len() > 5 {
                return Err(format!("item {:?} has {} categories; at most 5", item.sku, item.categories.len()));
            }
            if item.price.is_some_and(|p| !p.is_finite()) {
                return Err(format!("item {:?}: `price` must be a finite number", item.sku));
            }
        }
        Ok(())
    }

    fn has_amounts(&self) -> bool {
        [self.subtotal, self.tax, self.shipping, self.discount]
            .iter()
            .any(Option::is_some)
    }
}

/// A marketing campaign a visit came from (Matomo's `campaign_*` fields).
/// Empty strings count as missing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Campaign {
    /// Campaign name (`mtm_campaign`, `utm_campaign`, `pk_campaign`).
    pub name: Option<String>,
    /// Campaign source (`mtm_source`, `utm_source`).
    pub source: Option<String>,
    /// Campaign medium (`mtm_medium`, `utm_medium`).
    pub medium: Option<String>,
    /// Campaign keyword (`mtm_kwd`, `utm_term`, `pk_kwd`).
    pub keyword: Option<String>,
    /// Campaign content (`mtm_content`, `utm_content`).
    pub content: Option<String>,
    /// Campaign id (`mtm_cid`, `utm_id`).
    pub id: Option<String>,
}

/// The browser plugins Matomo records (`config_<name>`), in its order,
/// with the tracker parameter that reports each (`fla=1`): the names a
/// hit's `plugins` lists.
///
/// # Examples
/// ```
/// assert_eq!(hitmap::PLUGIN_NAMES[1], ("flash", "fla"));
/// ```
pub const PLUGIN_NAMES: [(&str, &str); 8] = [
    ("cookie", "cookie"),
    ("flash", "fla"),
    ("java", "java"),
    ("pdf", "pdf"),
    ("quicktime", "qt"),
    ("realplayer", "realp"),
    ("silverlight", "ag"),
    ("windowsmedia", "wma"),
];

/// The stored form of a `plugins` value: its names (any case, any
/// order, separated by commas and spaces) in [`PLUGIN_NAMES`] order,
/// each once; an error names an unknown one. A value already in that
/// form is returned as it is (the trackers' usual case: no copy).
///
/// # Examples
/// ```
/// assert_eq!(hitmap::plugins_text("Java, cookie,java").unwrap(), "cookie,java");
/// assert!(matches!(hitmap::plugins_text("cookie,java"), Ok(std::borrow::Cow::Borrowed(_))));
/// assert!(hitmap::plugins_text("shockwave").is_err());
/// ```
pub fn plugins_text(value: &str) -> Result<Cow<'_, str>, String> {
    let mut seen = [false; PLUGIN_NAMES.len()];
    // Already stored form: lower-case names in order, one comma between.
    let mut stored = true;
    let mut last = None;
    for name in value.split(',') {
        let names = name.split(' ').filter(|n| !n.is_empty());
        stored &= !name.is_empty() && !name.contains(' ');
        for name in names {
            let (i, (known, on)) = PLUGIN_NAMES
                .iter()
                .map(|p| p.0)
                .zip(seen.iter_mut())
                .enumerate()
                .find(|(_, (n, _))| n.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    format!(
                        "`plugins`: unknown plugin {name:?} (known: {})",
                        PLUGIN_NAMES.map(|p| p.0).join(", ")
                    )
                })?;
            stored &= last.is_none_or(|l| l < i) && known == name;
            last = Some(i);
            *on = true;
        }
    }
    if stored {
        return Ok(Cow::Borrowed(value));
    }
    Ok(Cow::Owned(
        PLUGIN_NAMES
            .iter()
            .zip(seen)
            .filter(|(_, on)| *on)
            .map(|(p, _)| p.0)
            .collect::<Vec<_>>()
            .join(","),
    ))
}

/// hitmap's own visit-level attributes. They are kept like custom
/// dimensions (first carrier wins, exact rebuilds) under reserved names
/// that start with `$`, which no custom dimension may use, and never show
/// up as custom dimensions.
pub(crate) mod attr {
    /// Number of attributes.
    pub const N: usize = 24;
    /// Reserved dimension names, by attribute index.
    pub const NAMES: [&str; N] = [
        "$visit",
        "$referrer_type",
        "$referrer_name",
        "$referrer_keyword",
        "$campaign_name",
        "$campaign_source",
        "$campaign_medium",
        "$campaign_keyword",
        "$campaign_content",
        "$campaign_id",
        "$browser_version",
        "$os_version",
        "$resolution",
        "$local_hour",
        "$new_visit",
        "$region",
        "$region_name",
        "$city",
        "$latitude",
        "$longitude",
        "$device_brand",
        "$device_model",
        "$browser_engine",
        "$plugins",
    ];
    pub const VISIT: usize = 0;
    pub const REFERRER_TYPE: usize = 1;
    pub const REFERRER_NAME: usize = 2;
    pub const REFERRER_KEYWORD: usize = 3;
    pub const CAMPAIGN: usize = 4;
    /// The first attribute after the campaign's: each is a top-level NDJSON
    /// field named as the attribute without its `$`.
    pub const AFTER_CAMPAIGN: usize = CAMPAIGN + CAMPAIGN_KEYS.len();
    pub const BROWSER_VERSION: usize = 10;
    pub const OS_VERSION: usize = 11;
    pub const RESOLUTION: usize = 12;
    pub const LOCAL_HOUR: usize = 13;
    /// `1` on a hit that starts a new visit whatever the gap before it.
    pub const NEW_VISIT: usize = 14;
    /// The visit's location: region code, region name, city, latitude
    /// and longitude (the last two numbers, kept as their shortest text).
    pub const REGION: usize = 15;
    pub const REGION_NAME: usize = 16;
    pub const CITY: usize = 17;
    pub const LATITUDE: usize = 18;
    pub const LONGITUDE: usize = 19;
    /// The device's brand, model, and the browser's engine (Matomo's
    /// DeviceDetector names).
    pub const DEVICE_BRAND: usize = 20;
    pub const DEVICE_MODEL: usize = 21;
    pub const BROWSER_ENGINE: usize = 22;
    /// The browser's plugins (and cookie support), Matomo's names joined
    /// by commas in [`PLUGIN_NAMES`](super::PLUGIN_NAMES) order.
    pub const PLUGINS: usize = 23;

    /// The keys of the NDJSON `campaign` object, by offset from [`CAMPAIGN`].
    pub const CAMPAIGN_KEYS: [&str; 6] = ["name", "source", "medium", "keyword", "content", "id"];

    /// The longest value a top-level attribute may have, in bytes: names
    /// of places 255 (Matomo's column), the others 100.
    pub fn max_len(i: usize) -> usize {
        if matches!(i, REGION_NAME | CITY) { 255 } else { 100 }
    }

    /// A coordinate's stored text: its shortest decimal form.
    pub fn coordinate(x: f64) -> String {
        // One text for zero, whatever its sign.
        format!("{}", if x == 0.0 { 0.0 } else { x })
    }

    /// The index of a reserved name.
    pub fn index(name: &str) -> Option<usize> {
        NAMES.iter().position(|n| *n == name)
    }
}

/// One hit, owned: what a Rust caller builds and passes to
/// [`Engine::ingest`](crate::Engine::ingest).
///
/// Empty optional strings count as missing.
///
/// # Examples
/// ```
/// use hitmap::{Hit, HitType};
/// let hit = Hit::pageview(1, 1_717_200_000, "visitor-1", "https://x.org/news/a")
///     .with_title("News A")
///     .with_device("smartphone")
///     .with_dim("department", "HR");
/// assert_eq!(hit.kind, HitType::Pageview);
/// assert!(hit.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hit {
    /// The website (Matomo `idsite`), 1..2^31-1.
    pub site: u32,
    /// Unix seconds.
    pub ts: i64,
    /// Stable visitor key, 1..128 bytes.
    pub visitor: String,
    /// The action kind.
    pub kind: HitType,
    /// Page, file or outbound link URL (required for those kinds).
    pub url: Option<String>,
    /// Page title.
    pub title: Option<String>,
    /// Referrer URL.
    pub referrer: Option<String>,
    /// Logged-in user id.
    pub user: Option<String>,
    /// Device type (`desktop`, `smartphone`, ...).
    pub device: Option<String>,
    /// Browser name.
    pub browser: Option<String>,
    /// Operating system name.
    pub os: Option<String>,
    /// ISO 3166-1 alpha-2 country code, lower case.
    pub country: Option<String>,
    /// Language code such as `en-gb`.
    pub language: Option<String>,
    /// Site-search keyword (required for `search`).
    pub search: Option<String>,
    /// A site search's category (Matomo's `search_cat`; `search` hits
    /// only).
    pub search_category: Option<String>,
    /// How many results a site search found (Matomo's `search_count`;
    /// `search` hits only): 0 makes its keyword a keyword without results.
    pub search_count: Option<u32>,
    /// Event (required for `event`).
    pub event: Option<Event>,
    /// Custom dimensions, name to value. Names must not start with `$`.
    pub dims: Vec<(String, String)>,
    /// An explicit visit id (Matomo's `idvisit`): a visitor's hits with the
    /// same id form one visit whatever the gaps between them (still cut at
    /// the site's midnight), and hits with different ids never share a
    /// visit. Without it, visits follow the timeout rule.
    pub visit: Option<String>,
    /// The visit's referrer type as recorded elsewhere (`direct`,
    /// `search`, `website`, `campaign`, `social`); when the visit's first
    /// hit that carries one has it, it wins over the derivation from
    /// `referrer` and the landing URL.
    pub referrer_type: Option<String>,
    /// The referrer's name as recorded elsewhere (search engine, social
    /// network, website host or campaign name).
    pub referrer_name: Option<String>,
    /// The referrer's keyword as recorded elsewhere (search keyword or
    /// campaign keyword).
    pub referrer_keyword: Option<String>,
    /// The campaign the visit came from, as recorded elsewhere.
    pub campaign: Option<Campaign>,
    /// The browser's version (`120.0`).
    pub browser_version: Option<String>,
    /// The operating system's version (`10`, `14.2`).
    pub os_version: Option<String>,
    /// The screen resolution (`1920x1080`).
    pub resolution: Option<String>,
    /// The hour on the visitor's clock, 0 to 23 (Matomo's `h`).
    pub local_hour: Option<u8>,
    /// The region of the visitor's location: its code within the country
    /// (ISO 3166-2 without the country part, Matomo's `regionCode`: `VA`).
    pub region: Option<String>,
    /// The region's name (`Virginia`), as reports label it.
    pub region_name: Option<String>,
    /// The city of the visitor's location (`Ashburn`).
    pub city: Option<String>,
    /// The location's latitude, -90 to 90.
    pub latitude: Option<f64>,
    /// The location's longitude, -180 to 180.
    pub longitude: Option<f64>,
    /// The device's brand (`Apple`, `Samsung`), as Matomo's DeviceDetector
    /// names it.
    pub device_brand: Option<String>,
    /// The device's model (`iPhone`, `Galaxy S5`).
    pub device_model: Option<String>,
    /// The browser's engine (`Blink`, `WebKit`, `Gecko`, `Trident`).
    pub browser_engine: Option<String>,
    /// The browser's plugins and cookie support, Matomo's names joined by
    /// commas (`cookie,flash,java`; the names are `cookie`, `flash`,
    /// `java`, `pdf`, `quicktime`, `realplayer`, `silverlight`,
    /// `windowsmedia`): `DevicePlugins.getPlugin`.
    pub plugins: Option<String>,
    /// This hit starts a new visit of its visitor, whatever the gap before
    /// it (Matomo's `new_visit=1`); later hits continue that visit by the
    /// timeout rule.
    pub new_visit: bool,
    /// A page view's load timings and an action's bandwidth.
    pub perf: Perf,
    /// What a `goal`, `order` or `cart` hit records (required for those
    /// kinds, absent on actions).
    pub conversion: Option<Conversion>,
}

macro_rules! with_fields {
    ($($(#[$doc:meta])* $method:ident => $field:ident),* $(,)?) => {
        $(
            $(#[$doc])*
            pub fn $method(mut self, value: impl Into<String>) -> Self {
                self.$field = Some(value.into());
                self
            }
        )*
    };
}

impl Hit {
    /// A hit of the given kind with no optional fields.
    ///
    /// # Examples
    /// ```
    /// let h = hitmap::Hit::new(1, 0, "v", hitmap::HitType::Search).with_search("holidays");
    /// assert!(h.validate().is_ok());
    /// ```
    pub fn new(site: u32, ts: i64, visitor: impl Into<String>, kind: HitType) -> Hit {
        Hit {
            site,
            ts,
            visitor: visitor.into(),
            kind,
            ..Hit::default()
        }
    }

    /// A page view of `url`.
    ///
    /// # Examples
    /// ```
    /// let h = hitmap::Hit::pageview(1, 1_717_200_000, "v", "https://x.org/");
    /// assert_eq!(h.url.as_deref(), Some("https://x.org/"));
    /// ```
    pub fn pageview(site: u32, ts: i64, visitor: impl Into<String>, url: impl Into<String>) -> Hit {
        Hit::new(site, ts, visitor, HitType::Pageview).with_url(url)
    }

    with_fields! {
        /// Sets `url`.
        with_url => url,
        /// Sets `title`.
        with_title => title,
        /// Sets `referrer`.
        with_referrer => referrer,
        /// Sets `user`.
        with_user => user,
        /// Sets `device`.
        with_device => device,
        /// Sets `browser`.
        with_browser => browser,
        /// Sets `os`.
        with_os => os,
        /// Sets `country`.
        with_country => country,
        /// Sets `language`.
        with_language => language,
        /// Sets `search` (the site-search keyword).
        with_search => search,
        /// Sets `search_category` (a site search's category).
        with_search_category => search_category,
        /// Sets `visit` (an explicit visit id).
        with_visit => visit,
        /// Sets `referrer_type` (`direct`, `search`, `website`, `campaign`, `social`).
        with_referrer_type => referrer_type,
        /// Sets `referrer_name`.
        with_referrer_name => referrer_name,
        /// Sets `referrer_keyword`.
        with_referrer_keyword => referrer_keyword,
        /// Sets `plugins` (`cookie,flash`: the browser's plugins).
        with_plugins => plugins,
    }

    /// Sets the conversion of a `goal`, `order` or `cart` hit.
    pub fn with_conversion(mut self, conversion: Conversion) -> Self {
        self.conversion = Some(conversion);
        self
    }

    /// Sets how many results a site search found.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Hit, HitType};
    /// let h = Hit::new(1, 1_717_200_000, "v", HitType::Search)
    ///     .with_url("https://x.org/?q=shoes")
    ///     .with_search("shoes")
    ///     .with_search_category("Products")
    ///     .with_search_count(0);
    /// assert!(h.validate().is_ok());
    /// assert!(h.to_ndjson().contains(r#""search_count":0"#));
    /// ```
    pub fn with_search_count(mut self, n: u32) -> Self {
        self.search_count = Some(n);
        self
    }

    /// Sets the load timings and bandwidth.
    pub fn with_perf(mut self, perf: Perf) -> Self {
        self.perf = perf;
        self
    }

    /// Sets the campaign.
    pub fn with_campaign(mut self, campaign: Campaign) -> Self {
        self.campaign = Some(campaign);
        self
    }

    /// The hitmap attributes of this hit, by [`attr`] index.
    fn attrs(&self) -> [Option<Cow<'_, str>>; attr::N] {
        self.fields().attrs()
    }

    /// The hit with its text borrowed: what [`Engine::ingest_refs_with`]
    /// takes, and how both ingests read a hit.
    ///
    /// [`Engine::ingest_refs_with`]: crate::Engine::ingest_refs_with
    ///
    /// # Examples
    /// ```
    /// let h = hitmap::Hit::pageview(1, 5, "v", "https://x.org/").with_dim("team", "HR");
    /// let r = h.as_ref();
    /// assert_eq!((r.visitor, r.url, r.dims[0]), ("v", Some("https://x.org/"), ("team", "HR")));
    /// assert_eq!(r.to_hit(), h);
    /// ```
    pub fn as_ref(&self) -> HitRef<'_> {
        HitRef {
            dims: self
                .dims
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            ..self.fields()
        }
    }

    /// [`Hit::as_ref`] but the custom dimensions (left empty: no vector).
    fn fields(&self) -> HitRef<'_> {
        fn s(v: &Option<String>) -> Option<&str> {
            v.as_deref()
        }
        HitRef {
            site: self.site,
            ts: self.ts,
            visitor: &self.visitor,
            kind: self.kind,
            url: s(&self.url),
            title: s(&self.title),
            referrer: s(&self.referrer),
            user: s(&self.user),
            device: s(&self.device),
            browser: s(&self.browser),
            os: s(&self.os),
            country: s(&self.country),
            language: s(&self.language),
            search: s(&self.search),
            search_category: s(&self.search_category),
            search_count: self.search_count,
            event: self.event.as_ref().map(|e| EventRef {
                category: &e.category,
                action: &e.action,
                name: e.name.as_deref(),
                value: e.value,
            }),
            dims: Vec::new(),
            visit: s(&self.visit),
            referrer_type: s(&self.referrer_type),
            referrer_name: s(&self.referrer_name),
            referrer_keyword: s(&self.referrer_keyword),
            campaign: self.campaign.as_ref().map(|c| CampaignRef {
                name: c.name.as_deref(),
                source: c.source.as_deref(),
                medium: c.medium.as_deref(),
                keyword: c.keyword.as_deref(),
                content: c.content.as_deref(),
                id: c.id.as_deref(),
            }),
            browser_version: s(&self.browser_version),
            os_version: s(&self.os_version),
            resolution: s(&self.resolution),
            local_hour: self.local_hour,
            region: s(&self.region),
            region_name: s(&self.region_name),
            city: s(&self.city),
            latitude: self.latitude,
            longitude: self.longitude,
            device_brand: s(&self.device_brand),
            device_model: s(&self.device_model),
            browser_engine: s(&self.browser_engine),
            plugins: s(&self.plugins),
            new_visit: self.new_visit,
            perf: self.perf,
            conversion: self.conversion.clone(),
        }
    }

    /// Sets the attribute stored under a reserved `$` name; `false` if the
    /// name is not one.
    pub(crate) fn set_attr(&mut self, name: &str, value: String) -> bool {
        let Some(i) = attr::index(name) else {
            return false;
        };
        let campaign = || Campaign::default();
        let slot = match i {
            attr::VISIT => &mut self.visit,
            attr::REFERRER_TYPE => &mut self.referrer_type,
            attr::REFERRER_NAME => &mut self.referrer_name,
            attr::REFERRER_KEYWORD => &mut self.referrer_keyword,
            attr::BROWSER_VERSION => &mut self.browser_version,
            attr::OS_VERSION => &mut self.os_version,
            attr::RESOLUTION => &mut self.resolution,
            attr::REGION => &mut self.region,
            attr::REGION_NAME => &mut self.region_name,
            attr::CITY => &mut self.city,
            attr::DEVICE_BRAND => &mut self.device_brand,
            attr::DEVICE_MODEL => &mut self.device_model,
            attr::BROWSER_ENGINE => &mut self.browser_engine,
            attr::PLUGINS => &mut self.plugins,
            attr::LOCAL_HOUR => {
                self.local_hour = value.parse().ok();
                return true;
            }
            attr::LATITUDE => {
                self.latitude = value.parse().ok();
                return true;
            }
            attr::LONGITUDE => {
                self.longitude = value.parse().ok();
                return true;
            }
            attr::NEW_VISIT => {
                self.new_visit = value == "1";
                return true;
            }
            _ => {
                let c = self.campaign.get_or_insert_with(campaign);
                match i {
                    4 => &mut c.name,
                    5 => &mut c.source,
                    6 => &mut c.medium,
                    7 => &mut c.keyword,
                    8 => &mut c.content,
                    _ => &mut c.id,
                }
            }
        };
        *slot = Some(value);
        true
    }

    /// Sets the event.
    pub fn with_event(mut self, event: Event) -> Self {
        self.event = Some(event);
        self
    }

    /// Adds a custom dimension.
    pub fn with_dim(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.dims.push((name.into(), value.into()));
        self
    }

    /// Checks the hit against the input contract; the error says which
    /// field is wrong and why.
    ///
    /// # Examples
    /// ```
    /// let h = hitmap::Hit::new(1, 0, "", hitmap::HitType::Pageview);
    /// assert!(h.validate().unwrap_err().contains("visitor"));
    /// ```
    pub fn validate(&self) -> Result<(), String> {
        self.view().validate()
    }

    /// The hit as one NDJSON line of the input contract (no newline).
    ///
    /// # Examples
    /// ```
    /// let h = hitmap::Hit::pageview(1, 5, "v", "https://x.org/").with_dim("team", "HR");
    /// assert_eq!(h.to_ndjson(), r#"{"site":1,"ts":5,"visitor":"v","type":"pageview","url":"https://x.org/","dims":{"team":"HR"}}"#);
    /// ```
    pub fn to_ndjson(&self) -> String {
        self.to_ndjson_with_time(self.ts.into())
    }

    /// [`Hit::to_ndjson`] with `ts` written as given (an RFC 3339 string
    /// of the same second, for the heavy sample).
    pub(crate) fn to_ndjson_with_time(&self, ts: serde_json::Value) -> String {
        // Written field by field (a JSON map built per hit cost most of a
        // tracked hit's time in the committer); a conversion, or a
        // dimension named twice (the map keeps its first place and last
        // value), goes the map's way.
        let twice = self.dims.len() > 1 && {
            let mut names: Vec<&str> = self.dims.iter().map(|(k, _)| k.as_str()).collect();
            names.sort_unstable();
            names.windows(2).any(|w| w.first() == w.last())
        };
        if self.conversion.is_some() || twice {
            return self.ndjson_by_map(ts);
        }
        let mut out = Vec::with_capacity(256);
        let written = serde::Serialize::serialize(
            &NdjsonFields { hit: self, ts: &ts },
            &mut serde_json::Serializer::new(&mut out),
        );
        match written.ok().and_then(|()| String::from_utf8(out).ok()) {
            Some(line) => line,
            None => self.ndjson_by_map(ts),
        }
    }

    /// The optional text fields NDJSON writes after `type`, in order.
    fn text_fields(&self) -> [(&'static str, &Option<String>); 11] {
        [
            ("url", &self.url),
            ("title", &self.title),
            ("referrer", &self.referrer),
            ("user", &self.user),
            ("device", &self.device),
            ("browser", &self.browser),
            ("os", &self.os),
            ("country", &self.country),
            ("language", &self.language),
            ("search", &self.search),
            ("search_category", &self.search_category),
        ]
    }

    /// [`Hit::to_ndjson_with_time`] through a `serde_json::Map`: the
    /// reference the field-by-field writer is tested against.
    pub(crate) fn ndjson_by_map(&self, ts: serde_json::Value) -> String {
        let mut o = serde_json::Map::new();
        o.insert("site".into(), self.site.into());
        o.insert("ts".into(), ts);
        o.insert("visitor".into(), self.visitor.clone().into());
        o.insert("type".into(), self.kind.name().into());
        for (name, value) in self.text_fields() {
            if let Some(v) = value {
                o.insert(name.into(), v.clone().into());
            }
        }
        if let Some(n) = self.search_count {
            o.insert("search_count".into(), n.into());
        }
        if let Some(e) = &self.event {
            let mut ev = serde_json::Map::new();
            ev.insert("category".into(), e.category.clone().into());
            ev.insert("action".into(), e.action.clone().into());
            if let Some(n) = &e.name {
                ev.insert("name".into(), n.clone().into());
            }
            if let Some(v) = e.value {
                ev.insert("value".into(), v.into());
            }
            o.insert("event".into(), ev.into());
        }
        if !self.dims.is_empty() {
            let dims: serde_json::Map<String, serde_json::Value> = self
                .dims
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect();
            o.insert("dims".into(), dims.into());
        }
        let attrs = self.attrs();
        let top = |i: &usize| !(attr::CAMPAIGN..attr::AFTER_CAMPAIGN).contains(i);
        for (i, (name, v)) in attr::NAMES.iter().zip(&attrs).enumerate() {
            if let Some(v) = v
                && top(&i)
            {
                let value = match (i, self.local_hour) {
                    (attr::LOCAL_HOUR, Some(h)) => h.into(),
                    (attr::NEW_VISIT, _) => true.into(),
                    (attr::LATITUDE | attr::LONGITUDE, _) => {
                        v.parse::<f64>().map_or_else(|_| v.to_string().into(), Into::into)
                    }
                    _ => v.to_string().into(),
                };
                o.insert(name.trim_start_matches('$').into(), value);
            }
        }
        let campaign: serde_json::Map<String, serde_json::Value> = attr::CAMPAIGN_KEYS
            .iter()
            .zip(&attrs[attr::CAMPAIGN..attr::AFTER_CAMPAIGN])
            .filter_map(|(k, v)| Some(((*k).to_owned(), v.as_ref()?.to_string().into())))
            .collect();
        if !campaign.is_empty() {
            o.insert("campaign".into(), campaign.into());
        }
        for (i, name) in Perf::FIELDS.iter().enumerate() {
            if let Some(v) = self.perf.get(i) {
                o.insert((*name).into(), v.into());
            }
        }
        if let Some(c) = &self.conversion {
            c.to_json(&mut o);
        }
        serde_json::Value::Object(o).to_string()
    }

    pub(crate) fn view(&self) -> HitView<'_> {
        let dims = self.dims.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        self.fields().view_with(dims)
    }
}

/// A hit without a conversion as its NDJSON fields, in
/// [`Hit::ndjson_by_map`]'s order and with its values.
struct NdjsonFields<'a> {
    hit: &'a Hit,
    ts: &'a serde_json::Value,
}

impl serde::Serialize for NdjsonFields<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        /// A JSON object of the given entries, those with a value.
        struct Object<'a, V>(&'a [(&'a str, Option<V>)]);
        impl<V: serde::Serialize> serde::Serialize for Object<'_, V> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                for (k, v) in self.0 {
                    if let Some(v) = v {
                        m.serialize_entry(k, v)?;
                    }
                }
                m.end()
            }
        }
        /// A JSON number or, when the text is not one, the text.
        enum Attr<'a> {
            Text(&'a str),
            Hour(u8),
            True,
            Float(f64),
        }
        impl serde::Serialize for Attr<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    Attr::Text(t) => s.serialize_str(t),
                    Attr::Hour(h) => s.serialize_u8(*h),
                    Attr::True => s.serialize_bool(true),
                    Attr::Float(f) => s.serialize_f64(*f),
                }
            }
        }
        let h = self.hit;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("site", &h.site)?;
        m.serialize_entry("ts", self.ts)?;
        m.serialize_entry("visitor", &h.visitor)?;
        m.serialize_entry("type", h.kind.name())?;
        for (name, value) in h.text_fields() {
            if let Some(v) = value {
                m.serialize_entry(name, v)?;
            }
        }
        if let Some(n) = h.search_count {
            m.serialize_entry("search_count", &n)?;
        }
        if let Some(e) = &h.event {
            #[derive(serde::Serialize)]
            struct Ev<'a> {
                category: &'a str,
                action: &'a str,
                #[serde(skip_serializing_if = "Option::is_none")]
                name: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                value: Option<f64>,
            }
            let ev = Ev {
                category: &e.category,
                action: &e.action,
                name: e.name.as_deref(),
                value: e.value,
            };
            m.serialize_entry("event", &ev)?;
        }
        if !h.dims.is_empty() {
            let dims: Vec<(&str, Option<&str>)> = h
                .dims
                .iter()
                .map(|(k, v)| (k.as_str(), Some(v.as_str())))
                .collect();
            m.serialize_entry("dims", &Object(&dims))?;
        }
        let attrs = h.attrs();
        for (i, (name, v)) in attr::NAMES.iter().zip(&attrs).enumerate() {
            let Some(v) = v else { continue };
            if (attr::CAMPAIGN..attr::AFTER_CAMPAIGN).contains(&i) {
                continue;
            }
            let value = match (i, h.local_hour) {
                (attr::LOCAL_HOUR, Some(hour)) => Attr::Hour(hour),
                (attr::NEW_VISIT, _) => Attr::True,
                (attr::LATITUDE | attr::LONGITUDE, _) => {
                    v.parse::<f64>().map_or(Attr::Text(v), Attr::Float)
                }
                _ => Attr::Text(v),
            };
            m.serialize_entry(name.trim_start_matches('$'), &value)?;
        }
        let campaign: Vec<(&str, Option<&str>)> = attr::CAMPAIGN_KEYS
            .iter()
            .zip(&attrs[attr::CAMPAIGN..attr::AFTER_CAMPAIGN])
            .map(|(k, v)| (*k, v.as_deref()))
            .collect();
        if campaign.iter().any(|(_, v)| v.is_some()) {
            m.serialize_entry("campaign", &Object(&campaign))?;
        }
        for (i, name) in Perf::FIELDS.iter().enumerate() {
            if let Some(v) = h.perf.get(i) {
                m.serialize_entry(name, &v)?;
            }
        }
        m.end()
    }
}

/// A hit whose text is borrowed: [`Hit`]'s fields, each string a slice of
/// text held elsewhere (Arrow columns, a parser's buffer), so a host can
/// hand hits to [`Engine::ingest_refs_with`] without copying each field
/// into a [`Hit`]. Empty optional strings count as missing, as in a
/// [`Hit`]; [`Hit::as_ref`] and [`HitRef::to_hit`] go between the two.
///
/// [`Engine::ingest_refs_with`]: crate::Engine::ingest_refs_with
///
/// # Examples
/// ```
/// use hitmap::{Engine, HitRef, IngestOptions, SiteConfig};
/// let mut e = Engine::in_memory();
/// e.add_site(SiteConfig::new(1))?;
/// let column = String::from("https://x.org/a"); // text held by the host
/// let hit = HitRef {
///     site: 1,
///     ts: 1_717_200_000,
///     visitor: "v",
///     url: Some(&column),
///     dims: vec![("team", "HR")],
///     ..HitRef::default()
/// };
/// let out = e.ingest_refs_with([hit], &IngestOptions::default())?;
/// assert_eq!(out.accepted, 1);
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HitRef<'a> {
    /// The website (Matomo `idsite`), 1..2^31-1.
    pub site: u32,
    /// Unix seconds.
    pub ts: i64,
    /// Stable visitor key.
    pub visitor: &'a str,
    /// Action type.
    pub kind: HitType,
    /// Absolute URL.
    pub url: Option<&'a str>,
    /// Page title.
    pub title: Option<&'a str>,
    /// Absolute referrer URL.
    pub referrer: Option<&'a str>,
    /// Logged-in user id.
    pub user: Option<&'a str>,
    /// Device type.
    pub device: Option<&'a str>,
    /// Browser name.
    pub browser: Option<&'a str>,
    /// Operating system.
    pub os: Option<&'a str>,
    /// Country code.
    pub country: Option<&'a str>,
    /// Language code.
    pub language: Option<&'a str>,
    /// Site-search keyword.
    pub search: Option<&'a str>,
    /// A site search's category.
    pub search_category: Option<&'a str>,
    /// How many results a site search found.
    pub search_count: Option<u32>,
    /// The event of an `event` hit.
    pub event: Option<EventRef<'a>>,
    /// Custom dimensions (name, value).
    pub dims: Vec<(&'a str, &'a str)>,
    /// The visit id the tracker gave.
    pub visit: Option<&'a str>,
    /// Referrer type recorded by the tracker.
    pub referrer_type: Option<&'a str>,
    /// Referrer name recorded by the tracker.
    pub referrer_name: Option<&'a str>,
    /// Referrer keyword recorded by the tracker.
    pub referrer_keyword: Option<&'a str>,
    /// The campaign.
    pub campaign: Option<CampaignRef<'a>>,
    /// Browser version.
    pub browser_version: Option<&'a str>,
    /// Operating system version.
    pub os_version: Option<&'a str>,
    /// Screen resolution.
    pub resolution: Option<&'a str>,
    /// The visitor's local hour (0..23).
    pub local_hour: Option<u8>,
    /// Region code of the visitor's location.
    pub region: Option<&'a str>,
    /// Region name.
    pub region_name: Option<&'a str>,
    /// City.
    pub city: Option<&'a str>,
    /// Latitude, -90 to 90.
    pub latitude: Option<f64>,
    /// Longitude, -180 to 180.
    pub longitude: Option<f64>,
    /// Device brand.
    pub device_brand: Option<&'a str>,
    /// Device model.
    pub device_model: Option<&'a str>,
    /// Browser engine.
    pub browser_engine: Option<&'a str>,
    /// Browser plugins (`cookie,flash`).
    pub plugins: Option<&'a str>,
    /// Starts a new visit whatever the gap before it.
    pub new_visit: bool,
    /// Load timings and bandwidth.
    pub perf: Perf,
    /// The conversion of a `goal`, `order` or `cart` hit (owned: such hits
    /// are few).
    pub conversion: Option<Conversion>,
}

/// [`Event`] with its text borrowed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventRef<'a> {
    /// Event category (required).
    pub category: &'a str,
    /// Event action (required).
    pub action: &'a str,
    /// Event name.
    pub name: Option<&'a str>,
    /// Event value.
    pub value: Option<f64>,
}

/// [`Campaign`] with its text borrowed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CampaignRef<'a> {
    /// Campaign name.
    pub name: Option<&'a str>,
    /// Campaign source.
    pub source: Option<&'a str>,
    /// Campaign medium.
    pub medium: Option<&'a str>,
    /// Campaign keyword.
    pub keyword: Option<&'a str>,
    /// Campaign content.
    pub content: Option<&'a str>,
    /// Campaign id.
    pub id: Option<&'a str>,
}

impl<'a> HitRef<'a> {
    /// The hit with its text copied.
    pub fn to_hit(&self) -> Hit {
        let s = |v: Option<&str>| v.map(str::to_owned);
        Hit {
            site: self.site,
            ts: self.ts,
            visitor: self.visitor.to_owned(),
            kind: self.kind,
            url: s(self.url),
            title: s(self.title),
            referrer: s(self.referrer),
            user: s(self.user),
            device: s(self.device),
            browser: s(self.browser),
            os: s(self.os),
            country: s(self.country),
            language: s(self.language),
            search: s(self.search),
            search_category: s(self.search_category),
            search_count: self.search_count,
            event: self.event.as_ref().map(|e| Event {
                category: e.category.to_owned(),
                action: e.action.to_owned(),
                name: s(e.name),
                value: e.value,
            }),
            dims: self
                .dims
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            visit: s(self.visit),
            referrer_type: s(self.referrer_type),
            referrer_name: s(self.referrer_name),
            referrer_keyword: s(self.referrer_keyword),
            campaign: self.campaign.as_ref().map(|c| Campaign {
                name: s(c.name),
                source: s(c.source),
                medium: s(c.medium),
                keyword: s(c.keyword),
                content: s(c.content),
                id: s(c.id),
            }),
            browser_version: s(self.browser_version),
            os_version: s(self.os_version),
            resolution: s(self.resolution),
            local_hour: self.local_hour,
            region: s(self.region),
            region_name: s(self.region_name),
            city: s(self.city),
            latitude: self.latitude,
            longitude: self.longitude,
            device_brand: s(self.device_brand),
            device_model: s(self.device_model),
            browser_engine: s(self.browser_engine),
            plugins: s(self.plugins),
            new_visit: self.new_visit,
            perf: self.perf,
            conversion: self.conversion.clone(),
        }
    }

    /// The hitmap attributes of this hit, by [`attr`] index.
    fn attrs(&self) -> [Option<Cow<'a, str>>; attr::N] {
        let c = self.campaign.as_ref();
        let b = |v: Option<&'a str>| v.map(Cow::Borrowed);
        [
            b(self.visit),
            b(self.referrer_type),
            b(self.referrer_name),
            b(self.referrer_keyword),
            b(c.and_then(|c| c.name)),
            b(c.and_then(|c| c.source)),
            b(c.and_then(|c| c.medium)),
            b(c.and_then(|c| c.keyword)),
            b(c.and_then(|c| c.content)),
            b(c.and_then(|c| c.id)),
            b(self.browser_version),
            b(self.os_version),
            b(self.resolution),
            self.local_hour.map(|h| Cow::Owned(h.to_string())),
            self.new_visit.then_some(Cow::Borrowed("1")),
            b(self.region),
            b(self.region_name),
            b(self.city),
            self.latitude.map(|x| Cow::Owned(attr::coordinate(x))),
            self.longitude.map(|x| Cow::Owned(attr::coordinate(x))),
            b(self.device_brand),
            b(self.device_model),
            b(self.browser_engine),
            b(self.plugins),
        ]
    }

    pub(crate) fn view(&self) -> HitView<'a> {
        self.view_with(self.dims.iter().copied())
    }

    /// The view of this hit with the custom dimensions `dims` (a [`Hit`]
    /// gives its own, so viewing it collects them once).
    fn view_with(&self, dims: impl Iterator<Item = (&'a str, &'a str)>) -> HitView<'a> {
        fn s(v: Option<&str>) -> Option<Cow<'_, str>> {
            v.filter(|x| !x.is_empty()).map(Cow::Borrowed)
        }
        HitView {
            site: self.site,
            ts: self.ts,
            visitor: Cow::Borrowed(self.visitor),
            kind: self.kind,
            url: s(self.url),
            title: s(self.title),
            referrer: s(self.referrer),
            user: s(self.user),
            device: s(self.device),
            browser: s(self.browser),
            os: s(self.os),
            country: s(self.country),
            language: s(self.language),
            search: s(self.search),
            search_category: s(self.search_category),
            search_count: self.search_count.map(u64::from),
            event: self.event.as_ref().map(|e| EventView {
                category: Cow::Borrowed(e.category),
                action: Cow::Borrowed(e.action),
                name: s(e.name),
                value: e.value,
            }),
            dims: dims
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v)))
                .collect(),
            attrs: self.attrs().map(|v| v.filter(|x| !x.is_empty())),
            perf: std::array::from_fn(|i| self.perf.get(i)),
            conversion: self.conversion.clone().map(Box::new),
        }
    }
}

impl Conversion {
    /// The conversion's fields into an NDJSON object (the contract's
    /// `goal`, `revenue`, `order` and `items`).
    fn to_json(&self, o: &mut serde_json::Map<String, serde_json::Value>) {
        if let Some(g) = self.goal {
            o.insert("goal".into(), g.into());
        }
        if let Some(r) = self.revenue {
            o.insert("revenue".into(), r.into());
        }
        let mut order = serde_json::Map::new();
        if let Some(id) = &self.order_id {
            order.insert("id".into(), id.clone().into());
        }
        for (k, v) in [
            ("subtotal", self.subtotal),
            ("tax", self.tax),
            ("shipping", self.shipping),
            ("discount", self.discount),
        ] {
            if let Some(v) = v {
                order.insert(k.into(), v.into());
            }
        }
        if !order.is_empty() {
            o.insert("order".into(), order.into());
        }
        if !self.items.is_empty() {
            let items: Vec<serde_json::Value> = self
                .items
                .iter()
                .map(|i| {
                    let mut m = serde_json::Map::new();
                    m.insert("sku".into(), i.sku.clone().into());
                    if let Some(n) = &i.name {
                        m.insert("name".into(), n.clone().into());
                    }
                    if !i.categories.is_empty() {
                        m.insert("category".into(), i.categories.clone().into());
                    }
                    if let Some(p) = i.price {
                        m.insert("price".into(), p.into());
                    }
                    if let Some(q) = i.quantity {
                        m.insert("quantity".into(), q.into());
                    }
                    m.into()
                })
                .collect();
            o.insert("items".into(), items.into());
        }
        if let Some(c) = &self.content {
            let mut m = serde_json::Map::new();
            m.insert("name".into(), c.name.clone().into());
            for (k, v) in [("piece", &c.piece), ("target", &c.target), ("interaction", &c.interaction)] {
                if let Some(v) = v {
                    m.insert(k.into(), v.clone().into());
                }
            }
            o.insert("content".into(), m.into());
        }
    }
}

/// Earliest and latest accepted timestamps: years 1970 to 9999.
pub(crate) const MIN_TS: i64 = 0;
pub(crate) const MAX_TS: i64 = 253_402_300_799;
/// Most custom dimensions one hit may carry.
pub(crate) const MAX_DIMS: usize = 1000;
pub(crate) use crate::site::MAX_SITE;

/// A borrowed hit: what both the typed and the NDJSON paths turn into
/// before interning, so neither copies strings it does not keep.
#[derive(Debug, Clone, Default)]
pub(crate) struct HitView<'a> {
    pub site: u32,
    pub ts: i64,
    pub visitor: Cow<'a, str>,
    pub kind: HitType,
    pub url: Option<Cow<'a, str>>,
    pub title: Option<Cow<'a, str>>,
    pub referrer: Option<Cow<'a, str>>,
    pub user: Option<Cow<'a, str>>,
    pub device: Option<Cow<'a, str>>,
    pub browser: Option<Cow<'a, str>>,
    pub os: Option<Cow<'a, str>>,
    pub country: Option<Cow<'a, str>>,
    pub language: Option<Cow<'a, str>>,
    pub search: Option<Cow<'a, str>>,
    pub search_category: Option<Cow<'a, str>>,
    /// As read (checked by `validate`).
    pub search_count: Option<u64>,
    pub event: Option<EventView<'a>>,
    pub dims: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// hitmap attributes by [`attr`] index.
    pub attrs: [Option<Cow<'a, str>>; attr::N],
    /// [`Perf::FIELDS`] as read (checked by `validate`).
    pub perf: [Option<u64>; 7],
    /// A recorded conversion's data (boxed: most hits have none).
    pub conversion: Option<Box<Conversion>>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct EventView<'a> {
    pub category: Cow<'a, str>,
    pub action: Cow<'a, str>,
    pub name: Option<Cow<'a, str>>,
    pub value: Option<f64>,
}

impl HitView<'_> {
    /// A conversion hit's rules: its conversion is valid, and it carries
    /// no action or visit field (a conversion is not an action, and its
    /// visit's fields come from the visit's actions); only `url` (where
    /// it happened) and `visit` (the visit it belongs to).
    fn conversion_fields_ok(&self) -> Result<(), String> {
        let Some(c) = &self.conversion else {
            return Err(format!(
                "a {} hit needs its conversion: {}",
                self.kind.name(),
                match self.kind {
                    HitType::Goal => "`goal` (the goal id)",
                    HitType::Order => "`order.id` and `revenue`",
                    HitType::ProductView => "`items` (the product viewed)",
                    HitType::Content => "`content` with its `name`",
                    _ => "`revenue` and `items`",
                }
            ));
        };
        c.validate(self.kind)?;
        let visit_fields = [
            ("title", self.title.is_some()),
            ("referrer", self.referrer.is_some()),
            ("user", self.user.is_some()),
            ("device", self.device.is_some()),
            ("browser", self.browser.is_some()),
            ("os", self.os.is_some()),
            ("country", self.country.is_some()),
            ("language", self.language.is_some()),
            ("search", self.search.is_some()),
            ("search_category", self.search_category.is_some()),
            ("search_count", self.search_count.is_some()),
            ("event", self.event.is_some()),
            ("dims", !self.dims.is_empty()),
        ]
        .into_iter()
        .chain(Perf::FIELDS.iter().zip(&self.perf).map(|(n, v)| (*n, v.is_some())));
        let attrs = attr::NAMES
            .iter()
            .zip(&self.attrs)
            .filter(|(n, _)| **n != attr::NAMES[attr::VISIT])
            .map(|(n, v)| (n.trim_start_matches('$'), v.is_some()));
        if let Some((name, _)) = visit_fields.chain(attrs).find(|f| f.1) {
            return Err(format!(
                "`{name}` on a {} hit: a conversion carries only `url`, `visit`, `goal`, `revenue`, `order`, `items` and `content` (send the visit's fields on its page views)",
                self.kind.name()
            ));
        }
        Ok(())
    }

    /// The contract's rules that do not depend on the JSON encoding.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.site == 0 || self.site > MAX_SITE {
            return Err(format!(
                "`site` must be an integer from 1 to {MAX_SITE}, got {}",
                self.site
            ));
        }
        if !(MIN_TS..=MAX_TS).contains(&self.ts) {
            return Err(format!(
                "`ts` {} is outside the years 1970 to 9999",
                self.ts
            ));
        }
        if self.visitor.is_empty() || self.visitor.len() > 128 {
            return Err(format!(
                "`visitor` must be 1 to 128 bytes long, got {} bytes",
                self.visitor.len()
            ));
        }
        if self.kind.needs_url() && self.url.is_none() {
            return Err(format!("`url` is required for a {} hit", self.kind.name()));
        }
        if self.dims.len() > MAX_DIMS {
            return Err(format!(
                "`dims` has {} entries; at most {MAX_DIMS} are kept per hit",
                self.dims.len()
            ));
        }
        if let Some((name, _)) = self.dims.iter().find(|(k, _)| k.starts_with('$')) {
            return Err(format!(
                "custom dimension `{name}`: names starting with `$` are reserved for hitmap's own fields"
            ));
        }
        if let Some(t) = &self.attrs[attr::REFERRER_TYPE]
            && crate::referrer::ReferrerType::parse(t).is_none()
        {
            return Err(format!(
                "`referrer_type` must be direct, search, website, campaign, social or ai, got {t:?}"
            ));
        }
        if let Some(h) = &self.attrs[attr::LOCAL_HOUR]
            && !h.parse::<u8>().is_ok_and(|h| h < 24)
        {
            return Err(format!("`local_hour` must be an integer from 0 to 23, got {h}"));
        }
        let long = attr::NAMES
            .iter()
            .zip(&self.attrs)
            .enumerate()
            .skip(attr::AFTER_CAMPAIGN)
            .find_map(|(i, (name, v))| Some((i, name, v.as_ref()?)))
            .filter(|(i, _, v)| v.len() > attr::max_len(*i));
        if let Some((i, name, v)) = long {
            return Err(format!(
                "`{}` must be at most {} bytes long, got {} bytes",
                name.trim_start_matches('$'),
                attr::max_len(i),
                v.len()
            ));
        }
        let coordinates = [
            ("latitude", &self.attrs[attr::LATITUDE], 90.0),
            ("longitude", &self.attrs[attr::LONGITUDE], 180.0),
        ];
        for (name, v, bound) in coordinates {
            if let Some(v) = v
                && !v.parse::<f64>().is_ok_and(|x: f64| x.abs() <= bound)
            {
                return Err(format!(
                    "`{name}` must be a number from -{bound} to {bound}, got {v}"
                ));
            }
        }
        if let Some(v) = &self.attrs[attr::PLUGINS] {
            plugins_text(v)?;
        }
        if let Some(v) = &self.attrs[attr::VISIT]
            && v.len() > 128
        {
            return Err(format!(
                "`visit` must be at most 128 bytes long, got {} bytes",
                v.len()
            ));
        }
        for (i, (name, v)) in Perf::FIELDS.iter().zip(&self.perf).enumerate() {
            let Some(v) = *v else { continue };
            let max = Perf::max(i);
            if v > max {
                return Err(format!(
                    "`{name}` must be an integer from 0 to {max} ({}), got {v}",
                    if i == 6 { "bytes" } else { "milliseconds" }
                ));
            }
            if i < 6 && self.kind.is_action() && self.kind != HitType::Pageview {
                return Err(format!(
                    "`{name}` belongs to page views (a page's load timings), not a {} hit",
                    self.kind.name()
                ));
            }
        }
        if self.kind.is_action() {
            if let Some(c) = &self.conversion {
                return Err(if c.content.is_some() {
                    format!("`content` belongs to content hits (`\"type\":\"content\"`), not a {} hit", self.kind.name())
                } else {
                    format!(
                        "`goal`, `revenue`, `order` and `items` belong to goal, order and cart hits, not a {} hit",
                        self.kind.name()
                    )
                });
            }
        } else {
            self.conversion_fields_ok()?;
        }
        if self.kind != HitType::Search
            && let Some(name) = [
                ("search_category", self.search_category.is_some()),
                ("search_count", self.search_count.is_some()),
            ]
            .iter()
            .find_map(|(n, set)| set.then_some(*n))
        {
            return Err(format!(
                "`{name}` belongs to search hits (a site search's category and result count), not a {} hit",
                self.kind.name()
            ));
        }
        if let Some(n) = self.search_count
            && n > u64::from(u32::MAX)
        {
            return Err(format!(
                "`search_count` must be an integer from 0 to {}, got {n}",
                u32::MAX
            ));
        }
        match self.kind {
            HitType::Search if self.search.is_none() => {
                return Err("`search` (the keyword) is required for a search hit".into());
            }
            HitType::Event => match &self.event {
                None => return Err("`event` is required for an event hit".into()),
                Some(e) if e.category.is_empty() || e.action.is_empty() => {
                    return Err("`event.category` and `event.action` must be non-empty".into());
                }
                Some(e) if e.value.is_some_and(|v| !v.is_finite()) => {
                    return Err("`event.value` must be a finite number".into());
                }
                _ => {}
            },
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every optional field set, with values that test the writer's
    /// numbers (a NaN event value, text that is not a latitude).
    fn full(i: u32) -> Hit {
        let s = |x: &str| Some(format!("{x}-{i} \"quoted\" \\ é \u{1}"));
        Hit {
            site: 7,
            ts: 1_717_200_000 + i64::from(i),
            visitor: format!("v{i}"),
            kind: if i.is_multiple_of(2) { HitType::Pageview } else { HitType::Event },
            url: s("https://x.org/a"),
            title: s("t"),
            referrer: s("https://r.org/"),
            user: s("u"),
            device: s("d"),
            browser: s("b"),
            os: s("o"),
            country: s("gb"),
            language: s("en"),
            search: s("q"),
            search_category: s("c"),
            search_count: Some(i),
            event: Some(Event {
                category: "cat".into(),
                action: "act".into(),
                name: i.is_multiple_of(3).then(|| "n".into()),
                value: [None, Some(1.0), Some(f64::NAN), Some(-2.5e300)][i as usize % 4],
            }),
            dims: vec![("team".into(), "HR".into()), ("office".into(), format!("o{i}"))],
            visit: s("visit"),
            referrer_type: s("website"),
            referrer_name: s("name"),
            referrer_keyword: s("kw"),
            campaign: Some(Campaign {
                name: s("camp"),
                keyword: i.is_multiple_of(2).then(|| "k".into()),
                ..Campaign::default()
            }),
            browser_version: s("1.0"),
            os_version: s("10"),
            resolution: s("1x1"),
            local_hour: Some((i % 24) as u8),
            region: s("r"),
            region_name: s("rn"),
            city: s("c"),
            latitude: Some(51.5 + f64::from(i)),
            longitude: [Some(-0.1), Some(f64::INFINITY), None][i as usize % 3],
            device_brand: s("br"),
            device_model: s("m"),
            browser_engine: s("e"),
            plugins: s("pdf"),
            new_visit: i % 2 == 1,
            perf: Perf {
                times: [Some(1), None, Some(3), None, Some(5), Some(i)],
                bandwidth: Some(u64::from(i) * 1000),
            },
            conversion: None,
        }
    }

    #[test]
    fn the_field_writer_writes_what_the_map_writes() {
        let mut hits: Vec<Hit> = (0..48).map(full).collect();
        for profile in [crate::sample::Profile::default(), crate::sample::Profile::Heavy] {
            let cfg = crate::sample::SampleConfig {
                days: 3,
                visitors: 400,
                profile,
                ..crate::sample::SampleConfig::default()
            };
            hits.extend(crate::sample::generate(&cfg));
        }
        // Each field alone too.
        hits.push(Hit::pageview(1, 5, "v", "https://x.org/"));
        hits.push(Hit::new(1, 5, "v", HitType::Pageview).with_dim("a", "1").with_dim("b", "2"));
        let mut conversions = 0;
        for h in &hits {
            conversions += usize::from(h.conversion.is_some());
            assert_eq!(h.to_ndjson(), h.ndjson_by_map(h.ts.into()), "{h:?}");
            let rfc: serde_json::Value = "2024-06-01T00:00:05Z".into();
            assert_eq!(h.to_ndjson_with_time(rfc.clone()), h.ndjson_by_map(rfc));
        }
        assert!(hits.len() > 1000, "{}", hits.len());
        assert!(conversions < hits.len());
    }
}
