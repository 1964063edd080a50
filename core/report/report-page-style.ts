// The feature browser's stylesheet, inlined into index.html (report-site.ts): the site loads
// nothing from outside its folder.
export const REPORT_PAGE_STYLE = `
:root { --fg: #1f2328; --muted: #5b6470; --line: #d8dde3; --bg: #fff; --panel: #f6f8fa; --accent: #0b62c4; --hot: 255, 115, 0; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, .mono, .tokens, .tokchip { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
header.top { display: flex; gap: 16px; align-items: baseline; padding: 10px 20px; border-bottom: 1px solid var(--line); background: var(--panel); }
header.top .brand { font-weight: 700; color: var(--fg); }
header.top nav { margin-left: auto; display: flex; gap: 14px; }
header.top nav a.active { font-weight: 700; color: var(--fg); }
main { padding: 16px 20px 40px; max-width: 1200px; }
footer { padding: 8px 20px 20px; font-size: 12px; }
h1 { font-size: 22px; margin: 4px 0 12px; }
h2 { font-size: 17px; margin: 22px 0 8px; }
h3 { font-size: 14px; margin: 12px 0 6px; }
.muted { color: var(--muted); }
.note { color: var(--muted); background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: 6px 10px; }
.error { color: #8a1c1c; background: #fdecec; border: 1px solid #f2b8b8; border-radius: 4px; padding: 6px 10px; }
.cards { display: flex; flex-wrap: wrap; gap: 14px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; min-width: 260px; flex: 1; }
.card h2 { margin-top: 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.charts { display: flex; flex-wrap: wrap; gap: 14px; }
.chart { border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; }
.chart h3 { margin: 2px 0 4px; }
svg text { font-size: 10px; fill: var(--muted); }
svg .line { fill: none; stroke: var(--accent); stroke-width: 1.5; }
svg .bar { fill: var(--accent); }
svg .bar:hover { fill: #f08a24; }
svg .axis { stroke: var(--line); }
svg .marker { stroke: #c0392b; stroke-dasharray: 3 3; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: var(--fg); }
th button.active { color: var(--accent); }
tr.dead td { color: var(--muted); }
.toolbar { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; }
.toolbar input[type=search] { width: 360px; max-width: 100%; padding: 5px 8px; font: inherit; border: 1px solid var(--line); border-radius: 4px; }
.pager { display: flex; gap: 8px; align-items: center; margin-top: 8px; }
.tokchip { display: inline-block; white-space: pre; background: var(--panel); border: 1px solid var(--line); border-radius: 3px; padding: 0 3px; margin: 1px 2px 1px 0; font-size: 12px; }
.badge { display: inline-block; font-size: 12px; padding: 0 6px; border-radius: 8px; background: #eee; color: var(--muted); vertical-align: middle; }
.featnav { display: flex; gap: 14px; margin-bottom: 6px; }
.example { display: flex; gap: 10px; padding: 3px 0; border-bottom: 1px dashed var(--line); }
.example .meta { flex: 0 0 150px; color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.tokens { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 13px; }
.tok { white-space: pre; border-radius: 2px; }
.tok.center { outline: 1.5px solid var(--fg); outline-offset: 0; }
.logit { display: flex; gap: 30px; flex-wrap: wrap; }
.logit ol { margin: 0; padding-left: 22px; }
.logit li .effect { color: var(--muted); margin-left: 6px; font-variant-numeric: tabular-nums; }
`;
