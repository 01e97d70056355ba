//! Matomo tracking requests to hits: every parameter the endpoint reads,
//! bulk bodies, bots, bad requests, and the visitor keys.

use hitmap::{Engine, Hit, HitType, SiteConfig};
use hitmap_intake::track::{
    Client, Refused, TokenAccess, TrackOptions, Tracked, Tracker, bulk_requests,
};

const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
const NOW: i64 = 1_717_243_200; // 2024-06-01 12:00:00 UTC

fn engine() -> Engine {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).host("x.org")).unwrap();
    e.add_site(SiteConfig::new(2)).unwrap();
    e
}

fn tracker(options: TrackOptions) -> Tracker {
    Tracker::new(&engine(), options).unwrap()
}

fn client() -> Client<'static> {
    Client {
        ip: "10.1.2.3",
        user_agent: Some(FIREFOX),
        accept_language: Some("fr-CA,fr;q=0.9,en;q=0.8"),
        now: NOW,
    }
}

fn hit(t: &mut Tracker, query: &str) -> Hit {
    match t.track_query(query, &client()) {
        Ok(Tracked::Hit(h)) => *h,
        other => panic!("{query}: {other:?}"),
    }
}

fn refused(t: &mut Tracker, query: &str) -> String {
    match t.track_query(query, &client()) {
        Err(Refused::Invalid(why)) => why,
        other => panic!("{query}: {other:?}"),
    }
}

const BASE: &str = "idsite=1&rec=1&url=https%3A%2F%2Fx.org%2Fnews%2Fa";

#[test]
fn a_page_view_carries_what_matomos_tracker_reads() {
    let mut t = tracker(TrackOptions::default());
    let h = hit(
        &mut t,
        &format!(
            "{BASE}&action_name=News%20A&_id=0123456789ABCDEF&uid=alice&urlref=https%3A%2F%2Fwww.google.fr%2F&res=1920x1080&h=14&m=5&s=0&dimension1=HR&dimension3=Paris&fla=1&java=0&ag=1&cookie=1&wma=junk"
        ),
    );
    assert_eq!((h.site, h.ts, h.kind), (1, NOW, HitType::Pageview));
    assert_eq!(h.url.as_deref(), Some("https://x.org/news/a"));
    assert_eq!(h.title.as_deref(), Some("News A"));
    assert_eq!(h.visitor, "0123456789abcdef");
    assert_eq!(h.user.as_deref(), Some("alice"));
    assert_eq!(h.referrer.as_deref(), Some("https://www.google.fr/"));
    assert_eq!(h.resolution.as_deref(), Some("1920x1080"));
    assert_eq!(h.local_hour, Some(14));
    // The plugin flags at 1, Matomo's `config_<plugin>`.
    assert_eq!(h.plugins.as_deref(), Some("cookie,flash,silverlight"));
    assert_eq!(
        h.dims,
        vec![
            ("dimension1".to_string(), "HR".to_string()),
            ("dimension3".to_string(), "Paris".to_string())
        ]
    );
    // The user agent and the language.
    assert_eq!(h.device.as_deref(), Some("desktop"));
    assert_eq!(
        (h.browser.as_deref(), h.browser_version.as_deref()),
        (Some("Firefox"), Some("120.0"))
    );
    assert_eq!(
        (h.os.as_deref(), h.os_version.as_deref()),
        (Some("Windows"), Some("10"))
    );
    assert_eq!(h.language.as_deref(), Some("fr-ca"));
    assert_eq!(
        h.country.as_deref(),
        Some("ca"),
        "the region of the browser language"
    );
    // It is a hit the engine takes.
    let mut e = engine();
    assert_eq!(e.ingest([h]).unwrap().accepted, 1);
}

#[test]
fn ua_lang_cid_and_ref_parameters_win_over_headers_and_cookies() {
    let mut t = tracker(TrackOptions::default());
    let ua = "Mozilla%2F5.0%20(iPhone%3B%20CPU%20iPhone%20OS%2017_1%20like%20Mac%20OS%20X)%20AppleWebKit%2F605.1.15%20(KHTML%2C%20like%20Gecko)%20Version%2F17.1%20Mobile%2F15E148%20Safari%2F604.1";
    let h = hit(
        &mut t,
        &format!(
            "{BASE}&ua={ua}&lang=ja&_id=0123456789abcdef&cid=fedcba9876543210&_ref=https%3A%2F%2Fbing.com%2F"
        ),
    );
    assert_eq!(h.device.as_deref(), Some("smartphone"));
    assert_eq!(h.os.as_deref(), Some("iOS"));
    assert_eq!(h.language.as_deref(), Some("ja"));
    assert_eq!(
        h.country.as_deref(),
        Some("jp"),
        "Matomo's guess for a language without region"
    );
    assert_eq!(h.visitor, "fedcba9876543210", "cid forces the visitor id");
    assert_eq!(
        h.referrer.as_deref(),
        Some("https://bing.com/"),
        "_ref when there is no urlref"
    );
    // A language that names many countries guesses none.
    let h = hit(&mut t, &format!("{BASE}&lang=en"));
    assert_eq!((h.language.as_deref(), h.country), (Some("en"), None));
    assert!(IPHONE.contains("iPhone"));
}

#[test]
fn downloads_outlinks_searches_and_events() {
    let mut t = tracker(TrackOptions::default());
    let h = hit(
        &mut t,
        &format!("{BASE}&download=https%3A%2F%2Fx.org%2Ff.pdf"),
    );
    assert_eq!(
        (h.kind, h.url.as_deref()),
        (HitType::Download, Some("https://x.org/f.pdf"))
    );
    let h = hit(&mut t, &format!("{BASE}&link=https%3A%2F%2Fother.org%2F"));
    assert_eq!(
        (h.kind, h.url.as_deref()),
        (HitType::Outlink, Some("https://other.org/"))
    );
    let h = hit(
        &mut t,
        &format!("{BASE}&search=holiday%20form&search_cat=HR&search_count=3"),
    );
    assert_eq!(
        (h.kind, h.search.as_deref()),
        (HitType::Search, Some("holiday form"))
    );
    assert_eq!(
        (h.search_category.as_deref(), h.search_count, h.dims.len()),
        (Some("HR"), Some(3), 0)
    );
    // Matomo's tracker: the category trimmed; a count that is not a
    // number from 0 is no count.
    for (count, want) in [("0", Some(0)), ("-1", None), ("many", None), ("", None)] {
        let h = hit(
            &mut t,
            &format!("{BASE}&search=vpn&search_cat=%20IT%20&search_count={count}"),
        );
        assert_eq!(
            (h.search_category.as_deref(), h.search_count),
            (Some("IT"), want),
            "{count}"
        );
    }
    let h = hit(
        &mut t,
        // Matomo's tracker trims an event's parts.
        &format!("{BASE}&e_c=Video+&e_a=%20Play&e_n=Intro%20%20&e_v=12.5"),
    );
    assert_eq!(h.kind, HitType::Event);
    let e = h.event.unwrap();
    assert_eq!(
        (
            e.category.as_str(),
            e.action.as_str(),
            e.name.as_deref(),
            e.value
        ),
        ("Video", "Play", Some("Intro"), Some(12.5))
    );
    assert!(refused(&mut t, &format!("{BASE}&e_c=Video")).contains("e_a"));
    assert!(refused(&mut t, &format!("{BASE}&e_c=V&e_a=P&e_v=lots")).contains("e_v"));
}

#[test]
fn campaign_cookies_count_when_the_url_has_no_campaign() {
    let mut t = tracker(TrackOptions::default());
    let h = hit(&mut t, &format!("{BASE}&_rcn=Spring&_rck=Shoes"));
    assert_eq!(h.referrer_type.as_deref(), Some("campaign"));
    let c = h.campaign.unwrap();
    assert_eq!(
        (c.name.as_deref(), c.keyword.as_deref()),
        (Some("spring"), Some("shoes"))
    );
    // Campaign parameters in the URL are the engine's to read.
    let h = hit(
        &mut t,
        "idsite=1&rec=1&url=https%3A%2F%2Fx.org%2F%3Futm_campaign%3Dmail&_rcn=Spring",
    );
    assert_eq!((h.referrer_type, h.campaign), (None, None));
}

#[test]
fn bad_requests_are_refused_with_a_reason_and_pings_and_bots_are_not_stored() {
    let mut t = tracker(TrackOptions::default());
    assert_eq!(
        t.track_query("idsite=1&url=x", &client()),
        Err(Refused::NotTracking)
    );
    assert_eq!(t.track_query("", &client()), Err(Refused::NotTracking));
    assert!(refused(&mut t, "idsite=7&rec=1&url=https%3A%2F%2Fx.org%2F").contains("idsite 7"));
    assert!(refused(&mut t, "idsite=abc&rec=1&url=x").contains("idsite"));
    assert!(refused(&mut t, "idsite=1&rec=1").contains("url"));
    assert!(refused(&mut t, &format!("{BASE}&_id=xyz")).contains("16 hexadecimal"));
    assert_eq!(
        t.track_query(&format!("{BASE}&ping=1"), &client()),
        Ok(Tracked::Ping)
    );
    let bot = Client {
        user_agent: Some("Googlebot/2.1 (+http://www.google.com/bot.html)"),
        ..client()
    };
    assert_eq!(t.track_query(BASE, &bot), Ok(Tracked::Bot));
    // bots=1 records them.
    match t.track_query(&format!("{BASE}&bots=1"), &bot) {
        Ok(Tracked::Hit(h)) => assert_eq!(h.device, None, "a robot has no device"),
        other => panic!("{other:?}"),
    }
    // Bad values of optional fields are dropped, not fatal.
    let h = hit(&mut t, &format!("{BASE}&h=99&res=big"));
    assert_eq!((h.local_hour, h.resolution), (None, None));
}

#[test]
fn custom_times_and_addresses_need_a_token_as_in_matomo() {
    let options = TrackOptions {
        tokens: vec![TokenAccess::all("s3cret")],
        ..TrackOptions::default()
    };
    let mut t = tracker(options);
    // A recent cdt needs no token; a future one is ignored.
    let h = hit(&mut t, &format!("{BASE}&cdt={}", NOW - 3600));
    assert_eq!(h.ts, NOW - 3600);
    let h = hit(&mut t, &format!("{BASE}&cdt={}", NOW + 3600));
    assert_eq!(h.ts, NOW);
    let h = hit(&mut t, &format!("{BASE}&cdt=2024-06-01%2011:00:00"));
    assert_eq!(h.ts, NOW - 3600);
    // An old one needs the token.
    let old = format!("{BASE}&cdt={}", NOW - 3 * 86_400);
    assert!(refused(&mut t, &old).contains("token_auth"));
    assert!(refused(&mut t, &format!("{old}&token_auth=wrong")).contains("token_auth"));
    assert_eq!(
        hit(&mut t, &format!("{old}&token_auth=s3cret")).ts,
        NOW - 3 * 86_400
    );
    // cip changes the visitor key only with the token.
    let a = hit(&mut t, BASE).visitor;
    assert_eq!(hit(&mut t, &format!("{BASE}&cip=20.1.0.1")).visitor, a);
    assert_ne!(
        hit(&mut t, &format!("{BASE}&cip=20.1.0.1&token_auth=s3cret")).visitor,
        a
    );
}

#[test]
fn a_token_for_some_sites_back_dates_and_sets_addresses_only_there() {
    let mut t = tracker(TrackOptions {
        tokens: vec![TokenAccess::sites("one", [1]), TokenAccess::all("every")],
        ..TrackOptions::default()
    });
    let old = NOW - 3 * 86_400;
    let site2 = "idsite=2&rec=1&url=https%3A%2F%2Fy.org%2F";
    // Site 1's token back-dates site 1, not site 2.
    assert_eq!(
        hit(&mut t, &format!("{BASE}&cdt={old}&token_auth=one")).ts,
        old
    );
    let why = refused(&mut t, &format!("{site2}&cdt={old}&token_auth=one"));
    assert!(why.contains("token_auth for site 2"), "{why}");
    assert_eq!(
        hit(&mut t, &format!("{site2}&cdt={old}&token_auth=every")).ts,
        old
    );
    // cip: honoured for site 1, ignored (the connection's address) for site 2.
    let plain = hit(&mut t, site2).visitor;
    assert_eq!(
        hit(&mut t, &format!("{site2}&cip=20.1.0.1&token_auth=one")).visitor,
        plain
    );
    assert_ne!(
        hit(&mut t, &format!("{site2}&cip=20.1.0.1&token_auth=every")).visitor,
        plain
    );
    // In a bulk request the body's token counts per request's site.
    let body = format!(
        r#"{{"requests": ["?{BASE}&cdt={old}", "?{site2}&cdt={old}"], "token_auth": "one"}}"#
    );
    let (requests, token) = bulk_requests(body.as_bytes()).unwrap();
    let results: Vec<bool> = requests
        .iter()
        .map(|p| t.track(p, &client(), token.as_deref()).is_ok())
        .collect();
    assert_eq!(results, [true, false]);
}

#[test]
fn visitor_keys_hash_ip_agent_and_language_under_a_daily_salt() {
    let mut t = tracker(TrackOptions::default());
    let a = hit(&mut t, BASE).visitor;
    assert_eq!(a.len(), 16);
    assert_eq!(hit(&mut t, BASE).visitor, a, "the same person the same day");
    let other_lang = Client {
        accept_language: Some("de"),
        ..client()
    };
    match t.track_query(BASE, &other_lang) {
        Ok(Tracked::Hit(h)) => assert_ne!(h.visitor, a),
        other => panic!("{other:?}"),
    }
    // The salt of the day goes to the store once, and a restart that day
    // (a tracker over a store holding it) keeps the keys.
    let (name, salt) = t.take_salt_cursor().expect("a new day's salt");
    assert!(t.take_salt_cursor().is_none());
    let mut e = engine();
    e.ingest_with(
        [Hit::pageview(1, NOW, a.clone(), "https://x.org/")],
        &hitmap::IngestOptions::default().cursor(name, salt.clone()),
    )
    .unwrap();
    let mut again = Tracker::new(&e, TrackOptions::default()).unwrap();
    assert_eq!(hit(&mut again, BASE).visitor, a);
    // Another day, another salt: the same person is not linkable.
    let tomorrow = Client {
        now: NOW + 86_400,
        ..client()
    };
    match t.track_query(BASE, &tomorrow) {
        Ok(Tracked::Hit(h)) => assert_ne!(h.visitor, a),
        other => panic!("{other:?}"),
    }
    let (_, next) = t.take_salt_cursor().unwrap();
    assert_ne!(next, salt);
    assert!(next.starts_with("2024-06-02:"));
    // uid as the visitor, when configured: the same on every device.
    let mut u = tracker(TrackOptions {
        user_id_is_visitor: true,
        ..TrackOptions::default()
    });
    let x = hit(&mut u, &format!("{BASE}&uid=alice")).visitor;
    let phone = Client {
        user_agent: Some(IPHONE),
        ip: "10.9.9.9",
        ..client()
    };
    match u.track_query(&format!("{BASE}&uid=alice"), &phone) {
        Ok(Tracked::Hit(h)) => assert_eq!(h.visitor, x),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ip_anonymisation_happens_before_the_key() {
    let mut t = tracker(TrackOptions {
        anonymize_ip: 2,
        ..TrackOptions::default()
    });
    let a = hit(&mut t, BASE).visitor;
    let near = Client {
        ip: "10.1.200.200",
        ..client()
    };
    match t.track_query(BASE, &near) {
        Ok(Tracked::Hit(h)) => assert_eq!(h.visitor, a, "10.1.x.x masked alike"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn countries_come_from_geoip_when_configured() {
    let dir = crate::geo::tempdir("track");
    let db = crate::geo::database(&dir);
    let mut t = tracker(TrackOptions {
        geoip: Some(db),
        ..TrackOptions::default()
    });
    let h = hit(&mut t, BASE);
    assert_eq!(
        h.country.as_deref(),
        Some("de"),
        "10.0.0.0/8 is DE in the test database"
    );
    let elsewhere = Client {
        ip: "192.0.2.1",
        ..client()
    };
    match t.track_query(BASE, &elsewhere) {
        Ok(Tracked::Hit(h)) => assert_eq!(
            h.country.as_deref(),
            Some("ca"),
            "not in the database: the language"
        ),
        other => panic!("{other:?}"),
    }
}

/// Matomo's location overrides (`country`, `region`, `city`, `lat`,
/// `long`) count only with a token, as Matomo's.
#[test]
fn locations_are_overridden_only_with_a_token() {
    let mut t = tracker(TrackOptions {
        tokens: vec![TokenAccess::all("s3cret")],
        ..TrackOptions::default()
    });
    let q = format!("{BASE}&country=US&region=VA&city=Ashburn&lat=39.04&long=-77.49");
    let without = hit(&mut t, &q);
    assert_eq!(
        (without.region, without.city, without.latitude),
        (None, None, None)
    );
    assert_ne!(without.country.as_deref(), Some("us"));
    let with = hit(&mut t, &format!("{q}&token_auth=s3cret"));
    assert_eq!(
        (
            with.country.as_deref(),
            with.region.as_deref(),
            with.city.as_deref()
        ),
        (Some("us"), Some("VA"), Some("Ashburn"))
    );
    assert_eq!((with.latitude, with.longitude), (Some(39.04), Some(-77.49)));
    // A coordinate out of its range is left out.
    let off = hit(
        &mut t,
        &format!("{BASE}&lat=91&long=-181&token_auth=s3cret"),
    );
    assert_eq!((off.latitude, off.longitude), (None, None));
}

#[test]
fn new_visit_starts_a_visit() {
    let mut t = tracker(TrackOptions::default());
    let mut e = engine();
    let first = hit(&mut t, BASE);
    let client_later = Client {
        now: NOW + 60,
        ..client()
    };
    let Ok(Tracked::Hit(second)) = t.track_query(&format!("{BASE}&new_visit=1"), &client_later)
    else {
        panic!()
    };
    e.ingest([first, *second]).unwrap();
    let s = e.query(&hitmap::Query::site(1)).unwrap().visits_summary();
    assert_eq!(s.nb_visits, 2);
}

#[test]
fn bulk_bodies_hold_query_strings_or_objects() {
    let body = br#"{"requests": ["?idsite=1&rec=1&url=https%3A%2F%2Fx.org%2Fa", "idsite=1&rec=1&url=https%3A%2F%2Fx.org%2Fb", {"idsite": 2, "rec": 1, "url": "https://y.org/"}], "token_auth": "t"}"#;
    let (requests, token) = bulk_requests(body).unwrap();
    assert_eq!(token.as_deref(), Some("t"));
    let mut t = tracker(TrackOptions::default());
    let sites: Vec<u32> = requests
        .iter()
        .map(|p| match t.track(p, &client(), None) {
            Ok(Tracked::Hit(h)) => h.site,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(sites, [1, 1, 2]);
    for bad in [&b"not json"[..], br#"{"requests": 3}"#, br#"[]"#] {
        assert!(bulk_requests(bad).is_err());
    }
}

#[test]
fn goal_and_ecommerce_requests_record_conversions() {
    let mut t = tracker(TrackOptions::default());
    let id = "_id=0123456789ABCDEF";
    let g = hit(&mut t, &format!("{BASE}&{id}&idgoal=3&revenue=12.5"));
    assert_eq!(g.kind, HitType::Goal);
    assert_eq!(g.url.as_deref(), Some("https://x.org/news/a"));
    let c = g.conversion.as_ref().unwrap();
    assert_eq!((c.goal, c.revenue), (Some(3), Some(12.5)));
    // No visit fields ride on a conversion.
    assert!(g.device.is_none() && g.browser.is_none());
    let items = hitmap::encode_query_value(
        r#"[["SKU1","Mug",["Kitchen","Cups"],9.5,2],["SKU2","Pen","Office","1",1],["","no sku"]]"#,
    );
    let o = hit(
        &mut t,
        &format!(
            "{BASE}&{id}&idgoal=0&ec_id=A-17&revenue=25.5&ec_st=20.5&ec_tx=3&ec_sh=2&ec_dt=0&ec_items={items}"
        ),
    );
    assert_eq!(o.kind, HitType::Order);
    let c = o.conversion.as_ref().unwrap();
    assert_eq!(c.order_id.as_deref(), Some("A-17"));
    assert_eq!(
        (c.revenue, c.subtotal, c.tax, c.shipping, c.discount),
        (Some(25.5), Some(20.5), Some(3.0), Some(2.0), Some(0.0))
    );
    assert_eq!(c.items.len(), 2, "an item without a SKU is skipped");
    assert_eq!(c.items[0].categories, ["Kitchen", "Cups"]);
    assert_eq!(
        (c.items[1].price, c.items[1].quantity),
        (Some(1.0), Some(1))
    );
    let cart = hit(
        &mut t,
        &format!("{BASE}&{id}&idgoal=0&revenue=9.5&ec_items={items}"),
    );
    assert_eq!(cart.kind, HitType::Cart);
    assert!(refused(&mut t, &format!("{BASE}&idgoal=x")).contains("idgoal"));
    assert!(refused(&mut t, &format!("{BASE}&idgoal=1&revenue=abc")).contains("revenue"));
    assert!(refused(&mut t, &format!("{BASE}&idgoal=0&ec_items=%7B%7D")).contains("ec_items"));
    // Into an ecommerce site with the goal: Goals.get shows them.
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1)
            .ecommerce(true)
            .goal(hitmap::Goal::manual(3, "Signed up")),
    )
    .unwrap();
    let view = hit(&mut t, &format!("{BASE}&{id}"));
    let out = e.ingest([view, g, o, cart]).unwrap();
    assert_eq!(out.accepted, 4, "{:?}", out.rejected);
    let q = "method=Goals.get&idSite=1&period=day&date=2024-06-01&format=json";
    let all: serde_json::Value = serde_json::from_str(&e.api(q).unwrap()).unwrap();
    assert_eq!(
        (all["nb_conversions"].clone(), all["revenue"].clone()),
        (2.into(), 38.into())
    );
    let orders: serde_json::Value =
        serde_json::from_str(&e.api(&format!("{q}&idGoal=ecommerceOrder")).unwrap()).unwrap();
    assert_eq!(
        (orders["items"].clone(), orders["revenue_tax"].clone()),
        (3.into(), 3.into())
    );
}

#[test]
fn a_product_page_view_is_a_page_view_and_a_product_view() {
    let mut t = tracker(TrackOptions::default());
    let id = "_id=0123456789abcdef";
    // Matomo's setEcommerceView: SKU, name, a JSON list of categories
    // (empty and "0" entries dropped, five kept) and the price.
    let cats = "%5B%22A%22%2C%22%22%2C0%2C%22B%22%2C%22C%22%2C%22D%22%2C%22E%22%2C%22F%22%5D";
    let Ok(Tracked::Viewed(page, view)) = t.track_query(
        &format!("{BASE}&{id}&action_name=Mug&_pks=MUG&_pkn=Mug&_pkc={cats}&_pkp=9.5"),
        &client(),
    ) else {
        panic!("a product page view is two hits");
    };
    assert_eq!(
        (page.kind, page.title.as_deref()),
        (HitType::Pageview, Some("Mug"))
    );
    assert_eq!(view.kind, HitType::ProductView);
    assert_eq!(
        (view.ts, view.visitor.as_str(), view.url.as_deref()),
        (page.ts, page.visitor.as_str(), page.url.as_deref())
    );
    let item = &view.conversion.as_ref().unwrap().items[0];
    assert_eq!(
        (item.sku.as_str(), item.name.as_deref(), item.price),
        ("MUG", Some("Mug"), Some(9.5))
    );
    assert_eq!(item.categories, ["A", "B", "C", "D", "E"]);
    // A category page: no SKU, one category.
    let Ok(Tracked::Viewed(_, view)) =
        t.track_query(&format!("{BASE}&{id}&_pkc=Kitchen&_pkn="), &client())
    else {
        panic!("a category page view is two hits");
    };
    let item = &view.conversion.as_ref().unwrap().items[0];
    assert_eq!((item.sku.as_str(), item.name.as_deref()), ("", None));
    assert_eq!(item.categories, ["Kitchen"]);
    // Nothing named: an ordinary page view.
    let h = hit(&mut t, &format!("{BASE}&{id}&_pkc=&_pkp=3"));
    assert_eq!(h.kind, HitType::Pageview);
    // Into an ecommerce site: the products report counts the view.
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).ecommerce(true)).unwrap();
    let mut t = Tracker::new(&e, TrackOptions::default()).unwrap();
    let hits = t
        .track_query(&format!("{BASE}&{id}&_pks=MUG&_pkp=9.5"), &client())
        .unwrap()
        .into_hits();
    assert_eq!(hits.len(), 2);
    e.ingest(&hits).unwrap();
    let rows = e
        .api("method=Goals.getItemsSku&idSite=1&period=day&date=2024-06-01&format=json")
        .unwrap();
    let rows: serde_json::Value = serde_json::from_str(&rows).unwrap();
    assert_eq!(
        (rows[0]["label"].clone(), rows[0]["nb_actions"].clone()),
        ("MUG".into(), 1.into()),
        "{rows}"
    );
}

/// A site's exclusions, as Matomo's: excluded IPs (address, range,
/// wildcard; the `cip` a token sets counts), user agents (a part, any
/// case) and URLs off the site's hosts are answered and not stored; the
/// log importer's replayed requests count them as skipped with the
/// reason; a rule that is no address is refused when the tracker starts.
#[test]
fn a_sites_exclusions_drop_its_requests() {
    use hitmap_intake::exclude::Excluded;
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1)
            .host("x.org")
            .exclude_ip("10.9.0.0/16")
            .exclude_ip("192.168.*.*")
            .exclude_user_agent("HeadlessChrome")
            .exclude_unknown_urls(true),
    )
    .unwrap();
    e.add_site(SiteConfig::new(2)).unwrap();
    let options = TrackOptions {
        tokens: vec![TokenAccess::all("secret")],
        ..TrackOptions::default()
    };
    let mut t = Tracker::new(&e, options).unwrap();
    let at = |ip: &'static str, agent: &'static str| Client {
        ip,
        user_agent: Some(agent),
        accept_language: None,
        now: NOW,
    };
    let q = "idsite=1&rec=1&url=https%3A%2F%2Fwww.x.org%2Fa&action_name=A";
    for (client, query, want) in [
        (at("10.9.8.7", FIREFOX), q.to_owned(), Some(Excluded::Ip)),
        (at("192.168.1.2", FIREFOX), q.to_owned(), Some(Excluded::Ip)),
        (
            at("10.1.2.3", FIREFOX),
            format!("{q}&cip=10.9.1.1&token_auth=secret"),
            Some(Excluded::Ip),
        ),
        (
            at("10.1.2.3", "Mozilla/5.0 headlesschrome/120"),
            q.to_owned(),
            Some(Excluded::UserAgent),
        ),
        (
            at("10.1.2.3", FIREFOX),
            "idsite=1&rec=1&url=https%3A%2F%2Fy.org%2Fa".to_owned(),
            Some(Excluded::UnknownUrl),
        ),
        (at("10.1.2.3", FIREFOX), q.to_owned(), None),
        // Another site excludes nothing.
        (
            at("10.9.8.7", FIREFOX),
            q.replace("idsite=1", "idsite=2"),
            None,
        ),
    ] {
        match (t.track_query(&query, &client), want) {
            (Ok(Tracked::Excluded(why)), Some(w)) => assert_eq!(why, w, "{query}"),
            (Ok(Tracked::Hit(_)), None) => {}
            (other, _) => panic!("{query}: {other:?}, want {want:?}"),
        }
    }
    let mut bad = Engine::in_memory();
    bad.add_site(SiteConfig::new(1).exclude_ip("10.1.2"))
        .unwrap();
    let err = Tracker::new(&bad, TrackOptions::default()).unwrap_err();
    assert!(err.to_string().contains("10.1.2"), "{err}");
}

/// A site's excluded query parameters and Matomo's default session and
/// click ids (any case) are stripped from page URLs, the rest of the
/// query kept in order; download and outlink URLs keep them, as Matomo's
/// tracker records them; a site without a list still loses the defaults.
#[test]
fn excluded_parameters_leave_page_urls() {
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1)
            .exclude_parameter("excluded_parameter")
            .exclude_parameter("anotherParameter"),
    )
    .unwrap();
    e.add_site(SiteConfig::new(2)).unwrap();
    let mut t = Tracker::new(&e, TrackOptions::default()).unwrap();
    let page = "https%3A%2F%2Fx.org%2Fa%3FEXCLUDED_Parameter%3D1%26q%3D2%26gclid%3Dz%26anotherparameter%3D3%23top";
    let mut url = |query: &str| hit(&mut t, query).url.unwrap();
    assert_eq!(
        url(&format!("idsite=1&rec=1&url={page}&action_name=A")),
        "https://x.org/a?q=2#top"
    );
    assert_eq!(
        url(&format!("idsite=1&rec=1&url={page}&search=shoes")),
        "https://x.org/a?q=2#top"
    );
    // Another site: only Matomo's defaults.
    assert_eq!(
        url(&format!("idsite=2&rec=1&url={page}&action_name=A")),
        "https://x.org/a?EXCLUDED_Parameter=1&q=2&anotherparameter=3#top"
    );
    // Downloads and outlinks keep theirs.
    let file = "https%3A%2F%2Fx.org%2Ff.zip%3Fsid%3D1%26excluded_parameter%3D2";
    assert_eq!(
        url(&format!("idsite=1&rec=1&url={page}&download={file}")),
        "https://x.org/f.zip?sid=1&excluded_parameter=2"
    );
    assert_eq!(
        url(&format!("idsite=1&rec=1&url={page}&link={file}")),
        "https://x.org/f.zip?sid=1&excluded_parameter=2"
    );
}

/// Matomo's page performance (`pf_net` .. `pf_onl`, page views only) and
/// bandwidth (`bw_bytes`): `-1`, text and values past Matomo's columns
/// are no value, as Matomo's tracker reads them.
#[test]
fn load_timings_and_bandwidth_are_read_as_matomos_tracker_reads_them() {
    let mut t = tracker(TrackOptions::default());
    let h = hit(
        &mut t,
        &format!(
            "{BASE}&pf_net=26&pf_srv=58&pf_tfr=-1&pf_dm1=x&pf_dm2=16777216&pf_onl=0&bw_bytes=5609"
        ),
    );
    assert_eq!(
        h.perf.times,
        [Some(26), Some(58), None, None, None, Some(0)]
    );
    assert_eq!(h.perf.bandwidth, Some(5609));
    // A download carries its bytes, never page timings.
    let d = hit(
        &mut t,
        &format!("{BASE}&download=https%3A%2F%2Fx.org%2Fa.pdf&pf_srv=58&bw_bytes=100"),
    );
    assert_eq!((d.perf.times, d.perf.bandwidth), ([None; 6], Some(100)));
}

#[test]
fn content_impressions_and_interactions_are_content_hits() {
    let mut t = tracker(TrackOptions::default());
    let id = "_id=0123456789abcdef";
    // Matomo's trackContentImpression: name, piece, target; its parts
    // trimmed, an empty one none.
    let h = hit(
        &mut t,
        &format!("{BASE}&{id}&c_n=+Banner+&c_p=%2Fimg%2Fsale.png&c_t=&action_name=ignored"),
    );
    assert_eq!(h.kind, HitType::Content);
    assert_eq!(h.url.as_deref(), Some("https://x.org/news/a"));
    assert_eq!(h.title, None);
    let c = h.conversion.as_ref().unwrap().content.clone().unwrap();
    assert_eq!(
        (c.name.as_str(), c.piece.as_deref(), c.target, c.interaction),
        ("Banner", Some("/img/sale.png"), None, None)
    );
    // trackContentInteraction: the interaction too.
    let h = hit(
        &mut t,
        &format!(
            "{BASE}&{id}&c_n=Banner&c_p=%2Fimg%2Fsale.png&c_t=https%3A%2F%2Fx.org%2Fsale&c_i=click"
        ),
    );
    let c = h.conversion.as_ref().unwrap().content.clone().unwrap();
    assert_eq!(
        (c.target.as_deref(), c.interaction.as_deref()),
        (Some("https://x.org/sale"), Some("click"))
    );
    // A blank name is no content: a page view.
    assert_eq!(
        hit(&mut t, &format!("{BASE}&{id}&c_n=+")).kind,
        HitType::Pageview
    );
    // Into the engine: the report counts the impression and the click.
    let mut e = engine();
    let mut t = Tracker::new(&e, TrackOptions::default()).unwrap();
    for q in [
        format!("{BASE}&{id}&action_name=News"),
        format!("{BASE}&{id}&c_n=Banner&c_p=sale"),
        format!("{BASE}&{id}&c_n=Banner&c_p=sale&c_i=click"),
    ] {
        let hits = t.track_query(&q, &client()).unwrap().into_hits();
        e.ingest(&hits).unwrap();
    }
    let rows = e
        .api("method=Contents.getContentNames&idSite=1&period=day&date=2024-06-01&format=json")
        .unwrap();
    let rows: serde_json::Value = serde_json::from_str(&rows).unwrap();
    assert_eq!(
        (
            rows[0]["label"].clone(),
            rows[0]["nb_impressions"].clone(),
            rows[0]["nb_interactions"].clone(),
            rows[0]["interaction_rate"].clone()
        ),
        ("Banner".into(), 1.into(), 1.into(), "100%".into())
    );
}

#[test]
fn titles_are_cleaned_on_a_site_with_title_categories() {
    // Matomo's tracker with action_title_category_delimiter: each category
    // trimmed, empty ones dropped.
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).title_category_delimiter("/"))
        .unwrap();
    e.add_site(SiteConfig::new(2)).unwrap();
    let mut t = Tracker::new(&e, TrackOptions::default()).unwrap();
    let id = "_id=0123456789abcdef";
    let h = hit(
        &mut t,
        &format!("{BASE}&{id}&action_name=+Shop+%2F+Boots%2F%2F"),
    );
    assert_eq!(h.title.as_deref(), Some("Shop/Boots"));
    // Another site keeps its titles as sent.
    let other = BASE.replace("idsite=1", "idsite=2");
    let h = hit(
        &mut t,
        &format!("{other}&{id}&action_name=+Shop+%2F+Boots%2F%2F"),
    );
    assert_eq!(h.title.as_deref(), Some(" Shop / Boots//"));
}
