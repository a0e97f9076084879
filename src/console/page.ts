/**
 * The web console's page (`GET /console`): markup only. Its script is
 * `/console/app.js` (`app_js.ts`) and its style sheet `/console/app.css`
 * (`app_css.ts`), so that the page runs under a Content-Security-Policy with
 * no inline script or style.
 *
 * @module
 */

/** The three rates plotted, by the listener counter each is computed from. */
const PLOTS: [counter: string, label: string][] = [
  ["received", "published"],
  ["delivered", "delivered"],
  ["dropped", "dropped"],
];

const plot = ([counter, label]: [string, string]) => `
    <figure class="card plot" id="plot-${counter}">
      <figcaption>${label} <b class="rate">–</b>/s <span class="muted max"></span></figcaption>
      <svg viewBox="0 0 300 80" preserveAspectRatio="none" role="img" aria-label="${label} per second, last three minutes">
        <line x1="0" y1="78" x2="300" y2="78" class="axis"/>
        <polygon points="" class="area"/>
        <polyline points=""/>
      </svg>
    </figure>`;

const ADMIN_COMMANDS = ["register", "set", "unset", "tags", "unregister"];

/** The page. */
export const PAGE_HTML: string = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="light dark">
  <title>mist console</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/console/app.css">
  <script src="/console/app.js" defer></script>
</head>
<body>
  <header>
    <h1>mist</h1>
    <span id="node" class="muted"></span>
    <span id="health" class="badge">…</span>
    <span id="feed-state" class="muted">connecting…</span>
    <form id="login">
      <span id="viewer" class="muted"></span>
      <input id="token" type="password" placeholder="token" autocomplete="off" aria-label="token">
      <button type="submit" id="sign-in">Sign in</button>
      <button type="button" id="sign-out" hidden>Sign out</button>
    </form>
  </header>
  <main>
    <section class="grid cards">
      <div class="card"><h2>Connections</h2><div id="connections" class="big">–</div><table id="listeners"></table></div>
      <div class="card"><h2>Subscriptions</h2><div id="subscriptions" class="big">–</div><div id="queued" class="muted"></div></div>
      <div class="card"><h2>Cluster</h2><div id="cluster" class="big">–</div><div id="peers" class="muted"></div></div>
      <div class="card"><h2>Health</h2><div id="health-detail" class="muted"></div><div id="errors" class="muted"></div></div>
    </section>
    <section class="grid plots">${PLOTS.map(plot).join("")}
    </section>
    <section class="grid play">
      <div class="card">
        <h2>Playground <span id="ws-state" class="muted"></span></h2>
        <form id="subscribe-form" class="row">
          <input id="sub-tags" placeholder="tags, comma separated" aria-label="tags to subscribe to">
          <button type="submit">Subscribe</button>
        </form>
        <ul id="subs" class="chips"></ul>
        <form id="publish-form" class="row">
          <input id="pub-tags" placeholder="tags, comma separated" aria-label="tags to publish to">
          <input id="pub-data" placeholder="data" aria-label="data">
          <button type="submit">Publish</button>
        </form>
        <h3>Replies</h3>
        <ol id="replies" class="log"></ol>
      </div>
      <div class="card">
        <h2>Deliveries <span id="delivery-count" class="muted"></span></h2>
        <ol id="deliveries" class="log"></ol>
      </div>
    </section>
    <section id="admin" class="card" hidden>
      <h2>Tokens</h2>
      <form id="admin-form" class="row">
        <input id="admin-token" type="password" placeholder="token" autocomplete="off" aria-label="token to administer">
        <input id="admin-tags" placeholder="tags, comma separated" aria-label="tags to grant or take">
        <span class="buttons">${
  ADMIN_COMMANDS.map((c) =>
    `<button type="button" data-command="${c}" id="admin-${c}">${c}</button>`
  ).join("")
}</span>
      </form>
      <p id="admin-result" class="muted">Tokens are not listed: name one to inspect it.</p>
      <table class="rules">
        <thead><tr><th>principal</th><th>ping, list</th><th>subscribe, publish</th><th>admin commands</th><th>metrics, this feed</th></tr></thead>
        <tbody>
          <tr><td>admin token</td><td>yes</td><td>any tags</td><td>yes</td><td>yes</td></tr>
          <tr><td>metrics token</td><td>yes</td><td>no</td><td>no</td><td>yes</td></tr>
          <tr><td>registered token</td><td>yes</td><td>only its granted tags</td><td>no</td><td>no</td></tr>
          <tr><td>no token</td><td>yes</td><td>no</td><td>no</td><td>no</td></tr>
        </tbody>
      </table>
    </section>
  </main>
</body>
</html>
`;
