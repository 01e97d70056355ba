"""hitmap.matomo.import_logs through PyMySQL against a real MariaDB
(scripts/mariadb starts a private server on a socket): the numbers equal
what Matomo's archiving SQL returns on the same tables."""

import os
import pathlib
import subprocess

import pymysql
import pytest

import hitmap
import hitmap.matomo

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = (ROOT / "cli/tests/fixtures/matomo5-schema.sql").read_text()


@pytest.fixture(scope="module")
def socket(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mariadb")
    out = subprocess.run(
        [str(ROOT / "scripts/mariadb"), str(folder), str(os.getpid())],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def connect(socket, db=None):
    return pymysql.connect(unix_socket=socket, user="root", database=db, autocommit=True)


# Two visitors on 2025-06-02 (Europe/Berlin): A makes two visits (the
# second a campaign click 5 minutes after the first, a new visit for
# Matomo), B one visit with a download and a site search.
VISITS = [
    # idvisit, visitor hex, first, last, actions, total time, entry url, exit url, referer type, name, keyword, url
    (1, "00000000000000aa", "2025-06-02 08:00:00", "2025-06-02 08:04:00", 2, 241, 1, 2, 2, "Google", "payroll", "https://www.google.de/search?q=payroll"),
    (2, "00000000000000aa", "2025-06-02 08:09:00", "2025-06-02 08:09:00", 1, 0, 2, 2, 6, "summer", "mail", None),
    (3, "00000000000000bb", "2025-06-02 09:00:00", "2025-06-02 09:02:00", 3, 121, 1, 1, 1, None, None, None),
]
ACTIONS = [
    # idlink_va, idvisit, visitor, server_time, idaction_url, idaction_name
    (1, 1, "00000000000000aa", "2025-06-02 08:00:00", 1, 4),
    (2, 1, "00000000000000aa", "2025-06-02 08:04:00", 2, None),
    (3, 2, "00000000000000aa", "2025-06-02 08:09:00", 2, None),
    # A content impression first: not a hit; the visit's device and
    # referrer still reach the visit through its next row.
    (4, 3, "00000000000000bb", "2025-06-02 09:00:00", 6, None),
    (5, 3, "00000000000000bb", "2025-06-02 09:00:00", 1, 4),
    (6, 3, "00000000000000bb", "2025-06-02 09:01:00", 3, None),
    (7, 3, "00000000000000bb", "2025-06-02 09:02:00", None, 5),
]


@pytest.fixture()
def matomo(socket, request):
    name = "py_" + request.node.name[:40]
    admin = connect(socket)
    with admin.cursor() as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")
        c.execute(f"CREATE DATABASE {name}")
    conn = connect(socket, name)
    with conn.cursor() as c:
        for stmt in SCHEMA.split(";"):
            if "CREATE" in stmt:
                c.execute(stmt)
        c.execute(
            "INSERT INTO matomo_site (idsite, name, main_url, sitesearch_keyword_parameters, sitesearch_category_parameters, "
            "timezone, currency, excluded_ips, excluded_parameters, excluded_user_agents, excluded_referrers, `group`, `type`) "
            "VALUES (1, 'Intranet', 'https://intranet.example.de', '', '', 'Europe/Berlin', 'EUR', '', '', '', '', '', 'website')"
        )
        c.executemany(
            "INSERT INTO matomo_log_action (idaction, name, hash, type, url_prefix) VALUES (%s, %s, 0, %s, %s)",
            [(1, "intranet.example.de/news", 1, 2), (2, "intranet.example.de/hr", 1, 2),
             (3, "intranet.example.de/f.pdf", 3, 2), (4, "News", 4, None), (5, "vacation", 8, None),
             (6, "banner", 13, None)],
        )
        for v in VISITS:
            c.execute(
                "INSERT INTO matomo_log_visit (idvisit, idsite, idvisitor, visit_first_action_time, visit_last_action_time, "
                "config_id, location_ip, visit_total_actions, visit_total_time, visit_entry_idaction_url, visit_exit_idaction_url, "
                "referer_type, referer_name, referer_keyword, referer_url, config_device_type, config_browser_name, config_os, "
                "location_country, location_browser_lang) "
                "VALUES (%s, 1, UNHEX(%s), %s, %s, UNHEX(%s), UNHEX('7f000001'), %s, %s, %s, %s, %s, %s, %s, %s, 1, 'CM', 'AND', 'de', 'de-de')",
                (v[0], v[1], v[2], v[3], v[1], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]),
            )
        c.executemany(
            "INSERT INTO matomo_log_link_visit_action (idlink_va, idsite, idvisit, idvisitor, server_time, idaction_url, idaction_name) "
            "VALUES (%s, 1, %s, UNHEX(%s), %s, %s, %s)",
            ACTIONS,
        )
    yield conn
    if conn.open:
        conn.close()


def matomo_summary(conn, start, end):
    with conn.cursor() as c:
        c.execute(
            "SELECT count(distinct idvisitor), count(*), sum(visit_total_actions), sum(visit_total_time), "
            "sum(case visit_total_actions when 1 then 1 when 0 then 1 else 0 end) FROM matomo_log_visit "
            "WHERE idsite = 1 AND visit_last_action_time >= %s AND visit_last_action_time <= %s",
            (start, end),
        )
        return tuple(int(x or 0) for x in c.fetchone())


def ours(engine, date):
    s = engine.api(f"method=VisitsSummary.get&idSite=1&period=day&date={date}")
    return tuple(s.get(k, 0) for k in ("nb_uniq_visitors", "nb_visits", "nb_actions", "sum_visit_length", "bounce_count"))


def test_keeping_visits_equals_matomos_archiving_sql(matomo):
    engine = hitmap.Engine.in_memory()
    seen = []
    result = hitmap.matomo.import_logs(
        matomo, engine, keep_visits=True, settle_secs=0, batch_rows=4,
        progress=lambda *p: seen.append(p),
    )
    assert (result.rows, result.hits) == (7, 6)
    assert result.sites[0].skipped == {"action of type 13": 1}
    assert [p[3] for p in seen] == [4, 7]  # the checkpoint after each batch
    # Berlin's 2025-06-02 is 2025-06-01 22:00 to 2025-06-02 21:59:59 UTC.
    assert ours(engine, "2025-06-02") == matomo_summary(matomo, "2025-06-01 22:00:00", "2025-06-02 21:59:59")
    # The mapping: DeviceDetector codes, the recorded referrer, the search.
    browsers = engine.api("method=DevicesDetection.getBrowsers&idSite=1&period=day&date=2025-06-02")
    assert [(r["label"], r["nb_visits"]) for r in browsers] == [("Chrome Mobile", 3)]
    kinds = {r["label"]: r["nb_visits"] for r in engine.api("method=Referrers.getReferrerType&idSite=1&period=day&date=2025-06-02")}
    assert kinds == {"Campaigns": 1, "Direct Entry": 1, "Search Engines": 1}
    keywords = engine.api("method=Actions.getSiteSearchKeywords&idSite=1&period=day&date=2025-06-02")
    assert [r["label"] for r in keywords] == ["vacation"]
    # Nothing new: a second run reads nothing.
    again = hitmap.matomo.import_logs(matomo, engine, keep_visits=True, settle_secs=0)
    assert again.rows == 0 and again.sites[0].cursor == 7


def test_resessionizing_merges_the_campaign_click(matomo):
    engine = hitmap.Engine.in_memory()
    hitmap.matomo.import_logs(matomo, engine, settle_secs=0)
    uniq, visits, actions, _, _ = ours(engine, "2025-06-02")
    assert (uniq, visits, actions) == (2, 2, 6)


def test_errors_are_clear_and_keep_what_was_committed(matomo, tmp_path):
    engine = hitmap.Engine(tmp_path / "store")
    with pytest.raises(hitmap.IntakeError, match="table prefix"):
        hitmap.matomo.import_logs(matomo, engine, prefix="piwik_")
    hitmap.matomo.import_logs(matomo, engine, settle_secs=0, batch_rows=3)
    # Another window on the same store is refused, not mixed in.
    with pytest.raises(hitmap.IntakeError, match="--from 2025-06-01"):
        hitmap.matomo.import_logs(matomo, engine, from_="2025-06-01", settle_secs=0)
    # The driver's own exception comes through as it was raised.
    matomo.close()
    with pytest.raises(pymysql.err.Error):
        hitmap.matomo.import_logs(matomo, engine, settle_secs=0)
    assert engine._engine.cursor("matomo:1").startswith("v1;cursor=7;")
