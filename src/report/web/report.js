// logitscope report: draws every section from the JSON in <script id="lsc-data"> with plotly.js.
// Everything is built with DOM calls and textContent (never innerHTML with data), so record text
// cannot inject markup. SVG chart types only (no WebGL): the page renders without a GPU.
// When done, <body> carries data-rendered="ok", data-charts (plots drawn) and data-errors.
(function () {
  'use strict';
  const D = JSON.parse(document.getElementById('lsc-data').textContent);
  const MODELS = D.models;
  const FAMS = D.families;
  const FAMS_ALL = FAMS.concat(['all tokens']);
  const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
  const ERRORS = [];
  let N_CHARTS = 0;
  const TEXTS = D.texts;
  const MEAS = D.measures;
  const MKEY = {};
  MEAS.keys.forEach(function (k, i) { MKEY[k] = i; });
  const VIEWER = D.viewer;
  const VOCAB = new Map();
  VIEWER.vocab.id.forEach(function (id, i) { VOCAB.set(id, VIEWER.vocab.name[i]); });
  const VIEW_ROW = new Map();  // texts-table row -> viewer text index
  VIEWER.texts.forEach(function (t, i) { VIEW_ROW.set(t.row, i); });

  // ---------- small DOM helpers ----------
  function el(tag, attrs) {
    const e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'text') e.textContent = attrs[k];
        else if (k === 'cls') e.className = attrs[k];
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), attrs[k]);
        else e.setAttribute(k, attrs[k]);
      });
    }
    for (let i = 2; i < arguments.length; i++) {
      const c = arguments[i];
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }
  function body(id) {
    const b = document.querySelector('#' + id + ' .body');
    b.textContent = '';
    return b;
  }
  function note(parent, text, cls) { return parent.appendChild(el('p', {cls: cls || 'note', text: text})); }
  function h3(parent, text) { return parent.appendChild(el('h3', {text: text})); }
  function fmt(v, d) {
    if (v === null || v === undefined || (typeof v === 'number' && !isFinite(v))) return '–';
    if (typeof v !== 'number') return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString('en-US');
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(d === undefined ? 2 : d);
    if (d === undefined && a < 1) return v.toPrecision(3);  // three significant digits, not three decimals
    return v.toFixed(d === undefined ? (a >= 100 ? 1 : 3) : d);
  }
  function fmtP(v) {
    if (typeof v !== 'number') return fmt(v);
    return v < 1e-3 ? v.toExponential(1) : v.toFixed(3);
  }
  // Token text with whitespace made visible (for labels and lists).
  function vis(s) {
    return String(s).replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥');
  }
  const INVISIBLE = /^[\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]*$/;
  function pct(p) { return p >= 0.001 ? (100 * p).toFixed(1) + '%' : p.toExponential(1); }
  function tokName(id) { return VOCAB.has(id) ? VOCAB.get(id) : '#' + id; }
  function select(parent, label, options, value, onchange) {
    const s = el('select', {onchange: function () { onchange(s.value); }});
    options.forEach(function (o) {
      const opt = el('option', {value: String(o[0]), text: o[1]});
      if (String(o[0]) === String(value)) opt.selected = true;
      s.appendChild(opt);
    });
    parent.appendChild(el('label', {cls: 'ctl'}, label + ' ', s));
    return s;
  }
  function controls(parent) { return parent.appendChild(el('div', {cls: 'controls'})); }
  function table(parent, columns, rows, opts) {
    opts = opts || {};
    const t = el('table', {cls: 'tbl'});
    const tr = el('tr');
    columns.forEach(function (c) { tr.appendChild(el('th', {text: c})); });
    t.appendChild(el('thead', null, tr));
    const tb = el('tbody');
    rows.forEach(function (r, i) {
      const row = el('tr');
      if (opts.rowClass) {
        const c = opts.rowClass(i);
        if (c) row.className = c;
      }
      r.forEach(function (v) {
        if (v instanceof Node) row.appendChild(el('td', null, v));
        else row.appendChild(el('td', {text: typeof v === 'number' ? fmt(v) : (v === null || v === undefined ? '–' : String(v))}));
      });
      tb.appendChild(row);
    });
    t.appendChild(tb);
    const wrap = el('div', {cls: 'tblwrap'}, t);
    parent.appendChild(wrap);
    return wrap;
  }
  function range(n) { const a = []; for (let i = 0; i < n; i++) a.push(i); return a; }
  function color(i, alpha) {
    const c = COLORS[i % COLORS.length];
    if (alpha === undefined) return c;
    const r = parseInt(c.slice(1, 3), 16), g = parseInt(c.slice(3, 5), 16), b = parseInt(c.slice(5, 7), 16);
    return 'rgba(' + r + ',' + g + ',' + b + ',' + alpha + ')';
  }

  // ---------- plotting ----------
  const SVG_BUTTON = {
    name: 'downloadSvg', title: 'Download plot as SVG', icon: Plotly.Icons.disk,
    click: function (gd) { Plotly.downloadImage(gd, {format: 'svg', filename: gd.id || 'logitscope-chart'}); }
  };
  const CONFIG = {responsive: true, displaylogo: false, modeBarButtonsToAdd: [SVG_BUTTON],
    toImageButtonOptions: {format: 'png', scale: 2}};
  let chartSeq = 0;
  function chartDiv(parent, cls) {
    const d = el('div', {cls: 'chart' + (cls ? ' ' + cls : ''), id: 'chart-' + (++chartSeq)});
    parent.appendChild(d);
    return d;
  }
  function baseLayout(title, extra) {
    // Title left, legend top right, modebar vertical on the right: none of them overlap.
    const l = {title: {text: title, font: {size: 14}, x: 0, xref: 'paper', xanchor: 'left'}, margin: {l: 60, r: 40, t: 56, b: 50},
      font: {family: 'system-ui, sans-serif', size: 12}, paper_bgcolor: '#fff', plot_bgcolor: '#fff', height: 340,
      legend: {orientation: 'h', x: 1, xanchor: 'right', y: 1.0, yanchor: 'bottom'}, modebar: {orientation: 'v'}};
    return Object.assign(l, extra || {});
  }
  // plotly renders strings as a small HTML subset (<b>, <br>, <a href>, entities), so every string
  // we hand it is entity-escaped: a token "<br>" or a record id with tags shows as typed. Our own
  // markup lives only in hovertemplate/texttemplate, whose user parts go through pe().
  function pe(v) { return String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'); }
  function esc(v, key) {
    if (typeof v === 'string') return key === 'hovertemplate' || key === 'texttemplate' ? v : pe(v);
    if (Array.isArray(v)) return v.map(function (x) { return esc(x, key); });
    if (v && typeof v === 'object') {
      const o = {};
      Object.keys(v).forEach(function (k) { o[k] = esc(v[k], k); });
      return o;
    }
    return v;
  }
  // Draws (or redraws) a chart; a failure is recorded and shown in place, not thrown.
  function plot(div, traces, layout) {
    try {
      const first = !div.dataset.drawn;
      div.style.height = (layout.height || 340) + 'px';
      Plotly.react(div, esc(traces, ''), esc(layout, ''), CONFIG);
      if (first) { div.dataset.drawn = '1'; N_CHARTS++; }
    } catch (e) {
      ERRORS.push(div.id + ': ' + e.message);
      console.error('chart ' + div.id + ': ' + e.message);
      div.textContent = 'chart failed: ' + e.message;
    }
  }
  function axis(title, extra) { return Object.assign({title: {text: title}, automargin: true}, extra || {}); }

  // cells[k][g][m][f] = [n, mean, lo, hi]
  function cell(k, g, m, f) { return MEAS.cells[MKEY[k]][g][m][f]; }
  function errBars(cs) {
    return {type: 'data', symmetric: false, visible: true,
      array: cs.map(function (c) { return c[3] === null || c[1] === null ? null : c[3] - c[1]; }),
      arrayminus: cs.map(function (c) { return c[2] === null || c[1] === null ? null : c[1] - c[2]; })};
  }
  function measureLabel(k, f) {
    const i = MKEY[k];
    return f === FAMS.length ? MEAS.all_tokens_labels[i] : MEAS.labels[i];
  }
  const MODEL_MEASURES = [['lp_word', 'log p of the keyword'], ['lp_first', 'log p of its first token'],
    ['prop', 'propensity'], ['ent_before', 'entropy before the keyword'], ['kl_at', 'KL at the keyword']];

  // ---------- stats.json, shown defensively ----------
  // Arrays of row objects anywhere in stats.json (depth ≤ 4), with the key path that leads there.
  function statArrays() {
    const out = [];
    function walk(v, path, depth) {
      if (depth > 4 || v === null || typeof v !== 'object') return;
      if (Array.isArray(v)) {
        if (v.length && v.every(function (r) { return r && typeof r === 'object' && !Array.isArray(r); }) &&
            v.some(function (r) { return looksLikeTest(r); })) out.push({path: path, rows: v});
        return;
      }
      Object.keys(v).forEach(function (k) { walk(v[k], path ? path + '.' + k : k, depth + 1); });
    }
    function looksLikeTest(r) {
      return Object.keys(r).some(function (k) {
        if (/^(p|q|p_value|q_value|statistic|test)$/.test(k)) return true;
        const x = r[k];
        return x && typeof x === 'object' && !Array.isArray(x) && ('p' in x || 'p_value' in x || 'statistic' in x);
      });
    }
    if (D.stats) walk(D.stats, '', 0);
    return out;
  }
  function flattenRow(r) {
    const o = {};
    Object.keys(r).forEach(function (k) {
      const v = r[k];
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        Object.keys(v).forEach(function (s) {
          const x = v[s];
          if (x === null || typeof x !== 'object') o[k + '.' + s] = x;
        });
      } else if (Array.isArray(v)) {
        if (v.length <= 6 && v.every(function (x) { return typeof x !== 'object' || x === null; })) {
          o[k] = '[' + v.map(function (x) { return typeof x === 'number' ? fmt(x) : String(x); }).join(', ') + ']';
        }
      } else {
        o[k] = v;
      }
    });
    return o;
  }
  // Identity columns first, then each test's statistic, p and q, then the rest; nested
  // "defined"/"n" copies are dropped when the row has its own n.
  const ID_COLS = ['family', 'measure', 'model', 'model_a', 'model_b', 'models', 'level', 'k', 'n', 'n_correct', 'n_incorrect', 'small_n'];
  function orderColumns(rows) {
    const all = [];
    rows.forEach(function (r) { Object.keys(r).forEach(function (k) { if (all.indexOf(k) < 0) all.push(k); }); });
    const hasN = all.indexOf('n') >= 0;
    const keep = all.filter(function (c) { return !/\.defined$/.test(c) && !(hasN && /\.n$/.test(c)); });
    const rank = function (c) {
      const i = ID_COLS.indexOf(c);
      if (i >= 0) return i;
      const m = /\.(statistic|p|p_value|q|q_value)$/.exec(c);
      if (m) return 100 + ['statistic', 'p', 'p_value', 'q', 'q_value'].indexOf(m[1]);
      return c.indexOf('.') >= 0 ? 200 : 150;
    };
    const tests = [];
    keep.forEach(function (c) { const d = c.indexOf('.'); if (d > 0 && tests.indexOf(c.slice(0, d)) < 0) tests.push(c.slice(0, d)); });
    return keep.slice().sort(function (x, y) {
      const tx = x.indexOf('.') > 0 ? tests.indexOf(x.slice(0, x.indexOf('.'))) : -1;
      const ty = y.indexOf('.') > 0 ? tests.indexOf(y.slice(0, y.indexOf('.'))) : -1;
      const rx = rank(x), ry = rank(y);
      if ((rx < 100) !== (ry < 100)) return rx < 100 ? -1 : 1;
      if (rx < 100) return rx - ry;
      if (tx !== ty) return tx < 0 ? -1 : ty < 0 ? 1 : tx - ty;
      return rx - ry || keep.indexOf(x) - keep.indexOf(y);
    });
  }
  const STATS_SECTIONS = {
    's4-keywords': /model_comp|paired|friedman|wilcoxon/i,
    's5-difficulty': /difficult|spearman|kendall|level/i,
    's6-correctness': /correct|mann|presence|welch|fisher/i,
    's10-clusters': /explor|pca|kmeans|cluster/i
  };
  function statsFor(section) {
    return statArrays().filter(function (a) {
      const own = STATS_SECTIONS[section];
      if (section === 's1-manifest') {
        return !Object.keys(STATS_SECTIONS).some(function (s) { return STATS_SECTIONS[s].test(a.path); });
      }
      return own.test(a.path);
    });
  }
  function countBy(values, v) { let n = 0; values.forEach(function (x) { if (x === v) n++; }); return n; }
  function statsTables(parent, section, initialFamily) {
    if (!D.stats) {
      note(parent, 'Test results (paired tests, q-values, correlations) appear here once the statistics step has run: run `logitscope stats ' +
        D.results_dir + '`, then `logitscope report ' + D.results_dir + '` again.', 'note stats-missing');
      return;
    }
    const arrays = statsFor(section);
    if (!arrays.length) {
      const why = section === 's4-keywords' && MODELS.length < 2 ? ' (its tests compare models: they need two or more)'
        : section === 's6-correctness' ? ' (its tests need texts of both outcomes: ' + countBy(TEXTS.correct, 1) + ' correct, ' + countBy(TEXTS.correct, 0) + ' incorrect)'
        : section === 's5-difficulty' ? ' (its tests need texts of at least two levels)' : '';
      note(parent, 'stats.json has no test rows for this section' + why + '.');
      return;
    }
    arrays.forEach(function (a) {
      const rows = a.rows.map(flattenRow);
      const cols = orderColumns(rows);
      const box = parent.appendChild(el('div', {cls: 'statsbox'}));
      h3(box, 'stats.json: ' + a.path + ' (' + rows.length + ' rows)');
      const ctl = controls(box);
      const holder = box.appendChild(el('div'));
      const filt = {};
      function draw() {
        holder.textContent = '';
        const sel = rows.filter(function (r) {
          return Object.keys(filt).every(function (k) { return filt[k] === '*' || String(r[k]) === filt[k]; });
        });
        const shown = sel.slice(0, 300);
        const qcols = cols.filter(function (c) { return /(^|\.)(q|q_value)$/.test(c); });
        table(holder, cols, shown.map(function (r) {
          return cols.map(function (c) {
            const v = r[c];
            if (typeof v === 'number' && qcols.indexOf(c) >= 0 && v < 0.05) return el('b', {text: fmtP(v)});
            if (typeof v === 'number' && /(^|\.)(p|q|p_value|q_value)$/.test(c)) return fmtP(v);
            if (typeof v === 'boolean') return v ? 'yes' : '';
            return v;
          });
        }), {rowClass: function (i) { return shown[i].small_n ? 'small-n' : ''; }});
        if (sel.length > shown.length) note(holder, 'showing 300 of ' + sel.length + ' rows: filter to narrow.');
      }
      ['family', 'measure', 'model'].forEach(function (k) {
        if (cols.indexOf(k) < 0) return;
        const vals = Array.from(new Set(rows.map(function (r) { return String(r[k]); })));
        if (vals.length < 2) return;
        const init = k === 'family' && initialFamily && vals.indexOf(initialFamily) >= 0 ? initialFamily : '*';
        filt[k] = init;
        select(ctl, k, [['*', 'all']].concat(vals.map(function (v) { return [v, v]; })), init, function (v) { filt[k] = v; draw(); });
      });
      draw();
      note(box, 'Rows flagged "small n" are shaded; q < 0.05 in bold. Columns are as stats.json names them (test.statistic, test.p, test.q).');
    });
  }

  // ---------- 1. manifest ----------
  function sectionManifest() {
    const b = body('s1-manifest');
    const mf = D.manifest, t = mf.totals;
    const meta = {};
    mf.meta.forEach(function (kv) { meta[kv[0]] = kv[1]; });
    note(b, 'Status: ' + (D.status || 'unknown') + ' · ' + fmt(t.n_done) + ' of ' + fmt(t.n_texts) + ' texts done · ' +
      fmt(t.tokens) + ' tokens (' + fmt(t.answer_tokens) + ' in answers) over all models · ' + fmt(t.n_occurrences) +
      ' keyword occurrences · compute ' + fmt(t.compute_seconds) + ' s' +
      (t.tokens_per_s ? ' (' + fmt(t.tokens_per_s) + ' tokens/s)' : '') + '.', 'lead2');
    h3(b, 'Models');
    const m = mf.models;
    table(b, ['name', 'path', 'architecture', 'dtypes', 'parameters', 'vocab rows', 'config.json sha256', 'tokenizer', 'template', 'precision', 'ISA'],
      m.name.map(function (_, i) {
        return [m.name[i], m.path[i], m.model_type[i], m.dtypes[i], m.n_params[i], m.vocab_size[i], m.config_sha256[i].slice(0, 16) + '…',
          m.tokenizer_path[i], m.template[i], m.precision[i], m.isa[i]];
      }));
    note(b, 'Template: ' + (meta.template || '?') + ' · top-k stored: ' + (meta.top_k || '?') + ' · window W = ' + (meta.window || '?') +
      ' · max tokens: ' + (meta.max_tokens || '?') + ' · data: ' + (meta.data_path || '?') + ' (sha256 ' + String(meta.data_sha256 || '').slice(0, 16) + '…)');
    h3(b, 'Keyword families');
    note(b, 'Propensity sums p over each family\'s token-id set (DESIGN §2). ' +
      (mf.decoded_tokens ? 'Token strings decoded with the first model\'s tokenizer; ␣ is a space, ↵ a newline.' : 'Tokenizer not readable: ids only.'));
    table(b, ['family', 'ids', 'prefix (upper bound)', 'token strings', 'token ids'], mf.families.map(function (f) {
      const ids = f.ids.join(', ');
      return [f.name, f.ids.length, f.prefix ? 'yes' : 'no', f.strings.map(vis).join('  '), ids.length > 200 ? ids.slice(0, 200) + '…' : ids];
    }));
    h3(b, 'Skipped records: ' + mf.skipped.n);
    if (mf.skipped.n) table(b, ['line', 'error'], mf.skipped.rows);
    h3(b, 'Truncated texts: ' + mf.truncated.n);
    if (mf.truncated.n) table(b, ['text', 'record', 'model', 'tokens kept', 'tokens in full'], mf.truncated.rows);
    const det = b.appendChild(el('details', null, el('summary', {text: 'All run metadata (meta table)'})));
    table(det, ['key', 'value'], mf.meta.map(function (kv) {
      let v = kv[1];
      if (kv[0] === 'args_json') { try { v = JSON.stringify(JSON.parse(v), null, 1); } catch (e) { /* shown raw */ } }
      return [kv[0], el('pre', {text: v})];
    }));
    const other = statsFor('s1-manifest');
    if (D.stats && other.length) { h3(b, 'Other tables in stats.json'); statsTablesFrom(b, other); }
  }
  function statsTablesFrom(parent, arrays) {
    arrays.forEach(function (a) {
      const rows = a.rows.slice(0, 100).map(flattenRow);
      const cols = [];
      rows.forEach(function (r) { Object.keys(r).forEach(function (k) { if (cols.indexOf(k) < 0) cols.push(k); }); });
      note(parent, a.path + ' (' + a.rows.length + ' rows)');
      table(parent, cols, rows.map(function (r) { return cols.map(function (c) { return r[c]; }); }));
    });
  }

  // ---------- 2. data ----------
  function sectionData() {
    const b = body('s2-data');
    const n = TEXTS.idx.length;
    const levels = [1, 2, 3, 4, 5, 0].filter(function (L) { return L !== 0 || TEXTS.level.indexOf(0) >= 0; });
    const corr = [[1, 'correct'], [0, 'incorrect'], [-1, 'unknown']];
    const srcs = TEXTS.sources;
    note(b, n + ' texts finished in results.sqlite' + (srcs.length > 1 ? ', from ' + srcs.length + ' sources' : '') + '.');
    const row = b.appendChild(el('div', {cls: 'row'}));
    const traces = [];
    srcs.forEach(function (src, si) {
      corr.forEach(function (c, ci) {
        const y = levels.map(function (L) {
          let k = 0;
          for (let i = 0; i < n; i++) if (TEXTS.level[i] === L && TEXTS.correct[i] === c[0] && TEXTS.source[i] === si) k++;
          return k;
        });
        if (y.every(function (v) { return v === 0; })) return;
        traces.push({type: 'bar', name: c[1] + (srcs.length > 1 ? ' · ' + (src || '(no source)') : ''), x: levels.map(function (L) { return L ? 'level ' + L : 'unknown'; }),
          y: y, marker: {color: ['#2ca02c', '#d62728', '#999'][ci], opacity: 1 - 0.25 * si}, offsetgroup: String(si), hovertemplate: '%{x}: %{y} texts<extra>%{fullData.name}</extra>'});
      });
    });
    plot(chartDiv(row, 'half'), traces, baseLayout('Texts per level × correctness' + (srcs.length > 1 ? ' × source' : ''),
      {barmode: srcs.length > 1 ? 'group' : 'stack', yaxis: axis('texts'), xaxis: axis('level')}));
    plot(chartDiv(row, 'half'), [{type: 'histogram', x: TEXTS.n_answer, marker: {color: COLORS[0]}, nbinsx: 30,
      hovertemplate: '%{x} tokens: %{y} texts<extra></extra>'}],
    baseLayout('Answer length (tokens, ' + MODELS[0] + '\'s layout)', {xaxis: axis('answer tokens'), yaxis: axis('texts'), bargap: 0.05}));
    let totalAns = 0;
    TEXTS.n_answer.forEach(function (v) { totalAns += v; });
    const per1k = FAMS.map(function (f, fi) { let s = 0; TEXTS.counts[fi].forEach(function (v) { s += v; }); return totalAns ? 1000 * s / totalAns : 0; });
    const share = FAMS.map(function (f, fi) { let s = 0; TEXTS.counts[fi].forEach(function (v) { if (v > 0) s++; }); return n ? s / n : 0; });
    const row2 = b.appendChild(el('div', {cls: 'row'}));
    plot(chartDiv(row2, 'half'), [{type: 'bar', x: FAMS, y: per1k, marker: {color: COLORS[0]}, hovertemplate: '%{x}: %{y:.2f} per 1k answer tokens<extra></extra>'}],
      baseLayout('Keyword occurrences per 1k answer tokens (pooled)', {yaxis: axis('per 1k tokens')}));
    plot(chartDiv(row2, 'half'), [{type: 'bar', x: FAMS, y: share, marker: {color: COLORS[2]}, hovertemplate: '%{x}: in %{y:.0%} of texts<extra></extra>'}],
      baseLayout('Share of texts containing each keyword', {yaxis: axis('share of texts', {tickformat: '.0%', range: [0, 1]})}));
    table(b, ['family', 'occurrences', 'per 1k answer tokens (pooled)', 'texts containing it'], FAMS.map(function (f, fi) {
      let s = 0; TEXTS.counts[fi].forEach(function (v) { s += v; });
      return [f, s, per1k[fi], Math.round(share[fi] * n)];
    }));
  }

  // ---------- 3. distributions ----------
  function sectionDistributions() {
    const b = body('s3-distributions');
    const ds = D.distributions;
    function histTraces(hs) {
      return hs.map(function (h, m) {
        let tot = 0; h.count.forEach(function (c) { tot += c; });
        return {type: 'scatter', mode: 'lines', line: {shape: 'hvh', color: color(m)}, name: MODELS[m],
          x: h.count.map(function (_, i) { return h.lo + (i + 0.5) * h.width; }),
          y: h.count.map(function (c) { return tot ? c / tot : 0; }),
          customdata: h.count, hovertemplate: '%{x:.2f}: %{y:.2%} (%{customdata} positions)<extra>' + pe(MODELS[m]) + '</extra>'};
      });
    }
    const row = b.appendChild(el('div', {cls: 'row'}));
    plot(chartDiv(row, 'half'), histTraces(ds.logprob), baseLayout('Observed-token log p (answer positions)',
      {xaxis: axis('log p (nats); values below −30 are in the first bin'), yaxis: axis('share of positions', {tickformat: '.0%'})}));
    plot(chartDiv(row, 'half'), histTraces(ds.entropy), baseLayout('Entropy of the predicting row (answer positions)',
      {xaxis: axis('entropy (nats)'), yaxis: axis('share of positions', {tickformat: '.0%'})}));
    const row2 = b.appendChild(el('div', {cls: 'row'}));
    plot(chartDiv(row2, 'half'), ds.rank_buckets.map(function (rb, m) {
      let tot = 0; rb.forEach(function (c) { tot += c; });
      return {type: 'bar', name: MODELS[m], x: ds.rank_labels, y: rb.map(function (c) { return tot ? c / tot : 0; }), customdata: rb,
        marker: {color: color(m)}, hovertemplate: 'rank %{x}: %{y:.2%} (%{customdata})<extra>' + pe(MODELS[m]) + '</extra>'};
    }), baseLayout('Rank of the observed token', {barmode: 'group', xaxis: axis('rank bucket'), yaxis: axis('share of positions', {tickformat: '.0%'})}));
    const t = row2.appendChild(el('div', {cls: 'half'}));
    table(t, ['model', 'answer positions', 'mean log p (pooled, nats)', 'mean entropy (pooled, nats)', 'observed token ranked 1st'], ds.summary.map(function (s, m) {
      return [MODELS[m], s.n, s.mean_logprob, s.mean_entropy, s.n ? (100 * s.top1_rate).toFixed(1) + '%' : '–'];
    }));
    note(t, 'Histograms are binned by logitscope over every answer position (exact counts, not a sample). Pooled: over all answer positions, so long answers weigh more; the sections below take the text as the unit (the mean of per-text means).');
  }

  // ---------- 4. keywords × models ----------
  function sectionKeywords() {
    const b = body('s4-keywords');
    note(b, 'Unit: the text. Each text gives one value per model and family (e.g. the mean log p of its "wait" occurrences); bars are means over texts with ' +
      MEAS.ci_rule + '. "all tokens" is the same measure over every answer token.');
    function bars(k, title, ytitle, logy) {
      const fams = k === 'prop' ? FAMS : FAMS_ALL;
      return MODELS.map(function (name, m) {
        const cs = fams.map(function (_, f) { return cell(k, 0, m, f); });
        return {type: 'bar', name: name, x: fams, y: cs.map(function (c) { return c[1]; }), error_y: errBars(cs),
          customdata: cs.map(function (c) { return c[0]; }), marker: {color: color(m)},
          hovertemplate: '%{x}: %{y:.4g} (n = %{customdata} texts)<extra>' + pe(name) + '</extra>'};
      });
    }
    const row = b.appendChild(el('div', {cls: 'row'}));
    plot(chartDiv(row, 'half'), bars('lp_word'), baseLayout('Mean log p at occurrences (whole keyword)', {barmode: 'group', yaxis: axis('log p (nats)')}));
    plot(chartDiv(row, 'half'), bars('prop'), baseLayout('Mean propensity over answer positions', {barmode: 'group', yaxis: axis('p(next token starts the keyword)', {type: 'log'})}));
    function heat(k, title, fams) {
      const z = fams.map(function (_, f) { return MODELS.map(function (_, m) { return cell(k, 0, m, f)[1]; }); });
      const tx = fams.map(function (_, f) { return MODELS.map(function (_, m) { const c = cell(k, 0, m, f); return fmt(c[1]) + ' (n ' + c[0] + ')'; }); });
      return [{type: 'heatmap', x: MODELS, y: fams, z: k === 'prop' ? z.map(function (r) { return r.map(function (v) { return v > 0 ? Math.log10(v) : null; }); }) : z,
        text: tx, texttemplate: '%{text}', hovertemplate: '%{y} · %{x}: %{text}<extra></extra>', colorscale: 'Viridis',
        colorbar: {title: {text: k === 'prop' ? 'log10' : 'nats'}}}];
    }
    const row2 = b.appendChild(el('div', {cls: 'row'}));
    plot(chartDiv(row2, 'half'), heat('lp_word', '', FAMS_ALL), baseLayout('Mean log p at occurrences: family × model', {height: 420, yaxis: {autorange: 'reversed', automargin: true}}));
    plot(chartDiv(row2, 'half'), heat('prop', '', FAMS), baseLayout('Mean propensity (colour: log10): family × model', {height: 420, yaxis: {autorange: 'reversed', automargin: true}}));
    // Radar
    const row3 = b.appendChild(el('div', {cls: 'row'}));
    const radarBox = row3.appendChild(el('div', {cls: 'half'}));
    const rc = controls(radarBox);
    const radarDiv = chartDiv(radarBox);
    function drawRadar(k) {
      const traces = MODELS.map(function (name, m) {
        const v = FAMS.map(function (_, f) { const x = cell(k, 0, m, f)[1]; return k === 'prop' ? (x > 0 ? Math.log10(x) : null) : x; });
        return {type: 'scatterpolar', r: v.concat([v[0]]), theta: FAMS.concat([FAMS[0]]), name: name, line: {color: color(m)}, fill: 'none',
          hovertemplate: '%{theta}: %{r:.3f}<extra>' + pe(name) + '</extra>'};
      });
      const all = [];
      traces.forEach(function (t) { t.r.forEach(function (x) { if (x !== null) all.push(x); }); });
      const lo = Math.min.apply(null, all.length ? all : [0]), hi = Math.max.apply(null, all.length ? all : [1]);
      plot(radarDiv, traces, baseLayout('Radar over families: ' + (k === 'prop' ? 'log10 mean propensity' : 'mean log p at occurrences'),
        {height: 420, polar: {radialaxis: {range: [lo - 0.1 * (hi - lo + 1e-9), hi + 0.05 * (hi - lo + 1e-9)]}}}));
    }
    select(rc, 'radius', [['lp_word', 'mean log p at occurrences'], ['prop', 'log10 mean propensity'], ['lp_first', 'mean log p, first token']], 'lp_word', drawRadar);
    drawRadar('lp_word');
    // Box plots of per-text values
    const boxBox = row3.appendChild(el('div', {cls: 'half'}));
    const bc = controls(boxBox);
    const boxDiv = chartDiv(boxBox);
    function drawBox(k) {
      const ki = MKEY[k];
      const fams = k === 'prop' ? FAMS : FAMS_ALL;
      const traces = MODELS.map(function (name, m) {
        const x = [], y = [];
        fams.forEach(function (fname, f) {
          MEAS.sample[ki][m][f].forEach(function (v) { if (v !== null) { x.push(fname); y.push(v); } });
        });
        return {type: 'box', name: name, x: x, y: y, marker: {color: color(m), size: 3}, boxpoints: 'outliers'};
      });
      plot(boxDiv, traces, baseLayout('Per-text values: ' + MEAS.labels[ki], {boxmode: 'group', height: 420,
        yaxis: axis(MEAS.labels[ki], k === 'prop' ? {type: 'log'} : {})}));
    }
    select(bc, 'measure', MODEL_MEASURES, 'lp_word', drawBox);
    drawBox('lp_word');
    note(b, 'Box plots: ' + MEAS.sample_rule + '.');
    h3(b, 'Paired tests between models (from stats.json)');
    statsTables(b, 's4-keywords', 'wait');
  }

  // ---------- 5. difficulty ----------
  function sectionDifficulty() {
    const b = body('s5-difficulty');
    const LEV = [1, 2, 3, 4, 5];
    const nLevelled = TEXTS.level.filter(function (L) { return L >= 1; }).length;
    if (!nLevelled) note(b, 'No text of this data has a level (1-5): the charts below stay empty.');
    const c = controls(b);
    const st = {m: MODELS.length - 1, f: Math.max(0, FAMS.indexOf('wait'))};
    const row = b.appendChild(el('div', {cls: 'row'}));
    const hRate = chartDiv(row, 'half'), hLp = chartDiv(row, 'half');
    const row2 = b.appendChild(el('div', {cls: 'row'}));
    const lLp = chartDiv(row2, 'third'), lProp = chartDiv(row2, 'third'), lRate = chartDiv(row2, 'third');
    function heat(k, m, fams) {
      return [{type: 'heatmap', x: LEV.map(function (L) { return 'level ' + L; }), y: fams,
        z: fams.map(function (_, f) { return LEV.map(function (L) { return cell(k, L, m, f)[1]; }); }),
        customdata: fams.map(function (_, f) { return LEV.map(function (L) { return cell(k, L, m, f)[0]; }); }),
        hovertemplate: '%{y} · %{x}: %{z:.3f} (n = %{customdata})<extra></extra>', colorscale: 'Viridis'}];
    }
    function line(div, k, title, ytitle, models) {
      const traces = models.map(function (m) {
        const cs = LEV.map(function (L) { return cell(k, L, m, st.f); });
        return {type: 'scatter', mode: 'lines+markers', name: MODELS[m], x: LEV, y: cs.map(function (x) { return x[1]; }),
          error_y: errBars(cs), line: {color: color(m)}, customdata: cs.map(function (x) { return x[0]; }),
          hovertemplate: 'level %{x}: %{y:.4g} (n = %{customdata})<extra>' + pe(MODELS[m]) + '</extra>'};
      });
      plot(div, traces, baseLayout(title + ': ' + FAMS_ALL[st.f], {xaxis: axis('level', {dtick: 1}), yaxis: axis(ytitle, k === 'prop' ? {type: 'log'} : {})}));
    }
    function draw() {
      plot(hRate, heat('rate', 0, FAMS), baseLayout('Occurrences per 1k answer tokens: family × level', {height: 400, yaxis: {autorange: 'reversed', automargin: true}}));
      plot(hLp, heat('lp_word', st.m, FAMS_ALL), baseLayout('Mean log p at occurrences, ' + MODELS[st.m] + ': family × level', {height: 400, yaxis: {autorange: 'reversed', automargin: true}}));
      line(lLp, 'lp_word', 'Mean log p at occurrences', 'log p (nats)', range(MODELS.length));
      if (st.f < FAMS.length) line(lProp, 'prop', 'Mean propensity', 'propensity', range(MODELS.length));
      else plot(lProp, [], baseLayout('Propensity: pick a keyword family'));
      if (st.f < FAMS.length) line(lRate, 'rate', 'Occurrences per 1k tokens (a property of the text)', 'per 1k', [0]);
      else plot(lRate, [], baseLayout('Rate: pick a keyword family'));
    }
    select(c, 'model (heatmap)', MODELS.map(function (m, i) { return [i, m]; }), st.m, function (v) { st.m = +v; draw(); });
    select(c, 'family (lines)', FAMS_ALL.map(function (f, i) { return [i, f]; }), st.f, function (v) { st.f = +v; draw(); });
    draw();
    note(b, 'Lines: mean over texts of each level with ' + MEAS.ci_rule + '. Texts of unknown level are left out.');
    h3(b, 'Rank correlation with level (Spearman ρ, Kendall τ-b; from stats.json)');
    statsTables(b, 's5-difficulty', 'wait');
  }

  // ---------- 6. correctness ----------
  function sectionCorrectness() {
    const b = body('s6-correctness');
    const nCorrect = countBy(TEXTS.correct, 1), nIncorrect = countBy(TEXTS.correct, 0);
    if (!nCorrect || !nIncorrect) {
      note(b, 'The data has ' + nCorrect + ' correct and ' + nIncorrect + ' incorrect text(s) (' + countBy(TEXTS.correct, -1) +
        ' without is_correct): the correct − incorrect comparisons below need both and stay empty.');
    }
    const c = controls(b);
    const st = {m: MODELS.length - 1, k: 'lp_word', f: Math.max(0, FAMS.indexOf('wait'))};
    const row = b.appendChild(el('div', {cls: 'row'}));
    const barDiv = chartDiv(row, 'half'), diffDiv = chartDiv(row, 'half');
    const scDiv = chartDiv(b.appendChild(el('div', {cls: 'row'})), 'half');
    function draw() {
      const fams = st.k === 'prop' ? FAMS : FAMS_ALL;
      const ki = MKEY[st.k];
      plot(barDiv, [[6, 'correct', '#2ca02c'], [7, 'incorrect', '#d62728']].map(function (g) {
        const cs = fams.map(function (_, f) { return cell(st.k, g[0], st.m, f); });
        return {type: 'bar', name: g[1], x: fams, y: cs.map(function (x) { return x[1]; }), error_y: errBars(cs), marker: {color: g[2]},
          customdata: cs.map(function (x) { return x[0]; }), hovertemplate: '%{x}: %{y:.4g} (n = %{customdata})<extra>' + pe(g[1]) + '</extra>'};
      }), baseLayout(MEAS.labels[ki] + ', ' + MODELS[st.m], {barmode: 'group', yaxis: axis(MEAS.labels[ki], st.k === 'prop' ? {type: 'log'} : {})}));
      const z = fams.map(function (_, f) { return MODELS.map(function (_, m) {
        const a = cell(st.k, 6, m, f)[1], bb = cell(st.k, 7, m, f)[1];
        return a === null || bb === null ? null : a - bb; }); });
      plot(diffDiv, [{type: 'heatmap', x: MODELS, y: fams, z: z, colorscale: 'RdBu', zmid: 0,
        hovertemplate: '%{y} · %{x}: correct − incorrect = %{z:.4g}<extra></extra>'}],
      baseLayout('Correct − incorrect: ' + MEAS.labels[ki], {yaxis: {autorange: 'reversed', automargin: true}}));
      const rate = MEAS.sample[MKEY.rate][st.m][st.f], lp = MEAS.sample[MKEY.lp_word][st.m][st.f];
      const groups = [[1, 'correct', '#2ca02c'], [0, 'incorrect', '#d62728'], [-1, 'unknown', '#999']];
      plot(scDiv, groups.map(function (g) {
        const x = [], y = [], tx = [];
        MEAS.sample_rows.forEach(function (row, i) {
          if (TEXTS.correct[row] !== g[0] || rate[i] === null || lp[i] === null) return;
          x.push(rate[i]); y.push(lp[i]); tx.push('text ' + TEXTS.idx[row] + ' · ' + TEXTS.id[row] + ' · level ' + TEXTS.level[row]);
        });
        return {type: 'scatter', mode: 'markers', name: g[1], x: x, y: y, text: tx, marker: {color: g[2], size: 7, opacity: 0.75},
          hovertemplate: '%{text}<br>rate %{x:.2f} · log p %{y:.3f}<extra></extra>'};
      }), baseLayout('Per text: rate vs mean log p of "' + FAMS_ALL[st.f] + '", ' + MODELS[st.m],
        {xaxis: axis('occurrences per 1k answer tokens'), yaxis: axis('mean log p at occurrences (nats)')}));
    }
    select(c, 'model', MODELS.map(function (m, i) { return [i, m]; }), st.m, function (v) { st.m = +v; draw(); });
    select(c, 'measure', MODEL_MEASURES.concat([['rate', 'occurrences per 1k tokens']]), st.k, function (v) { st.k = v; draw(); });
    select(c, 'family (scatter)', FAMS.map(function (f, i) { return [i, f]; }), st.f, function (v) { st.f = +v; draw(); });
    draw();
    note(b, 'Bars: mean over texts with ' + MEAS.ci_rule + '; texts of unknown correctness are left out. Scatter: ' + MEAS.sample_rule + '; texts without an occurrence have no log p and are not drawn.');
    h3(b, 'Mann-Whitney / Welch / presence tests (from stats.json)');
    statsTables(b, 's6-correctness', 'wait');
  }

  // ---------- 7. windows ----------
  function sectionWindows() {
    const b = body('s7-windows');
    const w = D.windows;
    const c = controls(b);
    const st = {f: Math.max(0, FAMS.indexOf('wait'))};
    const offs = range(2 * w.window + 1).map(function (i) { return i - w.window; });
    const row = b.appendChild(el('div', {cls: 'row'}));
    const divs = w.metrics.map(function () { return chartDiv(row, 'half'); });
    function draw() {
      w.metrics.forEach(function (name, k) {
        if (name === 'kl_mean' && MODELS.length < 2) { plot(divs[k], [], baseLayout('KL: needs two models or more')); return; }
        const traces = [];
        MODELS.forEach(function (mn, m) {
          const s = w.data[k][st.f][m];
          traces.push({type: 'scatter', mode: 'lines', x: offs, y: s.hi, line: {width: 0}, showlegend: false, hoverinfo: 'skip', legendgroup: mn});
          traces.push({type: 'scatter', mode: 'lines', x: offs, y: s.lo, line: {width: 0}, fill: 'tonexty', fillcolor: color(m, 0.18),
            showlegend: false, hoverinfo: 'skip', legendgroup: mn});
          traces.push({type: 'scatter', mode: 'lines+markers', x: offs, y: s.mean, name: mn, line: {color: color(m)}, legendgroup: mn,
            customdata: s.n, hovertemplate: 'offset %{x}: %{y:.4g} (n = %{customdata})<extra>' + pe(mn) + '</extra>'});
        });
        plot(divs[k], traces, baseLayout(w.labels[k], {xaxis: axis('offset from the keyword\'s first token', {zeroline: true}),
          yaxis: axis(name, name === 'propensity' ? {type: 'log'} : {}),
          shapes: [{type: 'line', x0: 0, x1: 0, yref: 'paper', y0: 0, y1: 1, line: {dash: 'dot', color: '#888'}}]}));
      });
    }
    select(c, 'family', FAMS.map(function (f, i) { return [i, f]; }).concat([[FAMS.length, 'all families']]), st.f, function (v) { st.f = +v; draw(); });
    draw();
    note(b, 'Offset 0 is the keyword\'s first token (its log p is the decision point). Band: ' + w.band_rule + '.');
  }

  // ---------- 8. model differences ----------
  function sectionDifferences() {
    const b = body('s8-differences');
    const P = D.pairs;
    if (!P.length) { note(b, MODELS.length > 1 ? 'No pair rows yet: no text of this run is done.' : 'One model only: there are no model pairs to compare.'); return; }
    const pname = function (p) { return MODELS[p.a] + ' vs ' + MODELS[p.b]; };
    table(b, ['pair', 'positions', 'mean KL(a‖b)', 'mean KL(b‖a)', 'mean JS (bits)', 'mean TV', 'top-1 agreement', 'mean |Δlog p|'],
      P.map(function (p) { return [pname(p), p.n, p.mean.kl_ab, p.mean.kl_ba, p.mean.js_bits, p.mean.tv, (100 * p.mean.top1_agree).toFixed(1) + '%', p.mean.abs_dlogp]; }));
    const row0 = b.appendChild(el('div', {cls: 'row'}));
    plot(chartDiv(row0, 'half'), [{type: 'bar', name: 'all positions', x: P.map(pname), y: P.map(function (p) { return p.mean.top1_agree; }), marker: {color: COLORS[4]},
      hovertemplate: '%{x}: %{y:.1%}<extra></extra>'}].concat([1, 2, 3, 4, 5].map(function (L, li) {
      return {type: 'bar', name: 'level ' + L, x: P.map(pname), y: P.map(function (p) { return p.agree_by_level[li]; }), visible: 'legendonly',
        hovertemplate: '%{x}: %{y:.1%}<extra>level ' + L + '</extra>'};
    })), baseLayout('Top-1 agreement (click legend: per level)', {barmode: 'group', yaxis: axis('share of positions', {tickformat: '.0%'}), showlegend: true}));
    // keyword × pair heatmap
    const hmBox = row0.appendChild(el('div', {cls: 'half'}));
    const hc = controls(hmBox);
    const hmDiv = chartDiv(hmBox);
    function drawHm(k) {
      const ki = MKEY[k];
      const fams = k === 'prop' ? FAMS : FAMS_ALL;
      const pairs = MEAS.pairs.map(function (p) { return MODELS[p[1]] + ' − ' + MODELS[p[0]]; });
      const z = fams.map(function (_, f) { return MEAS.pairs.map(function (_, pi) { return MEAS.diff[ki][pi][f][1]; }); });
      const tx = fams.map(function (_, f) { return MEAS.pairs.map(function (_, pi) { const d = MEAS.diff[ki][pi][f];
        return fmt(d[1]) + ' [' + fmt(d[2]) + ', ' + fmt(d[3]) + '] n ' + d[0]; }); });
      plot(hmDiv, [{type: 'heatmap', x: pairs, y: fams, z: z, text: tx, texttemplate: '%{text}', colorscale: 'RdBu', zmid: 0,
        hovertemplate: '%{y} · %{x}: %{text}<extra></extra>'}],
      baseLayout('Keyword × model pair: mean per-text difference of ' + MEAS.labels[ki], {height: 440, yaxis: {autorange: 'reversed', automargin: true}}));
    }
    select(hc, 'measure', MODEL_MEASURES, 'lp_word', drawHm);
    drawHm('lp_word');
    const c = controls(b);
    const st = {p: P.length - 1};
    const row = b.appendChild(el('div', {cls: 'row'}));
    const histDiv = chartDiv(row, 'half'), profDiv = chartDiv(row, 'half');
    const tabs = b.appendChild(el('div', {cls: 'row'}));
    function draw() {
      const p = P[st.p];
      const h = p.hist, nb = h.kl_ab.length, wd = (h.log10_hi - h.log10_lo) / nb;
      const xs = range(nb).map(function (i) { return h.log10_lo + (i + 0.5) * wd; });
      plot(histDiv, [['kl_ab', 'KL(' + MODELS[p.a] + '‖' + MODELS[p.b] + ')'], ['kl_ba', 'KL(' + MODELS[p.b] + '‖' + MODELS[p.a] + ')'], ['js_bits', 'JS (bits)']].map(function (d, i) {
        let tot = 0; h[d[0]].forEach(function (v) { tot += v; });
        return {type: 'scatter', mode: 'lines', line: {shape: 'hvh', color: COLORS[i + 4]}, name: d[1], x: xs,
          y: h[d[0]].map(function (v) { return tot ? v / tot : 0; }), hovertemplate: 'log10 = %{x:.2f}: %{y:.2%}<extra>' + pe(d[1]) + '</extra>'};
      }), baseLayout('Divergence per answer position: ' + pname(p), {xaxis: axis('log10 of the divergence (the first bin holds 0 and everything below 1e−6)'),
        yaxis: axis('share of positions', {tickformat: '.0%'})}));
      const pr = p.profile, xb = range(pr.bins).map(function (i) { return (i + 0.5) / pr.bins; });
      plot(profDiv, [
        {type: 'scatter', mode: 'lines+markers', name: 'mean KL(' + MODELS[p.a] + ' ‖ ' + MODELS[p.b] + ') (nats)', x: xb, y: pr.kl_ab, line: {color: COLORS[4]}, customdata: pr.n, hovertemplate: '%{x:.0%}: %{y:.4g} (n = %{customdata})<extra>KL</extra>'},
        {type: 'scatter', mode: 'lines+markers', name: 'mean JS (bits)', x: xb, y: pr.js_bits, line: {color: COLORS[6]}, hovertemplate: '%{x:.0%}: %{y:.4g}<extra>JS</extra>'},
        {type: 'scatter', mode: 'lines', name: 'top-1 disagreement', x: xb, y: pr.disagree, yaxis: 'y2', line: {color: '#555', dash: 'dot'}, hovertemplate: '%{x:.0%}: %{y:.1%}<extra>disagree</extra>'}
      ], baseLayout('Where in the answer the divergence sits: ' + pname(p), {xaxis: axis('relative position in the answer', {tickformat: '.0%'}),
        yaxis: axis('KL (nats), JS (bits)'), yaxis2: {title: {text: 'top-1 disagreement'}, overlaying: 'y', side: 'right', tickformat: '.0%', rangemode: 'tozero'}}));
      tabs.textContent = '';
      const t1 = tabs.appendChild(el('div', {cls: 'half'}));
      h3(t1, 'Most divergent tokens (' + pname(p) + ')');
      table(t1, p.top_tokens_columns, p.top_tokens.map(function (r) { return [String(r[0]), vis(r[1])].concat(r.slice(2)); }));
      note(t1, 'The divergence of the rows that predict the token (token ids seen at least 3 times, by mean JS).');
      const t2 = tabs.appendChild(el('div', {cls: 'half'}));
      h3(t2, 'Most divergent texts (' + pname(p) + ')');
      table(t2, p.top_texts_columns.concat(['level', 'correct', 'viewer']), p.top_texts.map(function (r) {
        const row = TEXTS.idx.indexOf(r[0]);
        const vi = VIEW_ROW.has(row) ? VIEW_ROW.get(row) : -1;
        const link = vi >= 0 ? el('a', {href: '#s11-viewer', text: 'open', onclick: function () { openInViewer(vi, p.a, p.b); }}) : 'not embedded';
        return [r[0] + (row >= 0 ? ' · ' + TEXTS.id[row] : '')].concat(r.slice(1), [row >= 0 ? TEXTS.level[row] : '–', row >= 0 ? corrName(TEXTS.correct[row]) : '–', link]);
      }));
    }
    select(c, 'pair', P.map(function (p, i) { return [i, pname(p)]; }), st.p, function (v) { st.p = +v; draw(); });
    draw();
  }
  function corrName(c) { return c === 1 ? 'correct' : c === 0 ? 'incorrect' : 'unknown'; }

  // ---------- 9. logits heatmap ----------
  function textLabel(vi) {
    const t = VIEWER.texts[vi], r = t.row;
    return 'text ' + TEXTS.idx[r] + ' · ' + TEXTS.id[r] + ' · level ' + (TEXTS.level[r] || '?') + ' · ' + corrName(TEXTS.correct[r]) + ' (' + t.why + ')';
  }
  // The embedded text whose models diverge most (mean JS), else the first.
  function defaultText() {
    let best = 0;
    VIEWER.texts.forEach(function (t, i) { if ((t.js || 0) > (VIEWER.texts[best].js || 0)) best = i; });
    return best;
  }
  function sectionLogits() {
    const b = body('s9-logits');
    if (!VIEWER.texts.length) { note(b, 'No text embedded' + (TEXTS.idx.length ? ' (see the rule above and report --max-texts / --max-cells).' : ': no text of this run is done.')); return; }
    note(b, 'Cells are log p of the top-' + VIEWER.top_k + ' entries stored per position (the run stored top-' + VIEWER.stored_top_k +
      '; the full vocabulary row is not kept). Blank: the entry was not in that position\'s top-' + VIEWER.top_k +
      '. Rows: the N entries with the most probability mass over the shown positions. × marks the observed token; boxes mark keyword occurrences.');
    const c = controls(b);
    const st = {t: defaultText(), m: MODELS.length - 1, n: 20, start: -1, width: 100};
    const div = chartDiv(b, 'wide');
    function draw() {
      const t = VIEWER.texts[st.t], T = t.tok.length, K = VIEWER.top_k, md = t.models[st.m];
      if (st.start < 0) st.start = Math.max(1, t.answer_first);
      const p0 = Math.min(st.start, Math.max(1, T - 1)), p1 = Math.min(T, p0 + st.width);
      const mass = new Map();
      for (let p = p0; p < p1; p++) {
        for (let i = 0; i < K; i++) {
          const id = md.tki[p * K + i];
          if (id < 0) continue;
          mass.set(id, (mass.get(id) || 0) + Math.exp(md.tkl[p * K + i]));
        }
      }
      const ids = Array.from(mass.keys()).sort(function (x, y) { return mass.get(y) - mass.get(x); }).slice(0, st.n);
      const rowOf = new Map();
      ids.forEach(function (id, i) { rowOf.set(id, i); });
      const xs = range(p1 - p0).map(function (i) { return p0 + i; });
      const z = ids.map(function () { return xs.map(function () { return null; }); });
      xs.forEach(function (p, j) {
        for (let i = 0; i < K; i++) {
          const id = md.tki[p * K + i];
          if (rowOf.has(id)) z[rowOf.get(id)][j] = md.tkl[p * K + i];
        }
      });
      const ylab = ids.map(function (id) { return vis(tokName(id)) + ' (' + id + ')'; });
      const obsX = [], obsY = [];
      xs.forEach(function (p) { if (rowOf.has(t.tok[p])) { obsX.push(p); obsY.push(ylab[rowOf.get(t.tok[p])]); } });
      const shapes = t.occ.filter(function (o) { return o[1] > p0 && o[0] < p1; }).map(function (o) {
        return {type: 'rect', xref: 'x', yref: 'paper', x0: o[0] - 0.5, x1: o[1] - 0.5, y0: 0, y1: 1, line: {color: '#e6550d', width: 2}};
      });
      const hov = ids.map(function () { return xs.map(function (p) { return vis(t.piece[p]); }); });
      plot(div, [
        {type: 'heatmap', x: xs, y: ylab, z: z, customdata: hov, colorscale: 'Viridis', zmin: -12, zmax: 0, hoverongaps: false,
          colorbar: {title: {text: 'log p'}}, hovertemplate: 'pos %{x} (observed %{customdata})<br>%{y}: log p %{z:.2f}<extra></extra>'},
        {type: 'scatter', mode: 'markers', x: obsX, y: obsY, marker: {symbol: 'x-thin', size: 8, line: {width: 2, color: '#fff'}}, name: 'observed', hoverinfo: 'skip'}
      ], baseLayout('Top-' + st.n + ' entries × positions ' + p0 + '–' + (p1 - 1) + ' · ' + MODELS[st.m], {height: 150 + 18 * ids.length, showlegend: false,
        xaxis: {tickvals: xs, ticktext: xs.map(function (p) { return vis(t.piece[p]).slice(0, 12); }), tickangle: -60, tickfont: {size: 9}, automargin: true},
        yaxis: {autorange: 'reversed', automargin: true, tickfont: {size: 10}}, shapes: shapes}));
    }
    select(c, 'text', VIEWER.texts.map(function (_, i) { return [i, textLabel(i)]; }), st.t, function (v) { st.t = +v; st.start = -1; draw(); });
    select(c, 'model', MODELS.map(function (m, i) { return [i, m]; }), st.m, function (v) { st.m = +v; draw(); });
    select(c, 'N', [[10, '10'], [20, '20'], [30, '30'], [50, '50']], st.n, function (v) { st.n = +v; draw(); });
    const startIn = el('input', {type: 'number', min: '1', step: '25', value: '', onchange: function () { st.start = Math.max(1, +startIn.value || 1); draw(); }});
    c.appendChild(el('label', {cls: 'ctl'}, 'first position ', startIn));
    select(c, 'positions', [[50, '50'], [100, '100'], [200, '200']], st.width, function (v) { st.width = +v; draw(); });
    draw();
  }

  // ---------- 10. PCA / k-means (stats.json) ----------
  function findKey(obj, key, depth) {
    if (!obj || typeof obj !== 'object' || depth > 4) return null;
    if (!Array.isArray(obj) && key in obj) return obj[key];
    const ks = Array.isArray(obj) ? [] : Object.keys(obj);
    for (let i = 0; i < ks.length; i++) { const r = findKey(obj[ks[i]], key, depth + 1); if (r !== null && r !== undefined) return r; }
    return null;
  }
  function sectionClusters() {
    const b = body('s10-clusters');
    note(b, 'Exploratory: PCA and k-means describe how texts spread over per-text features; they are not evidence for any effect.', 'note warn');
    if (!D.stats) { note(b, 'No stats.json in the results directory: run `logitscope stats ' + D.results_dir + '` to compute PCA and k-means, then rebuild this report.', 'note stats-missing'); return; }
    const pca = findKey(D.stats, 'pca', 0), km = findKey(D.stats, 'kmeans', 0);
    if (!pca || typeof pca !== 'object') { note(b, 'stats.json has no "pca" entry.'); return; }
    if (pca.defined === false) { note(b, 'PCA undefined: ' + (pca.note || 'no reason given')); return; }
    const row = b.appendChild(el('div', {cls: 'row'}));
    const evr = pca.explained_variance_ratio || pca.explained_variance;
    if (Array.isArray(evr)) {
      plot(chartDiv(row, 'half'), [{type: 'bar', x: evr.map(function (_, i) { return 'PC' + (i + 1); }).slice(0, 10), y: evr.slice(0, 10), marker: {color: COLORS[0]}}],
        baseLayout('Explained variance' + (pca.explained_variance_ratio ? ' ratio' : ''), {yaxis: axis(pca.explained_variance_ratio ? 'share' : 'variance')}));
    }
    let pts = [];
    if (Array.isArray(pca.scores)) {
      pts = pca.scores.map(function (s, i) {
        if (Array.isArray(s)) return {id: i, x: s[0], y: s[1]};
        const v = Array.isArray(s.scores) ? s.scores : [s.pc1, s.pc2];
        return {id: s.id !== undefined ? s.id : (s.text_idx !== undefined ? s.text_idx : i), x: v[0], y: v[1]};
      });
    }
    let best = null;
    if (Array.isArray(km)) {
      km.forEach(function (r) { if (r && Array.isArray(r.labels) && typeof r.silhouette === 'number' && (!best || r.silhouette > best.silhouette)) best = r; });
    }
    if (pts.length) {
      const byLabel = new Map();
      pts.forEach(function (p, i) {
        const lab = best && best.labels.length === pts.length ? 'cluster ' + best.labels[i] : 'texts';
        if (!byLabel.has(lab)) byLabel.set(lab, []);
        byLabel.get(lab).push(p);
      });
      let ci = 0;
      plot(chartDiv(row, 'half'), Array.from(byLabel.keys()).sort().map(function (lab) {
        const ps = byLabel.get(lab);
        return {type: 'scatter', mode: 'markers', name: lab, x: ps.map(function (p) { return p.x; }), y: ps.map(function (p) { return p.y; }),
          text: ps.map(function (p) { return String(p.id); }), marker: {color: color(ci++), size: 7, opacity: 0.8}, hovertemplate: '%{text}<br>PC1 %{x:.2f} · PC2 %{y:.2f}<extra>' + pe(lab) + '</extra>'};
      }), baseLayout('Texts on PC1 × PC2' + (best ? ' (k-means, k = ' + best.k + ': best silhouette)' : '') + ', exploratory',
        {xaxis: axis('PC1'), yaxis: axis('PC2'), legend: {orientation: 'v', x: 1.02, xanchor: 'left', y: 1, yanchor: 'top'}, margin: {l: 60, r: 110, t: 56, b: 50}}));
    } else {
      note(b, 'stats.json has a "pca" entry without per-text scores.');
    }
    if (Array.isArray(km) && km.length) {
      h3(b, 'k-means (exploratory)');
      table(b, ['k', 'silhouette', 'inertia', 'sizes', 'note'], km.map(function (r) { return [r.k, r.silhouette, r.inertia, Array.isArray(r.sizes) ? r.sizes.join(', ') : '–', r.note || '']; }));
    }
    if (pca.features) note(b, 'Features (' + pca.features.length + '): ' + pca.features.slice(0, 40).join(', ') + (pca.features.length > 40 ? ', …' : ''));
  }

  // ---------- 11. token viewer ----------
  let openInViewer = function () {};
  function sectionViewer() {
    const b = body('s11-viewer');
    note(b, 'Embedded texts: ' + VIEWER.texts.length + ' of ' + VIEWER.n_candidates + ' — rule: ' + VIEWER.rule +
      '. Colours and hover come from the first model\'s token layout; other models are aligned by answer position. Hover shows each model\'s top-' +
      VIEWER.top_k + ' (of ' + VIEWER.stored_top_k + ' stored). Keyword occurrences are outlined.');
    if (VIEWER.lens_layers) {
      note(b, 'Colour by logit-lens propensity: the chosen model\'s lens at the chosen layer, at the run\'s lens rows (--lens-at ' + VIEWER.lens_at +
        '). ' + (VIEWER.lens_stride > 1 ? 'To stay within the report\'s size budget every ' + VIEWER.lens_stride + '-th lens layer counted back from the last is embedded.' : 'Every lens layer is embedded.'));
    }
    if (!VIEWER.texts.length) return;
    const det = b.appendChild(el('details', null, el('summary', {text: 'The ' + VIEWER.texts.length + ' embedded texts and why each is here'})));
    table(det, ['text', 'record', 'level', 'correct', 'tokens', 'mean JS (bits)', 'reason'], VIEWER.texts.map(function (t) {
      const r = t.row;
      return [TEXTS.idx[r], TEXTS.id[r], TEXTS.level[r] || '–', corrName(TEXTS.correct[r]), t.tok.length, t.js, t.why];
    }));
    const c = controls(b);
    const st = {t: defaultText(), metric: 'lp', m: MODELS.length - 1, a: 0, b: Math.min(1, MODELS.length - 1), prompt: true,
      li: 0, f: Math.max(0, FAMS.indexOf('wait'))};
    const LENS = VIEWER.lens_layers || null;  // [model]: the embedded lens layers (run --lens)
    if (LENS) st.li = Math.max(0, LENS[st.m].length - 1);
    // lens propensity of model m at display position p (layer index st.li, family st.f)
    function lensValue(t, m, p) {
      const L = t.models[m].lens;
      if (!L || !L.prop[st.li]) return null;
      if (!L.at) { L.at = new Map(); L.pos.forEach(function (q, i) { L.at.set(q, i); }); }
      const i = L.at.get(p);
      return i === undefined ? null : L.prop[st.li][st.f][i];
    }
    const legend = b.appendChild(el('div', {cls: 'legend'}));
    const view = b.appendChild(el('div', {cls: 'tokens'}));
    const tip = document.body.appendChild(el('div', {cls: 'tip', id: 'lsc-tip'}));
    const pairIdx = function (t, a, bb) {
      for (let i = 0; i < t.pairs.length; i++) {
        const p = t.pairs[i];
        if (p.a === a && p.b === bb) return {p: p, flip: false};
        if (p.a === bb && p.b === a) return {p: p, flip: true};
      }
      return null;
    };
    // metric value at position p, and a colour for it
    function value(t, p) {
      const md = t.models[st.m];
      switch (st.metric) {
        case 'lp': return md.lp[p];
        case 'ent': return md.ent[p];
        case 'rank': return md.rank[p];
        case 'kl': case 'js': {
          const q = pairIdx(t, st.a, st.b);
          if (!q) return null;
          if (st.metric === 'js') return q.p.js[p];
          return q.flip ? q.p.kl_ba[p] : q.p.kl_ab[p];
        }
        case 'dlp': {
          const x = t.models[st.a].lp[p], y = t.models[st.b].lp[p];
          return x === null || y === null ? null : y - x;
        }
        case 'lens': return lensValue(t, st.m, p);
      }
      return null;
    }
    function mix(c1, c2, f) {
      f = Math.max(0, Math.min(1, f));
      return 'rgb(' + [0, 1, 2].map(function (i) { return Math.round(c1[i] + (c2[i] - c1[i]) * f); }).join(',') + ')';
    }
    const WHITE = [255, 255, 255];
    const SCALES = {
      lp: {label: 'log p of the observed token', lo: '≤ −15', hi: '0', col: function (v) { return mix(WHITE, [215, 48, 39], -v / 15); }},
      ent: {label: 'entropy of the predicting row (nats)', lo: '0', hi: '≥ 6', col: function (v) { return mix(WHITE, [49, 54, 149], v / 6); }},
      rank: {label: 'rank bucket of the observed token', lo: '1', hi: '> 1000', col: function (v) { return mix(WHITE, [128, 0, 38], v <= 1 ? 0 : v <= 10 ? 0.25 : v <= 100 ? 0.5 : v <= 1000 ? 0.75 : 1); }},
      kl: {label: 'KL(a‖b) in nats, log scale', lo: '≤ 1e−4', hi: '≥ 10', col: function (v) { return mix(WHITE, [84, 39, 143], (Math.log10(Math.max(v, 1e-4)) + 4) / 5); }},
      js: {label: 'Jensen-Shannon (bits), log scale', lo: '≤ 1e−4', hi: '1', col: function (v) { return mix(WHITE, [0, 109, 44], (Math.log10(Math.max(v, 1e-4)) + 4) / 4); }},
      dlp: {label: 'Δ log p = log p_b − log p_a (diff mode)', lo: '−5 (a prefers)', hi: '+5 (b prefers)', col: function (v) {
        return v < 0 ? mix(WHITE, [202, 0, 32], -v / 5) : mix(WHITE, [5, 113, 176], v / 5); }},
      lens: {label: 'logit-lens propensity (log scale; grey: not a lens row)', lo: '≤ 1e−6', hi: '1', col: function (v) { return mix(WHITE, [230, 85, 13], (Math.log10(Math.max(v, 1e-6)) + 6) / 6); }}
    };
    function drawLegend() {
      legend.textContent = '';
      const s = SCALES[st.metric];
      const grad = el('span', {cls: 'grad'});
      const stops = st.metric === 'dlp' ? [-5, -2.5, 0, 2.5, 5] : st.metric === 'lp' ? [-15, -10, -5, -2.5, 0] : st.metric === 'ent' ? [0, 1.5, 3, 4.5, 6] :
        st.metric === 'rank' ? [1, 10, 100, 1000, 1001] : st.metric === 'lens' ? [1e-6, 1e-4, 1e-2, 1e-1, 1] : [1e-4, 1e-3, 1e-2, 1e-1, 1];
      const label = st.metric === 'lens' ? MODELS[st.m] + '\'s ' + s.label.replace('propensity', 'propensity of ' + FAMS[st.f] + ' at layer ' + LENS[st.m][st.li]) : s.label;
      grad.style.background = 'linear-gradient(to right,' + stops.map(s.col).join(',') + ')';
      legend.appendChild(el('span', {text: label + ': ' + s.lo + ' '}));
      legend.appendChild(grad);
      legend.appendChild(el('span', {text: ' ' + s.hi + ' · grey: no value'}));
    }
    function draw() {
      const t = VIEWER.texts[st.t];
      view.textContent = '';
      const fam = new Map();
      t.occ.forEach(function (o) { for (let p = o[0]; p < o[1]; p++) fam.set(p, FAMS[o[2]]); });
      const frag = document.createDocumentFragment();
      for (let p = 0; p < t.tok.length; p++) {
        if (!st.prompt && t.span[p] === 0) continue;
        const v = value(t, p);
        // A piece with nothing to see (a later byte of a character split over tokens, or only
        // zero-width/bidi marks) gets a marker from CSS (not text), so it can be seen and hovered.
        const invisible = INVISIBLE.test(t.piece[p]);
        const s = el('span', {cls: 'tok' + (t.span[p] === 0 ? ' prompt' : '') + (fam.has(p) ? ' kw' : '') + (invisible ? ' inv' : ''), 'data-p': String(p)});
        s.textContent = t.piece[p];
        s.style.background = v === null || v === undefined ? '#eee' : SCALES[st.metric].col(v);
        if (fam.has(p)) s.title = fam.get(p);
        frag.appendChild(s);
      }
      view.appendChild(frag);
      drawLegend();
    }
    function topk(t, m, p) {
      const md = t.models[m], K = VIEWER.top_k, box = el('div', {cls: 'tk'});
      const lp = md.lp[p];
      box.appendChild(el('div', {cls: 'tkh', text: MODELS[m] + ': log p ' + fmt(lp) + (lp === null ? '' : ' (p ' + pct(Math.exp(lp)) + ')') +
        ' · rank ' + fmt(md.rank[p]) + ' · entropy ' + fmt(md.ent[p]) + ' nats'}));
      const tb = el('table');
      for (let i = 0; i < K; i++) {
        const id = md.tki[p * K + i];
        if (id < 0) continue;
        const pr = Math.exp(md.tkl[p * K + i]);
        const r = el('tr', {cls: id === t.tok[p] ? 'obs' : ''}, el('td', {text: vis(tokName(id))}), el('td', {cls: 'num', text: pct(pr)}),
          el('td', null, el('span', {cls: 'bar', style: 'width:' + Math.round(60 * pr) + 'px'})));
        tb.appendChild(r);
      }
      box.appendChild(tb);
      return box;
    }
    view.addEventListener('mouseover', function (ev) {
      const s = ev.target.closest('.tok');
      if (!s) return;
      const t = VIEWER.texts[st.t], p = +s.dataset.p;
      tip.textContent = '';
      tip.appendChild(el('div', {cls: 'tiph', text: 'pos ' + p + ' · "' + vis(t.piece[p]) + '" · id ' + t.tok[p] + ' · ' + ['prompt', 'answer', 'think', 'after think'][t.span[p]] +
        (s.title ? ' · keyword: ' + s.title : '')}));
      t.pairs.forEach(function (q) {
        if (q.kl_ab[p] !== null) tip.appendChild(el('div', {text: MODELS[q.a] + '‖' + MODELS[q.b] + ': KL ' + fmt(q.kl_ab[p]) + ' / ' + fmt(q.kl_ba[p]) + ' nats, JS ' + fmt(q.js[p]) + ' bits'}));
      });
      if (st.metric === 'lens') {
        tip.appendChild(el('div', {text: 'lens propensity of ' + FAMS[st.f] + ': ' + range(MODELS.length).map(function (m) {
          return MODELS[m] + ' (layer ' + (LENS[m][st.li] === undefined ? '–' : LENS[m][st.li]) + ') ' + fmt(lensValue(t, m, p)); }).join(' · ')}));
      }
      const ms = st.metric === 'dlp' || st.metric === 'kl' || st.metric === 'js' ? [st.a, st.b] : range(MODELS.length);
      const row = tip.appendChild(el('div', {cls: 'tkrow'}));
      ms.forEach(function (m) { row.appendChild(topk(t, m, p)); });
      tip.style.display = 'block';
      const r = s.getBoundingClientRect();
      tip.style.left = Math.max(4, Math.min(window.innerWidth - tip.offsetWidth - 8, r.left)) + 'px';
      tip.style.top = (r.bottom + 6 + tip.offsetHeight > window.innerHeight ? Math.max(4, r.top - tip.offsetHeight - 6) : r.bottom + 6) + 'px';
    });
    view.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
    const textSel = select(c, 'text', VIEWER.texts.map(function (_, i) { return [i, textLabel(i)]; }), st.t, function (v) { st.t = +v; draw(); });
    const metrics = [['lp', 'log p'], ['ent', 'entropy'], ['rank', 'rank bucket']];
    if (MODELS.length > 1) metrics.push(['kl', 'KL(a‖b)'], ['js', 'JS(a, b)'], ['dlp', 'diff mode: Δlog p (b − a)']);
    if (LENS) metrics.push(['lens', 'logit-lens propensity (layer, family)']);
    select(c, 'colour by', metrics, st.metric, function (v) { st.metric = v; draw(); });
    let layerSel = null;
    const layerOptions = function () { return LENS[st.m].map(function (l, i) { return [i, 'layer ' + l]; }); };
    select(c, 'model', MODELS.map(function (m, i) { return [i, m]; }), st.m, function (v) {
      st.m = +v;
      if (layerSel) {  // models of other depth: keep the layer index in range, offer this model's layers
        st.li = Math.min(st.li, LENS[st.m].length - 1);
        layerSel.textContent = '';
        layerOptions().forEach(function (o) { layerSel.appendChild(el('option', {value: String(o[0]), text: o[1]})); });
        layerSel.value = String(st.li);
      }
      draw();
    });
    if (LENS) {
      layerSel = select(c, 'lens', layerOptions(), st.li, function (v) { st.li = +v; draw(); });
      select(c, 'family', FAMS.map(function (f, i) { return [i, f]; }), st.f, function (v) { st.f = +v; draw(); });
    }
    let selA = null, selB = null;
    if (MODELS.length > 1) {
      selA = select(c, 'a', MODELS.map(function (m, i) { return [i, m]; }), st.a, function (v) { st.a = +v; draw(); });
      selB = select(c, 'b', MODELS.map(function (m, i) { return [i, m]; }), st.b, function (v) { st.b = +v; draw(); });
    }
    const cb = el('input', {type: 'checkbox', onchange: function () { st.prompt = cb.checked; draw(); }});
    cb.checked = true;
    c.appendChild(el('label', {cls: 'ctl'}, cb, ' show prompt'));
    openInViewer = function (vi, a, bb) {
      st.t = vi; textSel.value = String(vi);
      if (selA) { st.a = a; st.b = bb; selA.value = String(a); selB.value = String(bb); }
      draw();
    };
    draw();
  }

  // ---------- 12. inside the models (run --lens) ----------
  function sectionInside() {
    const b = body('s12-inside');
    const L = D.lens;
    if (!L || !L.available) { note(b, 'No logit lens in this run: run with --lens all (or every:K, or a list of layers) to see the models layer by layer.'); return; }
    const c = controls(b);
    const st = {f: Math.max(0, FAMS.indexOf('wait')), o: 0};
    // Heatmaps: layer × family, mean lens propensity per model (log colour scale).
    const hmRow = b.appendChild(el('div', {cls: 'row'}));
    const zs = MODELS.map(function (mn, m) {
      return FAMS.map(function (_, f) { return L.prop[m][f].map(function (p) { return p[1] > 0 ? Math.log10(p[1]) : null; }); });
    });
    let zmin = Infinity, zmax = -Infinity;  // one colour scale: the same colour is the same value in every panel
    zs.forEach(function (z) { z.forEach(function (row) { row.forEach(function (v) { if (v !== null) { zmin = Math.min(zmin, v); zmax = Math.max(zmax, v); } }); }); });
    let nLayers = 1;
    MODELS.forEach(function (mn, m) { nLayers = Math.max(nLayers, L.layers[m].length ? L.layers[m][L.layers[m].length - 1] + 1 : 1); });
    const layerAxis = function () { return axis('layer', {tick0: 0, dtick: Math.max(1, Math.ceil(nLayers / 14))}); };
    MODELS.forEach(function (mn, m) {
      const z = zs[m];
      const tx = FAMS.map(function (_, f) { return L.prop[m][f].map(function (p) { return fmt(p[1]) + ' [' + fmt(p[2]) + ', ' + fmt(p[3]) + '] n ' + p[0]; }); });
      plot(chartDiv(hmRow, 'third'), [Object.assign({type: 'heatmap', x: L.layers[m], y: FAMS, z: z, text: tx, colorscale: 'Viridis',
        colorbar: {title: {text: 'log10 p'}}, hovertemplate: '%{y} · layer %{x}: %{text}<extra>' + pe(mn) + '</extra>'},
        isFinite(zmin) ? {zmin: zmin, zmax: zmax} : {})],
      baseLayout(mn + ': lens propensity at the decision rows', {height: 380, xaxis: layerAxis(), yaxis: {autorange: 'reversed', automargin: true}}));
    });
    const lineRow = b.appendChild(el('div', {cls: 'row'}));
    const propDiv = chartDiv(lineRow, 'half'), klDiv = chartDiv(lineRow, 'half');
    function band(x, s, m, mn) {
      return [{type: 'scatter', mode: 'lines', x: x, y: s.map(function (p) { return p[3]; }), line: {width: 0}, showlegend: false, hoverinfo: 'skip', legendgroup: mn},
        {type: 'scatter', mode: 'lines', x: x, y: s.map(function (p) { return p[2]; }), line: {width: 0}, fill: 'tonexty', fillcolor: color(m, 0.18), showlegend: false, hoverinfo: 'skip', legendgroup: mn},
        {type: 'scatter', mode: 'lines+markers', x: x, y: s.map(function (p) { return p[1]; }), name: mn, line: {color: color(m)}, legendgroup: mn,
          customdata: s.map(function (p) { return p[0]; }), hovertemplate: 'layer %{x}: %{y:.4g} (n = %{customdata} texts)<extra>' + pe(mn) + '</extra>'}];
    }
    function drawLines() {
      let tp = [], tk = [];
      MODELS.forEach(function (mn, m) {
        tp = tp.concat(band(L.layers[m], L.prop[m][st.f], m, mn));
        tk = tk.concat(band(L.layers[m], L.kl[m], m, mn));
      });
      plot(propDiv, tp, baseLayout('Lens propensity of "' + FAMS[st.f] + '" at its decision rows over depth', {xaxis: layerAxis(), yaxis: axis('mean propensity', {type: 'log'}), showlegend: true}));
      plot(klDiv, tk, baseLayout('KL(final ‖ lens) over depth (every lens row)', {xaxis: layerAxis(), yaxis: axis('nats', {type: 'log'}), showlegend: true}));
    }
    select(c, 'family', FAMS.map(function (f, i) { return [i, f]; }), st.f, function (v) { st.f = +v; drawLines(); });
    drawLines();
    note(b, 'Text as the unit: each point is the mean over texts of the per-text mean, with a ' + L.n_bootstrap +
      '-resample bootstrap 95% CI. Layer ℓ is the residual stream after layer ℓ (0-based), read through the final norm and the LM head; the last layer is the model\'s own output, so its KL is 0 and has no point on the log axis. The heatmaps share one colour scale.');
    // Emergence depth (stats.json means of lens_emergence_depth).
    const means = (D.stats && D.stats.means) ? D.stats.means.filter(function (r) { return r.measure === 'lens_emergence_depth'; }) : [];
    if (means.length) {
      h3(b, 'Emergence depth: the first layer whose lens propensity at the decision rows reaches half of the output\'s');
      table(b, ['family', 'model', 'mean layer [95% CI]', 'texts'], means.map(function (r) {
        return [r.family, r.model, fmt(r.mean) + (r.ci ? ' [' + fmt(r.ci[0]) + ', ' + fmt(r.ci[1]) + ']' : ''), r.n];
      }));
    }
    // Similarity over depth per model pair (stats.json).
    const sim = (D.stats && D.stats.layer_similarity) ? D.stats.layer_similarity : [];
    if (MODELS.length > 1) {
      h3(b, 'Similarity of the residual streams over depth (linear CKA, mean cosine; per text, then mean over texts)');
      if (!sim.length) note(b, 'No pair of models of the same depth and width.');
      if (L.similarity_left_out.length) note(b, 'Left out (the similarity needs equal shapes): ' + L.similarity_left_out.join('; ') + '.');
      const simRow = b.appendChild(el('div', {cls: 'row'}));
      ['cka', 'mean_cos'].forEach(function (k) {
        const groups = {};
        sim.forEach(function (r) { const g = r.model_a + ' vs ' + r.model_b + ' (' + r.scope + ')'; (groups[g] = groups[g] || []).push(r); });
        const traces = Object.keys(groups).map(function (g, i) {
          const rs = groups[g];
          return {type: 'scatter', mode: 'lines+markers', name: g, x: rs.map(function (r) { return r.layer; }), y: rs.map(function (r) { return r[k].mean; }),
            line: {color: color(i), dash: g.indexOf('(answer)') >= 0 ? 'solid' : 'dot'},
            error_y: {type: 'data', symmetric: false, array: rs.map(function (r) { return r[k].ci ? r[k].ci[1] - r[k].mean : 0; }),
              arrayminus: rs.map(function (r) { return r[k].ci ? r[k].mean - r[k].ci[0] : 0; })},
            customdata: rs.map(function (r) { return r[k].n; }), hovertemplate: 'layer %{x}: %{y:.4f} (n = %{customdata})<extra>' + pe(g) + '</extra>'};
        });
        plot(chartDiv(simRow, 'half'), traces, baseLayout(k === 'cka' ? 'Linear CKA over depth' : 'Mean cosine over depth',
          {xaxis: axis('layer'), yaxis: axis(k === 'cka' ? 'CKA' : 'cosine'), showlegend: true}));
      });
    }
    // One occurrence: the lens top-k of every model at every layer.
    const O = L.occurrences;
    if (O.length) {
      h3(b, 'One occurrence, layer by layer: log p of the observed token (colour) and the lens top-5 (hover)');
      const oc = controls(b);
      const oDiv = chartDiv(b);
      function drawOcc() {
        const o = O[st.o];
        const ys = [];
        o.models.forEach(function (rows) { rows.forEach(function (r) { if (ys.indexOf(r[0]) < 0) ys.push(r[0]); }); });
        ys.sort(function (a, bb) { return a - bb; });
        const z = ys.map(function (y) { return MODELS.map(function (_, m) { const r = o.models[m].find(function (q) { return q[0] === y; }); return r ? r[1] : null; }); });
        const tx = ys.map(function (y) { return MODELS.map(function (_, m) { const r = o.models[m].find(function (q) { return q[0] === y; });
          return r ? r[2].map(function (t) { return vis(t[0]) + ' ' + fmt(t[1]); }).join('<br>') : ''; }); });
        plot(oDiv, [{type: 'heatmap', x: MODELS, y: ys, z: z, text: tx, colorscale: 'RdBu', colorbar: {title: {text: 'log p'}},
          hovertemplate: '%{x} · layer %{y}: log p %{z:.3f}<br>%{text}<extra></extra>'}],
        baseLayout('"' + o.surface + '" (' + o.family + ') in ' + o.text, {height: Math.max(300, 24 * ys.length + 120), yaxis: axis('layer'), xaxis: {automargin: true}}));
      }
      select(oc, 'occurrence', O.map(function (o, i) { return [i, o.text + ': ' + o.surface]; }), st.o, function (v) { st.o = +v; drawOcc(); });
      drawOcc();
    }
  }

  // ---------- run everything ----------
  const SECTIONS = [['s1-manifest', sectionManifest], ['s2-data', sectionData], ['s3-distributions', sectionDistributions],
    ['s4-keywords', sectionKeywords], ['s5-difficulty', sectionDifficulty], ['s6-correctness', sectionCorrectness],
    ['s7-windows', sectionWindows], ['s11-viewer', sectionViewer], ['s8-differences', sectionDifferences], ['s9-logits', sectionLogits],
    ['s10-clusters', sectionClusters], ['s12-inside', sectionInside]];
  const warn = document.getElementById('warnings');
  (D.warnings || []).forEach(function (w) { warn.appendChild(el('p', {cls: 'warn', text: w})); });
  if (D.status && D.status !== 'finished') warn.appendChild(el('p', {cls: 'warn', text: 'The run is not finished (status: ' + D.status + '): the report shows the texts done so far.'}));
  SECTIONS.forEach(function (s) {
    try {
      s[1]();
    } catch (e) {
      ERRORS.push(s[0] + ': ' + e.message);
      console.error('section ' + s[0] + ': ' + (e.stack || e.message));
      const b = document.querySelector('#' + s[0] + ' .body');
      if (b) b.appendChild(el('p', {cls: 'warn', text: 'This section failed to draw: ' + e.message}));
    }
  });
  document.body.dataset.charts = String(N_CHARTS);
  document.body.dataset.errors = String(ERRORS.length);
  document.body.dataset.rendered = 'ok';
})();
