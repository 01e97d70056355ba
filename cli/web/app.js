// hitmap's dashboard: one page over the server's own Reporting API.
// No build step: plain JavaScript, uPlot (vendored) for the time series.
// The view's state lives in the URL's fragment, so a view is a link.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const PAGE = 10;
  const state = {
    site: '', preset: 'last30', from: '', to: '', period: 'day', compare: '',
    segment: '', section: '',
  };
  let sites = [];
  let token = sessionStorage.getItem('hitmap-token') || '';
  let generation = 0; // a newer view cancels the older one's drawing

  class ApiError extends Error {}

  // ---- the API -------------------------------------------------------
  function query(params, format) {
    const q = new URLSearchParams({ module: 'API', format: format || 'json', ...params });
    for (const [k, v] of [...q]) if (v === '' || v === undefined) q.delete(k);
    return '/index.php?' + q.toString();
  }
  function absolute(path) { return new URL(path, location.href).href; }

  async function api(params) {
    const r = await fetch(query(params), {
      headers: token ? { Authorization: 'Bearer ' + token } : {},
    });
    let body;
    try { body = await r.json(); } catch { throw new ApiError(`the server answered ${r.status}`); }
    if (r.status === 401) {
      await askToken(body && body.message);
      return api(params);
    }
    if (body && body.result === 'error') throw new ApiError(body.message);
    if (!r.ok) throw new ApiError(`the server answered ${r.status}`);
    return body;
  }

  let tokenWait = null;
  function askToken(message) {
    if (tokenWait) return tokenWait;
    const dialog = $('token-dialog');
    $('token-error').textContent = token ? (message || 'That token was refused.') : '';
    tokenWait = new Promise((resolve) => {
      $('token-form').onsubmit = (e) => {
        e.preventDefault();
        token = $('token').value.trim();
        sessionStorage.setItem('hitmap-token', token);
        dialog.close();
        tokenWait = null;
        resolve();
      };
    });
    dialog.showModal();
    $('token').focus();
    return tokenWait;
  }

  // ---- dates ---------------------------------------------------------
  const iso = (d) => d.toISOString().slice(0, 10);
  const parse = (s) => new Date(s + 'T00:00:00Z');
  const addDays = (d, n) => new Date(d.getTime() + n * 86400000);
  function today(tz) {
    try {
      return new Intl.DateTimeFormat('en-CA', { timeZone: tz || 'UTC' }).format(new Date());
    } catch { return iso(new Date()); }
  }
  function presetRange(preset, tz) {
    const t = parse(today(tz));
    const y = t.getUTCFullYear(), m = t.getUTCMonth();
    switch (preset) {
      case 'today': return [t, t];
      case 'last7': return [addDays(t, -6), t];
      case 'last90': return [addDays(t, -89), t];
      case 'thismonth': return [new Date(Date.UTC(y, m, 1)), t];
      case 'lastmonth': return [new Date(Date.UTC(y, m - 1, 1)), new Date(Date.UTC(y, m, 0))];
      case 'thisyear': return [new Date(Date.UTC(y, 0, 1)), t];
      case 'lastyear': return [new Date(Date.UTC(y - 1, 0, 1)), new Date(Date.UTC(y - 1, 11, 31))];
      default: return [addDays(t, -29), t];
    }
  }
  function comparedRange(from, to, how) {
    const f = parse(from), t = parse(to);
    if (how === 'year') {
      const back = (d) => new Date(Date.UTC(d.getUTCFullYear() - 1, d.getUTCMonth(), d.getUTCDate()));
      return [iso(back(f)), iso(back(t))];
    }
    const days = Math.round((t - f) / 86400000) + 1;
    return [iso(addDays(f, -days)), iso(addDays(f, -1))];
  }

  // ---- state and controls --------------------------------------------
  function readHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    for (const k of Object.keys(state)) if (h.has(k)) state[k] = h.get(k);
  }
  function writeHash() {
    const h = new URLSearchParams();
    for (const [k, v] of Object.entries(state)) if (v) h.set(k, v);
    const next = '#' + h.toString();
    if (location.hash !== next) history.replaceState(null, '', next);
  }
  function siteTz() {
    const s = sites.find((s) => String(s.idsite) === state.site);
    return s && s.timezone;
  }
  function resolveDates() {
    if (state.preset !== 'custom' || !state.from || !state.to) {
      const [f, t] = presetRange(state.preset, siteTz());
      if (state.preset !== 'custom') { state.from = iso(f); state.to = iso(t); }
      else { state.from = state.from || iso(f); state.to = state.to || iso(t); }
    }
  }
  function toControls() {
    for (const k of ['site', 'preset', 'from', 'to', 'period', 'compare', 'segment', 'section']) {
      const el = $(k);
      if (el && el.value !== state[k]) el.value = state[k];
    }
    for (const el of document.querySelectorAll('.custom')) el.hidden = state.preset !== 'custom';
  }
  function fromControls() {
    for (const k of ['site', 'preset', 'from', 'to', 'period', 'compare', 'segment', 'section']) {
      state[k] = $(k).value.trim();
    }
  }
  function common(from, to) {
    return {
      idSite: state.site, period: 'range', date: `${from || state.from},${to || state.to}`,
      segment: state.segment, section: state.section,
    };
  }
  function showError(message) {
    const el = $('error');
    el.hidden = !message;
    el.textContent = message || '';
  }

  // ---- formatting ----------------------------------------------------
  const num = new Intl.NumberFormat('en');
  function fmt(v, kind) {
    if (v === undefined || v === null || v === '') return '–';
    if (kind === 'percent') return (typeof v === 'number' ? num.format(Math.round(v * 1000) / 10) + '%' : v);
    if (kind === 'duration') {
      const s = Math.round(Number(v)); const m = Math.floor(s / 60);
      return m ? `${m} min ${s % 60} s` : `${s} s`;
    }
    if (kind === 'money') return num.format(Math.round(Number(v) * 100) / 100);
    return typeof v === 'number' ? num.format(v) : String(v);
  }
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === 'text') e.textContent = v; else if (k.startsWith('on')) e[k] = v; else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  // ---- tiles ---------------------------------------------------------
  const TILES = [
    ['nb_visits', 'Visits'], ['nb_uniq_visitors', 'Unique visitors'], ['nb_users', 'Users'],
    ['nb_actions', 'Actions'], ['bounce_rate', 'Bounce rate', 'percent'],
    ['avg_time_on_site', 'Avg. time on site', 'duration'],
  ];
  function ratioOf(s) {
    const visits = s.nb_visits || 0;
    return {
      ...s,
      bounce_rate: visits ? (s.bounce_count || 0) / visits : 0,
      avg_time_on_site: visits ? (s.sum_visit_length || 0) / visits : 0,
    };
  }
  async function drawTiles(g) {
    const ask = (from, to) => api({ method: 'VisitsSummary.get', ...common(from, to), format_metrics: 0 })
      .then((s) => ratioOf(Array.isArray(s) ? {} : s));
    const now = await ask();
    let before = null;
    if (state.compare) {
      const [f, t] = comparedRange(state.from, state.to, state.compare);
      before = await ask(f, t);
    }
    if (g !== generation) return;
    const box = $('tiles');
    box.replaceChildren(...TILES.map(([key, name, kind]) => {
      const v = now[key] || 0;
      let delta = null;
      if (before) {
        const b = before[key] || 0;
        const change = b ? (v - b) / b : (v ? 1 : 0);
        const sign = change > 0 ? '+' : '';
        delta = el('div', {
          class: 'delta ' + (change > 0 ? 'up' : change < 0 ? 'down' : ''),
          'data-delta': key,
          text: `${sign}${num.format(Math.round(change * 1000) / 10)}% vs ${fmt(b, kind)}`,
        });
      }
      return el('div', { class: 'tile', 'data-metric': key },
        el('div', { class: 'name', text: name }),
        el('div', { class: 'value', 'data-value': String(v), text: fmt(v, kind) }),
        delta);
    }));
  }

  // ---- the time series ------------------------------------------------
  let chart = null;
  function seriesOf(map, keys) {
    const labels = Object.keys(map);
    // Days (`2025-01-31`), weeks (`2025-01-27,2025-02-02`), months (`2025-01`).
    const first = (l) => { const d = l.split(',')[0]; return d.length === 7 ? d + '-01' : d; };
    const xs = labels.map((l) => parse(first(l)).getTime() / 1000);
    const ys = keys.map((k) => labels.map((l) => (Array.isArray(map[l]) ? 0 : map[l][k] || 0)));
    return [xs, ...ys];
  }
  async function drawSeries(g) {
    const params = {
      method: 'VisitsSummary.get', ...common(), period: state.period, showColumns: 'nb_visits,nb_uniq_visitors',
    };
    const map = await api(params);
    if (g !== generation) return;
    const box = $('chart');
    const data = seriesOf(map, ['nb_visits', 'nb_uniq_visitors']);
    box.replaceChildren();
    if (chart) { chart.destroy(); chart = null; }
    const width = Math.max(240, box.clientWidth || 800);
    chart = new uPlot({
      width, height: 260,
      series: [{}, { label: 'Visits', stroke: '#1f5fbf', width: 2 },
        { label: 'Unique visitors', stroke: '#b35c00', width: 2, dash: [6, 3] }],
      axes: [{}, { size: 60 }],
    }, data, box);
    links($('series-links'), params);
  }

  function links(box, params) {
    const full = { ...params };
    delete full.filter_offset;
    full.filter_limit = -1;
    box.replaceChildren(
      el('a', { href: query(full, 'csv'), download: 'hitmap.csv', 'data-link': 'csv', text: 'CSV' }),
      el('a', { href: absolute(query(full)), 'data-link': 'api', text: 'API URL' }),
    );
  }

  // ---- report panels --------------------------------------------------
  const VISITS = [['nb_visits', 'Visits'], ['nb_uniq_visitors', 'Unique visitors']];
  const PANELS = [
    { id: 'pages', title: 'Top pages', method: 'Actions.getPageUrls', flat: 1, trend: true,
      columns: [['nb_hits', 'Pageviews'], ...VISITS], sort: 'nb_hits' },
    { id: 'sections', title: 'Sections', method: 'Hitmap.getSections', columns: VISITS, sort: 'nb_visits', noSection: true },
    { id: 'entry', title: 'Entry pages', method: 'Actions.getEntryPageUrls', flat: 1,
      columns: [['entry_nb_visits', 'Entrances'], ['entry_bounce_count', 'Bounces']], sort: 'entry_nb_visits' },
    { id: 'exit', title: 'Exit pages', method: 'Actions.getExitPageUrls', flat: 1,
      columns: [['exit_nb_visits', 'Exits']], sort: 'exit_nb_visits' },
    { id: 'downloads', title: 'Downloads', method: 'Actions.getDownloads', flat: 1,
      columns: [['nb_hits', 'Downloads'], ...VISITS], sort: 'nb_hits' },
    { id: 'outlinks', title: 'Outlinks', method: 'Actions.getOutlinks', flat: 1,
      columns: [['nb_hits', 'Clicks'], ...VISITS], sort: 'nb_hits' },
    { id: 'referrer-types', title: 'Channel types', method: 'Referrers.getReferrerType', columns: VISITS, sort: 'nb_visits' },
    { id: 'referrers', title: 'Referrers', method: 'Referrers.getAll', columns: VISITS, sort: 'nb_visits' },
    { id: 'devices', title: 'Device types', method: 'DevicesDetection.getType', columns: VISITS, sort: 'nb_visits' },
    { id: 'browsers', title: 'Browsers', method: 'DevicesDetection.getBrowsers', columns: VISITS, sort: 'nb_visits' },
    { id: 'os', title: 'Operating systems', method: 'DevicesDetection.getOsFamilies', columns: VISITS, sort: 'nb_visits' },
    { id: 'countries', title: 'Countries', method: 'UserCountry.getCountry', columns: VISITS, sort: 'nb_visits' },
    { id: 'hours', title: 'Visits by server hour', method: 'VisitTime.getVisitInformationPerServerTime',
      columns: VISITS, sort: '', fixedOrder: true },
    // Shown for an ecommerce site only.
    { id: 'products', title: 'Products sold', method: 'Goals.getItemsSku', shop: true,
      columns: [['revenue', 'Revenue'], ['quantity', 'Quantity'], ['orders', 'Orders']], sort: 'revenue' },
  ];
  function isShop() {
    const s = sites.find((x) => String(x.idsite) === state.site);
    return Boolean(s && Number(s.ecommerce));
  }
  const panelState = {};
  const panelTickets = {};

  function panelParams(p) {
    const s = panelState[p.id] || (panelState[p.id] = { page: 0, sort: p.sort, order: 'desc' });
    const params = {
      method: p.method, ...common(), flat: p.flat, format_metrics: 0,
      filter_limit: PAGE + 1, filter_offset: s.page * PAGE,
    };
    if (p.noSection) delete params.section;
    if (s.sort) { params.filter_sort_column = s.sort; params.filter_sort_order = s.order; }
    return params;
  }

  async function drawPanel(p, g) {
    const box = $('panel-' + p.id);
    const body = box.querySelector('.body');
    const params = panelParams(p);
    // Only the newest request of a panel may draw: two quick clicks on a
    // column must not let the slower, older answer replace the newer one.
    const ticket = (panelTickets[p.id] || 0) + 1;
    panelTickets[p.id] = ticket;
    const stale = () => g !== generation || panelTickets[p.id] !== ticket;
    let rows;
    try {
      rows = await api(params);
    } catch (e) {
      if (stale()) return;
      body.replaceChildren(el('p', { class: 'empty', text: e.message }));
      return;
    }
    if (stale()) return;
    const s = panelState[p.id];
    const more = rows.length > PAGE;
    rows = rows.slice(0, PAGE);
    if (!rows.length && s.page === 0) {
      body.replaceChildren(el('p', { class: 'empty', text: 'No data for this view.' }));
    } else {
      const head = el('tr', {}, el('th', { scope: 'col', text: 'Label' }),
        ...p.columns.map(([key, name]) => {
          const th = el('th', { scope: 'col' }, p.fixedOrder ? name : el('button', {
            type: 'button', text: name,
            onclick: () => {
              s.order = s.sort === key && s.order === 'desc' ? 'asc' : 'desc';
              s.sort = key; s.page = 0; drawPanel(p, generation);
            },
          }));
          if (s.sort === key) th.setAttribute('aria-sort', s.order === 'asc' ? 'ascending' : 'descending');
          return th;
        }));
      const lines = rows.map((r) => el('tr', { 'data-label': r.label },
        el('td', {}, p.trend ? el('button', {
          type: 'button', class: 'row', text: r.label, title: 'Show this page over time',
          onclick: () => drawTrend(p, box, r.label),
        }) : r.label),
        ...p.columns.map(([key]) => el('td', { text: fmt(r[key]) }))));
      body.replaceChildren(el('table', {}, el('thead', {}, head), el('tbody', {}, ...lines)));
    }
    const pager = box.querySelector('.pager');
    pager.replaceChildren(
      el('button', { type: 'button', 'data-page': 'previous', text: 'Previous', disabled: s.page === 0 ? '' : null,
        onclick: () => { s.page -= 1; drawPanel(p, generation); } }),
      el('span', { text: `Page ${s.page + 1}` }),
      el('button', { type: 'button', 'data-page': 'next', text: 'Next', disabled: more ? null : '',
        onclick: () => { s.page += 1; drawPanel(p, generation); } }),
    );
    links(box.querySelector('.links'), params);
  }

  async function drawTrend(p, box, label) {
    const params = {
      method: p.method, ...common(), period: state.period, flat: 1, label, showColumns: 'nb_hits,nb_visits',
      format_metrics: 0,
    };
    const map = await api(params);
    const flat = {};
    for (const [k, v] of Object.entries(map)) flat[k] = Array.isArray(v) ? (v[0] || {}) : v;
    const holder = box.querySelector('.trend');
    holder.replaceChildren(el('p', { text: `${label} over time` }));
    const plot = el('div', { role: 'img', 'aria-label': `${label} over time` });
    holder.append(plot);
    const old = trends.findIndex((t) => t.box === box);
    if (old >= 0) { trends[old].plot.destroy(); trends.splice(old, 1); }
    trends.push({ box, plot: new uPlot({
      width: Math.max(220, box.clientWidth - 30), height: 160,
      series: [{}, { label: 'Pageviews', stroke: '#1f5fbf' }, { label: 'Visits', stroke: '#b35c00' }],
    }, seriesOf(flat, ['nb_hits', 'nb_visits']), plot) });
  }
  const trends = [];

  async function drawGoals(g) {
    const box = $('panel-goals');
    const defs = await api({ method: 'Goals.getGoals', idSite: state.site });
    const goals = Array.isArray(defs) ? defs : Object.values(defs || {});
    // An ecommerce site's orders and abandoned carts count like goals.
    const shop = isShop();
    const lines = goals.map((goal) => [goal.name, goal.idgoal]);
    if (shop) lines.push(['Ecommerce orders', 'ecommerceOrder'], ['Abandoned carts', 'ecommerceAbandonedCart']);
    if (g !== generation) return;
    $('panel-products').hidden = !shop;
    if (!lines.length) { box.hidden = true; return; }
    box.hidden = false;
    const rows = [];
    for (const [name, id] of lines) {
      const r = await api({ method: 'Goals.get', ...common(), idGoal: id, format_metrics: 0 });
      rows.push(el('tr', { 'data-goal': String(id) }, el('td', { text: name }), el('td', { text: fmt(r.nb_conversions) }),
        el('td', { text: fmt(r.nb_visits_converted) }), el('td', { text: fmt(r.conversion_rate, 'percent') }),
        el('td', { text: fmt(r.revenue, 'money') })));
    }
    if (g !== generation) return;
    box.querySelector('.body').replaceChildren(el('table', {},
      el('thead', {}, el('tr', {}, ...['Goal', 'Conversions', 'Converted visits', 'Rate', 'Revenue']
        .map((t) => el('th', { scope: 'col', text: t })))),
      el('tbody', {}, ...rows)));
    links(box.querySelector('.links'), { method: 'Goals.get', ...common() });
  }

  function buildPanels() {
    const grid = $('panels');
    grid.replaceChildren(...PANELS.map((p) => el('section', {
      class: 'panel', id: 'panel-' + p.id, 'aria-labelledby': 'h-' + p.id, hidden: p.shop ? '' : null,
    }, el('h2', { id: 'h-' + p.id, text: p.title }), el('div', { class: 'body' }),
    el('div', { class: 'pager' }), el('p', { class: 'links' }), el('div', { class: 'trend' }))));
    grid.append(el('section', { class: 'panel', id: 'panel-goals', 'aria-labelledby': 'h-goals', hidden: '' },
      el('h2', { id: 'h-goals', text: 'Goals' }), el('div', { class: 'body' }), el('p', { class: 'links' })));
  }

  // ---- the view -------------------------------------------------------
  async function draw() {
    const g = ++generation;
    resolveDates();
    toControls();
    writeHash();
    showError('');
    try {
      // The totals first: a wrong segment or section says so at once.
      await drawTiles(g);
    } catch (e) {
      if (g === generation) showError(e.message);
      return;
    }
    const jobs = [drawSeries(g), drawGoals(g),
      ...PANELS.filter((p) => !p.shop || isShop()).map((p) => drawPanel(p, g))];
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed && g === generation) showError(failed.reason.message);
    document.body.dataset.ready = String(g);
  }

  async function loadSite() {
    const list = await api({ method: 'Hitmap.getSections', idSite: state.site, period: 'range',
      date: `${state.from},${state.to}`, filter_limit: -1 }).catch(() => []);
    const names = Array.isArray(list) ? list.map((r) => r.label) : [];
    $('section').replaceChildren(el('option', { value: '', text: 'whole site' }),
      ...names.map((n) => el('option', { value: n, text: n })));
    const meta = await api({ method: 'API.getSegmentsMetadata', idSite: state.site }).catch(() => []);
    segmentNames = meta.map((m) => m.segment);
    suggestedFor = '';
    $('segment-names').replaceChildren(...segmentNames.map((n) => el('option', { value: n + '==' })));
  }

  // The segment box suggests the names, then the values the site holds
  // for the name being typed (API.getSuggestedValuesForSegment).
  let segmentNames = [];
  let suggestedFor = '';
  async function suggest() {
    const text = $('segment').value;
    const last = text.split(/[;,]/).pop();
    const m = last.match(/^([A-Za-z0-9_]+)(==|!=|=@|!@|=\^|=\$|<=|>=|<|>)/);
    const key = m ? m[1] + m[2] + text.length : '';
    if (!m || key === suggestedFor) return;
    suggestedFor = key;
    const values = await api({
      method: 'API.getSuggestedValuesForSegment', idSite: state.site, segmentName: m[1],
    }).catch(() => []);
    const prefix = text.slice(0, text.length - last.length) + m[1] + m[2];
    $('segment-names').replaceChildren(
      ...values.map((v) => el('option', { value: prefix + v })),
      ...segmentNames.map((n) => el('option', { value: n + '==' })));
  }

  async function start() {
    readHash();
    sites = await api({ method: 'SitesManager.getSitesWithAtLeastViewAccess' });
    $('site').replaceChildren(...sites.map((s) => el('option', { value: String(s.idsite), text: `${s.idsite} · ${s.name}` })));
    if (!sites.some((s) => String(s.idsite) === state.site) && sites.length) state.site = String(sites[0].idsite);
    buildPanels();
    resolveDates();
    toControls();
    await loadSite();
    toControls();
    $('segment').addEventListener('input', () => { suggest(); });
    $('preset').onchange = () => {
      for (const e of document.querySelectorAll('.custom')) e.hidden = $('preset').value !== 'custom';
    };
    $('site').onchange = async () => { fromControls(); state.section = ''; await loadSite(); draw(); };
    $('controls').onsubmit = (e) => {
      e.preventDefault();
      fromControls();
      for (const k of Object.keys(panelState)) panelState[k].page = 0;
      draw();
    };
    window.onhashchange = () => { readHash(); draw(); };
    // Charts follow the page's width (a phone turned, a window resized).
    let resizing = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => {
        if (chart) chart.setSize({ width: Math.max(240, $('chart').clientWidth), height: 260 });
        for (const t of trends) t.plot.setSize({ width: Math.max(220, t.box.clientWidth - 30), height: 160 });
      }, 100);
    });
    await draw();
  }

  start().catch((e) => showError(e.message));
})();
