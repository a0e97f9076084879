/**
 * The web console's style sheet (`GET /console/app.css`): light and dark
 * through `prefers-color-scheme`, one column at a phone's width.
 *
 * @module
 */

/** The style sheet. */
export const APP_CSS: string = `
:root {
  --bg: #f6f7f9; --card: #ffffff; --fg: #1c2330; --muted: #5d6778;
  --line: #d9dde4; --accent: #2563eb; --ok: #15803d; --bad: #b91c1c;
  --warn: #b45309; --input: #ffffff; --on-accent: #ffffff;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f141b; --card: #18202b; --fg: #e4e8ee; --muted: #95a0b2;
    --line: #2b3543; --accent: #60a5fa; --ok: #4ade80; --bad: #f87171;
    --warn: #fbbf24; --input: #111821; --on-accent: #0b1220;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
header {
  display: flex; flex-wrap: wrap; align-items: center; gap: 8px 12px;
  padding: 10px 16px; background: var(--card); border-bottom: 1px solid var(--line);
}
header h1 { margin: 0; font-size: 18px; letter-spacing: .5px; }
#login { margin-left: auto; display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
#login input { width: 12em; }
main { max-width: 1200px; margin: 0 auto; padding: 12px 16px 32px; display: grid; gap: 12px; }
.grid { display: grid; gap: 12px; }
.cards { grid-template-columns: repeat(auto-fit, minmax(min(100%, 160px), 1fr)); }
.plots { grid-template-columns: repeat(auto-fit, minmax(min(100%, 240px), 1fr)); }
.play { grid-template-columns: repeat(auto-fit, minmax(min(100%, 320px), 1fr)); }
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 12px; margin: 0; min-width: 0;
}
h2 { margin: 0 0 6px; font-size: 13px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .4px; }
h2 .muted { text-transform: none; letter-spacing: 0; font-weight: 400; }
h3 { margin: 10px 0 4px; font-size: 12px; color: var(--muted); }
.big { font-size: 26px; font-weight: 600; }
.muted { color: var(--muted); font-size: 12px; }
.badge { padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; border: 1px solid var(--line); }
.badge.ok { color: var(--ok); border-color: var(--ok); }
.badge.down { color: var(--bad); border-color: var(--bad); }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
td, th { text-align: left; padding: 2px 6px 2px 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.rules { margin-top: 8px; }
.plot figcaption { font-size: 12px; color: var(--muted); }
.plot figcaption b { color: var(--fg); font-size: 16px; font-variant-numeric: tabular-nums; }
.plot svg { width: 100%; height: 80px; display: block; margin-top: 4px; }
.plot polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
.plot .area { fill: var(--accent); opacity: .15; stroke: none; }
#plot-dropped polyline { stroke: var(--bad); }
#plot-dropped .area { fill: var(--bad); }
.plot .axis { stroke: var(--line); stroke-width: 1; vector-effect: non-scaling-stroke; }
.row { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0; }
.row input { flex: 1 1 8em; min-width: 0; }
input, button {
  font: inherit; color: var(--fg); background: var(--input);
  border: 1px solid var(--line); border-radius: 6px; padding: 5px 8px;
}
button { background: var(--accent); color: var(--on-accent); border-color: var(--accent); cursor: pointer; }
button[type="button"]#sign-out, .chips button { background: transparent; color: var(--muted); border-color: var(--line); }
.buttons { display: flex; flex-wrap: wrap; gap: 6px; }
.chips { list-style: none; padding: 0; margin: 4px 0; display: flex; flex-wrap: wrap; gap: 6px; }
.chips li { border: 1px solid var(--line); border-radius: 12px; padding: 1px 4px 1px 10px; display: flex; gap: 6px; align-items: center; }
.chips button { padding: 0 6px; border-radius: 10px; }
.log { list-style: none; padding: 0; margin: 0; max-height: 420px; overflow-y: auto; font-size: 12px; }
.log li { padding: 4px 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
.log .tag { display: inline-block; padding: 0 6px; margin-right: 3px; border-radius: 8px; background: var(--bg); border: 1px solid var(--line); }
.log code { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; white-space: pre-wrap; }
.log .time { color: var(--muted); margin-right: 6px; font-variant-numeric: tabular-nums; }
.log li.error { color: var(--bad); }
.log li.notice { color: var(--warn); }
[hidden] { display: none !important; }
`;
