"""Matomo's system-test fixtures transcribed call by call with the PHP
tracker's twin (tracker.py). Each function returns the access log of
tracking requests that its fixture's tracker calls send."""

import json

from tracker import Log, Tracker, add_hours


def three_visits_with_custom_events():
    """tests/PHPUnit/Fixtures/ThreeVisitsWithCustomEvents.php: a visitor's
    page views, music and movie events (some without a URL, some with
    long names), then two more visitors' events, half an hour and a day
    later."""
    log = Log()
    base = {"t": "2010-01-03 11:22:33"}

    def forward(vis, minutes):
        vis.set_force_visit_date_time(add_hours(base["t"], minutes / 60))

    def music_playing(vis):
        name = "La fiancée de l'eau"
        for minutes, action in ((1, "play"), (2, "play25%"), (3, "play50%"), (4, "play75%"), (4.5, "playEnd")):
            forward(vis, minutes)
            vis.do_track_event("Music", action, name)

    def music_ratings(vis):
        forward(vis, 5)
        vis.do_track_event("Music", "rating", "La fiancée de l'eau", 9)
        forward(vis, 5.02)
        vis.do_track_event("Music", "rating", "La fiancée de l'eau", 10)

    def event_without_url(vis):
        url = vis.url
        vis.set_url("")
        forward(vis, 1)
        vis.do_track_event("CategoryTriggersGoal here", "This is an event without a URL", False)
        forward(vis, 2)
        vis.do_track_event("CategoryTriggersGoal here", "This is an event without a URL", False, 23)
        forward(vis, 3)
        vis.do_track_event("CategoryTriggersGoal here", "This is an event without a URL", False, 0)
        vis.set_url(url)

    def movie_watching(vis):
        forward(vis, 30)
        vis.set_url("http://example.org/movies")
        vis.set_performance_timings(0, 455, 169, 20, 99, 160)
        vis.do_track_page_view("Movie Theater")
        spirited = "Spirited Away (千と千尋の神隠し)"
        for minutes, action, name in ((31, "playTrailer", "Princess Mononoke (もののけ姫)"),
                                      (33, "playTrailer", "Ponyo (崖の上のポニョ)"),
                                      (35, "playTrailer", spirited), (36, "clickBuyNow", spirited),
                                      (38, "playStart", spirited), (60, "play25%", spirited)):
            forward(vis, minutes)
            vis.do_track_event("Movie", action, name)
        forward(vis, 150)
        vis.do_track_event("Movie", "Search")
        forward(vis, 200)
        forward(vis, 222)
        vis.do_track_event("Movie", "play50%", spirited)
        forward(vis, 244)
        vis.do_track_event("Movie", "play75%", spirited)
        forward(vis, 251)
        vis.do_track_event("Movie", "Search", "Search query here")
        forward(vis, 266)
        vis.do_track_event("Movie", "playEnd", spirited)
        vis.set_url("")
        forward(vis, 268)
        vis.do_track_event("Movie", "rating", spirited, 9.66)
        vis.set_url("http://example.org/finishedMovie")
        append = " ".join(["Extremely long"] * 10)
        append += " ---> SHOULD APPEAR IN TEST OUTPUT NOT TRUNCATED <---         "
        forward(vis, 280)
        vis.do_track_event("event category " + append, "event action " + append, "event name " + append, 9.66)
        forward(vis, 352)
        vis.do_track_event("Movie", "Search")
        forward(vis, 453)
        vis.do_track_event("Movie", "Purchase")

    vis = Tracker(log, 1, base["t"])
    vis.set_url("http://example.org/webradio")
    vis.set_performance_timings(5, 111, 245, 145, 66, 0)
    vis.do_track_page_view("Welcome!")
    music_playing(vis)
    music_ratings(vis)
    event_without_url(vis)
    movie_watching(vis)

    for hours, ip in ((0.5, "111.1.1.1"), (24, "111.1.1.2")):
        base["t"] = add_hours(base["t"], hours)
        v = Tracker(log, 1, base["t"])
        v.set_url("http://example.com/piwik/")
        v.set_ip(ip)
        v.set_plugins(False, False)
        music_playing(v)
        music_ratings(v)
        movie_watching(v)
    return log.text()


def visits_over_several_days():
    """tests/PHPUnit/Fixtures/VisitsOverSeveralDays.php: on five days, a
    new visitor's two visits to site 1 from social networks (the second
    an hour later; the address changes within the first), and on the
    first three days another visitor's page view on site 2."""
    log = Log()
    referrers = [
        "http://facebook.com/whatever", "http://www.facebook.com/another/path", "http://fb.me/?q=sdlfjs&n=slfjsd",
        "http://twitter.com/whatever2", "http://www.twitter.com/index?a=2334", "http://t.co/id/?y=dsfs",
        "http://www.flickr.com", "http://xanga.com", "http://skyrock.com", "http://mixi.jp",
    ]
    r = 0
    for days, when in enumerate(["2010-12-14 01:00:00", "2010-12-15 01:00:00", "2010-12-25 01:00:00",
                                 "2011-01-15 01:00:00", "2011-01-16 01:00:00"], start=1):
        v = Tracker(log, 1, when)
        v.set_force_visit_date_time(add_hours(when, 0.1))
        v.set_url("http://example.org/homepage")
        v.set_url_referrer(referrers[r])
        r += 1
        v.do_track_page_view("ou pas")
        v.set_ip("200.1.15.22")
        v.set_force_visit_date_time(add_hours(when, 0.2))
        v.set_url("http://example.org/sub1/sub2/sub3/news")
        v.do_track_page_view("ou pas")
        v.set_force_visit_date_time(add_hours(when, 1))
        v.set_url("http://example.org/news")
        v.set_url_referrer(referrers[r])
        r += 1
        v.do_track_page_view("ou pas")
        if days <= 3:
            v = Tracker(log, 2, when)
            v.set_force_visit_date_time(add_hours(when, 0.1))
            v.set_url("http://example.org/homepage")
            v.set_url_referrer(referrers[r - 1])
            v.do_track_page_view("Second website")
    return log.text()


def invalid_visits():
    """tests/PHPUnit/Fixtures/InvalidVisits.php: requests Matomo must not
    record: an empty request, a robot, excluded user agents (the site's
    and the global list's), excluded IPs (the site's and the global
    list's), twice; then, with "only track visits to the site's URLs" on,
    page views of other hosts. Two logs: before that setting and after."""
    before, after = Log(), Log()
    when = "2009-01-04 00:11:42"
    t = Tracker(before, 1, when)
    # The empty request (no parameters): not a tracking request.
    before.lines.append('156.5.3.2 - - [04/Jan/2009:00:11:42 +0000] "GET /matomo.php HTTP/1.1" 200 - "-" "-"')
    t.set_user_agent("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    t.do_track_page_view("bot visit, please do not record")
    firefox = ("Mozilla/5.0 (Windows; U; Windows NT 5.1; en-GB; rv:1.9.2.6) Gecko/20100625 Firefox/3.6.6 "
               "(.NET CLR 3.5.30729)")
    for _enable in (False, True):
        t.set_user_agent(firefox + " (excludeduseragentstring)")
        t.set_ip("211.1.2.3")
        t.do_track_page_view("visit from excluded User Agent")
        t.set_user_agent("Mozilla/5.0 (Windows NT 6.1; rv:6.0) Gecko/20110814 Firefox/6.0 Google "
                         "(+https://developers.google.com/+/web/snippet/)")
        t.do_track_page_view("visit from excluded User Agent")
        t.set_user_agent(firefox + " (globalexcludeduseragent)")
        t.set_ip("211.1.2.3")
        t.do_track_page_view("visit from global excluded User Agent")
        t.set_user_agent(firefox)
        t.set_ip("154.1.12.34")
        t.do_track_page_view("visit from IP excluded")
        t.set_ip("145.5.3.4")
        t.do_track_page_view("visit from IP globally excluded")
    t.log = after
    t.set_ip("125.4.5.6")
    t.set_url("http://piwik.com/to/the/moon")
    t.do_track_page_view("ignored, not from piwik.net")
    t.set_url("http://their.stuff.com/back/to/the/future")
    t.do_track_page_view("ignored, not from my.stuff.com")
    return {"before": before.text(), "after": after.text()}


def one_visit_with_abnormal_pageview_urls():
    """tests/PHPUnit/Fixtures/OneVisitWithAbnormalPageviewUrls.php: one
    visit's page views of URLs with mixed protocols, `www.` and case,
    unicode and an emoji, the last one sent with an earlier time than the
    two before it."""
    log = Log()
    when = "2010-03-06 11:22:33"
    t = Tracker(log, 1, when)
    t.set_url_referrer("http://www.google.com/search?q=piwik")
    t.set_url("http://example.org/foo/bar.html")
    t.do_track_page_view("http://incredible.title/")
    for hours, url, title in (
            (0.2, "https://example.org/foo/bar.html", "https://incredible.title/"),
            (0.3, "https://wWw.example.org/foo/bar2.html", "http://www.incredible.title/"),
            (0.4, "http://WwW.example.org/foo/bar2.html", "https://www.incredible.title/"),
            (0.5, "http://www.example.org/foo/bar3.html", "incredible.title/"),
            (0.7, "http://www.my.url/\ua7fd\uf93b\u34a7\u42b6\u4e84\ufd86\u2145\u0e02\u03ba\u3082\u12b8\u1f79\u03c3\u0936\u03bc\u03b5\u0796\u0943", "Valid URL, although strange looking"),
            (0.8, "https://make.wordpress.org/?emoji=😎l&param=test", "Emoji here: %F0%9F%98%8E"),
            # "this pageview should be last" (the URLs' characters escaped as
            # the PHP source has them: an editor's normalisation would change
            # U+F93B and U+1F79)
            (0.6, "https://example.org/foo/bar4.html", "incredible.title/")):
        t.set_url(url)
        t.set_force_visit_date_time(add_hours(when, hours))
        t.do_track_page_view(title)
    return log.text()


def abandoned_cart_without_conversions():
    """plugins/Ecommerce/tests/Fixtures/AbandonedCartWithoutConversions.php:
    on an ecommerce site, a visitor's page view, then an hour later
    another visitor's page view and a cart update that is never ordered
    (no goal converts: the site's goal matches no title)."""
    log = Log()
    when = "2011-04-05 00:11:42"
    t = Tracker(log, 1, when)
    t.set_url("http://piwik.net/here/we/go")
    t.do_track_page_view("one page visit")
    t = Tracker(log, 1, when)
    t.set_url("http://piwik.net/here/we/go")
    t.set_force_visit_date_time(add_hours(when, 1))
    t.do_track_page_view("one page visit")
    t.set_force_visit_date_time(add_hours(when, 1.1))
    t.add_ecommerce_item("SKU IN ABANDONED CART ONE", "PRODUCT ONE LEFT in cart", "", 500.11111112, 2)
    t.do_track_ecommerce_cart_update(1000)
    return log.text()


def some_page_goal_visits_with_conversions():
    """tests/PHPUnit/Fixtures/SomePageGoalVisitsWithConversions.php: over
    three days, seven visitors' walks through pages A to D of one site,
    with events that convert goal 1 (`click`) or goal 2 (`press`); one
    visitor is from Japan, the last from the US, the rest from France
    (the first sends no country). The fixture's clock, `ticks` hours
    after the day's start, runs on across the days as a float, as PHP's."""
    log = Log()
    state = {"day": "2009-01-05 00:00:00", "ticks": 0.0}
    t = Tracker(log, 1, state["day"])

    def tick(step):
        state["ticks"] += step
        t.set_force_visit_date_time(add_hours(state["day"], state["ticks"]))

    def page(letter, sub=None):
        t.set_url(f"http://example.org/page_{letter}" + (f"/{sub}" if sub else ""))
        tick(0.1)
        t.do_track_page_view(f"Page {letter}" + (f" - {sub}" if sub else ""))

    def conversion(goal):
        tick(0.1)
        t.do_track_event("category", "click_action" if goal == 1 else "press_action", "name")

    def new_visitor(vid, country="us"):
        t.set_visitor_id(vid)
        t.set_country(country)
        # setForceVisitDateTime(addHour($this->ticks++ * 2)): overridden
        # by the next page view's time before any request is sent.
        state["ticks"] += 1
        t.set_force_new_visit()

    def next_day():
        state["day"] = add_hours(state["day"], 24)

    # Day 1
    for p in (("A", "index.html"), ("B",), ("A", "X"), ("C",)):
        page(*p)
    conversion(1)
    new_visitor("f66bc315f2a01a79", "fr")
    for p in (("A", "index.html"), ("A", "Z"), ("C",)):
        page(*p)
    conversion(1)
    new_visitor("a13b7c5a62f72dea", "fr")
    page("A", "index.html")
    page("D")
    new_visitor("39f72e3961e18b4e", "fr")
    page("A", "index.html")
    page("C")
    conversion(1)
    for p in (("A", "index.html"), ("B",), ("C",)):
        page(*p)
    conversion(2)
    # Day 2
    next_day()
    new_visitor("5f3756ae8b4cceba", "fr")
    for p in (("A", "index.html"), ("A", "Z"), ("A", "Y"), ("C",)):
        page(*p)
    conversion(1)
    for p in (("A", "index.html"), ("B",), ("C",)):
        page(*p)
    conversion(2)
    new_visitor("132886427a57e7ba", "jp")
    page("A", "index.html")
    conversion(1)
    # Day 3
    next_day()
    new_visitor("0335a0c08ac15bb8")
    for p in (("A", "index.html"), ("B",), ("A", "Z")):
        page(*p)
    conversion(2)
    return log.text()


def two_visits_with_custom_variables():
    """tests/PHPUnit/Fixtures/TwoVisitsWithCustomVariables.php (with
    `doExtraQuoteTests` off, as TrackGoalsOneConversionPerVisitTest has
    it): a visitor from a Google search views three pages and converts
    the manual goals 2 and 1; a second visitor (its id forced) converts
    goal 1 with revenue 1000 before its page view, and an hour later
    starts a new visit with an outlink. Their custom variables are
    accepted and not sent (hitmap keeps none)."""
    log = Log()
    when = "2010-01-03 11:22:33"
    a = Tracker(log, 1, when)
    a.set_url_referrer(
        "http://www.google.com/url?sa=t&source=web&cd=1&ved=0CB4QFjAA&url=http://piwik.org/&rct=j"
        "&q=this keyword should be ranked&ei=V8WfTePkKKLfiALrpZWGAw&usg=AFQjCNF_MGJRqKPvaKuUokHtZ3VvNG9ALw"
        "&sig2=BvKAdCtNixsmfNWXjsNyMw")
    a.set_attribution_info(json.dumps(
        ["", "", 1302306504, "http://www.google.com/search?q=piwik&ie=utf-8&oe=utf-8&aq=t"
                             "&rls=org.mozilla:en-GB:official&client=firefox-a"]))
    a.set_resolution(1111, 222)
    a.set_force_visit_date_time(add_hours(when, 0.1))
    a.set_url("http://example.org/homepage")
    a.do_track_page_view("Homepage")
    a.do_track_goal(2)
    a.set_force_visit_date_time(add_hours(when, 0.2))
    a.set_url("http://example.org/user/profile")
    a.do_track_page_view("Profile page")
    a.do_track_page_view("Profile page for user *_)%")
    a.do_track_goal(1)
    b = Tracker(log, 1, when)
    b.set_visitor_id("61e8cc2d51fea26d")
    b.set_url_referrer("")
    b.set_attribution_info(json.dumps(
        [" CAMPAIGN NAME -%20YEAH! ", " CAMPAIGN%20KEYWORD - RIGHT... ", 1302306504,
         "http://www.example.org/test/really?q=yes"]))
    b.set_resolution(1111, 222)
    b.set_user_agent("Mozilla/5.0 (Windows; U; Windows NT 5.1; en-GB; rv:1.9.0.6) Gecko/2009011913 Firefox/3.0.6")
    b.set_force_visit_date_time(add_hours(when, 1))
    b.set_url("http://example.org/homepage")
    b.do_track_goal(1, 1000)
    b.set_force_visit_date_time(add_hours(when, 1.1))
    b.do_track_page_view("Homepage")
    b.set_force_visit_date_time(add_hours(when, 2))
    b.do_track_action("http://test.com", "link")
    return log.text()
