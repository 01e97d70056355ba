"""Matomo's PHP tracker (`MatomoTracker`), as Matomo's system-test fixtures
use it, writing the requests it would send as the lines of an access log
of tracking requests (`hitmap ingest --replay-tracking` replays them).

A fixture's PHP transcribes almost line for line:

    $t = self::getTracker(1, '2010-01-03 11:22:33');     t = Tracker(log, 1, "2010-01-03 11:22:33")
    $t->setUrl('http://example.org/webradio');            t.set_url("http://example.org/webradio")
    $t->doTrackPageView('Welcome!');                      t.do_track_page_view("Welcome!")

What each call sends follows matomo-php-tracker's `MatomoTracker`: the
parameters of every request (`idsite`, `rec`, `apiv`, `_id`, `url`,
`urlref`, the local time, resolution, plugins and cookie flags, `uid`,
`cid`, `new_visit` once after `setForceNewVisit`, the location
overrides) and those of each kind of request. The request's time is the
log line's (`setForceVisitDateTime`), its address the line's client
(`setIp`), its user agent the line's, and its browser language, a
header in PHP, the `lang` parameter. Performance timings and custom
variables are accepted and not sent (hitmap keeps neither).
"""

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

FIREFOX = ("Mozilla/5.0 (Windows; U; Windows NT 5.1; en-GB; rv:1.9.2.6) Gecko/20100625 Firefox/3.6.6 "
           "(.NET CLR 3.5.30729)")


def at(when):
    """A `Y-m-d H:i:s` time (UTC), or a datetime, as an aware datetime."""
    if isinstance(when, datetime):
        return when
    return datetime.strptime(when, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)


def add_hours(when, hours):
    """Matomo's `Date::factory($when)->addHour($hours)`: the hours in
    seconds, rounded to a whole second."""
    return at(when) + timedelta(seconds=round(hours * 3600))


class Log:
    """The lines the trackers of one fixture send, in order."""

    def __init__(self):
        self.lines = []
        self.visitors = 0

    def text(self):
        return "\n".join(self.lines) + "\n"


class Tracker:
    """`Fixture::getTracker($idSite, $dateTime, $defaultInit)`."""

    def __init__(self, log, site, when, default_init=True, visitor_id=None):
        self.log = log
        log.visitors += 1
        # MatomoTracker's random visitor id, one per tracker.
        self.visitor_id = visitor_id or f"{log.visitors:016x}"
        self.site = site
        self.when = at(when)
        self.url = ""
        self.urlref = ""
        self.user_id = None
        self.forced_visitor_id = None
        self.new_visit = False
        self.location = {}
        self.custom = {}
        if default_init:
            self.ip = "156.5.3.2"
            self.agent = FIREFOX
            self.lang = "fr"
            self.local = ("12", "34", "6")
            self.resolution = "1024x768"
            self.cookies = True
            self.plugins = {"fla": "1", "java": "1"}
        else:
            self.ip, self.agent, self.lang, self.local = "127.0.0.1", "", None, None
            self.resolution, self.cookies, self.plugins = None, False, {}

    # Setters, as MatomoTracker names them.
    def set_url(self, url):
        self.url = url

    def set_url_referrer(self, url):
        self.urlref = url

    def set_ip(self, ip):
        self.ip = ip

    def set_user_agent(self, agent):
        self.agent = agent

    def set_browser_language(self, lang):
        self.lang = lang

    def set_resolution(self, width, height):
        self.resolution = f"{width}x{height}"

    def set_local_time(self, hms):
        self.local = tuple(str(int(p)) for p in hms.split(":"))

    def set_plugins(self, flash=False, java=False):
        self.plugins = {"fla": "1" if flash else "0", "java": "1" if java else "0"}

    def set_force_visit_date_time(self, when):
        self.when = at(when)

    def set_user_id(self, user_id):
        self.user_id = user_id

    def set_visitor_id(self, visitor_id):
        self.forced_visitor_id = visitor_id

    def set_force_new_visit(self):
        self.new_visit = True

    def set_country(self, code):
        self.location["country"] = code

    def set_region(self, code):
        self.location["region"] = code

    def set_city(self, city):
        self.location["city"] = city

    def set_latitude(self, lat):
        self.location["lat"] = str(lat)

    def set_longitude(self, lon):
        self.location["long"] = str(lon)

    def set_attribution_info(self, info):
        """MatomoTracker::setAttributionInfo (a JSON list: campaign name,
        keyword, referrer time, referrer URL), sent with every request
        as `_rcn`, `_rck`, `_refts` and `_ref`."""
        name, keyword, ts, url = json.loads(info)
        self.attribution = {"_rcn": name, "_rck": keyword, "_refts": str(ts), "_ref": url}

    def set_custom_tracking_parameter(self, name, value):
        self.custom[name] = value

    def set_custom_variable(self, *args, **kw):
        """Accepted, not sent: hitmap keeps no custom variables."""

    # Requests.
    def send(self, params):
        q = {"idsite": str(self.site), "rec": "1", "apiv": "1", "_id": self.visitor_id}
        if self.user_id is not None:
            q["uid"] = self.user_id
        if self.forced_visitor_id:
            q["cid"] = self.forced_visitor_id
        if self.new_visit:
            q["new_visit"] = "1"
            self.new_visit = False
        q.update(self.location)
        # MatomoTracker sends a URL and a referrer only when not empty.
        q.update({k: v for k, v in (("url", self.url), ("urlref", self.urlref)) if v})
        if self.local:
            q.update(zip(("h", "m", "s"), self.local))
        if self.resolution:
            q["res"] = self.resolution
        if self.cookies:
            q["cookie"] = "1"
        q.update(self.plugins)
        if self.lang:
            q["lang"] = self.lang
        q.update(self.custom)
        q.update(getattr(self, "attribution", {}))
        q.update(params)
        t = self.when.strftime("%d/%b/%Y:%H:%M:%S +0000")
        agent = self.agent.replace('"', "%22") or "-"
        # No response length ("-"): a replayed line's length is its
        # request's bandwidth (Matomo's importer sends it as `bw_bytes`),
        # and Matomo tracked these fixtures directly.
        self.log.lines.append(f'{self.ip} - - [{t}] "GET /matomo.php?{urlencode(q)} HTTP/1.1" 200 - "-" "{agent}"')

    def set_performance_timings(self, network, server, transfer, dom_processing, dom_completion, on_load):
        """The next page view's timings (milliseconds), as MatomoTracker
        sends them with it (`pf_net` .. `pf_onl`) and then clears them."""
        self.timings = {"pf_net": network, "pf_srv": server, "pf_tfr": transfer,
                        "pf_dm1": dom_processing, "pf_dm2": dom_completion, "pf_onl": on_load}

    def do_track_page_view(self, title):
        timings = {k: str(v) for k, v in getattr(self, "timings", {}).items()}
        self.timings = {}
        self.send({"action_name": title, **timings})

    def do_track_event(self, category, action, name=None, value=None):
        q = {"e_c": category, "e_a": action}
        if name not in (None, False):
            q["e_n"] = name
        if value is not None and value is not False:
            q["e_v"] = php_number(value)
        self.send(q)

    def do_track_site_search(self, keyword, category="", count=None):
        q = {"search": keyword}
        if category:
            q["search_cat"] = category
        if count is not None and count is not False:
            q["search_count"] = str(int(count))
        self.send(q)

    def do_track_goal(self, idgoal, revenue=0.0):
        q = {"idgoal": str(idgoal)}
        if revenue:
            q["revenue"] = php_number(revenue)
        self.send(q)

    def add_ecommerce_item(self, sku, name="", category="", price=0.0, quantity=1):
        """MatomoTracker::addEcommerceItem: the price as PHP writes it
        (a string), sent with the next cart update or order."""
        self.__dict__.setdefault("ecommerce_items", []).append(
            [sku, name, category, php_number(price), quantity])

    def do_track_ecommerce_cart_update(self, grand_total):
        """MatomoTracker::doTrackEcommerceCartUpdate: `idgoal=0`, the
        total as `revenue` and the items added since the last one."""
        q = {"idgoal": "0", "revenue": php_number(grand_total)}
        rows = self.__dict__.pop("ecommerce_items", [])
        if rows:
            q["ec_items"] = json.dumps(rows, separators=(",", ":"))
        self.send(q)

    def do_track_action(self, url, kind):
        self.send({kind: url})

    def do_track_content_impression(self, name, piece="Unknown", target=None):
        q = {"c_n": name, "c_p": piece}
        if target:
            q["c_t"] = target
        self.send(q)

    def do_ping(self):
        self.send({"ping": "1"})


def php_number(v):
    """A number as PHP writes it in a URL (`9.66`, `10`)."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def items(*rows):
    return json.dumps([list(r) for r in rows], separators=(",", ":"))
