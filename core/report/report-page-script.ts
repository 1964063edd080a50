// The feature browser's page script, inlined into index.html by report-site.ts. Plain ES2017 that
// runs as is in any current browser: no framework, no build step, nothing fetched from outside the
// site's folder. Kept as a string in a TS module so `tsc` output carries it (no asset to copy).
//
// Safety: every piece of corpus text (token strings, labels) reaches the page through
// createTextNode / setAttribute, never through innerHTML, so no token can become markup.
//
// The text below must contain no backquote and no dollar-brace (it is a template literal), and
// no closing script tag (report-site.ts refuses to build if it does).
export const REPORT_PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var R = window.THRESHER_REPORT;
  var app = document.getElementById('app');
  if (!R || !R.overview) {
    app.textContent = 'The report data (data/overview.js) did not load: is the data folder next to index.html?';
    app.setAttribute('data-page', 'error');
    return;
  }
  var O = R.overview;
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var PAGE_SIZE = 100;
  var N = O.featureCount;

  // ---- DOM helpers: text always goes in as text nodes or attribute values.
  function setAttrs(e, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v !== undefined && v !== null && v !== false) e.setAttribute(k, String(v));
    });
  }
  function append(e, children) {
    if (children === undefined || children === null) return;
    if (!Array.isArray(children)) children = [children];
    children.forEach(function (c) {
      if (c === undefined || c === null || c === false) return;
      if (Array.isArray(c)) return append(e, c);
      e.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    });
  }
  function h(tag, attrs, children) {
    var e = document.createElement(tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }
  function s(tag, attrs, children) {
    var e = document.createElementNS(SVG_NS, tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }

  // ---- number formats
  function fmt(x) {
    if (x === null || x === undefined || !isFinite(x)) return '–';
    if (x === 0) return '0';
    var a = Math.abs(x);
    if (a >= 1e-3 && a < 1e5) return String(Number(x.toPrecision(4)));
    return x.toExponential(2);
  }
  function fmtInt(n) { return Number(n).toLocaleString('en-US'); }
  function fmtPct(x) { return x === null || x === undefined ? '–' : fmt(x * 100) + '%'; }
  /** Token text with its invisible characters made visible; spaces stay (white-space: pre). */
  function visible(t) {
    return String(t).replace(/\n/g, '\u23ce').replace(/\r/g, '\u240d').replace(/\t/g, '\u21e5');
  }

  // ---- the list's columns, joined from the list chunks
  var cols = {
    density: new Float64Array(N), firing: new Float64Array(N), meanAct: new Float64Array(N), maxAct: new Float64Array(N),
  };
  var topTokens = new Array(N);
  var logitTokens = new Array(N);
  var haystack = new Array(N);
  var missingFiles = [];
  for (var i0 = 0; i0 < N; i0++) { topTokens[i0] = []; logitTokens[i0] = []; haystack[i0] = ''; }
  O.listFiles.forEach(function (file, c) {
    var chunk = R.list[c];
    if (!chunk) { missingFiles.push(file); return; }
    for (var j = 0; j < chunk.density.length; j++) {
      var i = chunk.start + j;
      cols.density[i] = chunk.density[j];
      cols.firing[i] = chunk.firing[j];
      cols.meanAct[i] = chunk.meanAct[j];
      cols.maxAct[i] = chunk.maxAct[j];
      topTokens[i] = chunk.topTokens[j];
      logitTokens[i] = chunk.logitTokens[j];
      haystack[i] = chunk.topTokens[j].concat(chunk.logitTokens[j]).join('\n').toLowerCase();
    }
  });

  // ---- routing: #/ overview, #/features list, #/feature/ID one feature
  var navSeq = 0;
  function route() {
    navSeq++;
    var hash = location.hash || '#/';
    var m = /^#\/feature\/(\d+)$/.exec(hash);
    var page = m ? 'feature' : hash === '#/features' ? 'features' : 'overview';
    Array.prototype.forEach.call(document.querySelectorAll('header.top nav a'), function (a) {
      a.classList.toggle('active', a.getAttribute('data-nav') === page || (page === 'feature' && a.getAttribute('data-nav') === 'features'));
    });
    try {
      if (m) showFeature(Number(m[1]));
      else if (page === 'features') showList();
      else showOverview();
    } catch (err) {
      // Say so on the page, then let the error reach the console as well.
      render('error', 'Error', h('p', { 'class': 'error', 'data-testid': 'page-error' }, 'This page failed to render: ' + err));
      throw err;
    }
  }
  function render(page, title, nodes) {
    app.replaceChildren();
    if (missingFiles.length) {
      append(app, h('p', { 'class': 'error', 'data-testid': 'load-error' }, 'These data files did not load, so the list is incomplete: ' + missingFiles.join(', ')));
    }
    append(app, nodes);
    app.setAttribute('data-page', page);
    app.removeAttribute('data-feature');
    document.title = title + ' · ' + O.run.runId + ' / ' + O.dictionary.trainingId;
  }
  function facts(rows) {
    var dl = h('dl', { 'class': 'facts' });
    rows.forEach(function (r) {
      if (!r) return;
      append(dl, [h('dt', null, r[0]), h('dd', { 'data-testid': r[2], 'data-value': r[3] }, r[1])]);
    });
    return dl;
  }

  // ---- charts (SVG built node by node)
  function lineChart(series, markers) {
    var W = 340, H = 170, L = 54, B = 22, T = 8, Rm = 10;
    var pts = series.points;
    var svg = s('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': series.label });
    if (!pts.length) {
      append(svg, s('text', { x: L, y: H / 2 }, 'no data'));
      return svg;
    }
    var x0 = pts[0][0], x1 = pts[pts.length - 1][0];
    var y0 = Infinity, y1 = -Infinity;
    pts.forEach(function (p) { if (p[1] < y0) y0 = p[1]; if (p[1] > y1) y1 = p[1]; });
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) { y1 = y0 + (Math.abs(y0) || 1) * 0.05; y0 = y0 - (Math.abs(y0) || 1) * 0.05; }
    function X(v) { return L + ((v - x0) / (x1 - x0)) * (W - L - Rm); }
    function Y(v) { return T + (1 - (v - y0) / (y1 - y0)) * (H - T - B); }
    append(svg, [
      s('line', { 'class': 'axis', x1: L, y1: H - B, x2: W - Rm, y2: H - B }),
      s('line', { 'class': 'axis', x1: L, y1: T, x2: L, y2: H - B }),
      s('text', { x: L - 4, y: T + 8, 'text-anchor': 'end' }, fmt(y1)),
      s('text', { x: L - 4, y: H - B, 'text-anchor': 'end' }, fmt(y0)),
      s('text', { x: L, y: H - 6 }, 'step ' + fmtInt(x0)),
      s('text', { x: W - Rm, y: H - 6, 'text-anchor': 'end' }, fmtInt(x1)),
    ]);
    (markers || []).forEach(function (step) {
      if (step < x0 || step > x1) return;
      append(svg, s('line', { 'class': 'marker', x1: X(step), y1: T, x2: X(step), y2: H - B }, s('title', null, 'dead features resampled after step ' + fmtInt(step))));
    });
    append(svg, s('polyline', {
      'class': 'line',
      points: pts.map(function (p) { return X(p[0]).toFixed(1) + ',' + Y(p[1]).toFixed(1); }).join(' '),
    }));
    return svg;
  }

  /** Bars of equal width; ticks are {at: position in bars, label}. */
  function barChart(counts, opts) {
    var W = opts.width || 640, H = opts.height || 180, L = 46, B = 24, T = 8, Rm = 22;
    var svg = s('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': opts.label, 'data-testid': opts.testid });
    var max = 0;
    counts.forEach(function (c) { if (c > max) max = c; });
    var bw = (W - L - Rm) / Math.max(counts.length, 1);
    append(svg, [
      s('line', { 'class': 'axis', x1: L, y1: H - B, x2: W - Rm, y2: H - B }),
      s('text', { x: L - 4, y: T + 8, 'text-anchor': 'end' }, fmtInt(max)),
      s('text', { x: L - 4, y: H - B, 'text-anchor': 'end' }, '0'),
    ]);
    counts.forEach(function (c, i) {
      var bh = max > 0 ? (c / max) * (H - T - B) : 0;
      append(svg, s('rect', {
        'class': 'bar', 'data-count': c, x: (L + i * bw + 0.5).toFixed(2), y: (H - B - bh).toFixed(2),
        width: Math.max(bw - 1, 0.5).toFixed(2), height: bh.toFixed(2),
      }, s('title', null, opts.barTitle(i, c))));
    });
    (opts.ticks || []).forEach(function (t) {
      var x = L + t.at * bw;
      append(svg, [
        s('line', { 'class': 'axis', x1: x, y1: H - B, x2: x, y2: H - B + 4 }),
        s('text', { x: x, y: H - 8, 'text-anchor': 'middle' }, t.label),
      ]);
    });
    return svg;
  }

  // ---- overview
  function showOverview() {
    var run = O.run, d = O.dictionary, st = O.stats, fin = d.final;
    var dead = N - st.liveFeatures;
    var cards = h('div', { 'class': 'cards' }, [
      h('section', { 'class': 'card', 'data-testid': 'run-facts' }, [h('h2', null, 'Run'), facts([
        ['Run', run.runId, 'run-id'],
        ['Model', run.model],
        ['Hooks', run.hooks.join(', ')],
        ['Status', run.status],
        ['Shards', fmtInt(run.shards) + (run.failedShards ? ' (' + fmtInt(run.failedShards) + ' failed)' : ''), 'run-shards', run.shards],
        ['Tokens harvested', fmtInt(run.tokens), 'run-tokens', run.tokens],
        ['Rows per hook', fmtInt(run.rows), 'run-rows', run.rows],
        ['Context length', fmtInt(run.contextLength)],
        ['Output', run.outputUri],
      ])]),
      h('section', { 'class': 'card', 'data-testid': 'dictionary-facts' }, [h('h2', null, 'Dictionary'), facts([
        ['Training id', d.trainingId, 'training-id'],
        ['Hook', d.hook],
        ['Architecture', d.arch === 'topk' ? 'TopK, k = ' + d.k : 'ReLU + L1, λ = ' + fmt(d.l1Coefficient)],
        ['d_in × d_sae', fmtInt(d.dIn) + ' × ' + fmtInt(d.dSae), 'd-sae', d.dSae],
        ['Steps', fmtInt(d.steps)],
        ['Tokens trained', fmtInt(d.tokens)],
        ['Final L0', fmt(fin.l0), 'final-l0', fin.l0],
        ['Final FVU', fmt(fin.fvu), 'final-fvu', fin.fvu],
        ['Final MSE', fmt(fin.mse)],
        ['Dead (training)', fmtPct(fin.deadFraction)],
        ['Features resampled', fmtInt(d.resampledFeatures)],
      ])]),
      h('section', { 'class': 'card', 'data-testid': 'stats-facts' }, [h('h2', null, 'Statistics'), facts([
        ['Tokens', fmtInt(st.tokens), 'stats-tokens', st.tokens],
        ['Parts', fmtInt(st.parts)],
        ['Live features', fmtInt(st.liveFeatures) + ' of ' + fmtInt(N), 'live-features', st.liveFeatures],
        ['Never fired', fmtInt(dead), 'dead-features', dead],
        ['Examples', O.examples.context ? 'with ±' + O.examples.radius + ' tokens of context' : 'centre token only'],
        ['Logit effects', O.logitEffects.available ? 'available' : 'not available'],
      ])]),
    ]);

    var curves = h('div', { 'class': 'charts' });
    O.curves.forEach(function (c) {
      append(curves, h('div', { 'class': 'chart', 'data-testid': 'curve-' + c.key }, [h('h3', null, c.label), lineChart(c, O.resampleSteps)]));
    });
    if (!O.curves.length) append(curves, h('p', { 'class': 'note' }, 'No training metrics were found for this dictionary.'));

    var dh = O.densityHistogram;
    var ticks = [];
    for (var e = dh.lo; e <= 0; e++) ticks.push({ at: (e - dh.lo) / dh.width, label: e === 0 ? '1' : '1e' + e });
    var density = h('div', { 'class': 'chart' }, [
      barChart(dh.counts, {
        testid: 'density-histogram', label: 'log10 feature density', width: 720, ticks: ticks,
        barTitle: function (i, c) {
          var a = dh.lo + i * dh.width, b = a + dh.width;
          return 'density 1e' + a.toFixed(1) + ' to 1e' + b.toFixed(1) + ': ' + fmtInt(c) + ' features';
        },
      }),
      h('p', { 'class': 'muted', 'data-testid': 'dead-count', 'data-value': dh.dead },
        fmtInt(dh.dead) + ' features never fired (density 0) and are not in the histogram.'),
      h('p', { 'class': 'muted', 'data-testid': 'dense-count', 'data-value': dh.dense },
        fmtInt(dh.dense) + ' features fire on more than 1% of tokens; the paper reads many of these as a sign that λ is too low.'),
    ]);

    var genres;
    var G = O.genres;
    if (G && G.genres.length) {
      // Statistics from before the ground-truth bar existed have no atTarget: no column then.
      var withTarget = G.genres.some(function (g) { return 'atTarget' in g; });
      var featureLink = function (id) { return id === null || id === undefined ? '–' : h('a', { href: '#/feature/' + id }, '#' + id); };
      var tbody = h('tbody');
      G.genres.forEach(function (g) {
        append(tbody, h('tr', { 'data-testid': 'genre-row' }, [
          h('td', null, g.label),
          h('td', { 'class': 'num' }, fmtInt(g.tokens)),
          h('td', null, featureLink(g.feature)),
          h('td', { 'class': 'num' }, fmt(g.precision)),
          h('td', { 'class': 'num' }, fmt(g.recall)),
          h('td', { 'class': 'num' }, fmt(g.f1)),
          withTarget ? h('td', null, g.atTarget ? [featureLink(g.atTarget.feature), ' (P ' + fmt(g.atTarget.precision) + ', R ' + fmt(g.atTarget.recall) + ')'] : 'none') : null,
        ]));
      });
      genres = h('table', { 'data-testid': 'genre-table' }, [
        h('thead', null, h('tr', null, [h('th', null, 'Label'), h('th', { 'class': 'num' }, 'Tokens'), h('th', null, 'Best feature (F1)'),
          h('th', { 'class': 'num' }, 'Precision'), h('th', { 'class': 'num' }, 'Recall'), h('th', { 'class': 'num' }, 'F1'),
          withTarget ? h('th', null, 'Best with precision ≥ 0.9 and recall ≥ 0.5') : null])),
        tbody,
      ]);
    } else {
      genres = h('p', { 'class': 'note', 'data-testid': 'genre-note' }, (G && G.note) || 'The corpus carries no labels, so there is no genre table.');
    }

    render('overview', 'Overview', [
      h('h1', null, 'Feature browser'),
      cards,
      h('h2', null, 'Training curves'),
      h('p', { 'class': 'muted' }, 'Per-step metrics (at most 1,000 points per curve); dashed lines mark dead-feature resampling.'),
      curves,
      h('h2', null, 'Feature density'),
      h('p', { 'class': 'muted' }, 'Features by log10 of the fraction of tokens they fire on. The paper reads a dictionary\'s health here: a main mode, and often a separate cluster of ultralow-density features.'),
      density,
      h('h2', null, 'Labels and the features that detect them'),
      genres,
    ]);
  }

  // ---- feature list
  var listState = { query: '', sort: 'feature', dir: 1, page: 0 };
  var listCache = { key: null, ids: null };
  var SORTS = [
    { key: 'feature', label: 'Feature' }, { key: 'density', label: 'Density' }, { key: 'firing', label: 'Firing tokens' },
    { key: 'meanAct', label: 'Mean act' }, { key: 'maxAct', label: 'Max act' },
  ];
  function filteredIds() {
    var key = listState.query + '\u0000' + listState.sort + '\u0000' + listState.dir;
    if (listCache.key === key) return listCache.ids;
    var q = listState.query;
    var trimmed = q.trim();
    var ids = [];
    var i;
    if (!trimmed) {
      for (i = 0; i < N; i++) ids.push(i);
    } else {
      var idq = /^#?\d+$/.test(trimmed) ? Number(trimmed.replace('#', '')) : -1;
      var lq = q.toLowerCase();
      for (i = 0; i < N; i++) if (i === idq || haystack[i].indexOf(lq) >= 0) ids.push(i);
    }
    var col = listState.sort === 'feature' ? null : cols[listState.sort];
    var dir = listState.dir;
    ids.sort(function (a, b) {
      var d = col ? col[a] - col[b] : a - b;
      return d !== 0 ? d * dir : a - b;
    });
    listCache = { key: key, ids: ids };
    return ids;
  }
  function chips(texts, testid) {
    return texts.map(function (t) { return h('span', { 'class': 'tokchip', 'data-testid': testid }, visible(t)); });
  }
  function showList() {
    var input = h('input', {
      type: 'search', id: 'feature-search', 'data-testid': 'feature-search', autocomplete: 'off', spellcheck: 'false',
      placeholder: 'Feature id, or text of a top token or logit token', 'aria-label': 'Search features',
    });
    input.value = listState.query;
    var count = h('span', { 'class': 'muted', 'data-testid': 'list-count' });
    var thead = h('tr');
    var tbody = h('tbody');
    var info = h('span', { 'class': 'muted', 'data-testid': 'page-info' });
    var prev = h('button', { type: 'button', 'data-testid': 'page-prev' }, '← Previous');
    var next = h('button', { type: 'button', 'data-testid': 'page-next' }, 'Next →');

    SORTS.forEach(function (c) {
      var b = h('button', { type: 'button', 'data-testid': 'sort-' + c.key }, c.label);
      b.addEventListener('click', function () {
        if (listState.sort === c.key) listState.dir = -listState.dir;
        else { listState.sort = c.key; listState.dir = c.key === 'feature' ? 1 : -1; }
        listState.page = 0;
        refresh();
      });
      append(thead, h('th', { 'class': c.key === 'feature' ? null : 'num', 'data-sort-key': c.key }, b));
    });
    append(thead, [h('th', null, 'Top tokens'), h('th', null, 'Top logit tokens')]);

    function refresh() {
      var ids = filteredIds();
      var pages = Math.max(1, Math.ceil(ids.length / PAGE_SIZE));
      if (listState.page >= pages) listState.page = pages - 1;
      count.textContent = fmtInt(ids.length) + ' of ' + fmtInt(N) + ' features';
      count.setAttribute('data-count', String(ids.length));
      count.setAttribute('data-query', listState.query);
      Array.prototype.forEach.call(thead.querySelectorAll('th[data-sort-key]'), function (th) {
        var active = th.getAttribute('data-sort-key') === listState.sort;
        var b = th.firstChild;
        b.classList.toggle('active', active);
        b.textContent = SORTS.filter(function (c) { return c.key === th.getAttribute('data-sort-key'); })[0].label + (active ? (listState.dir > 0 ? ' ▲' : ' ▼') : '');
        if (active) th.setAttribute('aria-sort', listState.dir > 0 ? 'ascending' : 'descending');
        else th.removeAttribute('aria-sort');
      });
      tbody.replaceChildren();
      ids.slice(listState.page * PAGE_SIZE, (listState.page + 1) * PAGE_SIZE).forEach(function (id) {
        var deadRow = cols.firing[id] === 0;
        append(tbody, h('tr', { 'data-testid': 'feature-row', 'data-feature': id, 'class': deadRow ? 'dead' : null }, [
          h('td', null, [h('a', { href: '#/feature/' + id, 'data-testid': 'feature-link' }, '#' + id), deadRow ? [' ', h('span', { 'class': 'badge' }, 'dead')] : null]),
          h('td', { 'class': 'num', 'data-testid': 'cell-density', 'data-value': cols.density[id] }, fmt(cols.density[id])),
          h('td', { 'class': 'num' }, fmtInt(cols.firing[id])),
          h('td', { 'class': 'num', 'data-value': cols.meanAct[id] }, fmt(cols.meanAct[id])),
          h('td', { 'class': 'num', 'data-value': cols.maxAct[id] }, fmt(cols.maxAct[id])),
          h('td', null, chips(topTokens[id], 'top-token')),
          h('td', null, chips(logitTokens[id], 'logit-chip')),
        ]));
      });
      if (!ids.length) append(tbody, h('tr', null, h('td', { colspan: 7, 'class': 'muted' }, 'No feature matches.')));
      info.textContent = 'page ' + (listState.page + 1) + ' of ' + pages;
      prev.disabled = listState.page === 0;
      next.disabled = listState.page >= pages - 1;
    }

    var timer = null;
    input.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () { listState.query = input.value; listState.page = 0; refresh(); }, 120);
    });
    prev.addEventListener('click', function () { listState.page--; refresh(); });
    next.addEventListener('click', function () { listState.page++; refresh(); });

    render('features', 'Features', [
      h('h1', null, 'Features'),
      h('div', { 'class': 'toolbar' }, [input, count]),
      h('table', { 'data-testid': 'feature-table' }, [h('thead', null, thead), tbody]),
      h('div', { 'class': 'pager' }, [prev, info, next]),
    ]);
    refresh();
    input.focus();
  }

  // ---- one feature (its detail chunk is loaded on demand)
  var loading = {};
  function loadDetail(c, done) {
    if (R.detail[c]) return done(null);
    if (loading[c]) { loading[c].push(done); return; }
    var file = O.detailFiles[c];
    loading[c] = [done];
    var tag = document.createElement('script');
    function finish(err) {
      var waiting = loading[c];
      delete loading[c];
      tag.remove();
      waiting.forEach(function (fn) { fn(err); });
    }
    tag.onload = function () { finish(R.detail[c] ? null : file + ' loaded but holds no features'); };
    tag.onerror = function () { finish('could not load ' + file); };
    tag.src = file;
    document.head.appendChild(tag);
  }
  function showFeature(id) {
    if (!(id >= 0 && id < N)) {
      render('feature', 'No such feature', h('p', { 'class': 'error', 'data-testid': 'not-found' }, 'There is no feature ' + id + ': the dictionary has features 0 to ' + (N - 1) + '.'));
      return;
    }
    var seq = navSeq;
    var c = Math.floor(id / O.detailChunkSize);
    if (!R.detail[c]) render('loading', 'Feature ' + id, h('p', { 'class': 'muted' }, 'Loading feature ' + id + '…'));
    loadDetail(c, function (err) {
      if (seq !== navSeq) return;
      if (err) return render('feature', 'Feature ' + id, h('p', { 'class': 'error', 'data-testid': 'load-error' }, err));
      var chunk = R.detail[c];
      renderFeature(chunk.features[id - c * O.detailChunkSize], chunk.strings);
    });
  }

  /** ex.texts are indices into the detail file's string table. */
  function exampleRow(ex, scale, strings) {
    var tokens = h('div', { 'class': 'tokens' });
    ex.texts.forEach(function (ti, j) {
      var t = strings[ti];
      var a = ex.acts[j] || 0;
      var alpha = scale > 0 ? Math.max(0, Math.min(1, a / scale)) : 0;
      var center = j === ex.center;
      var span = h('span', {
        'class': center ? 'tok center' : 'tok', 'data-testid': 'token', 'data-act': a, 'data-center': center ? '1' : null,
        title: 'activation ' + fmt(a) + (center ? ' (this example\'s token)' : ''),
      }, visible(t));
      if (alpha > 0) span.style.backgroundColor = 'rgba(255, 115, 0, ' + alpha.toFixed(3) + ')';
      append(tokens, span);
    });
    var where = 'shard ' + ex.shard + ', doc ' + ex.doc + ', context ' + ex.context + ', position ' + ex.position;
    return h('div', { 'class': 'example', 'data-testid': 'example', 'data-act': ex.act }, [
      h('div', { 'class': 'meta', title: where }, [h('strong', null, fmt(ex.act)), ex.label !== null && ex.label !== undefined ? [' · ', ex.label] : null]),
      tokens,
    ]);
  }

  function activationHistogram(f) {
    var edges = O.binLowerEdges, counts = f.histogram;
    var first = -1, last = -1;
    counts.forEach(function (c, i) { if (c > 0) { if (first < 0) first = i; last = i; } });
    if (first < 0) return h('p', { 'class': 'note', 'data-testid': 'activation-histogram-empty' }, 'The feature never fired: no activations to show.');
    var shown = counts.slice(first, last + 1);
    function edgeLabel(i) {
      if (i === 0) return '0';
      if (i >= edges.length) return '∞';
      return fmt(edges[i]);
    }
    var ticks = [];
    var step = Math.max(1, Math.ceil(shown.length / 8));
    for (var k = 0; k <= shown.length; k += step) ticks.push({ at: k, label: edgeLabel(first + k) });
    return h('div', { 'class': 'chart' }, [
      barChart(shown, {
        testid: 'activation-histogram', label: 'activation histogram', width: 640, ticks: ticks,
        barTitle: function (i, c) { return 'activation ' + edgeLabel(first + i) + ' to ' + edgeLabel(first + i + 1) + ': ' + fmtInt(c) + ' tokens'; },
      }),
      h('p', { 'class': 'muted' }, 'Tokens where the feature fired, by activation (log-spaced bins).'),
    ]);
  }

  // Co-firing with the corpus labels: of the tokens this feature fires on, how many carry each
  // label (precision if it were that label's detector), and what share of the label's tokens that
  // is (recall). Absent when the corpus has no labels.
  function labelSection(f) {
    var G = O.genres;
    if (!G || !G.labels || !G.labels.length) return null;
    var sec = h('section', { 'data-testid': 'label-firing' }, h('h2', null, 'Labels it fires on'));
    if (!f.labelFiring) {
      append(sec, h('p', { 'class': 'note', 'data-testid': 'label-note' }, 'Not recorded: these statistics were made before co-firing with labels was stored. Run the statistics again to see it.'));
      return sec;
    }
    var fired = f.labelFiring;
    var names = Object.keys(fired);
    var tokensOf = {};
    G.labels.forEach(function (l) { tokensOf[l.label] = l.tokens; });
    var total = 0;
    names.forEach(function (n) { total += fired[n]; });
    names.sort(function (a, b) { return fired[b] - fired[a] || (a < b ? -1 : 1); });
    if (!names.length) {
      append(sec, h('p', { 'class': 'muted' }, 'It fires on no labelled token.'));
      return sec;
    }
    var tbody = h('tbody');
    names.forEach(function (n) {
      append(tbody, h('tr', { 'data-testid': 'label-row', 'data-label': n }, [
        h('td', null, n),
        h('td', { 'class': 'num' }, fmtInt(fired[n])),
        h('td', { 'class': 'num' }, fmtPct(fired[n] / total)),
        h('td', { 'class': 'num' }, tokensOf[n] ? fmtPct(fired[n] / tokensOf[n]) : '–'),
      ]));
    });
    append(sec, h('table', null, [
      h('thead', null, h('tr', null, [h('th', null, 'Label'), h('th', { 'class': 'num' }, 'Firing tokens'),
        h('th', { 'class': 'num' }, 'Share of its firing (precision)'), h('th', { 'class': 'num' }, 'Share of the label\'s tokens (recall)')])),
      tbody,
    ]));
    return sec;
  }

  function logitSection(f) {
    var sec = h('section', { 'data-testid': 'logit-effects' }, h('h2', null, 'Logit effects'));
    if (!O.logitEffects.available || !f.logit) {
      append(sec, h('p', { 'class': 'note', 'data-testid': 'logit-note' }, O.logitEffects.available ? 'No logit effects were computed for this feature.' : O.logitEffects.note));
      return sec;
    }
    function list(items, testid) {
      return h('ol', { 'data-testid': testid }, items.map(function (t) {
        return h('li', { 'data-testid': 'logit-token', 'data-token': t.token }, [h('span', { 'class': 'tokchip' }, visible(t.text)), h('span', { 'class': 'effect' }, fmt(t.effect))]);
      }));
    }
    var hist = f.logit.histogram;
    var width = (hist.max - hist.min) / Math.max(hist.counts.length, 1);
    var ticks = [{ at: 0, label: fmt(hist.min) }, { at: hist.counts.length, label: fmt(hist.max) }];
    if (hist.min < 0 && hist.max > 0 && width > 0) ticks.push({ at: -hist.min / width, label: '0' });
    append(sec, [
      h('div', { 'class': 'logit' }, [
        h('div', null, [h('h3', null, 'Most promoted tokens'), list(f.logit.topPositive, 'logit-positive')]),
        h('div', null, [h('h3', null, 'Most suppressed tokens'), list(f.logit.topNegative, 'logit-negative')]),
        h('div', { 'class': 'chart' }, [h('h3', null, 'Effect on every token of the vocabulary'), barChart(hist.counts, {
          testid: 'logit-histogram', label: 'logit effect histogram', width: 420, ticks: ticks,
          barTitle: function (i, c) { return 'effect ' + fmt(hist.min + i * width) + ' to ' + fmt(hist.min + (i + 1) * width) + ': ' + fmtInt(c) + ' tokens'; },
        })]),
      ]),
      h('p', { 'class': 'muted' }, O.logitEffects.note),
    ]);
    return sec;
  }

  function renderFeature(f, strings) {
    var id = f.feature;
    var scale = f.maxAct;
    var dead = f.firingCount === 0;
    var nodes = [
      h('div', { 'class': 'featnav' }, [
        h('a', { href: '#/features' }, '← All features'),
        id > 0 ? h('a', { href: '#/feature/' + (id - 1), 'data-testid': 'feature-prev' }, '‹ #' + (id - 1)) : null,
        id < N - 1 ? h('a', { href: '#/feature/' + (id + 1), 'data-testid': 'feature-next' }, '#' + (id + 1) + ' ›') : null,
      ]),
      h('h1', { 'data-testid': 'feature-title' }, ['Feature ' + id, dead ? [' ', h('span', { 'class': 'badge' }, 'never fired')] : null]),
      h('section', { 'class': 'card', 'data-testid': 'feature-stats' }, facts([
        ['Density', fmt(f.density) + ' (' + fmtPct(f.density) + ' of tokens)', 'stat-density', f.density],
        ['Firing tokens', fmtInt(f.firingCount) + ' of ' + fmtInt(O.stats.tokens), 'stat-firing', f.firingCount],
        ['Mean activation', fmt(f.meanAct), 'stat-mean', f.meanAct],
        ['Max activation', fmt(f.maxAct), 'stat-max', f.maxAct],
      ])),
      h('h2', null, 'Activation histogram'),
      activationHistogram(f),
      labelSection(f),
    ];
    if (!O.examples.context) nodes.push(h('p', { 'class': 'note', 'data-testid': 'context-note' }, O.examples.note));
    nodes.push(h('section', { 'data-testid': 'top-examples' }, [
      h('h2', null, 'Top activations (' + f.top.length + ')'),
      f.top.length ? f.top.map(function (ex) { return exampleRow(ex, scale, strings); }) : h('p', { 'class': 'muted' }, 'No examples.'),
    ]));
    var intervals = h('section', { 'data-testid': 'interval-examples' }, [
      h('h2', null, 'Examples across the activation range'),
      h('p', { 'class': 'muted' }, 'Samples from equal intervals of [0, max activation], as in the paper; lowest first.'),
    ]);
    f.intervals.forEach(function (iv, i) {
      var closing = i === f.intervals.length - 1 ? ']' : ')';
      append(intervals, h('div', { 'data-testid': 'interval', 'data-interval': i }, [
        h('h3', { 'data-testid': 'interval-range' }, 'Interval ' + (i + 1) + ' of ' + f.intervals.length + ': [' + fmt(iv.lo) + ', ' + fmt(iv.hi) + closing),
        iv.examples.length ? iv.examples.map(function (ex) { return exampleRow(ex, scale, strings); }) : h('p', { 'class': 'muted' }, 'No tokens in this interval.'),
      ]));
    });
    if (!f.intervals.length) append(intervals, h('p', { 'class': 'muted' }, 'No examples.'));
    nodes.push(intervals, logitSection(f));
    render('feature', 'Feature ' + id, nodes);
    app.setAttribute('data-feature', String(id));
  }

  window.addEventListener('hashchange', route);
  route();
})();
`;
