"""Goals from Python: defined after the data, they answer for it; edited,
the past changes; bad definitions raise with the reason."""

from __future__ import annotations

import json

import pytest

import hitmap

T = 1_717_200_000  # 2024-06-01 00:00 UTC


def hits():
    rows = [
        ("a", T, "https://x.org/shop"),
        ("a", T + 60, "https://x.org/thanks"),
        ("a", T + 120, "https://x.org/thanks?again"),
        ("b", T, "https://x.org/"),
    ]
    return "".join(
        json.dumps({"site": 1, "ts": ts, "visitor": v, "type": "pageview", "url": u}) + "\n" for v, ts, u in rows
    ).encode()


def goals_get(e, extra=""):
    return e.api(f"method=Goals.get&idSite=1&period=day&date=2024-06-01{extra}")


def test_a_goal_added_after_the_data_answers_for_it(tmp_path):
    e = hitmap.Engine(str(tmp_path / "store"))
    e.add_site(1, hosts=["x.org"])
    e.ingest_ndjson(hits())
    e.set_goal(1, 1, "Thanks", match="url", pattern="/THANKS", revenue=2.5)
    g = goals_get(e)
    assert (g["nb_conversions"], g["nb_visits_converted"], g["revenue"], g["conversion_rate"]) == (1, 1, 2.5, "50%")
    # Edited: several conversions a visit, one a second.
    e.set_goal(1, 1, "Thanks", match="url", pattern="/thanks", allow_multiple=True, case_sensitive=True)
    assert goals_get(e, "&idGoal=1")["nb_conversions"] == 2
    # add_site without goals keeps them; a reader of the store sees them.
    e.add_site(1, hosts=["x.org"])
    assert [g["name"] for g in e.goals(1)] == ["Thanks"]
    summary = e.api("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01")
    assert summary["nb_visits_converted"] == 1
    assert e.remove_goal(1, 1) and not e.remove_goal(1, 1)
    assert e.goals(1) == []


def test_bad_goals_raise_with_the_reason():
    e = hitmap.Engine.in_memory()
    e.add_site(1)
    with pytest.raises(hitmap.HitmapError, match="not a regular expression"):
        e.set_goal(1, 1, "Bad", pattern_type="regex", pattern="(")
    with pytest.raises(hitmap.HitmapError, match="unknown goal match attribute"):
        e.set_goal(1, 1, "Bad", match="page", pattern="/x")
    with pytest.raises(hitmap.HitmapError, match="needs a pattern"):
        e.set_goal(1, 1, "Bad", match="title")
    e.set_goal(1, 2, "Call", match="manually")
    assert e.goals(1)[0]["match_attribute"] == "manually"


def test_orders_carts_and_goal_conversions_from_a_dataframe_equal_ndjson():
    pl = pytest.importorskip("polars")
    rows = [
        {"site": 1, "ts": T, "visitor": "a", "type": "pageview", "url": "https://x.org/shop"},
        {"site": 1, "ts": T + 5, "visitor": "a", "type": "goal", "goal": 2, "revenue": 3.5},
        {
            "site": 1, "ts": T + 9, "visitor": "a", "type": "order", "revenue": 21.0,
            "order": {"id": "A-1", "tax": 2.0},
            "items": [
                {"sku": "MUG", "name": "Mug", "category": ["K", "G"], "price": 9.5, "quantity": 2},
                {"sku": "PEN", "name": None, "category": [], "price": None, "quantity": None},
            ],
        },
        {"site": 1, "ts": T, "visitor": "b", "type": "pageview", "url": "https://x.org/"},
        {
            "site": 1, "ts": T + 20, "visitor": "b", "type": "cart", "revenue": 4.0,
            "items": [{"sku": "INK", "name": None, "category": [], "price": None, "quantity": 4}],
        },
    ]

    def engine():
        e = hitmap.Engine.in_memory()
        e.add_site(1, ecommerce=True)
        e.set_goal(1, 2, "Called", match="manually")
        return e

    lines = engine()
    result = lines.ingest_ndjson("".join(json.dumps(r) + "\n" for r in rows).encode())
    assert result.accepted == 5, result.rejected
    frame = engine()
    result = frame.ingest(pl.DataFrame(rows))
    assert result.accepted == 5, result.rejected
    dicts = engine()
    assert dicts.ingest(rows).accepted == 5
    for extra in ["", "&idGoal=2", "&idGoal=ecommerceOrder", "&idGoal=ecommerceAbandonedCart"]:
        want = goals_get(lines, extra)
        assert goals_get(frame, extra) == want
        assert goals_get(dicts, extra) == want
    orders = goals_get(lines, "&idGoal=ecommerceOrder")
    assert (orders["nb_conversions"], orders["revenue"], orders["items"], orders["revenue_tax"]) == (1, 21, 3, 2)
    assert goals_get(lines, "&idGoal=2")["revenue"] == 3.5
    products = frame.api("method=Goals.getItemsSku&idSite=1&period=day&date=2024-06-01")
    assert [(r["label"], r["quantity"]) for r in products] == [("MUG", 2), ("PEN", 1)]


def test_product_views_from_a_dataframe_equal_ndjson():
    pl = pytest.importorskip("polars")
    rows = [
        {"site": 1, "ts": T, "visitor": "a", "type": "pageview", "url": "https://x.org/mug"},
        {"site": 1, "ts": T, "visitor": "a", "type": "product_view", "url": "https://x.org/mug",
         "items": [{"sku": "MUG", "name": "Mug", "category": ["Kitchen"], "price": 9.5}]},
        {"site": 1, "ts": T + 60, "visitor": "a", "type": "pageview", "url": "https://x.org/garden"},
        {"site": 1, "ts": T + 60, "visitor": "a", "type": "product_view", "url": "https://x.org/garden",
         "items": [{"sku": None, "name": None, "category": ["Garden"], "price": None}]},
    ]

    def engine():
        e = hitmap.Engine.in_memory()
        e.add_site(1, ecommerce=True)
        return e

    lines = engine()
    assert lines.ingest_ndjson("".join(json.dumps(r) + "\n" for r in rows).encode()).accepted == 4
    frame = engine()
    result = frame.ingest(pl.DataFrame(rows))
    assert result.accepted == 4, result.rejected
    for method in ["Goals.getItemsSku", "Goals.getItemsName", "Goals.getItemsCategory"]:
        q = f"method={method}&idSite=1&period=day&date=2024-06-01"
        assert frame.api(q) == lines.api(q), method
    categories = frame.api("method=Goals.getItemsCategory&idSite=1&period=day&date=2024-06-01")
    assert [(r["label"], r["nb_actions"]) for r in categories] == [("Garden", 1), ("Kitchen", 1)]
    summary = frame.api("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01")
    assert (summary["nb_visits"], summary["nb_actions"]) == (1, 2)


def test_a_dataframe_with_columns_and_fields_of_nulls_only_ingests_as_ndjson():
    # polars types an all-missing column (and struct field) `Null`, which
    # its Arrow export writes in a way the C data interface refuses:
    # hitmap casts them to the contract's types first.
    pl = pytest.importorskip("polars")
    rows = [
        {"site": 1, "ts": T, "visitor": "a", "type": "pageview", "url": "https://x.org/mug",
         "title": None, "revenue": None, "new_visit": None, "items": None},
        {"site": 1, "ts": T, "visitor": "a", "type": "product_view", "url": "https://x.org/mug",
         "title": None, "revenue": None, "new_visit": None,
         "items": [{"sku": "MUG", "name": None, "price": None, "quantity": None}]},
    ]
    frame = pl.DataFrame(rows)
    assert frame.schema["title"] == pl.Null and frame.schema["revenue"] == pl.Null

    def engine():
        e = hitmap.Engine.in_memory()
        e.add_site(1, ecommerce=True)
        return e

    lines = engine()
    ndjson = "".join(json.dumps({k: v for k, v in r.items() if v is not None}) + "\n" for r in rows)
    assert lines.ingest_ndjson(ndjson.encode()).accepted == 2
    framed = engine()
    result = framed.ingest(frame)
    assert (result.accepted, result.rejected) == (2, [])
    for method in ["Goals.getItemsSku", "VisitsSummary.get", "Actions.getPageTitles"]:
        q = f"method={method}&idSite=1&period=day&date=2024-06-01"
        assert framed.api(q) == lines.api(q), method


def test_a_site_keeps_its_name_and_main_url():
    e = hitmap.Engine.in_memory()
    e.add_site(1, hosts=["x.org"], name="Intranet", main_url="http://x.org")
    # An update without them keeps them.
    e.add_site(1, hosts=["x.org"])
    site = e.api("method=SitesManager.getSiteFromId&idSite=1")
    assert (site["name"], site["main_url"]) == ("Intranet", "http://x.org")


def test_a_site_with_title_categories_reports_a_title_tree():
    e = hitmap.Engine.in_memory()
    e.add_site(1, title_category_delimiter="/")
    # An update without it keeps it, as the name and main URL.
    e.add_site(1, hosts=["x.org"])
    lines = [
        {"site": 1, "ts": T, "visitor": "a", "url": "https://x.org/a", "title": "Shop / Boots"},
        {"site": 1, "ts": T + 60, "visitor": "a", "url": "https://x.org/b", "title": "Shop/Hats"},
        {"site": 1, "ts": T + 120, "visitor": "b", "url": "https://x.org/", "title": "Home"},
    ]
    e.ingest_ndjson("".join(json.dumps(x) + "\n" for x in lines).encode())
    rows = e.report("page_titles", 1, "2024-06-01").rows
    assert [(r["label"], r["nb_hits"]) for r in rows] == [("Shop", 2), ("Home", 1)]
    flat = e.api("method=Actions.getPageTitles&idSite=1&period=day&date=2024-06-01&flat=1")
    assert sorted(r["label"] for r in flat) == ["Home", "Shop / Boots", "Shop/Hats"]
