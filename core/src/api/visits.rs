//! `Live.getLastVisitsDetails` and `Live.getVisitorProfile`: visits with
//! their actions, newest first, in Matomo's shape.

use serde_json::{Map, Value, json};

use super::{ApiRequest, bad};
use crate::archive::DayArchive;
use crate::dict::NONE;
use crate::engine::Engine;
use crate::error::Result;
use crate::hit::{HitType, attr};
use crate::query::{Query, Resolved, Selection};
use crate::raw::VField;
use crate::segment::Segment;
use crate::visit_key::VisitKeys;
use chrono::NaiveDate;

/// Visits of a selection as (start, piece, visit), newest first.
/// The most visits one Live request details.
pub(crate) const MAX_LIVE_VISITS: usize = 10_000;

/// Days a Live request reads at a time, newest first.
const LIVE_WINDOW_DAYS: u64 = 7;

fn newest_first(sel: &Selection<'_>) -> Vec<(i64, usize, u32)> {
    let mut out = Vec::new();
    for (k, part) in sel.days.iter().enumerate() {
        let a = &*part.archive;
        out.extend(
            selected_visits(sel, part)
                .into_iter()
                .map(|v| (a.visit_start(v), k, v)),
        );
    }
    // Ties (same start second) by piece and visit, so the order is stable.
    out.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    out
}

fn action_type(kind: HitType) -> &'static str {
    match kind {
        HitType::Pageview => "action",
        HitType::Download => "download",
        HitType::Outlink => "outlink",
        HitType::Search => "search",
        HitType::Event => "event",
        HitType::Goal => "goal",
        HitType::Order => "ecommerceOrder",
        HitType::Cart => "ecommerceAbandonedCart",
        HitType::ProductView => "action",
        // Matomo's Live gives a content action its type id (13).
        HitType::Content => "13",
    }
}

/// The site's goals, evaluated visit by visit for Live's conversion
/// columns.
pub(super) struct Goals<'s> {
    states: Vec<crate::conversions::GoalState<'s>>,
    site: &'s crate::engine::SiteState,
    cells: Vec<(i64, crate::goal_sums::GoalCell)>,
}

impl<'s> Goals<'s> {
    pub(super) fn of(site: &'s crate::engine::SiteState) -> Goals<'s> {
        Goals {
            states: site
                .config
                .goals
                .iter()
                .map(crate::conversions::GoalState::new)
                .collect(),
            site,
            cells: Vec::new(),
        }
    }

    /// A visit's conversions of the site's goals: the goal, the time and
    /// the revenue of each.
    fn conversions(&mut self, a: &DayArchive, v: u32) -> Vec<(&'s crate::goal::Goal, i64, f64)> {
        let mut out = Vec::new();
        let mut each = Vec::new();
        for (s, goal) in self.states.iter_mut().zip(&self.site.config.goals) {
            each.clear();
            s.each_conversion(a, v, a.actions_of(v), &self.site.dicts, &mut each);
            out.extend(each.iter().map(|&(ts, revenue)| (goal, ts, revenue)));
        }
        out
    }

    /// Matomo's conversion columns of a visit: `goalConversions` (its
    /// goals' conversions, not its orders), `visitConverted` (a goal, an
    /// order, or an order request refused for its used id) and its icon,
    /// `visitEcommerceStatus` and its icon, and the orders' and abandoned
    /// cart's revenue, count and products.
    fn put(&mut self, m: &mut Map<String, Value>, a: &DayArchive, v: u32) {
        use crate::goal_sums::{CARTS, ORDERS};
        let converted = crate::goal_sums::visit_cells(
            &mut self.states,
            (a, v),
            || a.actions_of(v),
            &self.site.dicts,
            self.site.config.is_ecommerce(),
            self.site.history(),
            &mut self.cells,
        );
        let cell = |id: i64| self.cells.iter().find(|(k, _)| *k == id).map(|(_, c)| c);
        // Matomo's goalConversions counts goals only (`idgoal > 0`);
        // an order converts the visit too.
        let conversions: u64 = self
            .cells
            .iter()
            .filter(|(id, _)| *id != CARTS && *id != ORDERS)
            .map(|(_, c)| c.conversions)
            .sum();
        m.insert("goalConversions".into(), json!(conversions));
        m.insert("visitConverted".into(), json!(u8::from(converted)));
        m.insert(
            "visitConvertedIcon".into(),
            json!(converted.then_some("plugins/Morpheus/images/goal.svg")),
        );
        let (order, cart) = (cell(ORDERS), cell(CARTS));
        // Any order request makes the visit `ordered`, also one the
        // tracker refused (its id was used): Matomo's `visit_goal_buyer`.
        let ordered =
            self.site.config.is_ecommerce() && crate::recorded::ordered(a.conversions_of(v));
        let (status, icon) = match (ordered, cart.is_some()) {
            (false, false) => ("none", None),
            (true, false) => (
                "ordered",
                Some("plugins/Morpheus/images/ecommerceOrder.svg"),
            ),
            (false, true) => (
                "abandonedCart",
                Some("plugins/Morpheus/images/ecommerceAbandonedCart.svg"),
            ),
            (true, true) => (
                "orderedThenAbandonedCart",
                Some("plugins/Morpheus/images/ecommerceOrder.svg"),
            ),
        };
        m.insert("visitEcommerceStatus".into(), json!(status));
        m.insert("visitEcommerceStatusIcon".into(), json!(icon));
        // The orders' and the abandoned cart's revenue, count, products.
        for (c, [revenue, count, items]) in [
            (
                order,
                [
                    "totalEcommerceRevenue",
                    "totalEcommerceConversions",
                    "totalEcommerceItems",
                ],
            ),
            (
                cart,
                [
                    "totalAbandonedCartsRevenue",
                    "totalAbandonedCarts",
                    "totalAbandonedCartsItems",
                ],
            ),
        ] {
            m.insert(
                revenue.into(),
                super::goals::money(c.map_or(0.0, |c| c.revenue.value())),
            );
            m.insert(count.into(), json!(c.map_or(0, |c| c.conversions)));
            m.insert(items.into(), json!(c.map_or(0, |c| c.items)));
        }
    }
}

/// Matomo's money in the visitor log: `$5`, `$1,111.11` (cents rounded
/// as Matomo's, thousands grouped).
fn pretty_money(x: f64) -> String {
    let cents = super::goals::php_round(x * 100.0) as i64;
    let sign = if cents < 0 { "-" } else { "" };
    let (whole, fraction) = (cents.unsigned_abs() / 100, cents.unsigned_abs() % 100);
    let whole = super::thousands(whole);
    if fraction == 0 {
        format!("{sign}${whole}")
    } else {
        format!("{sign}${whole}.{fraction:02}")
    }
}

/// A visit's counted orders and its abandoned cart as the rows of Matomo's
/// visitor log (`ecommerceOrder`, `ecommerceAbandonedCart`), with their
/// times.
fn ecommerce_rows(
    site: &crate::engine::SiteState,
    a: &DayArchive,
    v: u32,
    referrer: &crate::referrer::Referrer,
) -> Vec<(i64, Value)> {
    if !site.config.is_ecommerce() {
        return Vec::new();
    }
    let recorded = a.conversions_of(v);
    let orders = site.history().orders(recorded);
    let cart = crate::recorded::abandoned_cart(recorded);
    orders
        .chain(cart)
        .map(|r| {
            let c = &r.data;
            let order = r.kind == HitType::Order;
            let items = crate::recorded::item_count(c);
            let details: Vec<Value> = c
                .items
                .iter()
                .map(|i| {
                    json!({
                        "itemSKU": i.sku,
                        "itemName": i.name.clone().unwrap_or_default(),
                        "itemCategory": i.categories.first().cloned().unwrap_or_default(),
                        "price": super::goals::money(i.price.unwrap_or(0.0)),
                        "quantity": i.quantity.unwrap_or(1),
                        "categories": i.categories,
                    })
                })
                .collect();
            let names: Vec<&str> = c
                .items
                .iter()
                .map(|i| i.name.as_deref().unwrap_or(&i.sku))
                .collect();
            // Matomo's template closes a parenthesis it never opened.
            let subtitle = format!(
                "{} revenue - {items} items: {})",
                pretty_money(c.revenue.unwrap_or(0.0)),
                names.join(", ")
            );
            let mut m = Map::new();
            if order {
                m.insert("type".into(), json!("ecommerceOrder"));
                m.insert("orderId".into(), json!(c.order_id));
            } else {
                m.insert("type".into(), json!("ecommerceAbandonedCart"));
            }
            m.insert(
                "revenue".into(),
                super::goals::money(c.revenue.unwrap_or(0.0)),
            );
            if order {
                for (k, x) in [
                    ("revenueSubTotal", c.subtotal),
                    ("revenueTax", c.tax),
                    ("revenueShipping", c.shipping),
                    ("revenueDiscount", c.discount),
                ] {
                    m.insert(k.into(), super::goals::money(x.unwrap_or(0.0)));
                }
            }
            m.insert("items".into(), json!(items));
            m.insert("referrerType".into(), json!(referrer.kind.name()));
            m.insert("referrerName".into(), json!(referrer.name));
            m.insert("referrerKeyword".into(), json!(referrer.keyword));
            m.insert("itemDetails".into(), Value::Array(details));
            let (icon, title) = if order {
                (
                    "ecommerceOrder",
                    format!("Ordered ({})", c.order_id.as_deref().unwrap_or("")),
                )
            } else {
                ("ecommerceAbandonedCart", "Abandoned Cart".to_owned())
            };
            m.insert(
                "icon".into(),
                json!(format!("plugins/Morpheus/images/{icon}.png")),
            );
            m.insert(
                "iconSVG".into(),
                json!(format!("plugins/Morpheus/images/{icon}.svg")),
            );
            m.insert("title".into(), json!(title));
            m.insert("subtitle".into(), json!(subtitle));
            m.insert("timestamp".into(), json!(r.ts));
            (r.ts, Value::Object(m))
        })
        .collect()
}

/// A visit's content impressions and interactions as Matomo's visitor
/// log lists them (type 13, the content's parts, its icon and title).
fn content_rows(d: &crate::raw::SiteDicts, a: &DayArchive, v: u32) -> Vec<(i64, Value)> {
    // The page views up to each content (Matomo's `pageviewPosition`).
    let views: Vec<i64> = a
        .actions_of(v)
        .filter(|&i| a.a_kind[i] == HitType::Pageview)
        .map(|i| a.a_ts[i])
        .collect();
    a.views_of(v)
        .iter()
        .filter(|r| r.kind == HitType::Content)
        .filter_map(|r| Some((r, r.data.content.as_ref()?)))
        .map(|(r, c)| {
            let (icon, title) = match &c.interaction {
                Some(i) => ("contentinteraction", format!("Content Interaction ({i})")),
                None => ("contentimpression", "Content Impression".to_owned()),
            };
            let subtitle = match &c.piece {
                Some(p) => format!("{} - {p}", c.name),
                None => c.name.clone(),
            };
            let row = json!({
                "type": action_type(HitType::Content),
                "url": (r.url != NONE).then(|| d.urls.value(r.url)),
                "pageTitle": Value::Null,
                "contentName": c.name,
                "contentPiece": c.piece,
                "contentTarget": c.target,
                "contentInteraction": c.interaction,
                "pageviewPosition": views.partition_point(|&t| t <= r.ts),
                "icon": format!("plugins/Morpheus/images/{icon}.png"),
                "iconSVG": format!("plugins/Morpheus/images/{icon}.svg"),
                "title": title,
                "subtitle": subtitle,
                "timestamp": r.ts,
            });
            (r.ts, row)
        })
        .collect()
}

/// Matomo's visitor-log subtitle of an event (its quotes as Matomo's:
/// `Category: "video', Name: "intro", Action: "play", Value: "3.5"`).
fn event_subtitle(d: &crate::raw::SiteDicts, x: &crate::raw::Extra) -> String {
    let part = |id: u32| (id != NONE).then(|| d.events.value(id));
    let mut out = format!("Category: \"{}'", part(x.ev_category).unwrap_or(""));
    if let Some(name) = part(x.ev_name) {
        out.push_str(&format!(", Name: \"{name}\""));
    }
    if let Some(action) = part(x.ev_action) {
        out.push_str(&format!(", Action: \"{action}\""));
    }
    if !x.ev_value.is_nan() && x.ev_value != 0.0 {
        out.push_str(&format!(", Value: \"{}\"", x.ev_value));
    }
    out
}

/// One visit with its actions, named as Matomo's Live API names them.
/// `with_actions`: with `actionDetails` (Live's `doNotFetchActions=1`
/// leaves them out).
fn visit_details(
    keys: &VisitKeys<'_>,
    goals: &mut Goals<'_>,
    a: &DayArchive,
    v: u32,
    date: chrono::NaiveDate,
    with_actions: bool,
) -> Value {
    let d = keys.dicts;
    let vi = v as usize;
    let text = |dict: &crate::dict::Dict, id: u32| (id != NONE).then(|| dict.value(id).to_owned());
    let field = |f: VField| keys.field(a, v, f).map(str::to_owned);
    let range = a.actions_of(v);
    let referrer = keys.referrer(a, v);
    let country = field(VField::Country).map(|c| c.to_ascii_lowercase());
    let mut m = Map::new();
    m.insert("idSite".into(), json!(keys.config.id));
    m.insert("idVisit".into(), json!(keys.visit_id(a, v)));
    m.insert("visitorId".into(), json!(d.visitors.value(a.visitor[vi])));
    m.insert(
        "visitorType".into(),
        json!(if a.is_new_visit(v) {
            "new"
        } else {
            "returning"
        }),
    );
    // Matomo's icon of a returning visitor (none for a new one).
    m.insert(
        "visitorTypeIcon".into(),
        json!((!a.is_new_visit(v)).then_some("plugins/Live/images/returningVisitor.png")),
    );
    m.insert("siteName".into(), json!(keys.config.display_name()));
    m.insert("siteCurrency".into(), json!("USD"));
    m.insert("siteCurrencySymbol".into(), json!("$"));
    m.insert("visitCount".into(), json!(a.visit_rank(v)));
    goals.put(&mut m, a, v);
    m.insert(
        "daysSinceLastVisit".into(),
        json!(keys.days_since_last(a, v, date).unwrap_or(0)),
    );
    // Matomo's time since the visitor's first visit.
    let since_first = keys.seconds_since_first(a, v).unwrap_or(0);
    m.insert("daysSinceFirstVisit".into(), json!(since_first / 86_400));
    m.insert("secondsSinceFirstVisit".into(), json!(since_first));
    m.insert("userId".into(), json!(field(VField::User)));
    m.insert("serverDate".into(), json!(date.to_string()));
    m.insert("serverTimestamp".into(), json!(a.visit_start(v)));
    m.insert(
        "visitServerHour".into(),
        json!(keys.server_hour(a, v).to_string()),
    );
    m.insert(
        "visitLocalHour".into(),
        json!(keys.local_hour(a, v).map(|h| h.to_string())),
    );
    m.insert("firstActionTimestamp".into(), json!(a.visit_start(v)));
    m.insert("lastActionTimestamp".into(), json!(a.visit_last(v)));
    m.insert("visitDuration".into(), json!(a.length[vi]));
    m.insert(
        "visitDurationPretty".into(),
        json!(super::pretty_seconds(u64::from(a.length[vi]))),
    );
    let count = |kind: HitType| range.clone().filter(|&i| a.a_kind[i] == kind).count();
    m.insert("searches".into(), json!(count(HitType::Search)));
    m.insert("events".into(), json!(count(HitType::Event)));
    m.insert("actions".into(), json!(range.len()));
    m.insert("interactions".into(), json!(range.len()));
    m.insert("referrerType".into(), json!(referrer.kind.name()));
    m.insert("referrerTypeName".into(), json!(referrer.kind.label()));
    m.insert("referrerName".into(), json!(referrer.name));
    m.insert("referrerKeyword".into(), json!(referrer.keyword));
    m.insert("referrerUrl".into(), json!(field(VField::Referrer)));
    // Matomo's Live extras: a Google result's position (`cd`), the search
    // engine's or social network's URL and icon.
    let lists = crate::referrer_lists::lists();
    let name = referrer.name.as_deref().filter(|n| !n.is_empty());
    let search = referrer.kind == crate::referrer::ReferrerType::Search;
    let social = referrer.kind == crate::referrer::ReferrerType::Social;
    let position = field(VField::Referrer)
        .filter(|_| search && name.is_some_and(|n| n.contains("Google")))
        .and_then(|url| {
            let query = crate::url::without_fragment(&url)
                .split_once('?')?
                .1
                .to_owned();
            super::query_pairs(&query)
                .find(|(k, v)| k == "cd" && !v.is_empty())
                .map(|(_, v)| v)
        });
    m.insert("referrerKeywordPosition".into(), json!(position));
    let engine_url = name
        .filter(|_| search)
        .and_then(|n| lists.search_engine_url(n));
    m.insert(
        "referrerSearchEngineIcon".into(),
        json!(
            engine_url
                .as_deref()
                .map(|u| super::rows::search_engine_logo(Some(u)))
        ),
    );
    m.insert("referrerSearchEngineUrl".into(), json!(engine_url));
    let social_url = name
        .filter(|_| social)
        .and_then(|n| lists.social_main_url(n));
    m.insert("referrerSocialNetworkUrl".into(), json!(social_url));
    m.insert(
        "referrerSocialNetworkIcon".into(),
        json!(social_url.map(super::rows::social_logo)),
    );
    if let Some(c) = &referrer.campaign {
        m.insert("campaignSource".into(), json!(c.source));
        m.insert("campaignMedium".into(), json!(c.medium));
        m.insert("campaignContent".into(), json!(c.content));
        m.insert("campaignId".into(), json!(c.id));
    }
    // Devices and software as Matomo's Live shows them: labels, icons,
    // DeviceDetector's codes.
    let device = field(VField::Device);
    m.insert(
        "deviceType".into(),
        json!(device.as_deref().map(crate::names::device_type_label)),
    );
    m.insert(
        "deviceTypeIcon".into(),
        json!(device.as_deref().map(crate::names::device_type_logo)),
    );
    // Matomo's: the brand's name or `Unknown`, the model as its report
    // labels it (`Generic Desktop`).
    m.insert(
        "deviceBrand".into(),
        json!(keys.brand(a, v).unwrap_or(crate::visit_key::UNKNOWN)),
    );
    m.insert(
        "deviceModel".into(),
        json!(super::rows::model_label(
            crate::visit_key::UNKNOWN,
            &keys.model(a, v).unwrap_or_default()
        )),
    );
    let engine = keys.engine(a, v);
    m.insert("browserFamily".into(), json!(engine));
    m.insert(
        "browserFamilyDescription".into(),
        json!(super::rows::engine_label(
            engine.unwrap_or(crate::visit_key::UNKNOWN)
        )),
    );
    let (browser, os) = (field(VField::Browser), field(VField::Os));
    m.insert("browser".into(), json!(keys.browser_version(a, v)));
    m.insert("browserName".into(), json!(browser));
    m.insert(
        "browserIcon".into(),
        json!(crate::device_codes::browser_logo(browser.as_deref())),
    );
    m.insert(
        "browserCode".into(),
        json!(
            browser
                .as_deref()
                .and_then(crate::device_codes::browser_code)
        ),
    );
    m.insert(
        "browserVersion".into(),
        json!(keys.browser_version_only(a, v)),
    );
    m.insert("operatingSystem".into(), json!(keys.os_version(a, v)));
    m.insert("operatingSystemName".into(), json!(os));
    m.insert(
        "operatingSystemIcon".into(),
        json!(crate::device_codes::os_logo(os.as_deref())),
    );
    m.insert(
        "operatingSystemCode".into(),
        json!(os.as_deref().and_then(crate::device_codes::os_code)),
    );
    m.insert(
        "operatingSystemVersion".into(),
        json!(keys.os_version_only(a, v)),
    );
    m.insert("resolution".into(), json!(keys.resolution(a, v)));
    // Matomo's: the plugins' names joined by `, `, and each one's icon
    // (none without plugins).
    let plugins: Vec<&str> = keys
        .plugins(a, v)
        .map(|p| p.split(',').collect())
        .unwrap_or_default();
    m.insert("plugins".into(), json!(plugins.join(", ")));
    m.insert(
        "pluginsIcons".into(),
        if plugins.is_empty() {
            Value::Null
        } else {
            plugins
                .iter()
                .map(|p| {
                    json!({
                        "pluginIcon": crate::device_codes::plugin_logo(p),
                        "pluginName": p,
                    })
                })
                .collect()
        },
    );
    m.insert("countryCode".into(), json!(country));
    m.insert(
        "country".into(),
        json!(
            country
                .as_deref()
                .and_then(crate::names::country)
                .map(|(n, _)| n)
        ),
    );
    m.insert(
        "countryFlag".into(),
        json!(format!(
            "plugins/Morpheus/icons/dist/flags/{}.png",
            country.as_deref().unwrap_or("xx")
        )),
    );
    let continent = keys.continent(a, v);
    m.insert(
        "continent".into(),
        json!(
            continent
                .and_then(crate::names::continent)
                .unwrap_or(crate::visit_key::UNKNOWN)
        ),
    );
    m.insert("continentCode".into(), json!(keys.continent(a, v)));
    // The location, as Matomo's Live names it.
    let place = |i| keys.place(a, v, i);
    let country_name = country
        .as_deref()
        .and_then(crate::names::country)
        .map_or(crate::visit_key::UNKNOWN, |(n, _)| n);
    m.insert("region".into(), json!(place(attr::REGION_NAME)));
    m.insert("regionCode".into(), json!(place(attr::REGION)));
    m.insert("city".into(), json!(place(attr::CITY)));
    let location: Vec<&str> = [place(attr::CITY), place(attr::REGION_NAME)]
        .into_iter()
        .flatten()
        .chain([country_name])
        .collect();
    m.insert("location".into(), json!(location.join(", ")));
    for (k, i) in [("latitude", attr::LATITUDE), ("longitude", attr::LONGITUDE)] {
        m.insert(
            k.into(),
            json!(place(i).and_then(|x| x.parse::<f64>().ok())),
        );
    }
    m.insert("languageCode".into(), json!(field(VField::Language)));
    m.insert(
        "language".into(),
        json!(field(VField::Language).map_or_else(
            || crate::visit_key::UNKNOWN.to_owned(),
            |l| crate::names::language_label(l.split('-').next().unwrap_or(&l))
        )),
    );
    for c in &a.dims {
        let name = d.dim_names.value(c.name);
        if !name.starts_with('$') {
            m.insert(name.to_owned(), json!(text(&d.dim_values, c.values[vi])));
        }
    }
    if !with_actions {
        return Value::Object(m);
    }
    let mut pageviews = 0u32;
    // The product each page showed (its `product_view`, same time and
    // URL), each view given to one page.
    let mut views: Vec<&crate::recorded::Recorded> = a
        .views_of(v)
        .iter()
        .filter(|r| r.kind == HitType::ProductView)
        .collect();
    let actions: Vec<Value> = range
        .map(|i| {
            let mut x = Map::new();
            let kind = a.a_kind[i];
            let url = text(&d.urls, a.a_url[i]);
            x.insert("type".into(), json!(action_type(kind)));
            x.insert("url".into(), json!(url));
            let shown = (kind == HitType::Pageview)
                .then(|| {
                    views
                        .iter()
                        .position(|r| r.ts == a.a_ts[i] && r.url == a.a_url[i])
                })
                .flatten()
                .map(|k| views.remove(k));
            if let Some(item) = shown.and_then(|r| r.data.items.first()) {
                // Matomo's visitor log leaves the empty ones out.
                if !item.sku.is_empty() {
                    x.insert("productViewSku".into(), json!(item.sku));
                }
                if let Some(name) = &item.name {
                    x.insert("productViewName".into(), json!(name));
                }
                if let Some(price) = item.price.filter(|p| *p != 0.0) {
                    x.insert("productViewPrice".into(), json!(price));
                }
                if !item.categories.is_empty() {
                    x.insert("productViewCategories".into(), json!(item.categories));
                }
            }
            // Matomo's visitor-log title, subtitle and icons of an action.
            let (title, subtitle, icon) = match kind {
                HitType::Pageview => (text(&d.titles, a.a_title[i]), url.clone(), "action"),
                HitType::Download => (Some("Download".into()), url.clone(), "download"),
                HitType::Outlink => (Some("Outlink".into()), url.clone(), "link"),
                HitType::Search => (
                    Some("Site Search".into()),
                    text(&d.keywords, a.extra(i).keyword),
                    "search",
                ),
                _ => (
                    Some("Event".into()),
                    Some(event_subtitle(d, &a.extra(i))),
                    "event",
                ),
            };
            if kind == HitType::Pageview {
                pageviews += 1;
                let spent = a.time_spent(v, i);
                x.insert("pageTitle".into(), json!(text(&d.titles, a.a_title[i])));
                x.insert("timeSpent".into(), json!(spent));
                x.insert(
                    "timeSpentPretty".into(),
                    json!(super::pretty_seconds(u64::from(spent))),
                );
                x.insert("pageviewPosition".into(), json!(pageviews));
            }
            x.insert("title".into(), json!(title));
            x.insert("subtitle".into(), json!(subtitle));
            x.insert(
                "icon".into(),
                json!(if kind == HitType::Pageview {
                    String::new()
                } else {
                    format!("plugins/Morpheus/images/{icon}.png")
                }),
            );
            x.insert(
                "iconSVG".into(),
                json!(format!("plugins/Morpheus/images/{icon}.svg")),
            );
            if kind == HitType::Search {
                x.insert(
                    "siteSearchKeyword".into(),
                    json!(text(&d.keywords, a.extra(i).keyword)),
                );
            }
            if kind == HitType::Event {
                x.insert(
                    "eventCategory".into(),
                    json!(text(&d.events, a.extra(i).ev_category)),
                );
                x.insert(
                    "eventAction".into(),
                    json!(text(&d.events, a.extra(i).ev_action)),
                );
                x.insert(
                    "eventName".into(),
                    json!(text(&d.events, a.extra(i).ev_name)),
                );
                let value = a.extra(i).ev_value;
                x.insert(
                    "eventValue".into(),
                    json!((!value.is_nan()).then_some(value)),
                );
            }
            x.insert("timestamp".into(), json!(a.a_ts[i]));
            Value::Object(x)
        })
        .collect();
    // Each goal conversion, order and abandoned cart after the action it
    // followed, as Matomo's visitor log lists them.
    let mut actions = actions;
    let times: Vec<i64> = a.actions_of(v).map(|i| a.a_ts[i]).collect();
    let mut extra: Vec<(i64, Value)> = goals
        .conversions(a, v)
        .into_iter()
        .map(|(goal, ts, revenue)| {
            let mut subtitle = goal.name.clone();
            if revenue > 0.0 {
                subtitle.push_str(&format!(" ({} revenue)", pretty_money(revenue)));
            }
            let row = json!({
                "type": "goal",
                "goalName": goal.name,
                "goalId": goal.id,
                "revenue": revenue,
                "url": Value::Null,
                "referrerType": referrer.kind.name(),
                "referrerName": referrer.name,
                "referrerKeyword": referrer.keyword,
                "icon": "plugins/Morpheus/images/goal.png",
                "iconSVG": "plugins/Morpheus/images/goal.svg",
                "title": "Goal conversion",
                "subtitle": subtitle,
                "timestamp": ts,
            });
            (ts, row)
        })
        .collect();
    extra.extend(ecommerce_rows(goals.site, a, v, &referrer));
    extra.extend(content_rows(d, a, v));
    // By time, goals before orders and carts at the same second (a
    // stable sort keeps that order).
    extra.sort_by_key(|e| e.0);
    for (ts, mut row) in extra.into_iter().rev() {
        let after = times.partition_point(|&t| t <= ts);
        if row["type"] == "goal" {
            // A goal row names the page it converted on.
            row["url"] = after
                .checked_sub(1)
                .and_then(|i| actions.get(i))
                .and_then(|x| x.get("url").cloned())
                .unwrap_or(Value::Null);
        }
        // Inserted from the latest: the rows before `after` are still
        // the actions alone.
        actions.insert(after, row);
    }
    m.insert("actionDetails".into(), Value::Array(actions));
    Value::Object(m)
}

impl Engine {
    /// `Live.getLastVisitsDetails`: the period's visits (segment applied),
    /// newest first, `filter_offset` and `filter_limit` (default 100); at
    /// most [`MAX_LIVE_VISITS`] a request, so that a year of a big site
    /// asked with `filter_limit=-1` is an error that says how to page,
    /// not gigabytes of JSON. The days are read a week at a time from the
    /// newest, until the page is full: the last 100 visits of a year read
    /// its last days, not the year.
    pub(super) fn last_visits(
        &self,
        r: &ApiRequest,
        resolved: &Resolved<'_>,
        range: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<Value> {
        refuse_table_filters(r)?;
        let wanted = r.table.rows_wanted(super::DEFAULT_LIMIT);
        let mut skip = r.table.offset;
        if wanted > MAX_LIVE_VISITS {
            // Whole periods from their rollups where they apply.
            let total = resolved.visits_summary(range)?.nb_visits;
            let rest = usize::try_from(total)
                .unwrap_or(usize::MAX)
                .saturating_sub(skip);
            if rest > MAX_LIVE_VISITS {
                return Err(bad(format!(
                    "{} answers at most {MAX_LIVE_VISITS} visits a request and {rest} are asked for: \
                     ask with filter_limit={MAX_LIVE_VISITS} (or less) and page with filter_offset",
                    r.method
                )));
            }
        }
        let (first, last) = resolved.checked_range(range)?;
        let dates = resolved.site.dates();
        let (Some(&lo), Some(&hi)) = (dates.first(), dates.last()) else {
            return Ok(Value::Array(Vec::new()));
        };
        let (first, mut end) = (first.max(lo), last.min(hi));
        let mut rows: Vec<Value> = Vec::new();
        // Visits never cross a local day: weeks newest first keep the
        // visits newest first.
        while end >= first && rows.len() < wanted {
            let start = end
                .checked_sub_days(chrono::Days::new(LIVE_WINDOW_DAYS - 1))
                .map_or(first, |s| s.max(first));
            let sel = resolved.select(Some((start, end)))?;
            let keys = sel.site.visit_keys();
            let mut goals = Goals::of(sel.site);
            for (_, k, v) in newest_first(&sel) {
                if rows.len() == wanted {
                    break;
                }
                let part = &sel.days[k];
                let a = &*part.archive;
                // Matomo's minTimestamp: visits active after it.
                if r.min_timestamp.is_some_and(|t| a.visit_last(v) <= t) {
                    continue;
                }
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                rows.push(visit_details(
                    &keys,
                    &mut goals,
                    a,
                    v,
                    part.date,
                    !r.do_not_fetch_actions,
                ));
            }
            match start.pred_opt() {
                Some(p) => end = p,
                None => break,
            }
        }
        Ok(Value::Array(rows))
    }

    /// `Live.getVisitorProfile`: one visitor's visits over all stored days,
    /// with totals, first and last visit.
    pub(super) fn visitor_profile(&self, r: &ApiRequest, site: u32) -> Result<Value> {
        refuse_table_filters(r)?;
        let id = r
            .visitor_id
            .as_deref()
            .ok_or_else(|| bad("Live.getVisitorProfile needs visitorId=<visitor key>"))?;
        let mut segment = format!("visitorId=={}", crate::encode_query_value(id));
        if let Some(s) = &r.segment {
            segment = format!("{segment};{s}");
        }
        let q = Query::site(site).with_segment(Some(segment.parse::<Segment>()?));
        let sel = self.resolve(&q)?.select(None)?;
        let keys = sel.site.visit_keys();
        let order = newest_first(&sel);
        if order.is_empty() {
            return Err(bad(format!("site {site} has no visit of visitor '{id}'")));
        }
        let (mut actions, mut pages, mut seconds) = (0u64, 0u64, 0u64);
        for &(_, k, v) in &order {
            let a = &*sel.days[k].archive;
            let range = a.actions_of(v);
            actions += range.len() as u64;
            pages += range.filter(|&i| a.a_kind[i] == HitType::Pageview).count() as u64;
            seconds += u64::from(a.length[v as usize]);
        }
        let summary = |(_, k, v): (i64, usize, u32)| {
            let part = &sel.days[k];
            let r = keys.referrer(&part.archive, v);
            json!({
                "date": part.date.to_string(),
                "serverTimestamp": part.archive.visit_start(v),
                "referrerType": r.kind.name(),
                "referralSummary": r.name.unwrap_or_else(|| r.kind.label().to_owned()),
            })
        };
        let last = order[0];
        let first = order[order.len() - 1];
        let wanted = r.table.rows_wanted(10);
        if wanted.min(order.len()) > MAX_LIVE_VISITS {
            return Err(bad(format!(
                "{} lists at most {MAX_LIVE_VISITS} visits and visitor '{id}' has {}: \
                 ask with filter_limit={MAX_LIVE_VISITS} (or less)",
                r.method,
                order.len()
            )));
        }
        let mut goals = Goals::of(sel.site);
        let visits: Vec<Value> = order
            .iter()
            .take(wanted)
            .map(|&(_, k, v)| {
                let part = &sel.days[k];
                visit_details(&keys, &mut goals, &part.archive, v, part.date, true)
            })
            .collect();
        Ok(json!({
            "visitorId": id,
            "totalVisits": order.len(),
            "totalActions": actions,
            "totalPageViews": pages,
            "totalVisitDuration": seconds,
            "firstVisit": summary(first),
            "lastVisit": summary(last),
            "lastVisits": visits,
        }))
    }
}

/// Live answers visits, not report rows: the generic row filters other
/// than offset and limit do not apply, and asking for them is an error.
fn refuse_table_filters(r: &ApiRequest) -> Result<()> {
    let t = &r.table;
    let asked = [
        ("filter_sort_column", t.sort_column.is_some()),
        ("filter_pattern", t.pattern.is_some()),
        ("filter_pattern_recursive", t.pattern_recursive.is_some()),
        ("filter_excludelowpop", t.excludelowpop.is_some()),
        ("filter_truncate", t.truncate.is_some()),
        ("showColumns", !t.show_columns.is_empty()),
        ("hideColumns", !t.hide_columns.is_empty()),
        ("label", !t.labels.is_empty()),
        ("idSubtable", t.id_subtable.is_some()),
        ("section", r.section.is_some()),
    ];
    match asked.iter().find(|(_, on)| *on) {
        Some((name, _)) => Err(bad(format!(
            "{name} does not apply to {}: it answers visits, filtered by segment, filter_offset and filter_limit",
            r.method
        ))),
        None => Ok(()),
    }
}

/// The visits of a day's piece that a selection keeps, in order.
fn selected_visits(sel: &Selection<'_>, part: &crate::live::DayPart<'_>) -> Vec<u32> {
    match sel.selected(part) {
        Some(b) => b.iter().collect(),
        None => (0..part.archive.visit_count()).collect(),
    }
}

/// Live's counters: what Matomo's `Live.getCounters` counts over the last
/// minutes.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    /// Visits whose last action is in the window.
    pub visits: u64,
    /// Actions in the window (of any kind).
    pub actions: u64,
    /// Distinct visitors of those visits.
    pub visitors: u64,
    /// Conversions in the window (Matomo's `visitsConverted` counts
    /// conversions: each goal's as the goal counts them, orders that
    /// count, abandoned carts).
    pub conversions: u64,
}

/// The most minutes `Live.getCounters` looks back (Matomo's limit: two
/// days).
pub(crate) const MAX_LAST_MINUTES: i64 = 2880;

impl Engine {
    /// `Live.getCounters`: visits, actions, visitors and conversions of
    /// the last `lastMinutes` (1 to 2880) before `now`, segment applied.
    pub(super) fn live_counters(
        &self,
        r: &ApiRequest,
        site: u32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Value> {
        let minutes = r
            .last_minutes
            .filter(|m| (1..=MAX_LAST_MINUTES).contains(m))
            .ok_or_else(|| {
                bad(format!(
                    "Live.getCounters needs lastMinutes=N, N from 1 to {MAX_LAST_MINUTES}"
                ))
            })?;
        let since = now.timestamp() - minutes * 60;
        let c = self.counters_since(site, r.segment.as_deref(), since)?;
        let columns = [
            ("visits", c.visits),
            ("actions", c.actions),
            ("visitors", c.visitors),
            ("visitsConverted", c.conversions),
        ];
        let t = &r.table;
        let mut m = Map::new();
        for (name, n) in columns {
            let shown = t.show_columns.is_empty() || t.show_columns.iter().any(|s| s == name);
            if shown && !t.hide_columns.iter().any(|h| h == name) {
                m.insert(name.into(), json!(n));
            }
        }
        Ok(json!([m]))
    }

    /// [`Counters`] of the site's actions from `since` (unix seconds) on,
    /// as Matomo's (no upper bound).
    pub(crate) fn counters_since(
        &self,
        site: u32,
        segment: Option<&str>,
        since: i64,
    ) -> Result<Counters> {
        let state = self.site_state(site)?;
        let day = |ts: i64| {
            chrono::DateTime::from_timestamp(ts, 0)
                .map(|t| t.with_timezone(&state.tz).date_naive())
                .unwrap_or(NaiveDate::MIN)
        };
        let q = Query::site(site).with_segment(segment.map(str::parse::<Segment>).transpose()?);
        let resolved = self.resolve(&q)?;
        let sel = resolved.select(Some((day(since), NaiveDate::MAX)))?;
        let d = &sel.site.dicts;
        let goals = &sel.site.config.goals;
        let mut states: Vec<_> = goals
            .iter()
            .map(crate::conversions::GoalState::new)
            .collect();
        let mut c = Counters::default();
        let mut visitors = std::collections::HashSet::new();
        let (mut times, mut conversions) = (Vec::new(), Vec::new());
        for part in &sel.days {
            let a = &*part.archive;
            for v in selected_visits(&sel, part) {
                let range = a.actions_of(v);
                if a.visit_last(v) < since {
                    continue;
                }
                c.visits += 1;
                visitors.insert(a.visitor[v as usize]);
                c.actions += range.clone().filter(|&i| a.a_ts[i] >= since).count() as u64;
                times.clear();
                for s in &mut states {
                    conversions.clear();
                    s.each_conversion(a, v, range.clone(), d, &mut conversions);
                    times.extend(conversions.iter().map(|c| c.0));
                }
                let recorded = a.conversions_of(v);
                times.extend(crate::recorded::orders(recorded).map(|o| o.ts));
                times.extend(crate::recorded::abandoned_cart(recorded).map(|o| o.ts));
                c.conversions += times.iter().filter(|&&t| t >= since).count() as u64;
            }
        }
        c.visitors = visitors.len() as u64;
        Ok(c)
    }

    /// The newest visit of `range` (every stored day: `None`) by its last
    /// action, segment applied: (its last action's time, its visitor).
    /// Days are read a week at a time from the newest.
    pub(crate) fn newest_visit(
        &self,
        site: u32,
        segment: Option<&str>,
        range: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<Option<(i64, String)>> {
        let q = Query::site(site).with_segment(segment.map(str::parse::<Segment>).transpose()?);
        let resolved = self.resolve(&q)?;
        let (first, last) = resolved.checked_range(range)?;
        let dates = resolved.site.dates();
        let (Some(&lo), Some(&hi)) = (dates.first(), dates.last()) else {
            return Ok(None);
        };
        let (first, mut end) = (first.max(lo), last.min(hi));
        while end >= first {
            let start = end
                .checked_sub_days(chrono::Days::new(LIVE_WINDOW_DAYS - 1))
                .map_or(first, |s| s.max(first));
            let sel = resolved.select(Some((start, end)))?;
            let mut best: Option<(i64, u32)> = None;
            for part in &sel.days {
                let a = &*part.archive;
                for v in selected_visits(&sel, part) {
                    let at = a.visit_last(v);
                    let visitor = a.visitor[v as usize];
                    // Ties: the smaller visitor key, so the answer is stable.
                    let better = best.is_none_or(|(t, b)| {
                        at > t
                            || (at == t
                                && sel.site.dicts.visitors.value(visitor)
                                    < sel.site.dicts.visitors.value(b))
                    });
                    if better {
                        best = Some((at, visitor));
                    }
                }
            }
            if let Some((at, visitor)) = best {
                return Ok(Some((
                    at,
                    sel.site.dicts.visitors.value(visitor).to_owned(),
                )));
            }
            match start.pred_opt() {
                Some(p) => end = p,
                None => break,
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_as_matomos_visitor_log_writes_it() {
        assert_eq!(super::pretty_money(5.0), "$5");
        assert_eq!(super::pretty_money(2510.11111112), "$2,510.11");
        assert_eq!(super::pretty_money(1_234_567.5), "$1,234,567.50");
        assert_eq!(super::pretty_money(-1500.0), "-$1,500");
        assert_eq!(super::pretty_money(0.285), "$0.29");
    }
}
