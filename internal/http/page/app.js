// Tributary's stream browser: plain JavaScript, no build step, no other
// origin. It reads the API with fetch and follows it with EventSource.
'use strict';
(() => {
  const TOKEN_KEY = 'tributary.token';
  const LOG_ROWS = 500; // rows the live log keeps
  const PAGE = 50; // streams per page, and events per "earlier" page
  const $ = (id) => document.getElementById(id);

  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let asking = null; // the pending token prompt, shared by every caller
  let view = null; // what the current view must stop when left

  // el builds an element; children may be strings or elements.
  function el(tag, cls, ...children) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const c of children) if (c != null) e.append(c);
    return e;
  }

  function showError(msg) {
    const p = $('error');
    p.textContent = msg;
    p.hidden = !msg;
  }

  // Problem is an API error answer (RFC 9457), or status 0 when the server
  // could not be reached.
  class Problem extends Error {
    constructor(status, body) {
      super((body && body.detail) || 'HTTP ' + status);
      this.status = status;
      this.body = body || {};
    }
  }

  // ---- access tokens

  function setToken(t) {
    token = t;
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
    $('forget-token').hidden = !t;
  }

  // askToken shows the token dialog once, however many requests need it,
  // and resolves when a token has been given.
  function askToken() {
    if (!asking) {
      asking = new Promise((resolve) => {
        const d = $('token-dialog');
        $('token-reason').textContent = token
          ? 'The server did not accept this token. Enter another one.'
          : 'This server needs an access token to show its events.';
        $('token-input').value = '';
        $('token-form').onsubmit = (ev) => {
          ev.preventDefault();
          const t = $('token-input').value.trim();
          if (!t) return;
          setToken(t);
          d.close();
          asking = null;
          resolve();
        };
        d.oncancel = (ev) => ev.preventDefault(); // nothing can be shown without one
        d.showModal();
      });
    }
    return asking;
  }

  $('forget-token').onclick = () => {
    setToken('');
    location.reload();
  };

  // ---- HTTP

  // parseJSON parses an API answer or an event frame. Event data is stored
  // byte for byte; a number a JavaScript number would change (past 2^53,
  // or written as 1.10) is kept as written, where the browser can
  // (JSON.rawJSON), so that the page shows it as stored.
  const keepNumber = JSON.rawJSON
    ? (k, v, ctx) => (typeof v === 'number' && ctx && ctx.source !== undefined && String(v) !== ctx.source ? JSON.rawJSON(ctx.source) : v)
    : undefined;
  const parseJSON = (text) => JSON.parse(text, keepNumber);

  // api GETs path with the token. It asks for a token on 401, and waits
  // out a 503 (Retry-After, saying so), and tries again; other errors are
  // thrown as Problems.
  async function api(path, accept = 'application/json') {
    let busy = ''; // what it said while waiting out a 503
    for (;;) {
      const headers = { Accept: accept };
      if (token) headers.Authorization = 'Bearer ' + token;
      let res;
      try {
        res = await fetch(path, { headers, cache: 'no-store' });
      } catch (e) {
        throw new Problem(0, { detail: 'The server cannot be reached (' + e.message + ').' });
      }
      if (res.status === 401) {
        await res.body?.cancel();
        await askToken();
        continue;
      }
      let body = null;
      if ((res.headers.get('Content-Type') || '').includes('json')) body = await res.text().then(parseJSON).catch(() => null);
      else await res.body?.cancel();
      if (res.status === 503) {
        const secs = Math.min(Number(res.headers.get('Retry-After')) || 1, 30);
        busy = `${(body && body.detail) || 'The server is busy.'} Trying again in ${secs} s…`;
        showError(busy);
        await new Promise((r) => setTimeout(r, secs * 1000));
        continue;
      }
      if (busy && $('error').textContent === busy) showError('');
      if (!res.ok) throw new Problem(res.status, body);
      return { body, next: nextLink(res.headers.get('Link')) };
    }
  }

  // nextLink returns the target of a Link header's rel="next", or null.
  function nextLink(h) {
    for (const part of (h || '').split(',')) {
      const m = part.match(/<([^>]*)>\s*;\s*rel="?next"?/);
      if (m) return m[1];
    }
    return null;
  }

  // ---- live subscriptions

  // tail follows a subscription with EventSource. EventSource itself
  // reconnects after a network drop and resumes with Last-Event-ID; when it
  // gives up (an HTTP error, or the server restarting into an error), tail
  // asks the server why, shows it, and opens a new one from the last id it
  // has, with backoff. o: path, params, lastId (the id to start after),
  // from(lastId) → [name, value] of the starting parameter, idName, status
  // (an element or null), onEvent(event), onCaughtUp(n).
  function tail(o) {
    let es = null;
    let timer = 0;
    let backoff = 1000;
    let stopped = false;
    let lastId = o.lastId;
    let live = false; // caught up on this connection
    const status = (text, cls) => {
      if (o.status) {
        o.status.textContent = text;
        o.status.className = 'status ' + (cls || '');
      }
    };
    const url = (withToken) => {
      const q = new URLSearchParams(o.params);
      const [name, value] = o.from(lastId);
      q.set(name, String(value));
      if (withToken && token) q.set('access_token', token);
      return o.path + '?' + q;
    };
    function open() {
      clearTimeout(timer);
      if (stopped) return;
      status(lastId ? `Connecting from ${o.idName} ${lastId}…` : 'Connecting…');
      es = new EventSource(url(true));
      es.onopen = () => status('Connected; reading what was missed…');
      es.onmessage = (m) => {
        const id = Number(m.lastEventId);
        if (id <= lastId) {
          // The server promises no duplicates: say so if one ever comes.
          showError(`Received ${o.idName} ${id} again after ${lastId}.`);
          document.body.dataset.anomalies = String(Number(document.body.dataset.anomalies || 0) + 1);
          return;
        }
        lastId = id;
        backoff = 1000;
        if (live) status(`Live at ${o.idName} ${id}`, 'live');
        let e;
        try {
          e = parseJSON(m.data);
        } catch {
          showError(`${o.idName} ${id} is not JSON.`);
          return;
        }
        o.onEvent(e);
      };
      es.addEventListener('caught-up', (m) => {
        backoff = 1000;
        live = true;
        status(`Live at ${o.idName} ${m.data}: caught up`, 'live');
        if (o.onCaughtUp) o.onCaughtUp(Number(m.data));
      });
      es.onerror = () => {
        if (stopped) return;
        live = false;
        if (es.readyState === EventSource.CONNECTING) {
          status(`Connection lost; reconnecting after ${o.idName} ${lastId}…`, 'down');
          return;
        }
        es.close();
        diagnose();
      };
    }
    // diagnose asks the server, with fetch, what EventSource was told.
    async function diagnose() {
      const ctl = new AbortController();
      const headers = { Accept: 'text/event-stream' };
      if (token) headers.Authorization = 'Bearer ' + token;
      let res;
      try {
        res = await fetch(url(false), { headers, signal: ctl.signal, cache: 'no-store' });
      } catch {
        status(`The server cannot be reached; trying again in ${Math.round(backoff / 1000)} s…`, 'down');
        return retry(backoff);
      }
      if (stopped) return ctl.abort();
      if (res.ok) {
        ctl.abort(); // it answers again: subscribe for real
        return retry(0);
      }
      const body = await res.json().catch(() => ({}));
      const detail = body.detail || 'HTTP ' + res.status;
      if (res.status === 401) {
        status('Waiting for an access token…', 'down');
        await askToken();
        return retry(0);
      }
      if (res.status === 503) {
        const s = Number(res.headers.get('Retry-After')) || Math.round(backoff / 1000);
        status(`The server is busy (${detail}); trying again in ${s} s…`, 'down');
        return retry(s * 1000);
      }
      // 409 starting-point-ahead and other refusals: retrying cannot help.
      status(`Stopped: ${detail}`, 'down');
      showError(`The live tail stopped: ${detail}`);
    }
    function retry(ms) {
      clearTimeout(timer);
      timer = setTimeout(open, ms);
      backoff = Math.min(backoff * 2, 30000);
    }
    open();
    return {
      stop() {
        stopped = true;
        clearTimeout(timer);
        if (es) es.close();
        status('Paused');
      },
      resume() {
        stopped = false;
        open();
      },
    };
  }

  // ---- totals at the top

  let position = 0;
  let streamCount = null;
  let seen = 0;
  let streamsMore = false;
  function showStats() {
    $('stat-position').textContent = String(position);
    $('stat-streams').textContent = streamCount === null ? '…' : streamCount + (streamsMore ? '+' : '');
    $('stat-seen').textContent = String(seen);
  }

  // probeHead learns the log's last position: a subscription starting past
  // the end is refused with a problem that says where the end is.
  async function probeHead() {
    try {
      await api('/events?after=9223372036854775807', 'text/event-stream');
    } catch (e) {
      if (e.status === 409 && typeof e.body.current === 'number') return e.body.current;
      throw e;
    }
    return 0;
  }

  // countStreams pages through the stream list, up to 20 pages.
  async function countStreams() {
    let n = 0;
    let next = '/streams?limit=1000';
    for (let i = 0; next && i < 20; i++) {
      const r = await api(next);
      n += r.body.streams.length;
      next = r.next;
    }
    streamsMore = !!next;
    streamCount = (streamCount || 0) + n; // plus any created meanwhile
    showStats();
  }

  // head resolves to the log's position when the page opened; the totals
  // then follow the whole log live.
  const head = (async () => {
    const h = await probeHead();
    position = h;
    showStats();
    tail({
      path: '/events', params: {}, lastId: h, from: (id) => ['after', id], idName: 'position', status: null,
      onEvent: (e) => {
        position = Math.max(position, e.position);
        seen++;
        if (e.version === 1 && streamCount !== null) streamCount++;
        showStats();
      },
    });
    countStreams().catch((e) => showError('Counting streams failed: ' + e.message));
    return h;
  })();
  head.catch((e) => showError(e.message));

  // ---- rendering

  const pretty = (v) => JSON.stringify(v, null, 2);

  function timeEl(iso) {
    const t = el('time', null, iso);
    t.dateTime = iso;
    return t;
  }

  function streamLink(e) {
    const a = el('a', null, `${e.stream_type} ${e.stream_id.slice(0, 8)}… v${e.version}`);
    a.href = '#/streams/' + e.stream_id;
    return a;
  }

  function logItem(e) {
    const li = el('li', 'new',
      el('div', 'ev-head', el('span', 'ev-type', e.type), streamLink(e),
        el('span', 'ev-meta', `position ${e.position} · `, timeEl(e.recorded_at))));
    li.dataset.position = e.position;
    let preview = JSON.stringify(e.data);
    if (preview.length > 300) preview = preview.slice(0, 300) + '…';
    li.append(el('pre', 'preview', preview));
    return li;
  }

  function streamItem(e, fresh) {
    const li = el('li', fresh ? 'new' : null,
      el('div', 'ev-head', el('span', 'ev-type', `v${e.version} ${e.type}`),
        el('span', 'ev-meta', `position ${e.position} · `, timeEl(e.recorded_at))),
      el('div', 'ev-id', 'id ' + e.id),
      el('div', 'label', 'data'), el('pre', null, pretty(e.data)));
    if (e.metadata !== undefined && e.metadata !== null) li.append(el('div', 'label', 'metadata'), el('pre', null, pretty(e.metadata)));
    li.dataset.version = e.version;
    return li;
  }

  // ---- views

  function showOnly(id) {
    for (const v of ['view-log', 'view-streams', 'view-stream']) $(v).hidden = v !== id;
    $('nav-log').removeAttribute('aria-current');
    $('nav-streams').removeAttribute('aria-current');
    $(id === 'view-log' ? 'nav-log' : 'nav-streams').setAttribute('aria-current', 'page');
  }

  // filterParams returns a form's non-empty fields, spaces removed.
  function filterParams(form) {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) {
      const s = String(v).replace(/\s+/g, '');
      if (s) q.set(k, s);
    }
    return q;
  }

  function fillForm(form, q) {
    for (const input of form.querySelectorAll('input')) input.value = q.get(input.name) || '';
  }

  // Each view gets current(): false once the user has gone to another view.
  // A view checks it after every wait, so that a late answer does not
  // draw into, or take the buttons of, the view that replaced it.

  async function showLog(q, current) {
    showOnly('view-log');
    document.title = 'Live log · Tributary';
    const form = $('log-filter');
    fillForm(form, q);
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const p = filterParams(form).toString();
      location.hash = '#/' + (p ? '?' + p : '');
    };
    const list = $('log-events');
    list.replaceChildren();
    const params = {};
    for (const k of ['stream_type', 'type']) if (q.get(k)) params[k] = q.get(k);
    // The head now, as the totals follow it, not as it was at page load:
    // else a page left open elsewhere would replay all that came since.
    const h = Math.max(await head, position);
    if (!current()) return null;
    const t = tail({
      path: '/events', params, lastId: Math.max(0, h - 100), from: (id) => ['after', id], idName: 'position',
      status: $('log-status'),
      onEvent: (e) => {
        list.prepend(logItem(e));
        while (list.children.length > LOG_ROWS) list.lastChild.remove();
      },
    });
    return () => t.stop();
  }

  async function showStreams(q, current) {
    showOnly('view-streams');
    document.title = 'Streams · Tributary';
    const form = $('streams-filter');
    fillForm(form, q);
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const p = filterParams(form).toString();
      location.hash = '#/streams' + (p ? '?' + p : '');
    };
    const first = '/streams?' + new URLSearchParams({ ...(q.get('stream_type') ? { stream_type: q.get('stream_type') } : {}), limit: String(PAGE) });
    let page = 0;
    let loading = false; // one page at a time: a second click counts no page twice
    const load = async (path) => {
      if (loading) return;
      loading = true;
      let r;
      try {
        r = await api(path);
      } finally {
        loading = false;
      }
      if (!current()) return;
      page = path === first ? 1 : page + 1;
      const rows = r.body.streams.map((s) => {
        const a = el('a', null, s.stream_id);
        a.href = '#/streams/' + s.stream_id;
        return el('tr', null, el('td', null, a), el('td', null, s.stream_type), el('td', null, String(s.version)),
          el('td', null, timeEl(s.created_at)), el('td', null, timeEl(s.updated_at)));
      });
      $('streams-table').tBodies[0].replaceChildren(...rows);
      const of = q.get('stream_type') ? ` of type ${q.get('stream_type')}` : '';
      $('streams-caption').textContent = rows.length ? `Streams${of}, page ${page}` : `No streams${of}`;
      const next = $('streams-next');
      next.disabled = !r.next;
      next.onclick = () => load(r.next).catch((e) => current() && showError(e.message));
    };
    $('streams-first').onclick = () => load(first).catch((e) => current() && showError(e.message));
    await load(first);
    return null;
  }

  async function showStream(id, current) {
    showOnly('view-stream');
    document.title = 'Stream ' + id + ' · Tributary';
    $('stream-title').textContent = 'Stream ' + id;
    const list = $('stream-events');
    list.replaceChildren();
    let info = { stream_id: id, stream_type: '—', version: 0, created_at: '—', updated_at: '—' };
    try {
      info = (await api('/streams/' + id)).body;
    } catch (e) {
      if (e.status !== 404) throw e;
      if (current()) showError('This stream does not exist yet; its events will appear here when they are written.');
    }
    if (!current()) return null;
    const dd = {};
    const rows = [['stream_type', 'Type'], ['version', 'Version'], ['created_at', 'Created'], ['updated_at', 'Updated']];
    $('stream-info').replaceChildren(...rows.flatMap(([k, label]) => {
      dd[k] = el('dd', null, String(info[k]));
      dd[k].id = 'stream-' + k.replace('_', '-');
      return [el('dt', null, label), dd[k]];
    }));

    // The last PAGE events, then everything new; older ones on demand.
    let earliest = Math.max(1, info.version - PAGE + 1);
    const earlier = $('stream-earlier');
    earlier.hidden = earliest <= 1;
    earlier.disabled = false;
    earlier.onclick = async () => {
      // One page at a time: a second click before the first page arrives
      // would load the same events again.
      if (earlier.disabled) return;
      earlier.disabled = true;
      try {
        const r = await api(`/streams/${id}/events?direction=backward&from=${earliest - 1}&limit=${PAGE}`);
        if (!current()) return;
        for (const e of r.body.events) list.append(streamItem(e, false));
        earliest = Math.max(1, earliest - r.body.events.length);
        earlier.hidden = earliest <= 1;
      } catch (e) {
        if (current()) showError(e.message);
      } finally {
        if (current()) earlier.disabled = false;
      }
    };
    let fresh = false; // history first, unhighlighted
    const t = tail({
      path: `/streams/${id}/events`, params: {}, lastId: earliest - 1, from: (v) => ['from', v + 1], idName: 'version',
      status: $('stream-status'),
      onEvent: (e) => {
        list.prepend(streamItem(e, fresh));
        dd.version.textContent = String(e.version);
        dd.updated_at.textContent = e.recorded_at;
        if (dd.stream_type.textContent === '—') {
          dd.stream_type.textContent = e.stream_type;
          dd.created_at.textContent = e.recorded_at;
          showError('');
        }
      },
      onCaughtUp: () => { fresh = true; },
    });
    const pause = $('stream-pause');
    pause.setAttribute('aria-pressed', 'false');
    pause.textContent = 'Pause live tail';
    pause.onclick = () => {
      const paused = pause.getAttribute('aria-pressed') !== 'true';
      pause.setAttribute('aria-pressed', String(paused));
      pause.textContent = paused ? 'Resume live tail' : 'Pause live tail';
      if (paused) t.stop();
      else t.resume();
    };
    return () => t.stop();
  }

  // route shows the view the location's hash names: #/ (the live log, with
  // ?stream_type=&type=), #/streams (?stream_type=), #/streams/{id}.
  let routes = 0;
  async function route(ev) {
    const mine = ++routes;
    const current = () => mine === routes;
    if (view) view();
    view = null;
    showError('');
    const [path, qs] = (location.hash.replace(/^#/, '') || '/').split('?');
    const q = new URLSearchParams(qs || '');
    const m = path.match(/^\/streams\/([0-9a-fA-F-]{36})$/);
    try {
      let stop;
      if (m) stop = await showStream(m[1].toLowerCase(), current);
      else if (path === '/streams') stop = await showStreams(q, current);
      else stop = await showLog(q, current);
      if (current()) view = stop;
      else if (stop) stop(); // left while it was loading
    } catch (e) {
      if (current()) showError(e.message);
    }
    if (ev) $('main').focus({ preventScroll: true });
  }

  setToken(token);
  window.addEventListener('hashchange', route);
  route();
})();
