/**
 * The web console's script (`GET /console/app.js`): plain browser
 * JavaScript, no build step, no library. It reads the live feed
 * (`/console/events`, the token in a header, never in a URL), plots the
 * rates, and speaks the protocol over a WebSocket to its own origin (the
 * token sent as the first message, `auth`). The token lives in
 * `sessionStorage` only.
 *
 * @module
 */

/** The script. Kept free of backticks and dollar-braces: it sits in a template. */
export const APP_JS: string = String.raw`"use strict";
(function () {
  var TOKEN_KEY = "mist-console-token";
  var HISTORY = 180; // samples kept: three minutes at one a second
  var MAX_DELIVERIES = 200;
  var MAX_REPLIES = 50;
  var RATES = ["received", "delivered", "dropped"];

  var state = {
    token: sessionStorage.getItem(TOKEN_KEY) || "",
    viewer: "",
    feed: null, // the AbortController of the feed's request
    ws: null,
    nextId: 1,
    pending: new Map(), // request id -> { message, done }
    subscriptions: new Map(), // JSON of the tags -> tags
    last: null, // the previous snapshot's time and counter sums
    series: { received: [], delivered: [], dropped: [] },
    deliveries: 0,
  };

  function $(id) { return document.getElementById(id); }
  function text(id, value) { $(id).textContent = value; }
  function tagsOf(value) {
    return value.split(",").map(function (t) { return t.trim(); })
      .filter(function (t) { return t !== ""; });
  }
  function element(name, className, content) {
    var node = document.createElement(name);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = content;
    return node;
  }
  function bytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1048576).toFixed(1) + " MiB";
  }
  function rate(n) {
    if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (n >= 1e4) return (n / 1e3).toFixed(0) + "k";
    return n >= 100 ? n.toFixed(0) : n.toFixed(1);
  }
  function clock() { return new Date().toTimeString().slice(0, 8); }

  // ---- the live feed ------------------------------------------------------

  function startFeed() {
    if (state.feed) state.feed.abort();
    var controller = new AbortController();
    state.feed = controller;
    var headers = state.token ? { "x-auth-token": state.token } : {};
    text("feed-state", "connecting…");
    fetch("/console/events", { headers: headers, cache: "no-store", signal: controller.signal })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) {
          setViewer(response.status === 403 ? "token" : state.token ? "refused" : "anonymous");
          text("feed-state", response.status === 403
            ? "this token may not read the numbers (admin or metrics token only)"
            : state.token ? "token refused" : "authentication is on: sign in");
          return;
        }
        if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
        text("feed-state", "live");
        return readEvents(response.body.pipeThrough(new TextDecoderStream()).getReader())
          .then(function () { retryFeed(controller); });
      })
      .catch(function () { retryFeed(controller); });
  }

  function retryFeed(controller) {
    if (state.feed !== controller || controller.signal.aborted) return;
    text("feed-state", "reconnecting…");
    setTimeout(function () { if (state.feed === controller) startFeed(); }, 2000);
  }

  function readEvents(reader) {
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) return;
        buffer += chunk.value;
        var end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          onEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        return pump();
      });
    }
    return pump();
  }

  function onEvent(block) {
    var event = "message", data = "";
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) event = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
    });
    if (data === "") return;
    var value = JSON.parse(data);
    if (event === "viewer") setViewer(value.viewer);
    else render(value);
  }

  var VIEWERS = {
    open: "authentication is off",
    admin: "signed in: admin",
    metrics: "signed in: metrics token",
    token: "signed in: registered token",
    refused: "token refused",
    anonymous: "no token",
  };

  function setViewer(kind) {
    state.viewer = kind;
    text("viewer", VIEWERS[kind] || kind);
    $("admin").hidden = kind !== "admin";
    $("token").hidden = kind === "open" || (state.token !== "" && kind !== "refused");
    $("sign-in").hidden = $("token").hidden;
    $("sign-out").hidden = state.token === "";
  }

  function render(s) {
    text("node", s.node + " · mist " + s.version);
    var sums = { received: 0, delivered: 0, dropped: 0 }, open = 0;
    var table = $("listeners");
    table.replaceChildren();
    s.listeners.forEach(function (l) {
      open += l.connections;
      RATES.forEach(function (key) { sums[key] += l[key]; });
      var row = table.insertRow();
      row.insertCell().textContent = l.url;
      var count = row.insertCell();
      count.className = "n";
      count.textContent = l.connections;
    });
    text("connections", open);
    text("subscriptions", s.subscriptions);
    text("queued", bytes(s.queuedBytes) + " queued · " + bytes(s.process.residentBytes) + " resident");
    if (s.cluster) {
      text("cluster", s.cluster.state);
      text("peers", s.cluster.peers + " peers · " + s.cluster.sent + " sent · " +
        s.cluster.received + " received · " + s.cluster.dropped + " dropped");
    } else {
      text("cluster", "alone");
      text("peers", "no cluster configured");
    }
    var health = s.health;
    var badge = $("health");
    badge.textContent = health.ok ? "ready" : "down: " + health.down.join(", ");
    badge.className = "badge " + (health.ok ? "ok" : "down");
    text("health-detail", "authenticator " + (health.authenticator || "off") +
      " · cluster " + health.cluster + " · " + Object.keys(health.listeners).length + " listeners up");
    var errors = Object.keys(s.errors).map(function (code) { return code + " " + s.errors[code]; });
    text("errors", (errors.length ? "errors: " + errors.join(", ") : "no error replies") +
      " · " + s.authFailures + " refused tokens");
    if (state.last) {
      var seconds = (s.time - state.last.time) / 1000;
      if (seconds > 0) {
        RATES.forEach(function (key) {
          var series = state.series[key];
          series.push(Math.max(0, (sums[key] - state.last.sums[key]) / seconds));
          if (series.length > HISTORY) series.shift();
        });
        draw();
      }
    }
    state.last = { time: s.time, sums: sums };
  }

  function draw() {
    RATES.forEach(function (key) {
      var series = state.series[key];
      var figure = $("plot-" + key);
      var peak = Math.max.apply(null, series);
      var max = Math.max(1, peak);
      // The first half minute fills the plot; after that it scrolls out to
      // the whole history.
      var span = Math.min(HISTORY, Math.max(30, series.length));
      var step = 300 / (span - 1);
      var offset = 300 - (series.length - 1) * step;
      var points = series.map(function (v, i) {
        return (offset + i * step).toFixed(1) + "," + (78 - (v / max) * 72).toFixed(1);
      });
      var line = points.join(" ");
      figure.querySelector("polyline").setAttribute("points", line);
      figure.querySelector(".area").setAttribute("points", series.length < 2 ? ""
        : offset.toFixed(1) + ",78 " + line + " 300,78");
      figure.querySelector(".rate").textContent = rate(series[series.length - 1] || 0);
      figure.querySelector(".max").textContent = "· peak " + rate(peak) + "/s · last " + series.length + " s";
    });
  }

  // ---- the playground: a WebSocket to this origin -----------------------

  function connect() {
    if (state.ws) { state.ws.onclose = null; state.ws.close(); }
    state.pending.clear();
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/subscribe/websocket");
    state.ws = ws;
    text("ws-state", "connecting…");
    ws.onopen = function () {
      text("ws-state", "connected");
      // The token goes in the first message, never in the URL.
      if (state.token) {
        send({ command: "auth", data: state.token }, function (reply) {
          text("ws-state", reply.error ? "connected, token refused" : "connected, signed in");
        });
      }
      state.subscriptions.forEach(function (tags) { send({ command: "subscribe", tags: tags }); });
    };
    ws.onmessage = function (event) {
      String(event.data).split("\n").forEach(function (line) {
        if (line !== "") onMessage(JSON.parse(line));
      });
    };
    ws.onclose = function () {
      if (state.ws !== ws) return;
      text("ws-state", "disconnected, retrying…");
      setTimeout(function () { if (state.ws === ws) connect(); }, 2000);
    };
  }

  function send(message, done) {
    var ws = state.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      reply(message, { command: message.command, error: "not connected" });
      return;
    }
    var id = "c" + state.nextId++;
    state.pending.set(id, { message: message, done: done });
    message.id = id;
    ws.send(JSON.stringify(message));
  }

  function onMessage(m) {
    var entry = m.id !== undefined ? state.pending.get(m.id) : undefined;
    if (entry) {
      state.pending.delete(m.id);
      if (entry.message.command !== "auth") reply(entry.message, m);
      if (entry.done) entry.done(m);
    } else if (m.command === "publish") {
      deliver(m);
    } else {
      reply(undefined, m);
    }
  }

  function tagChips(parent, tags) {
    (tags || []).forEach(function (tag) { parent.append(element("span", "tag", tag)); });
  }

  function prepend(list, item, max) {
    list.prepend(item);
    while (list.children.length > max) list.lastElementChild.remove();
  }

  function reply(request, m) {
    var item = element("li", m.error ? "error" : m.command === "revoked" || m.command === "dropped" ? "notice" : "");
    item.append(element("span", "time", clock()));
    item.append(element("b", "", (m.command || "?") + " "));
    tagChips(item, m.tags);
    var admin = request && request.data !== undefined && request.command !== "publish";
    var outcome = m.error ? m.error : admin ? "ok" : m.data; // never echo a token
    if (outcome !== undefined) item.append(element("code", "", " → " + outcome));
    prepend($("replies"), item, MAX_REPLIES);
  }

  function deliver(m) {
    state.deliveries++;
    var item = element("li");
    item.append(element("span", "time", clock()));
    tagChips(item, m.tags);
    item.append(element("code", "", m.data === undefined ? "" : m.data));
    prepend($("deliveries"), item, MAX_DELIVERIES);
    text("delivery-count", state.deliveries + " received" +
      (state.deliveries > MAX_DELIVERIES ? ", newest " + MAX_DELIVERIES + " shown" : ""));
  }

  function renderSubscriptions() {
    var list = $("subs");
    list.replaceChildren();
    state.subscriptions.forEach(function (tags, key) {
      var item = element("li", "", tags.join(" + "));
      var remove = element("button", "", "×");
      remove.type = "button";
      remove.title = "unsubscribe";
      remove.onclick = function () {
        send({ command: "unsubscribe", tags: tags });
        state.subscriptions.delete(key);
        renderSubscriptions();
      };
      item.append(remove);
      list.append(item);
    });
  }

  $("subscribe-form").onsubmit = function (event) {
    event.preventDefault();
    var tags = tagsOf($("sub-tags").value);
    send({ command: "subscribe", tags: tags }, function (m) {
      if (m.error) return;
      state.subscriptions.set(JSON.stringify(tags), tags);
      renderSubscriptions();
    });
  };

  $("publish-form").onsubmit = function (event) {
    event.preventDefault();
    send({ command: "publish", tags: tagsOf($("pub-tags").value), data: $("pub-data").value });
  };

  // ---- signing in, and the admin commands --------------------------------

  $("login").onsubmit = function (event) {
    event.preventDefault();
    state.token = $("token").value;
    $("token").value = "";
    sessionStorage.setItem(TOKEN_KEY, state.token);
    startFeed();
    connect();
  };

  $("sign-out").onclick = function () {
    state.token = "";
    sessionStorage.removeItem(TOKEN_KEY);
    startFeed();
    connect();
  };

  document.querySelectorAll("#admin-form button").forEach(function (button) {
    button.onclick = function () {
      var command = button.dataset.command;
      var token = $("admin-token").value;
      var message = { command: command, data: token };
      if (command === "register" || command === "set" || command === "unset") {
        message.tags = tagsOf($("admin-tags").value);
      }
      send(message, function (m) {
        if (m.error) {
          text("admin-result", command + ": " + m.error);
        } else if (command === "tags") {
          text("admin-result", m.tags.length === 0
            ? "This token is granted no tag: it may ping and list, nothing more."
            : "This token may subscribe and publish to any tag set made of: " + m.tags.join(", ") +
              ". It may not use the admin commands nor read the numbers.");
        } else if (command === "unregister") {
          text("admin-result", "Unregistered: the token is now refused, and its connections lose what they held.");
        } else {
          send({ command: "tags", data: token }, function (t) {
            if (!t.error) text("admin-result", command + " done. This token may subscribe and publish to any tag set made of: " + t.tags.join(", ") + ".");
          });
        }
      });
    };
  });

  startFeed();
  connect();
})();
`;
