"""A notebook session with hitmap, as a script (CI runs it).

    pip install . pandas
    python examples/notebook.py

Each block is what you would type into a Jupyter cell.
"""

import tempfile

import hitmap
from hitmap import sample

# %% A store on disk (or hitmap.Engine.in_memory()) and a site with sections
store = tempfile.mkdtemp(prefix="hitmap-")
eng = hitmap.Engine(store)
eng.add_site(1, **sample.SITE)  # Europe/London, sections News, HR and IT

# %% Ingest: NDJSON from a path, bytes or a file object (.gz accepted)
res = eng.ingest_ndjson(sample.ndjson(days=90, visitors=3000, start="2026-01-01"))
print(res, res.rejected[:3])

# %% Exact unique visitors for any range, segment and section
s = eng.visits_summary(1, "2026-01-01", "2026-03-31",
                       segment="deviceType==smartphone", section="/news")
print(s)
print("unique visitors:", s.nb_uniq_visitors)

# %% Every page of a month, with exact per-row visits and visitors
pages = eng.report("pages", 1, "2026-03", segment="department==HR").to_pandas()
print(pages.head(10).to_string(index=False))

# %% A daily series for plotting
daily = eng.series(1, period="day", date="2026-01-01", end="2026-03-31",
                   metrics=["nb_visits", "nb_uniq_visitors"]).to_pandas()
print(daily.tail())
# Unique visitors do not add up over days; ask for months instead (exact):
print(eng.series(1, period="month", date="2026-01-01", end="2026-03-31",
                 metrics=["nb_visits", "nb_uniq_visitors"]).to_pandas())

# %% Which sections do departments read?
print(eng.report("sections", 1, "2026-03").to_pandas()[["label", "nb_visits", "nb_uniq_visitors"]])

# %% The Matomo Reporting API: the same JSON as PHP and the CLI
print(eng.api("method=VisitsSummary.get&idSite=1&period=month&date=2026-02-01"))
