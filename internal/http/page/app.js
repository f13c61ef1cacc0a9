// Tributary's stream browser: plain JavaScript, no build step, no other
// origin. It reads the API with fetch, and follows the log with it too.
'use strict';
(() => {
  // The page is served at / alone: at a path that does not end in /, a
  // proxy that strips a prefix serves it at the prefix without its slash
  // (/tributary, as Traefik's StripPrefix and Caddy's handle_path do).
  // There its requests, resolved against its directory (at), left the
  // prefix, and it showed nothing: it moves to the path with the slash,
  // its query and view kept, before it asks for anything. Once a tab: a
  // proxy that sends the path with the slash back without it would
  // otherwise bounce the tab between the two for ever (the page at the
  // slash clears the mark).
  const bare = 'tributary.slash ' + location.pathname.replace(/\/$/, '');
  if (!location.pathname.endsWith('/') && sessionStorage.getItem(bare) === null) {
    sessionStorage.setItem(bare, '1');
    location.replace(location.pathname + '/' + location.search + location.hash);
    return;
  }
  if (location.pathname.endsWith('/')) sessionStorage.removeItem(bare);
  // scoped is name for this page's location: a proxy may serve two
  // services on one origin (/a/, /b/), and their tabs shared the Web
  // Lock, the BroadcastChannel and the token in sessionStorage, all
  // named for the origin alone: one showed the other's log as its own,
  // and sent it its token. At / it is name, as it was.
  const scoped = (name) => (location.pathname === '/' ? name : name + ' ' + location.pathname);
  const TOKEN_KEY = scoped('tributary.token');
  const LOG_ROWS = 500; // rows the live log keeps, and a stream's live tail, besides those loaded on demand
  const PAGE = 50; // streams per page, and events per "earlier" page
  const RESTORE_PAGES = 20; // pages of older events a link's from= loads at most
  const OLDER_REACH = 1000; // positions the live log reads back at most, a click of "Load older events"
  const READ_MOST = 1000; // the API's largest limit
  // A first read of a view's events, and each page of earlier ones, stops
  // at about PAGE_BYTES: it read PAGE events (or 100 positions) whatever
  // their size, 31 MB for a stream of 1 MiB events, all read and parsed
  // before anything showed. The API has no limit in bytes: such a read
  // takes FIRST events, then as many more as fit by the size of those.
  const PAGE_BYTES = 2 << 20;
  const FIRST = 5;
  // heartbeat is how often the server sends a subscription a keep-alive
  // (TRIBUTARY_HEARTBEAT, in ms), as the page is served with it (heartbeatIn);
  // a connection that has sent nothing for three of them is lost.
  const heartbeatIn = (doc) => Number(/<meta name="tributary-heartbeat" content="(\d+)">/.exec(doc)?.[1]) || 0;
  let heartbeat = Number(document.querySelector('meta[name="tributary-heartbeat"]')?.content) || 15000;
  const READY_EVERY = 5000; // ms between two checks of /readyz while the live log is at its head
  const ANSWER_WITHIN = 10000; // ms a read may wait for its answer, or for the next bytes of it, before it is given up
  const $ = (id) => document.getElementById(id);
  // SLICE is how much of the live connection's text the page handles at
  // a time, and BUSY how long it does so before it lets the browser run
  // what waits (input, rendering): yieldToPage. A MessageChannel's
  // message, not a timer: a hidden tab runs timers once a minute at most,
  // and a hidden tab may hold the connection for the others. After a
  // yield it goes on for at least as long as the browser took (laying out
  // the rows added meanwhile), up to BUSY_MOST: yielding every 50 ms, a
  // burst of 20,000 events spent three quarters of its 10 s in layouts of
  // rows shown for a moment, where handled whole it took 3 s.
  const SLICE = 16 << 10;
  const BUSY = 50; // ms
  const BUSY_MOST = 1000; // ms
  const yieldToPage = () => new Promise((r) => {
    const c = new MessageChannel();
    c.port1.onmessage = () => r();
    c.port2.postMessage(null);
  });

  // jittered returns how long to wait before trying again: ms, the least
  // wait (a Retry-After, or the backoff), and up to half as much again,
  // drawn with random (Math.random's range). Every page open when a
  // server went away retried in step, at the same doubling waits, and
  // came back all at once when it returned; a random part spreads them.
  function jittered(ms, random = Math.random) {
    return ms + Math.floor(Math.min(Math.max(random(), 0), 0.999) * ms / 2);
  }

  // retryAfter returns the seconds a Retry-After header (or null) asks to
  // wait: its delay-seconds, or the time until its HTTP-date, the form
  // that proxies and CDNs send as often; 0 for none, a date past, or
  // anything else. The date form was taken for none: the page asked again
  // after its own backoff, 1 s, however long the server had asked for.
  const retryAfter = (h) => {
    const v = (h ?? '').trim();
    if (/^\d+$/.test(v)) return Number(v);
    const at = /^[A-Za-z]{3}/.test(v) ? Date.parse(v) : NaN;
    return Number.isFinite(at) ? Math.max(0, Math.ceil((at - Date.now()) / 1000)) : 0;
  };

  // sleep resolves after ms, or at once once signal (a view's leave) is
  // aborted: a view left while it waited to try a read again (a 429's or
  // a 503's Retry-After, a backoff, up to 30 s) slept the wait out, and
  // only then stopped.
  const sleep = (ms, signal) => new Promise((r) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      r();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
    if (signal?.aborted) done();
  });

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
  // unsay takes back msg, if it is what the page still says.
  const unsay = (msg) => {
    if (msg && $('error').textContent === msg) showError('');
  };

  // detailOf returns a problem's detail, or '' where it has none that is
  // text: a number or an object there (a proxy's, another server's) was
  // said as "[object Object]", or stopped a view with "detail.replace is
  // not a function" where a busy server is waited out.
  const detailOf = (body) => (body && typeof body.detail === 'string' ? body.detail : '');

  // Problem is an API error answer (RFC 9457), or status 0 when the server
  // could not be reached.
  class Problem extends Error {
    constructor(status, body) {
      // An answer with no detail (a proxy's page) is said in a sentence,
      // as a detail is: "HTTP 502 Trying again in 1 s…" read as a fragment.
      super(detailOf(body) || `The server answered HTTP ${status}.`);
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
        let given = false;
        $('token-reason').textContent = token
          ? 'The server did not accept this token. Enter another one.'
          : 'This server needs an access token to show its events.';
        $('token-input').value = '';
        $('token-form').onsubmit = (ev) => {
          ev.preventDefault();
          const t = $('token-input').value.trim();
          if (!t) return;
          given = true;
          setToken(t);
          $('token-needed').hidden = true;
          d.close();
          asking = null;
          resolve();
        };
        d.oncancel = (ev) => ev.preventDefault(); // nothing can be shown without one
        // Chromium honours that only after a user activation since the
        // dialog opened, which Escape is not, and a back gesture closes
        // it too: the page said "Connecting…" for good, its reads waiting
        // on a prompt no one could see. Closed without a token, it says
        // one is needed, in every view, with a button that opens it again.
        d.onclose = () => {
          if (!given) $('token-needed').hidden = false;
        };
        d.showModal();
      });
    }
    return asking;
  }

  $('token-open').onclick = () => {
    $('token-needed').hidden = true;
    if (!$('token-dialog').open) $('token-dialog').showModal();
  };

  $('forget-token').onclick = () => {
    setToken('');
    location.reload();
  };

  // ---- HTTP

  // parseJSON parses an API answer or an event frame. Event data is stored
  // byte for byte; a number a JavaScript number would change (past 2^53,
  // or written as 1.10) is kept as written, where the browser can
  // (JSON.rawJSON), so that the page shows it as stored. JSON.parse's
  // reviver could do that, but it recurses, and data nested a few thousand
  // deep (the server takes 10,000) is too deep for it: an answer holding
  // one such event was parsed without it, and every event of it showed its
  // big numbers rounded. So such numbers are found in the text, outside
  // its strings, written in as strings marked for this parse, and put back
  // after a plain parse (which takes any depth) by a walk with a stack of
  // its own. Text that is no JSON fails the plain parse.
  // A member's name that is an integer ("10") is written in with keyMark
  // before it, which the page's writers drop (shownKey): an object puts
  // such names first, in ascending order, and data showed its members in
  // another order than stored ({"0":…,"2":…,"z":…}).
  const exact = (lit) => String(Number(lit)) === lit;
  const numberRE = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
  const keyMark = '\u0000' + crypto.getRandomValues(new Uint32Array(2)).join('.') + ':';
  const shownKey = (k) => (k.startsWith(keyMark) ? k.slice(keyMark.length) : k);
  function parseJSON(text) {
    const mark = '\u0000' + crypto.getRandomValues(new Uint32Array(2)).join('.') + ';';
    const lits = []; // the numbers kept as written, by their mark's index
    let out = '';
    let done = 0; // text before this is in out
    for (let i = 0; i < text.length;) {
      // From i to the next string, only JSON's punctuation, words and numbers.
      const q = text.indexOf('"', i);
      const outside = text.slice(i, q < 0 ? text.length : q);
      for (const m of JSON.rawJSON ? outside.matchAll(numberRE) : []) {
        if (exact(m[0])) continue;
        out += text.slice(done, i + m.index) + JSON.stringify(mark + lits.length);
        lits.push(m[0]);
        done = i + m.index + m[0].length;
      }
      if (q < 0) break;
      // The string's end: the next quote after an even run of backslashes.
      let j = q;
      for (;;) {
        j = text.indexOf('"', j + 1);
        if (j < 0) return JSON.parse(text); // no end: not JSON, as it says
        let k = j;
        while (text.charCodeAt(k - 1) === 92) k--;
        if ((j - k) % 2 === 0) break;
      }
      i = j + 1;
      // A name of up to 10 digits, as an object orders first (to 2^32 - 2).
      if (j - q <= 11 && /^(?:0|[1-9]\d*)$/.test(text.slice(q + 1, j))) {
        let c = i;
        while (' \t\n\r'.includes(text[c] || '-')) c++;
        if (text[c] === ':') {
          out += text.slice(done, q) + JSON.stringify(keyMark + text.slice(q + 1, j));
          done = i;
        }
      }
    }
    if (!done) return JSON.parse(text);
    const kept = (v) => (typeof v === 'string' && v.startsWith(mark) ? JSON.rawJSON(lits[Number(v.slice(mark.length))]) : v);
    const top = kept(JSON.parse(out + text.slice(done)));
    const walk = (v) => v !== null && typeof v === 'object' && !JSON.isRawJSON(v);
    for (const stack = lits.length && walk(top) ? [top] : []; stack.length;) {
      const o = stack.pop();
      for (const k of Object.keys(o)) {
        const v = o[k];
        const w = kept(v);
        // Defined, not set: a key "__proto__" is the data's, as JSON.parse makes it.
        if (w !== v) Object.defineProperty(o, k, { value: w, writable: true, enumerable: true, configurable: true });
        else if (walk(v)) stack.push(v);
      }
    }
    return top;
  }

  // waitNote is a 503's detail without its advice to API clients (to try
  // again after the Retry-After header): the page tries again itself, and
  // says when.
  const waitNote = (detail) => detail.replace(/\s*Try again after Retry-After\.?$/, '');

  // authorized returns path with the token, adding it to headers as a
  // bearer token where a header can carry it as the server reads it: in
  // ASCII. The server takes a token of other characters too (pässwört…),
  // and fetch refuses a header with a character past U+00FF and sends one
  // below it as one Latin-1 byte, where the server reads UTF-8: such a
  // token goes as ?access_token=, in UTF-8.
  function authorized(path, headers) {
    if (!token) return path;
    if (/^[\x20-\x7e]*$/.test(token)) {
      headers.Authorization = 'Bearer ' + token;
      return path;
    }
    return path + (path.includes('?') ? '&' : '?') + 'access_token=' + encodeURIComponent(token);
  }

  // at returns path, an API path from the root as the contract writes
  // it (and as the API writes its next links), relative to the page's own
  // location: a reverse proxy that serves the service under a prefix
  // (/tributary/ for /) is then asked for /tributary/events. The page
  // asked for /events, outside the prefix, and showed nothing there.
  // Written from the root, as the location's directory and path: at /,
  // the path itself.
  const base = location.pathname.replace(/[^/]*$/, '');
  const at = (path) => (path.startsWith('/') ? base + path.slice(1) : path);

  // api GETs path (an API path: at) with the token. It asks for a token on 401, and waits
  // out a 503 (Retry-After at least, longer after each, saying so), and
  // tries again; other errors are
  // thrown as Problems. A view's reads give signal, its leave's: once
  // the view is left they are given up, with an AbortError. A read that
  // has had nothing from the server for ANSWER_WITHIN, its answer or the
  // next bytes of its body, is given up, with a Problem of status 0 that
  // says so: a server that took a read and never answered it left the
  // page saying it was reading, for ever. It resolves to the answer's
  // body, its next link and its size (in UTF-16 units); asked for
  // text/event-stream, it reads the subscription up to its caught-up
  // frame, gives it up there, and resolves to that frame's number as
  // caughtUp. With waitBusy false, a 503 is thrown as a Problem too.
  async function api(path, accept = 'application/json', signal = undefined, waitBusy = true) {
    let busy = ''; // what it said while waiting out a 503
    let backoff = 1; // s: the least wait after the next 503, doubled after each
    for (;;) {
      const headers = { Accept: accept };
      const ctl = new AbortController();
      const leave = () => ctl.abort();
      signal?.addEventListener('abort', leave);
      let late = false;
      let timer = 0;
      const wait = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          late = true;
          ctl.abort();
        }, ANSWER_WITHIN);
      };
      let res;
      let text = null; // a JSON answer's text
      let caughtUp = null; // a subscription's caught-up data
      try {
        if (signal?.aborted) ctl.abort();
        wait();
        res = await fetch(authorized(at(path), headers), { headers, cache: 'no-store', signal: ctl.signal });
        if (res.ok && accept === 'text/event-stream' && /^text\/event-stream\b/.test(res.headers.get('Content-Type') || '')) {
          // A subscription is read up to its caught-up, then given up.
          const reader = res.body.getReader();
          const utf8 = new TextDecoder();
          const parse = eventStream((type, data) => {
            if (type === 'caught-up' && caughtUp === null) caughtUp = Number(data);
          }, () => {});
          while (caughtUp === null) {
            const { done, value } = await reader.read();
            if (done) break;
            wait();
            parse(utf8.decode(value, { stream: true }));
          }
          await reader.cancel().catch(() => {});
          if (caughtUp === null) throw new Error('the subscription ended before it caught up');
        } else if (res.status !== 401 && (res.headers.get('Content-Type') || '').includes('json')) {
          text = '';
          const reader = res.body.getReader();
          const utf8 = new TextDecoder();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            wait();
            text += utf8.decode(value, { stream: true });
          }
          text += utf8.decode();
        } else {
          await res.body?.cancel();
        }
      } catch (e) {
        if (signal?.aborted) {
          unsay(busy);
          throw e; // an AbortError: the view was left, or paused
        }
        if (late) throw new Problem(0, { detail: `The server did not answer within ${ANSWER_WITHIN / 1000} s.` });
        throw new Problem(0, { detail: 'The server cannot be reached (' + e.message + ').' });
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', leave);
      }
      if (res.status === 401) {
        await askToken();
        continue;
      }
      let body = null;
      if (text !== null) {
        try {
          body = parseJSON(text);
        } catch {
          // Not JSON after all: said as its status.
        }
      }
      // A 429 is a rate limiter's in front of the service (Traefik's, a
      // CDN's): waited out as a 503 is. Taken as a refusal, it stopped
      // the view for good, until a reload.
      if ((res.status === 503 || res.status === 429) && waitBusy) {
        // Retry-After is the least wait, the backoff past it: a read
        // refused for as long as an outage lasts asked again every
        // Retry-After, in step with every other page open.
        const delay = jittered(Math.min(Math.max(retryAfter(res.headers.get('Retry-After')) || 1, backoff), 30) * 1000);
        backoff = Math.min(backoff * 2, 30);
        busy = `${waitNote(detailOf(body) || 'The server is busy.')} Trying again in ${Math.round(delay / 1000)} s…`;
        showError(busy);
        await sleep(delay, signal);
        if (signal?.aborted) {
          unsay(busy);
          throw signal.reason ?? new DOMException('The view was left.', 'AbortError');
        }
        continue;
      }
      unsay(busy);
      if (!res.ok) throw new Problem(res.status, body);
      // A 2xx with no JSON object (a captive portal's or a misrouted
      // proxy's HTML page) stopped the view with "Cannot read properties
      // of null": it is said as what it is, and tried again as a 5xx is.
      // So is JSON that is no object (an array): every answer the page
      // reads is one, and an array stopped the view with "r.body.events is
      // not iterable".
      if (accept === 'application/json' && (body === null || typeof body !== 'object' || Array.isArray(body))) {
        const what = body === null ? `${res.headers.get('Content-Type') || 'nothing'}, not JSON` : 'JSON that is no object';
        throw new Problem(502, { detail: `The server answered with ${what}.` });
      }
      return { body, next: nextLink(res.headers.get('Link')), size: text ? text.length : 0, caughtUp };
    }
  }

  // eventStream returns a function that takes the text of an event stream
  // as it comes, in pieces of any size, and calls frame(type, data, id) for
  // each event it completes, and retry(ms) for each retry field, as the
  // HTML standard parses one: lines end at CR, LF or CRLF, a line that
  // starts with a colon is a comment (a keep-alive), a blank line ends an
  // event, and one without data is none.
  function eventStream(frame, retry) {
    let rest = ''; // the last line's beginning, not ended yet
    let type = '';
    let data = null;
    let lastId = '';
    const line = (l) => {
      if (l === '') {
        if (data !== null) frame(type || 'message', data, lastId);
        type = '';
        data = null;
        return;
      }
      if (l[0] === ':') return;
      const c = l.indexOf(':');
      const name = c < 0 ? l : l.slice(0, c);
      let value = c < 0 ? '' : l.slice(c + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (name === 'data') data = data === null ? value : data + '\n' + value;
      else if (name === 'event') type = value;
      else if (name === 'id' && !value.includes('\0')) lastId = value;
      else if (name === 'retry' && /^\d+$/.test(value)) retry(Number(value));
    };
    const breaks = /\r\n|\r|\n/g;
    return (text) => {
      // Most pieces of a large event hold no line's end: kept as they come.
      if (!/[\r\n]/.test(text)) {
        rest += text;
        return;
      }
      const s = rest + text;
      let i = 0;
      breaks.lastIndex = 0;
      for (let m; (m = breaks.exec(s));) {
        if (m[0] === '\r' && m.index === s.length - 1) break; // a CR last: with the next piece's LF, one end
        line(s.slice(i, m.index));
        i = breaks.lastIndex;
      }
      rest = s.slice(i);
    };
  }

  // nextLink returns the target of a Link header's rel="next", or null.
  function nextLink(h) {
    for (const part of (h || '').split(',')) {
      const m = part.match(/<([^>]*)>\s*;\s*rel="?next"?/);
      if (m) return m[1];
    }
    return null;
  }

  // ---- the log, followed once for all the page's tabs

  // Every live part of the page follows the global log: the totals at the
  // top, the live log, and a stream's live tail (its events, picked out of
  // the log). A subscription holds a connection for as long as it is open,
  // and a browser opens at most six to one server over HTTP/1.1: with a
  // subscription or two per tab, a fourth tab would wait for a connection
  // forever. So one tab, the one holding a Web Lock, follows /events and
  // passes each event on to the page's other tabs over a BroadcastChannel;
  // when it closes, another takes over, from the last position it has.
  // Positions have no gaps: a tab that is handed a position past the next
  // one it expects (it opened, or took over, at another point than the
  // others) reads what it lacks first, so that each tab passes every event
  // on once, in order. Where the browser has no Web Locks (they need a
  // secure context: https, or localhost), each tab follows the log itself.
  const feed = (() => {
    const listeners = new Set();
    const shared = !!navigator.locks && typeof BroadcastChannel === 'function';
    const channel = shared ? new BroadcastChannel(scoped('tributary.log')) : null;
    let pos = 0; // the last position passed on to this tab's listeners
    let posId = ''; // the id of the event at pos, as this tab passed it on or first read it; '' if not known
    let lead = false; // this tab holds the connection
    let halted = false; // the server refused this tab's position: it follows nothing more
    let outside = false; // the server refused this tab's token: it shows nothing passed on until it has another
    let remote = { phase: 'connecting', text: '' }; // the connection's state, as its holder says
    let said = null; // the state last told to the listeners
    const waiting = []; // {id, text} to pass on, or {id} to have read up to, in position order, from head
    let head = 0;
    let draining = false;
    let each = 0; // the size of an event in the last read of what this tab lacked (UTF-16 units)
    let checkNow = null; // checks /readyz at once, while this tab holds the connection

    // state is what the listeners see: the connection's, unless this tab
    // is still reading what it lacks (behind). It changes only where tell
    // follows: it said "reading" while this tab handled, in slices, a
    // batch it had in hand, and a view that started meanwhile said
    // "reading what was missed" for good, the feed having told it nothing
    // it had to change once the batch was handled.
    let behind = false;
    const state = () => (behind ? { phase: 'reading', text: '' } : remote);
    function tell() {
      const s = state();
      if (said && said.phase === s.phase && said.text === s.text) return;
      said = s;
      for (const l of listeners) l.state?.(s);
    }
    function setState(phase, text = '') {
      remote = { phase, text };
      // With the heartbeat the holder knows (it reads it again after a lost
      // connection): a tab that takes over kept the one it was served
      // with, and gave up a server's connection for silent 3 s in.
      if (lead && channel) post({ kind: 'state', phase, text, pos, heartbeat });
      tell();
    }
    // The holder of the connection posted each event to the other tabs
    // as a message of its own: a burst of 20,000 was 20,000 messages, each
    // cloned and handled on its own in every tab. outbox holds [id, text]
    // until this tab's code stops (a microtask: at the latest when it
    // yields), then goes as one message; hand queues an event in it.
    // A tab of the page as it was before takes no batch, only "event" and
    // "state": it showed nothing new until the connection's state changed.
    // Each batch is followed by the state, at the batch's last position,
    // from which such a tab reads what it lacks; to the others it says
    // nothing new.
    let outbox = [];
    function sendOut() {
      if (!outbox.length) return;
      const at = outbox[outbox.length - 1][0];
      channel.postMessage({ kind: 'events', events: outbox });
      channel.postMessage({ kind: 'state', phase: remote.phase, text: remote.text, pos: at, heartbeat });
      outbox = [];
    }
    function hand(id, text) {
      if (!outbox.length) queueMicrotask(sendOut);
      outbox.push([id, text]);
    }
    // post posts m to the other tabs after the events queued before it:
    // a state that named a position past them had a tab read the log for
    // what was on its way to it.
    function post(m) {
      sendOut();
      channel.postMessage(m);
    }

    // pass hands the event at position id (an object, or its JSON text)
    // to this tab's listeners, once.
    function pass(id, e) {
      if (id <= pos) return;
      pos = id;
      posId = '';
      if (typeof e === 'string') {
        try {
          e = parseJSON(e);
        } catch {
          showError(`Position ${id} is not JSON.`);
          return;
        }
      }
      if (typeof e?.id === 'string') posId = e.id;
      for (const l of listeners) l.event?.(e);
    }
    // drain passes on what is waiting, in position order, reading the log
    // where a position is missing.
    // It yields (yieldToPage) once it has been busy for BUSY, as the live
    // connection's handling does: a read of what this tab lacked (up to
    // 1,000 events), or a batch the holder posted, was handled in one
    // task, the page answering nothing meanwhile.
    async function drain() {
      if (draining) return;
      draining = true;
      let busy = performance.now(); // when it last yielded
      try {
        while (waiting.length > head) {
          if (performance.now() - busy > BUSY) {
            await yieldToPage();
            busy = performance.now();
            continue; // what waits may have changed meanwhile
          }
          const next = waiting[head];
          const before = next.text === undefined ? next.id : next.gap ? pos : next.id - 1; // to pass on before it
          if (before > pos) {
            behind = true;
            tell(); // until it has passed on what waits
            // About PAGE_BYTES a read, as a view's first reads: FIRST
            // positions, then as many as fit by the size of the last
            // read's events. It read 1,000 whatever their size, a
            // gigabyte in one answer for events of 1 MiB.
            const left = Math.min(1000, before - pos);
            let events;
            try {
              const r = await api(`/events?after=${pos}&limit=${each ? fit(left, each, 0) : Math.min(FIRST, left)}`);
              events = r.body.events;
              if (events.length) each = r.size / events.length;
            } catch (e) {
              const delay = jittered(2000);
              showError('Reading the log failed: ' + e.message + ` Trying again in ${Math.round(delay / 1000)} s…`);
              await new Promise((r) => setTimeout(r, delay));
              continue;
            }
            if (!events.length) {
              // Nothing there: a holder said it was past the log's head (it
              // follows a database since reset). Wait for the log's events;
              // an event handed on past a gap in the log is passed on.
              // It went on from the position before that event, as if
              // shown, its event id forgotten: an event before it handed on
              // meanwhile was dropped as shown. The event is passed on
              // after those before it (gap), this tab going on from the
              // last event it showed.
              if (next.text !== undefined) next.gap = true;
              else if (waiting[head] === next) take();
              else waiting.splice(waiting.indexOf(next, head), 1); // one came before it meanwhile
            }
            for (const e of events) {
              if (performance.now() - busy > BUSY) {
                await yieldToPage();
                busy = performance.now();
              }
              pass(e.position, e);
            }
            continue;
          }
          take();
          if (next.text !== undefined) pass(next.id, next.text);
        }
      } finally {
        draining = false;
        behind = false;
        tell();
      }
    }
    // wait queues w in position order: at the end, as a holder passes
    // positions on, so that a long queue (while a read is on its way)
    // costs no sort at each step.
    function wait(w) {
      let i = waiting.length;
      while (i > head && waiting[i - 1].id > w.id) i--;
      waiting.splice(i, 0, w);
    }
    // take drops the first waiting, and now and then the room of those
    // taken: no shift of the whole queue at each step.
    function take() {
      waiting[head++] = null;
      if (head === waiting.length) {
        waiting.length = head = 0;
      } else if (head >= 1024 && head * 2 >= waiting.length) {
        waiting.splice(0, head);
        head = 0;
      }
    }
    function receive(id, text) {
      wait({ id, text });
      drain();
    }

    // follow holds the connection, for this tab and, shared, for the
    // others. It reads the subscription with fetch, not EventSource, which
    // shows a page none of the server's keep-alives: a connection the
    // network dropped without a word (a NAT or proxy that forgot it: no
    // FIN, no reset) sent nothing more, and the page said "caught up" for
    // ever. Every byte is heard here, keep-alives included; a connection
    // that has sent nothing for three of the server's heartbeats is given
    // up and said to be, and another is opened from the last position
    // this tab has (Last-Event-ID), as after one that ended or broke. A
    // refusal says why (its answer is at hand), and is tried again with
    // backoff where that can help. Shared, it resolves
    // when this tab can follow the log no more (the server refuses its
    // position, or its token), so that the next tab in line, whose
    // position or token the server may take, follows it instead: a tab
    // that cannot must not hold the log for the others.
    function follow() {
      lead = true;
      let handOff = () => {};
      const gone = new Promise((r) => { handOff = r; });
      let ctl = null; // aborts the connection opened last; null once it is given up
      let connected = false; // the connection answered with an event stream and has not ended since
      let heard = 0; // when it last sent anything (performance.now())
      let timer = 0;
      let backoff = 1000;
      let again = 2000; // ms to wait before reconnecting after a drop: the server's retry
      let last = pos; // the last position a connection delivered
      let stale = false; // a connection was lost: the server may have restarted with another heartbeat
      let atHead = false; // this connection said caught-up, and has not been lost since
      let unready = ''; // what /readyz said, while it says the database is unavailable
      let ended = ''; // the detail of the problem the server ended this connection with (event: problem)
      // live says the connection is at the log's head, unless the server
      // reports its database unavailable: it keeps a subscription open
      // through an outage, with keep-alives and nothing else, and the page
      // said "caught up" for as long as the outage lasted.
      const live = () => (unready ? setState('down', unready) : setState('live'));
      // checkReady asks /readyz, every READY_EVERY while the connection is
      // at the log's head, whether the server can read its database. One
      // check at a time, given up when the next is due: checks a server
      // left unanswered held one connection each of the six a browser
      // opens to it, until none was left for the page's reads.
      let checking = false;
      async function checkReady() {
        if (checking || !atHead || !connected) return;
        checking = true;
        const ctl = new AbortController();
        const late = setTimeout(() => ctl.abort(), READY_EVERY - 500);
        let said = '';
        const again = ' New events will show once it is. Checking again every ' + READY_EVERY / 1000 + ' s…';
        try {
          const res = await fetch(at('/readyz'), { headers: { Accept: 'application/json' }, cache: 'no-store', signal: ctl.signal });
          // Any 5xx is not ready: a proxy in front answers 502 or 504
          // while the service behind it restarts, not the service's 503.
          if (res.status >= 500) {
            const body = await res.json().catch(() => ({}));
            // A 503's detail says why: the database cannot be reached,
            // or the server is shutting down.
            const why = typeof body.detail === 'string' && body.detail ? waitNote(body.detail).replace(/\.?$/, '.')
              : res.status === 503 ? 'its database is unavailable.'
                : `its readiness check (/readyz) answered ${res.status}${res.statusText ? ' ' + res.statusText : ''}.`;
            said = 'Connected, but the server reports it is not ready: ' + why + again;
          } else {
            await res.body?.cancel();
          }
        } catch (err) {
          // A check not answered before the next is due says nothing
          // (a slow network); one that failed, a server or proxy that
          // refused it, says the server cannot be reached.
          if (ctl.signal.aborted) return;
          said = 'Connected, but the server could not be asked whether it is ready (/readyz: ' +
            String(err?.message || 'the request failed').replace(/\.?$/, '') + ').' + again;
        } finally {
          clearTimeout(late);
          checking = false;
        }
        if (said === unready) return;
        unready = said;
        if (atHead && connected) live();
      }
      const checks = setInterval(checkReady, READY_EVERY);
      // A browser runs a hidden tab's timers once a minute at most: a tab
      // shown again said "caught up" for up to a minute into an outage.
      // It checks at once, or has this tab check, if it is another one.
      checkNow = checkReady;
      // The time since the connection last sent anything is checked, not a
      // timer reset at each piece: a hidden tab's timers run late, and
      // late is no silence. Every half heartbeat: listen starts it again
      // when the heartbeat changes.
      let listening = 0;
      const listen = () => {
        clearInterval(listening);
        listening = setInterval(() => {
          if (!connected || performance.now() - heard < 3 * heartbeat) return;
          const secs = Math.round((performance.now() - heard) / 1000);
          lose(`Heard nothing from the server for ${secs} s, where it sends a keep-alive every ${heartbeat / 1000} s: ` +
            `the connection was lost without a word. Reconnecting from position ${Math.max(pos, last)}…`);
          open(true);
        }, Math.max(100, heartbeat / 2));
      };
      listen();
      gone.then(() => {
        clearInterval(checks);
        clearInterval(listening);
        checkNow = null;
      });
      // relearn reads the heartbeat the server has now from the page it
      // serves: one restarted with a longer one had each new connection
      // given up a few of the old heartbeats in, and said so, for as long
      // as the page stayed open. A read that fails leaves it as it was.
      async function relearn(signal) {
        try {
          const res = await fetch(at('/'), { cache: 'no-store', signal });
          const h = res.ok ? heartbeatIn(await res.text()) : 0;
          if (!h) return;
          stale = false;
          if (h !== heartbeat) {
            heartbeat = h;
            listen();
          }
        } catch {
          // The connection's own attempt says what is wrong.
        }
      }
      // lose gives the connection up, saying text (or, if none, that it
      // was lost).
      function lose(text = '') {
        if (ctl) ctl.abort();
        ctl = null;
        stale = true;
        connected = false;
        atHead = false;
        setState('down', text);
      }
      // frame handles one event of the stream.
      function frame(type, data, lastId) {
        if (type === 'problem') {
          // The server ends the connection with the 503 its database met
          // (damage, a table or an index missing), the one the next
          // connection is refused with: said when the connection ends,
          // where its end alone said only that it was lost.
          let p = {};
          try {
            p = parseJSON(data) || {};
          } catch {
            // Not JSON: said as a problem without its words.
          }
          ended = waitNote(detailOf(p) || (typeof p.title === 'string' && p.title) || 'its database is unavailable');
          return;
        }
        if (type === 'caught-up') {
          backoff = 1000;
          atHead = true;
          live();
          // What a check said before the connection was lost may be
          // stale (a server restarted): asked again at once.
          if (unready) checkReady();
          return;
        }
        if (type !== 'message') return;
        const id = Number(lastId);
        if (!(id > last)) {
          // The server promises no duplicates: say so if one ever comes.
          showError(`Received position ${id} again after ${last}.`);
          document.body.dataset.anomalies = String(Number(document.body.dataset.anomalies || 0) + 1);
          return;
        }
        last = id;
        backoff = 1000;
        if (channel) hand(id, data);
        receive(id, data);
      }
      // open opens a connection from the last position this tab has. Unless
      // quiet, it says it connects; quiet, what was said stays until the
      // connection answers. Nothing from the server within ANSWER_WITHIN
      // (a server that takes the connection and never answers) is given
      // up, and tried again with backoff.
      async function open(quiet = false) {
        clearTimeout(timer);
        atHead = false;
        connected = false;
        ended = '';
        const from = Math.max(pos, last);
        last = from;
        if (!quiet) setState('connecting', from ? `Connecting from position ${from}…` : 'Connecting…');
        const mine = new AbortController();
        ctl = mine;
        let late = false;
        const answer = setTimeout(() => {
          late = true;
          mine.abort();
        }, ANSWER_WITHIN);
        if (stale) {
          await relearn(mine.signal);
          if (mine !== ctl) return; // given up meanwhile
        }
        const headers = { Accept: 'text/event-stream' };
        if (from) headers['Last-Event-ID'] = String(from);
        let res;
        let refusal = null; // the text of a refusal's answer
        try {
          if (pos) {
            // The server may serve another log than the one this tab has
            // shown (restored from an older backup, and written to past
            // this tab's position): a connection resumed after it showed
            // that log's later events under the old ones, and said "caught
            // up". The event at this tab's position is read first, at each
            // connection, and must be the one it passed on (or read as it
            // opened); one not known yet is learnt. A log that ends before
            // it is the connection's 409 to say.
            const [shown, shownId] = [pos, posId];
            const h = { Accept: 'application/json' };
            res = await fetch(authorized(at(`/events?after=${shown - 1}&limit=1`), h), { headers: h, cache: 'no-store', signal: mine.signal });
            const text = await res.text();
            if (mine !== ctl) return; // given up meanwhile
            if (!res.ok) {
              clearTimeout(answer);
              return refused(res, text);
            }
            let e;
            try {
              e = parseJSON(text)?.events?.[0];
            } catch {
              // Not JSON: nothing to tell by; the connection says what the server is.
            }
            if (e && shownId && (Number(e.position) !== shown || e.id !== shownId)) {
              clearTimeout(answer);
              return changed(shown);
            }
            if (e && !shownId && shown === pos && Number(e.position) === shown && typeof e.id === 'string') posId = e.id;
          }
          res = await fetch(authorized(at('/events?after=' + from), headers), { headers, cache: 'no-store', signal: mine.signal });
          if (!res.ok || !/^text\/event-stream\b/.test(res.headers.get('Content-Type') || '')) refusal = await res.text();
        } catch {
          clearTimeout(answer);
          if (mine !== ctl) return; // given up for another, or follow ended
          const why = late ? `did not answer within ${ANSWER_WITHIN / 1000} s` : 'cannot be reached';
          const delay = jittered(backoff);
          setState('down', `The server ${why}; trying again in ${Math.round(delay / 1000)} s…`);
          return retry(delay);
        }
        if (refusal !== null) {
          clearTimeout(answer);
          return refused(res, refusal);
        }
        const reader = res.body.getReader();
        // Given up, its read ends, whatever the body is made of.
        mine.signal.addEventListener('abort', () => reader.cancel().catch(() => {}));
        const utf8 = new TextDecoder();
        // The server's retry, 30 s at most, as a Retry-After: an hour's
        // held the live log still for an hour, and one past 24.8 days
        // overflowed the timer, which fired at once at every end. And 1 s
        // at least, as a refusal's backoff: "retry: 0" from a server (or
        // a proxy) that ended each connection at once had the page open
        // them again without pause, as fast as the network went.
        const parse = eventStream(frame, (ms) => { again = Math.min(Math.max(ms, 1000), 30000); });
        let busy = performance.now(); // when the page last yielded
        let budget = BUSY; // how long it may be busy before it yields again
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done || mine !== ctl) break;
            if (!connected) {
              clearTimeout(answer);
              connected = true;
              setState('reading');
            }
            // A read may hold megabytes, thousands of events (the
            // network's buffer, filled while the page was busy with the
            // last one), and was handled whole, in one task: a burst of
            // 20,000 made tasks of seconds, the page answering nothing.
            // It is handled SLICE at a time, the page yielding once it
            // has been busy for its budget. Text still to handle is no silence:
            // heard is set again as each slice is taken up.
            heard = performance.now();
            for (let i = 0; i < value.length && mine === ctl; i += SLICE) {
              if (performance.now() - busy > budget) {
                const asked = performance.now();
                await yieldToPage();
                busy = heard = performance.now();
                budget = Math.min(Math.max(BUSY, busy - asked), BUSY_MOST);
              }
              if (mine === ctl) parse(utf8.decode(value.subarray(i, i + SLICE), { stream: true }));
            }
          }
        } catch {
          // Broken off, or given up.
        }
        clearTimeout(answer);
        if (mine !== ctl) return; // given up for another, or follow ended
        if (ended) {
          // Ended by its database's problem, which a reconnection at once
          // meets again: the server's retry, with backoff past it.
          const delay = jittered(Math.max(again, backoff));
          lose(`The server ended the live log: ${ended.replace(/\.?$/, '.')} Trying again in ${Math.round(delay / 1000)} s…`);
          return retry(delay, true);
        }
        const was = connected;
        const delay = jittered(was ? again : backoff);
        lose(late ? `The server did not answer within ${ANSWER_WITHIN / 1000} s; trying again in ${Math.round(delay / 1000)} s…` : '');
        // A connection that was open, ended (a restart) or broken off, is
        // opened again after the server's retry, as EventSource does (a
        // restart ends every page's at once: jittered too); one that
        // never was, with backoff.
        if (was) timer = setTimeout(() => open(true), delay);
        else retry(delay, true);
      }
      // refused says why the server refused the connection (status, and
      // the text of its answer), and tries again where that can help.
      async function refused(res, text) {
        ctl = null;
        let body = {};
        try {
          body = parseJSON(text) || {};
        } catch {
          // Not JSON: said as its status.
        }
        if (res.ok) {
          const type = res.headers.get('Content-Type') || 'nothing';
          const delay = jittered(backoff);
          setState('down', `The server answered with ${type}, not an event stream; trying again in ${Math.round(delay / 1000)} s…`);
          return retry(delay, true);
        }
        let detail = detailOf(body) || 'HTTP ' + res.status;
        if (res.status === 409 && /\/starting-point-ahead$/.test(body.type || '') && typeof body.current === 'number') {
          // The server's advice is for API clients; here, a reload is
          // what starts the page on the log the server has now.
          detail = `this server's log ends at position ${body.current}, before position ${pos}, which this page has shown: ` +
            'its database was reset or restored. Reload the page to follow its log.';
          for (const l of listeners) l.reset?.(body.current);
        }
        if (res.status === 401) {
          setState('down', 'Waiting for an access token…');
          if (channel) {
            lead = false;
            outside = true;
            handOff();
            return rejoin();
          }
          await askToken();
          return retry(0);
        }
        if (res.status === 503 || res.status === 429) {
          // Retry-After is the least wait, the backoff past it: a page
          // refused for as long as a limit or an outage lasts asked again
          // every Retry-After, in step with every other page so refused.
          // A 429 (a rate limiter in front) stopped the live log for good.
          // At most 30 s, as a read's: an hour's Retry-After held the live
          // log still for an hour, and one past 24.8 days overflowed the
          // timer, which fired at once, again at every refusal.
          const wait = res.headers.get('Retry-After');
          const delay = jittered(Math.min(Math.max(retryAfter(wait), Math.round(backoff / 1000)), 30) * 1000);
          if (wait === null && res.status === 503) {
            // No Retry-After: a refusal no retry mends until an operator
            // does (damage, an index missing), not a limit that passes.
            setState('down', `The server cannot serve the live log now: ${waitNote(detail).replace(/\.?$/, '.')} ` +
              `Trying again in ${Math.round(delay / 1000)} s…`);
            return retry(delay, true);
          }
          setState('down', `The server is busy (${waitNote(detail)}); trying again in ${Math.round(delay / 1000)} s…`);
          return retry(delay, true);
        }
        if (res.status >= 500) {
          const delay = jittered(backoff);
          setState('down', `The server failed (${detail}); trying again in ${Math.round(delay / 1000)} s…`);
          return retry(delay, true);
        }
        // 409 starting-point-ahead and other refusals: retrying cannot help.
        stop(detail);
      }
      // stop stops following the log for good, saying detail.
      function stop(detail) {
        setState('stopped', `Stopped: ${detail}`);
        showError(`The live log stopped: ${detail}`);
        lead = false;
        halted = true;
        handOff();
      }
      // changed stops where the event at position where is another than the
      // one this tab passed on, as a log that ends before it does: the
      // totals are those of the log the server has now.
      function changed(where) {
        ctl = null;
        stop(`the event at position ${where} on this server is not the one this page has shown: ` +
          'its database was reset or restored. Reload the page to follow its log.');
        probeHead().then((h) => {
          for (const l of listeners) l.reset?.(h);
        }, () => {});
      }
      // retry opens a connection again in ms, already jittered, and
      // doubles the backoff.
      function retry(ms, quiet = false) {
        clearTimeout(timer);
        timer = setTimeout(() => open(quiet), ms);
        backoff = Math.min(backoff * 2, 30000);
      }
      open();
      return gone;
    }

    // queue waits for the Web Lock, then follows the log, for as long as
    // this tab can; the next tab in line then takes over.
    function queue() {
      navigator.locks.request(scoped('tributary.log'), follow);
    }

    // rejoin, for a tab whose token the server refused while it followed
    // the log, asks for another, and once the server takes it, follows
    // what the other tabs pass on (reading what it missed) and queues for
    // the log again.
    async function rejoin() {
      for (let backoff = 1000; ; backoff = Math.min(backoff * 2, 30000)) {
        const delay = jittered(backoff);
        try {
          await probeHead(); // api asks for a token until the server takes one
          break;
        } catch (e) {
          if (e.status !== 0 && !(e.status >= 500)) {
            showError(e.message);
            return;
          }
          await new Promise((r) => setTimeout(r, delay));
        }
      }
      outside = false;
      channel.postMessage({ kind: 'hello' }); // the holder answers with its state and position
      queue();
    }

    // probeHead learns the log's last position from a subscription of
    // the log filtered on a stream type and an event type of the page's
    // own, drawn at random: it has no history to send (the index of that
    // pair holds nothing), so its first event is its caught-up, whose data is the
    // log's position. It subscribed past the log's end, which the server
    // refuses with a 409 that says where the end is: every page load
    // logged a failed request in the browser's console. Where the server
    // refuses the subscription (503: at its cap on subscribers, which this
    // page's own tabs may fill, or its database down), the page still
    // shows the log's history, and learns the head from reads instead
    // (headByReads), which neither refuses. So it does where the filtered
    // subscription ends or fails in any other way without a caught-up:
    // with the index of the pair missing the server answers it 200 and
    // then ends it, while unfiltered reads are served; the page tried it
    // again forever and showed nothing.
    async function probeHead() {
      try {
        // A name of its own for each probe, so that no stream type or
        // event type a service writes can ever match it.
        const own = 'tributary.page.' + Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');
        const head = (await api(`/events?stream_type=${own}&type=${own}`, 'text/event-stream', undefined, false)).caughtUp;
        if (typeof head === 'number' && Number.isFinite(head)) return head;
      } catch {
        // Whatever went wrong, the reads say so again if it is not this
        // filter's alone.
      }
      return headByReads();
    }

    // headByReads learns the log's last position from reads of one event
    // (waiting out a 503 as every read does): a read after a position at
    // or past the head is empty, not refused, and one with a next link has
    // events past its own. It doubles a step from the last position seen
    // until a read is empty, then halves the gap: about twice the log of
    // the head's position in reads (40 for a million), each one index
    // lookup. A subscription past the head (refused with a 409 that names
    // it) told it in one request, and left a failed request in the console.
    async function headByReads() {
      const one = async (after) => {
        const r = await api(`/events?after=${after}&limit=1`);
        const e = r.body && Array.isArray(r.body.events) ? r.body.events[0] : undefined;
        return e === undefined ? null : { position: Number(e.position), more: r.next !== null };
      };
      let lo = 0; // 0 or an event's position: the head is at or past it
      let hi = Infinity; // no event is past it
      for (let step = 1; ; step *= 2) {
        // Further each time until a read is empty, then halfway between.
        const after = hi === Infinity ? lo + step - 1 : lo + Math.floor((hi - lo) / 2);
        const e = await one(after);
        if (e === null) {
          if (after === lo) return lo;
          hi = after;
        } else if (!e.more) {
          return e.position;
        } else {
          lo = e.position;
        }
      }
    }

    // idAt resolves to the id of the event at position p, or '' if none.
    async function idAt(p) {
      const e = (await api(`/events?after=${p - 1}&limit=1`, undefined, undefined, false)).body.events?.[0];
      return e && Number(e.position) === p && typeof e.id === 'string' ? e.id : '';
    }

    // ready resolves to the log's position when the page opened; the
    // page then follows the log from there.
    const ready = (async () => {
      let said = ''; // what it last said while trying again
      for (let backoff = 1000; ; backoff = Math.min(backoff * 2, 30000)) {
        const delay = jittered(backoff);
        try {
          pos = await probeHead();
          // The event there, which every connection this tab opens checks
          // it is still at: a tab that took the connection over before it
          // had passed an event on learnt it from the new log, and followed that.
          if (pos) posId = await idAt(pos).catch(() => '');
          break;
        } catch (e) {
          // For want of the server (unreachable, no answer, a 5xx: a
          // proxy's 502 while the service restarts), tried again: a 5xx
          // stopped the page for good, its log never followed.
          if (e.status !== 0 && !(e.status >= 500)) throw e;
          said = `${e.message} Trying again in ${Math.round(delay / 1000)} s…`;
          showError(said);
          await new Promise((r) => setTimeout(r, delay));
        }
      }
      // Only its own message: not what a view said meanwhile.
      if (said && $('error').textContent === said) showError('');
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState !== 'visible') return;
        if (checkNow) checkNow();
        else channel?.postMessage({ kind: 'shown' });
      });
      if (!shared) {
        follow();
        return pos;
      }
      channel.onmessage = (m) => {
        const d = m.data;
        if (halted || outside) {
          // Nothing of the log, from now on (halted), or until its own
          // token is accepted (outside).
        } else if (d.kind === 'hello') {
          if (lead) post({ kind: 'state', phase: remote.phase, text: remote.text, pos, heartbeat });
        } else if (d.kind === 'shown') {
          checkNow?.();
        } else if (lead) {
          // This tab's own connection is what it follows.
        } else if (d.kind === 'events') {
          for (const [id, text] of d.events) wait({ id, text });
          drain();
        } else if (d.kind === 'event') {
          // From a tab of the page as it was before (one event a message).
          receive(d.id, d.text);
        } else if (d.kind === 'state') {
          remote = { phase: d.phase, text: d.text };
          if (d.heartbeat > 0) heartbeat = d.heartbeat;
          if (d.pos > pos) wait({ id: d.pos }); // the holder is further on: read up to it
          drain();
          tell();
        }
      };
      channel.postMessage({ kind: 'hello' });
      // Held until the tab closes, or can follow the log no more; then the
      // next tab in line takes over.
      queue();
      return pos;
    })();

    return {
      ready,
      position: () => pos,
      state,
      // listen calls l.event(e) for each event from now on, in position
      // order, and l.state(s) when the connection's state changes: s.phase
      // is connecting, reading (what was missed), live, down (with s.text
      // if there is more to say than the connection being lost, or the
      // connection is open but the server reports its database
      // unavailable) or stopped; l.reset(head) when the server's log ends
      // before what this tab has shown (its database was reset), with the
      // position it ends at. It returns a function that stops the calls.
      listen(l) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
  })();

  // watch shows a view's history, then its part of the log as the feed
  // passes it on, each event once, in order. o: key(e), which orders the
  // view's events (version or position); matches(e); idName; reading,
  // what the status says while the first history read is on its way; status (an
  // element) and said (its live region, which screen readers announce);
  // signal, the view's leave, which gives up its reads and a wait to
  // read again;
  // at(), the number the status names (default: the last key
  // shown); every, true if the status follows every event of the log, not
  // only those that match; onEvent(e, fresh), fresh once caught up. start
  // (load, last) shows what load(last, mine, signal) resolves to (events
  // after key last, oldest first), then the feed's; mine() says whether
  // that start is still the last, and the view not stopped: a load that
  // changes the view (a resume that starts the list afresh) does so only
  // then. signal is the start's: its reads are given up, and its waits to
  // read again ended, once the view is left, stopped or started again. A
  // resume paused again went on reading, at each refusal saying "Trying
  // again in 30 s…" over the paused view, for an answer it then dropped.
  // It returns stop and a resume that starts again, with load, after the
  // last event shown.
  function watch(o) {
    let last = 0;
    let loading = true;
    let stopped = true;
    let caught = false; // said "caught up" since the connection was last in trouble
    let buffer = [];
    let unlisten = null;
    let runs = 0; // starts so far: a load answered after a later start or a stop is dropped
    let failed = ''; // why the history read failed for good
    let initial = null; // the first start's load
    let shown = false; // a start's history has been shown
    let giveUp = null; // gives up the last start's reads
    const at = () => (o.at ? o.at() : last);
    // status shows text; unless quiet, its live region says it too. The
    // count that follows each event is quiet: announced, it was read out
    // at every event of a busy log, over everything else.
    let statuses = 0; // status() calls so far
    const status = (text, cls, quiet) => {
      statuses++;
      o.status.textContent = text;
      o.status.className = 'status ' + (cls || '');
      if (!quiet) o.said.textContent = text;
    };
    // counted says the view is live at the last key once the page's code
    // stops (a microtask), quietly, unless the status said anything else
    // meanwhile: said at every event, it was two changes of the page an
    // event of a burst.
    let counting = 0; // statuses when a count was asked for, or 0
    const counted = () => {
      if (counting) return;
      counting = statuses;
      queueMicrotask(() => {
        const was = counting;
        counting = 0;
        if (was === statuses && caught && !stopped) status(`Live at ${o.idName} ${at()}`, 'live', true);
      });
    };
    const show = (e, fresh) => {
      if (o.key(e) <= last) return;
      last = o.key(e);
      o.onEvent(e, fresh);
    };
    function render() {
      if (stopped) return status('Paused');
      if (failed) return status(`Stopped: ${failed}`, 'down');
      const s = feed.state();
      if (s.phase === 'live' && !loading) {
        if (!caught) status(`Live at ${o.idName} ${at()}: caught up`, 'live');
        caught = true;
        return;
      }
      caught = false;
      if (s.phase === 'connecting') status(at() ? `Connecting from ${o.idName} ${at()}…` : 'Connecting…');
      // Its own history on its way, the feed at the head: it missed nothing.
      else if (s.phase === 'live' && loading) status(shown ? 'Reading what came while paused…' : o.reading);
      else if (s.phase === 'reading' || s.phase === 'live') status('Connected; reading what was missed…');
      else status(s.text || `Connection lost; reconnecting after ${o.idName} ${at()}…`, 'down');
    }
    // history reads what load(from) resolves to. A read that fails for
    // want of the server (unreachable, or a 5xx; api waits out a 503
    // itself) is tried again, with backoff, while the view is open: the
    // live part waits for it, and a view that gave up would show nothing
    // more. It resolves to null once this start is no longer the last.
    async function history(load, from, run, signal) {
      let said = ''; // what it last said while trying again
      for (let backoff = 1000; ; backoff = Math.min(backoff * 2, 30000)) {
        const delay = jittered(backoff);
        try {
          const events = await load(from, () => run === runs && !stopped, signal);
          unsay(said);
          return events;
        } catch (e) {
          if (run !== runs || stopped || e.name === 'AbortError') {
            unsay(said);
            return null;
          }
          if (e.status !== 0 && !(e.status >= 500)) throw e;
          said = `${e.message} Trying again in ${Math.round(delay / 1000)} s…`;
          showError(said);
          await sleep(delay, signal);
          if (run !== runs || stopped) {
            unsay(said);
            return null;
          }
        }
      }
    }
    // reads returns the signal of a start's reads, which the view's leave,
    // and the next start or stop (giveUp), abort.
    function reads() {
      giveUp?.();
      const ctl = new AbortController();
      const leave = () => ctl.abort();
      o.signal?.addEventListener('abort', leave);
      if (o.signal?.aborted) ctl.abort();
      giveUp = () => {
        o.signal?.removeEventListener('abort', leave);
        ctl.abort();
      };
      return ctl.signal;
    }
    function start(load, from) {
      if (unlisten) unlisten();
      const run = ++runs;
      stopped = false;
      failed = '';
      loading = true;
      last = from;
      buffer = [];
      unlisten = feed.listen({
        event(e) {
          if (stopped) return;
          o.passed?.(e); // each event, matched or not: where the log has got to
          const mine = o.matches(e);
          if (loading) {
            if (mine) buffer.push(e);
            return;
          }
          if (mine) show(e, true);
          if ((mine || o.every) && caught) counted();
        },
        state: render,
      });
      render();
      if (!initial) initial = load;
      return history(load, last, run, reads()).then((events) => {
        if (run !== runs || stopped || !events) return;
        shown = true;
        // What a resume read of what came while paused is passed too: it
        // may reach where the log had not (passed), as a live event does.
        for (const e of events) {
          o.passed?.(e);
          show(e, false);
        }
        for (const e of buffer) show(e, false);
        buffer = [];
        loading = false;
        render();
      }, (e) => {
        if (run !== runs || stopped) return;
        // Refused (a 4xx): retrying cannot help, and nothing is buffered.
        if (unlisten) unlisten();
        unlisten = null;
        buffer = [];
        failed = e.message;
        render();
        throw e;
      });
    }
    function stop() {
      stopped = true;
      giveUp?.();
      giveUp = null;
      if (unlisten) unlisten();
      unlisten = null;
      render();
    }
    // Resumed before any history was shown (paused while the first read
    // was on its way), it reads that history again, not everything after
    // the start.
    return { start, stop, resume: (load) => start(shown ? load : initial, last) };
  }

  // ---- totals at the top

  let position = 0;
  let streamCount = null;
  let seen = 0;
  let streamsMore = false;
  function showStats() {
    $('stat-position').textContent = String(position);
    $('stat-streams').textContent = streamCount === null ? '…' : streamCount + (streamsMore ? '+' : '');
    $('stat-streams').title = streamsMore ? `${streamCount} or more: the page reads one page of the list, not all of it, to count` : '';
    $('stat-seen').textContent = String(seen);
  }

  // countStreams reads one page of the stream list, of COUNT_PAGE streams,
  // and counts it: past it, the total is said as that many and more
  // ("100+"), as the API gives no count. It read up to 20 pages of
  // 1,000 in every tab as it opened, 4 to 5 MB a tab with 20,000 streams,
  // to count them. A count that fails for want of the server
  // (unreachable, no answer, a 5xx) is tried again, with backoff: the
  // total showed "…" until a reload. Only the last count started goes on
  // (a reset starts another).
  // The live log is followed from the head the page learnt before that
  // read: a stream created in between is in the read's list, and its
  // first event comes live after it. It was counted twice (15 streams
  // said for 12). listed holds the ids the read listed, each until its
  // first event comes; created, while the read is on its way, the streams
  // whose first event came meanwhile, counted if the read lists them not.
  const COUNT_PAGE = 100;
  let counts = 0;
  let listed = new Set();
  let created = null;
  async function countStreams() {
    const mine = ++counts;
    created = new Set();
    let said = ''; // what it last said while trying again
    for (let backoff = 1000; ; backoff = Math.min(backoff * 2, 30000)) {
      const delay = jittered(backoff);
      try {
        const r = await api('/streams?limit=' + COUNT_PAGE);
        const ids = new Set(r.body.streams.map((st) => st.stream_id));
        if (mine !== counts) return;
        streamsMore = !!r.next;
        streamCount = ids.size;
        for (const id of created) {
          if (ids.delete(id)) continue; // listed, and come already
          streamCount++;
        }
        listed = ids;
        created = null;
        showStats();
        if (said && $('error').textContent === said) showError('');
        return;
      } catch (e) {
        if (mine !== counts) return;
        if (e.status !== 0 && !(e.status >= 500)) {
          created = null;
          throw e;
        }
        said = `Counting streams failed: ${e.message} Trying again in ${Math.round(delay / 1000)} s…`;
        showError(said);
      }
      await new Promise((r) => setTimeout(r, delay));
      if (mine !== counts) return;
    }
  }

  // statsSoon shows the totals once the page's code stops (a microtask):
  // written at every event, they were four changes of the page an event,
  // 20,000 for a burst of 5,000, where the browser shows a few.
  let statsDue = false;
  function statsSoon() {
    if (statsDue) return;
    statsDue = true;
    queueMicrotask(() => {
      statsDue = false;
      showStats();
    });
  }
  feed.listen({
    event(e) {
      position = Math.max(position, e.position);
      seen++;
      if (e.version !== 1) {
        // Not a stream's first event.
      } else if (created) {
        created.add(e.stream_id);
      } else if (streamCount !== null && !listed.delete(e.stream_id)) {
        streamCount++;
      }
      statsSoon();
    },
    // The server's log ends before what the page has shown: the totals
    // are those of the log it has now, not the old one's until a reload.
    reset(head) {
      position = head;
      streamCount = null;
      showStats();
      countStreams().catch((e) => showError('Counting streams failed: ' + e.message));
    },
  });
  feed.ready.then((h) => {
    position = Math.max(position, h);
    showStats();
    countStreams().catch((e) => showError('Counting streams failed: ' + e.message));
  }, (e) => showError(e.message));

  // ---- rendering

  // json writes v as JSON text with its bidirectional controls (U+202E
  // and its kin, which can only be inside strings) as escapes: shown as they
  // are, one with no end turned the rest of its line around, keys and
  // values, and data could be made to read as other data. So are the
  // characters that show as nothing, by which "alice\u200b" read as
  // "alice": found by Unicode property, not listed (a list of some left
  // tag characters, U+206A–U+206F, U+034F, U+2028 and their kin showing as
  // nothing), and C1 controls and DEL, which showed as a box. Left as they
  // are: a joiner (ZWJ, ZWNJ) between two characters of an emoji sequence
  // or of a script that writes with joiners, one variation selector after
  // such a character (or a keycap's digit), and a subdivision flag's tags
  // (England's); each writes a character. A run of variation selectors,
  // or tags elsewhere, smuggle text unseen: escaped.
  const hidden = /\u{1F3F4}[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]{2,7}\u{E007F}|[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Zl}\p{Zp}\x7f-\x9f]/gu;
  const selector = /^[\ufe00-\ufe0f\u180b-\u180d\u180f\u{E0100}-\u{E01EF}]$/u;
  // joinable: a character a joiner or a selector may follow: past ASCII,
  // a letter, mark or symbol (emoji are symbols; selectors are marks), of
  // no script that writes without them.
  const joinable = (c) => c > '\x7f' && /^[\p{L}\p{M}\p{S}]$/u.test(c) && !/^[\p{sc=Latin}\p{sc=Greek}\p{sc=Cyrillic}]$/u.test(c);
  const codePointAt = (text, i) => (i < 0 || i >= text.length ? '' : String.fromCodePoint(text.codePointAt(i)));
  const before = (text, i) => {
    const c = text.charCodeAt(i - 1);
    return codePointAt(text, c >= 0xdc00 && c <= 0xdfff && i >= 2 ? i - 2 : i - 1);
  };
  const shows = (c, i, text) => {
    if (c.length > 2) return true; // a subdivision flag
    if (c === '\u200c' || c === '\u200d') return joinable(before(text, i)) && joinable(codePointAt(text, i + 1));
    if (selector.test(c)) {
      const base = before(text, i);
      return (joinable(base) && !selector.test(base)) || (/^[0-9#*]$/.test(base) && text[i + c.length] === '\u20e3');
    }
    return false;
  };
  // Each UTF-16 unit is escaped, both of an astral character's, as JSON writes them.
  const escape = (c) => Array.from({ length: c.length }, (_, k) => '\\u' + c.charCodeAt(k).toString(16).padStart(4, '0')).join('');
  const escaped = (text) => text.replace(hidden, (c, i, all) => (shows(c, i, all) ? c : escape(c)));
  // named is a name the server sent (an event's type, a stream's type)
  // as shown: its bidirectional and unseen characters escaped, as data's
  // are. The service's own names are plain ASCII, but another server, or
  // a proxy, may send anything: a U+202E in a type, shown as it was,
  // turned the rest of its line around, the stream's link and position
  // included.
  const named = (name) => escaped(String(name));
  // Data nested a few thousand deep is too deep for JSON.stringify, which
  // recurses: it is named, not shown (in the live log's lines; a stream's
  // view writes it with walkJSON). Parsed data holds nothing else it
  // could throw at (no cycle, no BigInt), whichever error a browser throws.
  const markedKey = '"' + JSON.stringify(keyMark).slice(1, -1); // a marked name as JSON.stringify writes it
  const json = (v, indent) => {
    let text;
    try {
      text = JSON.stringify(v, null, indent);
    } catch {
      return '(nested too deep to show here: read it from the API)';
    }
    return escaped(text.replaceAll(markedKey, '"'));
  };

  // walkJSON walks v as JSON.stringify(v, null, indent) writes it (indent
  // 0: none), as json escapes it, with a stack of its own, so that data
  // nested any depth is written, and hands emit the text piece by piece:
  // where pad >= 0, a line break and pad spaces of indentation come
  // before text. It stops, and returns false, as soon as emit returns
  // false: so that a preview writes no more than it shows. Indentation
  // is most of a deep value's text: about 2·d² characters at depth d,
  // 382 MiB for 400 KB of arrays nested 1,000 deep.
  const isRaw = (v) => !!JSON.isRawJSON && JSON.isRawJSON(v);
  function walkJSON(v, indent, emit) {
    const pad = (depth) => (indent > 0 ? indent * depth : -1);
    const stack = []; // the containers open, each with the next member to write
    for (let next = v; ;) {
      if (next !== null && typeof next === 'object' && !isRaw(next)) {
        const keys = Array.isArray(next) ? null : Object.keys(next);
        if (!emit(-1, keys ? '{' : '[')) return false;
        stack.push({ o: next, keys, n: keys ? keys.length : next.length, i: 0 });
      } else if (!emit(-1, escaped(JSON.stringify(next) ?? 'null'))) {
        return false;
      }
      // The next member of the innermost container that has one, closing
      // those that have none.
      for (;;) {
        const f = stack[stack.length - 1];
        if (!f) return true;
        if (f.i < f.n) {
          if (f.i > 0 && !emit(-1, ',')) return false;
          const k = f.keys ? f.keys[f.i] : f.i;
          if (!emit(pad(stack.length), f.keys ? escaped(JSON.stringify(shownKey(k))) + (indent > 0 ? ': ' : ':') : '')) return false;
          next = f.o[k];
          f.i++;
          break;
        }
        stack.pop();
        if (!emit(f.n > 0 ? pad(stack.length) : -1, f.keys ? '}' : ']')) return false;
      }
    }
  }

  // writeJSON returns the text walkJSON walks, and whether it is whole:
  // it stops once it has more than maxChars characters or maxLines line
  // breaks.
  function writeJSON(v, indent, maxChars = Infinity, maxLines = Infinity) {
    const parts = [];
    let chars = 0;
    let lines = 0;
    const whole = walkJSON(v, indent, (pad, text) => {
      if (pad >= 0) {
        const line = '\n' + ' '.repeat(Math.min(pad, maxChars - chars));
        parts.push(line);
        chars += line.length;
        if (++lines >= maxLines || chars > maxChars) return false;
      }
      parts.push(text.length > maxChars + 1 - chars ? text.slice(0, maxChars + 1 - chars) : text);
      chars += parts[parts.length - 1].length;
      return chars <= maxChars;
    });
    return { text: parts.join(''), whole };
  }

  // jsonBytes returns the bytes (UTF-8) of the text walkJSON walks,
  // without writing it: its indentation is counted, not made.
  function jsonBytes(v, indent) {
    let bytes = 0;
    walkJSON(v, indent, (pad, text) => {
      bytes += (pad >= 0 ? 1 + pad : 0) + text.length;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        // 2 bytes below U+0800, 3 above, 4 for a surrogate pair's 2 units
        // (JSON.stringify escapes a lone one).
        if (c >= 0x80) bytes += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
      }
      return true;
    });
    return bytes;
  }

  function timeEl(iso) {
    const t = el('time', null, iso);
    t.dateTime = iso;
    return t;
  }
  // secondEl is timeEl to the second, the date and the time apart, the
  // whole in its title: the list of streams showed two times of 27
  // characters on one line each, and its Type column, squeezed to its
  // least, cut an ordinary type name in two mid-word.
  function secondEl(iso) {
    const t = timeEl(iso);
    const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(iso);
    if (m) t.textContent = `${m[1]} ${m[2]}Z`;
    t.title = iso;
    return t;
  }

  // eventHash is the page's link to the event at version of stream: that
  // event and those before it (showStream).
  const eventHash = (stream, version) => `#/streams/${stream}?version=${version}`;

  // streamLink links a log event to itself in its stream, as its text
  // names it: it opened the stream at its latest events, where an old one
  // took a click of "Load earlier events" for every 50 since.
  function streamLink(e) {
    const a = el('a', null, `${named(e.stream_type)} ${e.stream_id.slice(0, 8)}… v${e.version}`);
    a.href = eventHash(e.stream_id, e.version);
    return a;
  }

  function logItem(e) {
    const li = el('li', 'new',
      el('div', 'ev-head', el('span', 'ev-type', named(e.type)), streamLink(e),
        el('span', 'ev-meta', `position ${e.position} · `, timeEl(e.recorded_at))));
    li.dataset.position = e.position;
    let preview = json(e.data);
    if (preview.length > 300) preview = cut(preview, 300) + '…';
    li.append(el('pre', 'preview', preview));
    return li;
  }

  // cut returns text's first n UTF-16 units, or one fewer where the n-th
  // is the first half of a character (an emoji, say), which would show as
  // a replacement character.
  const cut = (text, n) => text.slice(0, n - (/[\ud800-\udbff]/.test(text[n - 1] || '') ? 1 : 0));

  // PREVIEW_CHARS and PREVIEW_LINES bound what is shown at first of an
  // event's data or metadata, pretty-printed: an event of 1 MiB was shown
  // whole, a megabyte of text laid out in the list, live or read.
  const PREVIEW_CHARS = 2000;
  const PREVIEW_LINES = 40;

  // The whole text of a large event's data or metadata is kept for "Show
  // all" only for the latest ones, up to KEPT_CHARS (about PAGE_BYTES) in
  // all; the others are read again when their button is clicked: a
  // stream's view kept each one, up to 500 events of 1 MiB in its live
  // tail alone, a gigabyte. kept maps a block's key to its text, oldest
  // first.
  const KEPT_CHARS = PAGE_BYTES;
  // SHOW_ALL_BYTES bounds the text "Show all" writes indented. An event
  // holds at most about 1 MiB, a few MiB indented unless it is nested
  // deep, where its indentation grows as its depth squared; past the
  // bound the whole is shown without indentation, no longer than the
  // event as stored.
  const SHOW_ALL_BYTES = 4 * PAGE_BYTES;
  const kept = new Map();
  let keptChars = 0;
  function keep(key, text) {
    if (text.length > KEPT_CHARS) return;
    kept.set(key, text);
    keptChars += text.length;
    for (const [k, t] of kept) {
      if (keptChars <= KEPT_CHARS) break;
      kept.delete(k);
      keptChars -= t.length;
    }
  }

  // dataBlock shows v pretty-printed: whole if it is short, else its
  // beginning, with a button that shows the whole and the beginning
  // again. key names the block among those kept; reread resolves to v
  // read again, for a block whose text was not kept. Nothing of v or its
  // text is held by the button but what keep keeps: not even its
  // beginning, which V8 may hold as a slice of the whole.
  // Only as much of the text as the preview shows is written (writeJSON):
  // "Show all" says the size of the whole without writing it, and writes
  // it when clicked, or now if it is small enough to keep.
  // what names the block for its button's accessible name (v2's data):
  // a list of buttons all read "Show all (1.0 MiB)" said none's event.
  let blocks = 0; // blocks with a button so far, for their ids
  function dataBlock(v, key, reread, what) {
    const { text, whole } = writeJSON(v, 2, PREVIEW_CHARS, PREVIEW_LINES);
    let end = Math.min(text.length, PREVIEW_CHARS);
    for (let i = 0, nl = -1; i < PREVIEW_LINES; i++) {
      nl = text.indexOf('\n', nl + 1);
      if (nl < 0 || nl >= end) break;
      if (i === PREVIEW_LINES - 1) end = nl;
    }
    if (whole && end >= text.length) return [el('pre', null, text)];
    const pre = el('pre', null, cut(text, end) + '\n…');
    pre.id = 'block-' + ++blocks;
    let indent = 2;
    let bytes = jsonBytes(v, indent);
    if (bytes > SHOW_ALL_BYTES) {
      indent = 0;
      bytes = jsonBytes(v, indent);
    }
    if (bytes <= KEPT_CHARS) keep(key, writeJSON(v, indent).text); // its characters are no more than its bytes
    const size = bytes >= 1 << 20 ? (bytes / (1 << 20)).toFixed(1) + ' MiB' : Math.ceil(bytes / 1024) + ' KiB';
    const how = indent ? '' : ', without indentation';
    const all = [`Show all${how} (${size})`, `Show all of ${what}${how} (${size})`];
    const more = el('button', 'more');
    more.type = 'button';
    labelled(more, all);
    more.setAttribute('aria-controls', pre.id);
    more.setAttribute('aria-expanded', 'false');
    more.onclick = () => showAll(pre, more, all, end, key, reread, indent, what);
    return [pre, more];
  }
  // labelled sets a button's text and accessible name: [text, name].
  const labelled = (b, [text, name]) => {
    b.textContent = text;
    b.setAttribute('aria-label', name);
  };

  // showAll shows the whole of a dataBlock's text, indented by indent,
  // or, shown, its beginning (end units of it) again.
  async function showAll(pre, more, all, end, key, reread, indent, what) {
    if (more.disabled) return;
    if (more.getAttribute('aria-expanded') === 'true') {
      pre.textContent = cut(pre.textContent, end) + '\n…';
      more.setAttribute('aria-expanded', 'false');
      labelled(more, all);
      return;
    }
    let text = kept.get(key);
    if (text === undefined) {
      // Disabled while it reads, it gives the focus up (to the
      // document's start); it has it back once the read is done.
      const keyed = document.activeElement === more;
      more.disabled = true;
      labelled(more, ['Reading…', `Reading all of ${what}…`]);
      try {
        text = writeJSON(await reread(), indent).text;
        keep(key, text);
      } catch (e) {
        labelled(more, all);
        if (e.name !== 'AbortError' && more.isConnected) showError('Reading the whole of it failed: ' + e.message);
        return;
      } finally {
        more.disabled = false;
        if (keyed) more.focus();
      }
    }
    pre.textContent = text;
    more.setAttribute('aria-expanded', 'true');
    labelled(more, ['Show less', `Show less of ${what}`]);
  }

  // rereader returns a function that reads again the field (data or
  // metadata) of the event shown at version of stream: for "Show all"
  // of a large one. It takes the event's parts, not the event, which it
  // would keep. An event of another id there (the database was reset
  // since) is not the one shown, and is said to be gone.
  // The read is the current view's (leave): a view left while it read
  // went on reading, up to a megabyte no one would see, and said in the
  // view that replaced it that it had failed.
  function rereader(stream, version, id, field) {
    return async () => {
      const e = (await api(`/streams/${stream}/events/${version}`, undefined, leave?.signal)).body;
      if (!e || e.id !== id) throw new Error('the event is no longer in the server\'s log.');
      return e[field];
    };
  }

  function versionLink(e) {
    const a = el('a', null, `v${e.version}`);
    a.href = eventHash(e.stream_id, e.version);
    return a;
  }

  function streamItem(e, fresh) {
    const li = el('li', fresh ? 'new' : null,
      el('div', 'ev-head', el('span', 'ev-type', versionLink(e), ' ' + named(e.type)),
        el('span', 'ev-meta', `position ${e.position} · `, timeEl(e.recorded_at))),
      el('div', 'ev-id', 'id ' + e.id),
      el('div', 'label', 'data'), ...dataBlock(e.data, e.id + ' data', rereader(e.stream_id, e.version, e.id, 'data'), `v${e.version}'s data`));
    if (e.metadata !== undefined && e.metadata !== null) {
      li.append(el('div', 'label', 'metadata'),
        ...dataBlock(e.metadata, e.id + ' metadata', rereader(e.stream_id, e.version, e.id, 'metadata'), `v${e.version}'s metadata`));
    }
    li.dataset.version = e.version;
    return li;
  }

  // liveRows shows a live view's events at the top of list, newest first,
  // and keeps the newest keep() of its rows (Infinity: all, while older
  // ones are on their way); trimmed() follows each trim. Each event built
  // its row and took the oldest off at once: a burst of 20,000 built
  // 20,000 rows for 500 to stay, laid out twice as slowly as loaded whole.
  // Events wait until the page's code stops (a microtask: before the
  // browser renders or takes input), and only the newest that stay are
  // built. add(e, fresh) queues e; flush() shows what waits at once.
  function liveRows(list, build, keep, trimmed) {
    let waiting = [];
    const flush = () => {
      const es = waiting;
      if (!es.length) return;
      waiting = [];
      const room = keep();
      // Built oldest first, each put above the last: built newest first,
      // the page kept the whole text of the oldest large events for
      // "Show all" (keep), not of the latest.
      const rows = document.createDocumentFragment();
      for (let i = Math.max(0, es.length - room); i < es.length; i++) rows.prepend(build(es[i][0], es[i][1]));
      list.prepend(rows);
      if (list.children.length <= room) return;
      while (list.children.length > room) list.lastChild.remove();
      trimmed();
    };
    return {
      add(e, fresh) {
        if (!waiting.length) queueMicrotask(flush);
        waiting.push([e, fresh]);
      },
      flush,
    };
  }

  // oldestFirst returns the rows build makes of events (newest first), in
  // their order, built oldest first, as liveRows builds them: the page
  // keeps the whole text of the rows built last (keep), and a page of a
  // stream's events built newest first kept the oldest of them. An
  // event's link lost the text of the event it names to those before it.
  function oldestFirst(events, build) {
    const rows = new Array(events.length);
    for (let i = events.length - 1; i >= 0; i--) rows[i] = build(events[i]);
    return rows;
  }

  // fit returns how many more of a view's first events (or positions) to
  // read, at most left, each of about each units, after size of them.
  const fit = (left, each, size) => Math.max(1, Math.min(left, Math.floor((PAGE_BYTES - size) / Math.max(each, 1))));

  // ---- views

  // refocus puts the focus back after a click from the keyboard on button
  // (a page of earlier events): disabled while its page loads, the button
  // lost the focus to the document's start, and hidden once the last page
  // has loaded, it kept none; the next Tab went to "Skip to content". To
  // the button, or, hidden, to the link of first, the first event loaded;
  // none loaded (a filtered log's last read found no match), to the link
  // of next, the row beside the button: the focus went to the document's
  // start.
  function refocus(button, first, next) {
    if (!button.hidden) button.focus();
    else (first ?? next)?.querySelector('a')?.focus();
  }

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

  // fromRefused takes a link's from= that is no place (from=abc, -1, 0,
  // one past 15 digits) out of the link, hash being the link without it,
  // and says so, but for an empty one: it was left in the link and
  // silently ignored, the view showing the latest as if the link were
  // right, where a version that is none is said to be.
  function fromRefused(asked, hash) {
    history.replaceState(null, '', hash);
    if (asked === '') return;
    showError(`${json(asked.length > 40 ? asked.slice(0, 40) + '…' : asked)} is no place to load from: from= is a whole number from 1; it is left out of the link.`);
  }

  // placeGone says that a link's from= names a place past the end of the
  // log or of a stream, or of a stream that does not exist (its database
  // reset since, a link from another server): the view showed the latest
  // events without a word, and the link kept its from= for good. It offers
  // the two places there are, each [text, hash] (or none), the link's
  // filters kept; the link is left as it is, for the user to choose.
  // route() hides it.
  function placeGone(said, latest, start = null) {
    $('place-said').textContent = said;
    for (const [id, link] of [['place-latest', latest], ['place-start', start]]) {
      $(id).hidden = !link;
      if (!link) continue;
      $(id).textContent = link[0];
      $(id).href = link[1];
    }
    $('place').hidden = false;
  }

  // Each view gets current(): false once the user has gone to another view.
  // A view checks it after every wait, so that a late answer does not
  // draw into, or take the buttons of, the view that replaced it.

  // go shows the view at hash: a filter form's submit. The fragment
  // unchanged (the filters as they are), no hashchange came, and a view
  // stopped by an error stayed stopped, where "Apply" is the retry a user
  // reaches for: the view is shown again.
  const go = (hash) => {
    if (location.hash === hash) route();
    else location.hash = hash;
  };

  async function showLog(q, current, signal) {
    showOnly('view-log');
    document.title = 'Live log · Tributary';
    const form = $('log-filter');
    fillForm(form, q);
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const p = filterParams(form).toString();
      go('#/' + (p ? '?' + p : ''));
    };
    const list = $('log-events');
    list.replaceChildren();
    const older = $('log-older');
    older.hidden = true;
    older.disabled = false;
    const pause = $('log-pause');
    pause.hidden = true;
    pause.onclick = null;
    const params = new URLSearchParams();
    const only = {};
    for (const k of ['stream_type', 'type']) {
      if (!q.get(k)) continue;
      params.set(k, q.get(k));
      // Trimmed, as the server takes them: a link's "order, invoice"
      // showed the invoices of its history, and none that came live.
      only[k] = new Set(q.get(k).split(',').map((n) => n.trim()));
    }
    // The head now, as this tab follows it, not as it was at page load:
    // else a page left open elsewhere would replay all that came since.
    await feed.ready;
    if (!current()) return null;
    // The live log keeps its newest LOG_ROWS events and those loaded on
    // demand ("Load older events"), as a stream's tail does. bound is the
    // position it has read the log down to: every event that matches past
    // it is shown; older ones are read from there.
    let keep = LOG_ROWS;
    let bound = 0;
    // A filtered log that shows nothing says so, and how far back it has
    // looked, once its first read is shown: an empty list under "caught
    // up" read as a quiet log, a mistyped filter included.
    const empty = $('log-empty');
    empty.hidden = true;
    let loaded = false;
    // Not while older events are on their way: they follow bound.
    const live = liveRows(list, logItem, () => (older.disabled ? Infinity : keep), () => {
      bound = Number(list.lastChild.dataset.position) - 1;
      olderShown();
      placeKept();
    });
    const emptyShown = () => {
      live.flush();
      const none = loaded && Object.keys(only).length > 0 && !list.children.length;
      empty.hidden = !none;
      empty.textContent = !none ? '' : bound > 0
        ? `No event after position ${bound} matches these filters. Load older events to look further back.`
        : 'No event in the log matches these filters.';
    };
    // restoring is the position a link's pages are being loaded back to
    // (restore), 0 when none are.
    let restoring = 0;
    const olderShown = () => {
      older.hidden = bound <= 0;
      older.textContent = restoring ? `Loading older events back to position ${restoring}, as the link asks…` : `Load older events (before position ${bound + 1})`;
      emptyShown();
    };
    // A link's from= past the log's end is said until the log reaches it:
    // the first event shown on an empty log, or one at that place, takes
    // it back, and the link's from= with it, as a stream's first event
    // does: the notice, false by then, stayed over the events ("the log is
    // empty", "the log ends at position 3"), and the link kept from= for
    // good.
    let pastSaid = false;
    let reached = 0; // the last position that came live, before restore too
    const pastTaken = () => {
      if (!pastSaid || !current() || !(reached >= want || !head && reached)) return;
      pastSaid = false;
      $('place').hidden = true;
      history.replaceState(null, '', placeHash(0));
    };
    const w = watch({
      key: (e) => e.position, idName: 'position', status: $('log-status'), said: $('log-said'), at: feed.position, every: true, signal,
      reading: 'Reading the last 100 positions…',
      matches: (e) => (!only.stream_type || only.stream_type.has(e.stream_type)) && (!only.type || only.type.has(e.type)),
      // What was said of a link's from= past the log's end is of the log,
      // not of the filters: an event they do not match takes it back too.
      passed: (e) => {
        reached = Math.max(reached, Number(e.position));
        pastTaken();
      },
      onEvent: (e) => {
        live.add(e);
        if (!empty.hidden) emptyShown();
      },
    });
    // back reads the log's positions from hi down to lo, and no more than
    // about PAGE_BYTES of their events: FIRST positions, then as many more
    // as fit by the size of those. Positions have no gaps: a window of n
    // positions holds at most n events, read at once. A filtered read has
    // no upper bound (the API takes after=, not before=): the events that
    // match past the window come back with it, to be dropped, and with a
    // limit of the window's size most of what a click of "Load older
    // events" read went so under a filter that one event in ten matches.
    // Filtered, a window is read with a limit of twice as many as have
    // matched in as many positions so far (matched, spanned), read on
    // from its last event while it holds more. It resolves to the events,
    // oldest first, the position it read down to, and the size of what it
    // read.
    const filtered = Object.keys(only).length > 0;
    let matched = 0;
    let spanned = 0;
    const back = async (hi, lo, most = Infinity, reads = signal) => {
      const pages = [];
      let size = 0;
      let count = 0;
      let at = hi;
      for (let n = FIRST; at > lo && size < PAGE_BYTES && count < most;) {
        // Unfiltered, a window is one read: of READ_MOST positions at most.
        let after = Math.max(lo, at - (filtered ? n : Math.min(n, READ_MOST)));
        const upto = at;
        let got = [];
        let bytes = 0; // the size of got's reads
        let from = after;
        let limit = filtered ? Math.max(FIRST, Math.ceil((2 * (matched + 1) / (spanned + 1)) * (upto - after))) : upto - after;
        for (;;) {
          const p = new URLSearchParams(params);
          p.set('after', String(from));
          p.set('limit', String(Math.min(limit, upto - from, READ_MOST)));
          const r = await api('/events?' + p, undefined, reads);
          size += r.size;
          bytes += r.size;
          const mine = r.body.events.filter((e) => e.position <= upto);
          got.push(...mine);
          // Done: unfiltered, or past the window, or no more to match.
          if (!filtered || !mine.length || mine.length < r.body.events.length || !r.next) break;
          from = mine[mine.length - 1].position;
          if (from >= upto) break;
          limit *= 2;
          // A window denser than those before it (a burst of the filter's
          // events, the window sized by the quiet positions above it) was
          // read whole, whatever it held: resumed after a long pause, tens
          // of megabytes to keep a few hundred rows. Where the rest of the
          // window holds more than the budget has room for, as far as what
          // was read of it says, the window starts higher, where about as
          // many as fit are, and is read from there.
          const room = Math.max(1, Math.floor((PAGE_BYTES - size) / (bytes / got.length)));
          const dense = got.length / (from - after);
          if ((upto - from) * dense > room) {
            after = upto - Math.max(1, Math.floor(room / dense));
            from = after;
            got = [];
            bytes = 0;
            limit = room;
          }
        }
        pages.unshift(got);
        count += got.length;
        matched += got.length;
        spanned += upto - after;
        at = after;
        n = fit(at - lo, size / (hi - at), size);
      }
      return { events: pages.flat(), reached: at, size };
    };
    // The last 100 positions, then the log as it comes.
    const head = feed.position();
    const from = Math.max(0, head - 100);
    const load = async (_, __, reads) => {
      const { events, reached } = await back(head, from, Infinity, reads);
      if (current()) {
        bound = reached;
        olderShown();
      }
      return events;
    };
    // Older events, a click at a time: the 100 positions before those
    // read, or fewer if their events are large. With a filter, 100
    // positions may hold none that match: it goes on back until some do,
    // as far as OLDER_REACH positions and about PAGE_BYTES a click (a
    // filtered read of a window returns the events that match past it
    // too, which are dropped). There was no way to see anything older
    // than the last 100 positions.
    // lastMatch resolves to the position of the last event at or before
    // at that the filter matches, or 0 if there is none. The API reads
    // after a position, not before one: first(a), the first match after a
    // at or before at (or 0), is a filtered read of one event, and a
    // search halves the positions where the last match may be at each such
    // read (about 20 for a million positions), each an index lookup.
    const lastMatch = async (at) => {
      const first = async (a) => {
        const p = new URLSearchParams(params);
        p.set('after', String(a));
        p.set('limit', '1');
        const e = (await api('/events?' + p, undefined, signal)).body.events[0];
        return e && e.position <= at ? e.position : 0;
      };
      let last = await first(0); // a match; none between it and hi, if hi > last
      for (let hi = at; last && hi - last > 0;) {
        const mid = last + Math.floor((hi - last) / 2);
        const m = await first(mid);
        if (m) last = m;
        else hi = mid;
      }
      return last;
    };
    let clickFailed = ''; // what a failed click said: it goes once one succeeds
    // afresh counts the list's fresh starts (a resume after more than it
    // keeps): a page of older events read before one is dropped. Added
    // under the fresh list, it left out every event between the two, and
    // set the list's lower end to its own.
    let afresh = 0;
    // The older pages loaded were in no link: a reload, or the link
    // shared, showed the last 100 positions again, and the back button
    // left the view. The oldest position read down to is in the fragment
    // (from=, bound + 1), each page a click loads a new entry of the tab's
    // history; a link with it loads pages until it is shown, up to
    // RESTORE_PAGES of them.
    const placeHash = (at) => {
      const p = new URLSearchParams(params);
      if (at) p.set('from', String(at));
      return '#/' + (String(p) ? '?' + p : '');
    };
    const asked = q.get('from');
    const want = asked !== null && /^[1-9]\d{0,14}$/.test(asked) ? Number(asked) : 0;
    if (asked !== null && !want) fromRefused(asked, placeHash(0));
    // Stopped at RESTORE_PAGES short of the link's place, it said nothing,
    // and the link still named a place the view did not show: it says
    // how far it got, and the link names that.
    // While it loads them, the button was disabled under its usual name,
    // and a click on it did nothing, without a word: it stays disabled
    // until the link's pages are in, and says what it waits for.
    let short = ''; // what it said of a restore stopped short
    const restore = async () => {
      if (want > head) {
        pastSaid = true;
        if (reached >= want || !head && reached) return pastTaken();
        placeGone(`The link asks for the log from position ${want}, but ${head ? 'the log ends at position ' + head : 'the log is empty'}: ` +
          `its database may have been reset, or the link is from another server.${head ? ' Its latest events are shown.' : ''}`,
        ['Show the latest events', placeHash(0)], head ? ['Show the log from its start', placeHash(1)] : null);
        return;
      }
      if (!want || bound < want || older.hidden || !current()) return;
      restoring = want;
      older.disabled = true;
      olderShown();
      $('log-said').textContent = older.textContent;
      let n = 0;
      try {
        for (; bound >= want && !older.hidden && n < RESTORE_PAGES && current(); n++) {
          const was = bound;
          await loadOlder(false);
          if (bound === was) return;
        }
      } finally {
        restoring = 0;
        if (current()) {
          older.disabled = false;
          olderShown();
        }
      }
      if (n < RESTORE_PAGES || bound < want || older.hidden || !current()) return;
      history.replaceState(null, '', placeHash(bound + 1));
      short = `The link asks for the log from position ${want}: ${RESTORE_PAGES} pages of older events were loaded, back to position ${bound + 1}. Load older events to go further back.`;
      showError(short);
    };
    // Live events that push the oldest rows out move the lower end the
    // link names: a reload or the link shared loaded rows no longer shown.
    // Not while the page says the link's from= is past the log's end:
    // that quotes it, and the link is left for the user to choose.
    const placeKept = () => {
      if (current() && $('place').hidden && new URLSearchParams(location.hash.split('?')[1] || '').has('from')) history.replaceState(null, '', placeHash(bound + 1));
    };
    older.onclick = () => loadOlder(true);
    // loadOlder loads the next page of older events; asked by the user
    // (a click), it puts the place in the fragment.
    let fetching = false; // a page of older events is on its way
    const loadOlder = async (user) => {
      if (fetching || (user && restoring)) return;
      fetching = true;
      const start = afresh;
      const keyed = document.activeElement === older;
      let first = null; // the first event loaded
      older.disabled = true;
      try {
        let found = [];
        let at = bound;
        let size = 0;
        for (const stop = Math.max(0, bound - OLDER_REACH); at > stop && !found.length && size < PAGE_BYTES;) {
          const r = await back(at, Math.max(stop, at - 100));
          found = r.events;
          at = r.reached;
          size += r.size;
        }
        // None in OLDER_REACH positions: a match further back was a click
        // for every OLDER_REACH positions away. The last one is found
        // (lastMatch), and read from.
        if (filtered && !found.length && at > 0 && size < PAGE_BYTES) {
          const last = await lastMatch(at);
          if (!current() || start !== afresh) return;
          if (!last) {
            at = 0;
          } else {
            const r = await back(last, Math.max(0, last - 100));
            found = r.events;
            at = r.reached;
          }
        }
        if (!current() || start !== afresh) return;
        for (let i = found.length - 1; i >= 0; i--) {
          const li = logItem(found[i]);
          first ??= li;
          list.append(li);
        }
        keep += found.length;
        bound = at;
        olderShown();
        if (user) {
          history.pushState(null, '', placeHash(bound + 1));
          $('place').hidden = true; // the link names this place now, not the one it said
        }
        unsay(short);
        $('log-said').textContent = found.length
          ? `Loaded ${found.length} older events, positions ${found[found.length - 1].position} to ${found[0].position}.`
          : `No older events match, back to position ${at + 1}.`;
        if (clickFailed && $('error').textContent === clickFailed) showError('');
      } catch (e) {
        if (current() && e.name !== 'AbortError') showError(clickFailed = 'Loading older events failed: ' + e.message);
      } finally {
        fetching = false;
        if (current()) {
          older.disabled = restoring > 0;
          if (keyed) refocus(older, first, list.lastElementChild);
        }
      }
    };
    // After a pause: what came since the last event shown, read from the
    // head down: about PAGE_BYTES, and about as many as the list keeps. If
    // more came than that holds, the list starts afresh from it, older
    // events on demand, as a stream's tail does. The live log had no
    // pause: on a busy log each new event pushed the oldest out, the one
    // a user was reading among them.
    // A resume paused again, or followed by another, before its read
    // answered emptied the list when it did: the paused list, or the one
    // the later resume had filled. mine() is false then.
    const since = async (last, mine, reads) => {
      // No more than the list keeps (LOG_ROWS): read down to 2 MiB, a
      // pause of thousands of small events was read and laid out whole,
      // in one task, for the newest 500 to stay.
      const { events, reached } = await back(feed.position(), last, LOG_ROWS, reads);
      if (reached > last && current() && mine()) {
        afresh++;
        live.flush();
        list.replaceChildren();
        keep = LOG_ROWS;
        bound = reached;
        olderShown();
        // The older pages are gone: the link names them no more.
        if (location.hash !== placeHash(0)) history.replaceState(null, '', placeHash(0));
      }
      return events;
    };
    const failed = (e) => current() && showError(e.message);
    w.start(load, from).then(() => {
      if (!current()) return;
      loaded = true;
      emptyShown();
      return restore();
    }).catch(failed);
    pause.hidden = false;
    // Its name says what a click does: as a toggle (aria-pressed) it was
    // read out "Resume live log, pressed", its state said twice, at odds.
    let paused = false;
    pause.textContent = 'Pause live log';
    pause.onclick = () => {
      paused = !paused;
      pause.textContent = paused ? 'Resume live log' : 'Pause live log';
      if (paused) w.stop();
      else w.resume(since).catch(failed);
    };
    return () => w.stop();
  }

  async function showStreams(q, current, signal) {
    showOnly('view-streams');
    document.title = 'Streams · Tributary';
    const form = $('streams-filter');
    fillForm(form, q);
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const p = filterParams(form).toString();
      go('#/streams' + (p ? '?' + p : ''));
    };
    // Nothing of the list before, while this one is read, or if it is refused.
    $('streams-table').tBodies[0].replaceChildren();
    $('streams-caption').textContent = 'Loading…';
    $('streams-next').disabled = true;
    $('streams-previous').disabled = true;
    // The page shown is in the fragment, as its cursor (after: the API's,
    // the last stream id of the page before it) and its number: a reload,
    // or the link shared, showed the first page again. The API lists
    // forward only: the cursor of the page before each one walked is kept
    // for the tab (sessionStorage, so that a reload keeps it), for
    // "Previous page"; a link opened elsewhere has "First page" and the
    // browser's back button.
    const type = q.get('stream_type') || '';
    const listPath = (after) => '/streams?' + new URLSearchParams({ ...(type ? { stream_type: type } : {}), ...(after ? { after } : {}), limit: String(PAGE) });
    const viewHash = (after, n) => {
      const p = new URLSearchParams({ ...(type ? { stream_type: type } : {}), ...(after ? { after, page: String(n) } : {}) }).toString();
      return '#/streams' + (p ? '?' + p : '');
    };
    const trailKey = (after) => scoped('tributary.streams.before') + ' ' + type + ' ' + after;
    let after = q.get('after') || '';
    if (after && !streamID.test(after)) {
      $('streams-caption').textContent = 'No streams shown';
      throw new Error(`${json(after.length > 80 ? after.slice(0, 80) + '…' : after)} is not a page of the stream list: its pages start after a stream id. Open the first page.`);
    }
    after = after.toLowerCase();
    let page = after ? (/^[1-9]\d{0,8}$/.test(q.get('page') || '') ? Number(q.get('page')) : 0) : 1; // 0: not known
    let shown = false; // a page has been shown
    let loading = false; // one page at a time: a second click counts no page twice
    // A click for another page than the one on its way ("First page" while
    // a reload reads a later one, on a slow network) did nothing, without a
    // word: the last such click (its move's arguments) is made once that
    // page is in.
    let loadingAt = null; // the cursor of the page on its way
    let queued = null;
    // load shows the page after cursor at, the n-th (0: not known).
    const load = async (at, n) => {
      if (loading) return false;
      loading = true;
      loadingAt = at;
      let r;
      try {
        r = await api(listPath(at), undefined, signal);
      } finally {
        loading = false;
        const then = queued;
        queued = null;
        if (then && current()) queueMicrotask(() => move(...then));
      }
      if (!current()) return false;
      after = at;
      page = n;
      shown = true;
      const rows = r.body.streams.map((s) => {
        const a = el('a', null, s.stream_id);
        a.href = '#/streams/' + s.stream_id;
        return el('tr', null, el('td', null, a), el('td', null, named(s.stream_type)), el('td', null, String(s.version)),
          el('td', null, secondEl(s.created_at)), el('td', null, secondEl(s.updated_at)));
      });
      $('streams-table').tBodies[0].replaceChildren(...rows);
      const of = type ? ` of type ${named(type)}` : '';
      $('streams-caption').textContent = rows.length ? `Streams${of}, ${page ? 'page ' + page : 'a later page'}` : `No streams${of}${after ? ' past this page\'s start' : ''}`;
      // A page past the last stream is a link's, not a click's (the API
      // gives no next link to an empty page): said, and the first offered.
      if (!rows.length && after) {
        placeGone(`The link asks for the streams after ${after}, but there are none past it: its database may have been reset, or the link is from another server.`,
          ['Show the first page', viewHash('', 1)]);
      } else {
        $('place').hidden = true;
      }
      const next = $('streams-next');
      // The next page's cursor, as the API's link gives it.
      const cursor = r.next ? new URLSearchParams(r.next.split('?')[1] || '').get('after') : null;
      next.disabled = !cursor;
      next.onclick = () => cursor && move(cursor, page ? page + 1 : 0, after);
      const before = after ? sessionStorage.getItem(trailKey(after)) : null;
      const previous = $('streams-previous');
      previous.disabled = before === null;
      previous.onclick = () => before !== null && move(before, before === '' ? 1 : Math.max(page - 1, 0));
      return true;
    };
    // click reads a page the user asked for. What a failed one said goes
    // once one succeeds: it stayed, "The server cannot be reached" over
    // the page read since.
    let failed = '';
    const click = (at, n) => load(at, n).then((done) => {
      if (failed && $('error').textContent === failed) showError('');
      return done;
    }, (e) => {
      if (current()) showError(failed = 'Reading the page of streams failed: ' + e.message);
      return false;
    });
    // move shows the page after cursor at, the n-th, noting from, the
    // cursor of the page before it, and once it is shown puts it in the
    // fragment (a new entry of the tab's history, for the back button).
    const move = async (at, n, from = null) => {
      if (loading) {
        if (at !== loadingAt) queued = [at, n, from];
        return;
      }
      if (from !== null && at) sessionStorage.setItem(trailKey(at), from);
      const keyed = document.activeElement;
      if (!(await click(at, n))) return;
      // A button the page read disables (Next page at the last, Previous
      // at the first) gave the focus up, to the document's start: it goes
      // to the pager's other button that can be used.
      if (keyed?.disabled && keyed.closest('.pager')) {
        [$('streams-previous'), $('streams-next'), $('streams-first')].find((b) => b !== keyed && !b.disabled)?.focus();
      }
      // pushState changes no view: the list is shown already, and the
      // focus stays on the button.
      if (location.hash !== viewHash(at, n)) history.pushState(null, '', viewHash(at, n));
    };
    const first = '';
    $('streams-first').onclick = () => move(first, 1);
    // A first read that fails for want of the server (unreachable, no
    // answer, a 5xx) is tried again, with backoff, while the view is open,
    // as a stream's and the live log's are: the list stayed empty.
    let said = ''; // what it last said while trying again
    for (let backoff = 1000; ; backoff = Math.min(backoff * 2, 30000)) {
      const delay = jittered(backoff);
      try {
        await load(after, page);
        if (said && $('error').textContent === said) showError('');
        return null;
      } catch (e) {
        if (!current() || e.name === 'AbortError') return null;
        $('streams-caption').textContent = 'No streams shown';
        if (e.status !== 0 && !(e.status >= 500)) throw e;
        said = `${e.message} Trying again in ${Math.round(delay / 1000)} s…`;
        showError(said);
      }
      await sleep(delay, signal);
      if (!current() || shown) return null; // left, or a click read it meanwhile
    }
  }

  // showStream shows stream id: its latest events and its live tail, or,
  // with ?version=N (an event's link), that event first, marked, and the
  // events before it, earlier ones on demand, not followed live: the
  // earlier pages a user loaded were in no link, and a reload or a shared
  // link showed the latest again.
  async function showStream(id, current, signal, q) {
    showOnly('view-stream');
    const asked = q.get('version');
    const version = asked !== null && /^[1-9]\d{0,14}$/.test(asked) ? Number(asked) : 0;
    document.title = 'Stream ' + id + (version ? `, version ${version}` : '') + ' · Tributary';
    $('stream-title').textContent = 'Stream ' + id;
    const list = $('stream-events');
    list.replaceChildren();
    // Nothing of the stream before, while this one is read, or if it is
    // refused: its details, its status, nor its buttons, which still
    // paused and resumed its tail.
    $('stream-info').replaceChildren();
    const status = $('stream-status');
    status.textContent = 'Loading…';
    status.className = 'status';
    $('stream-said').textContent = '';
    const pause = $('stream-pause');
    pause.hidden = true;
    pause.onclick = null;
    $('stream-earlier').hidden = true;
    $('stream-window').hidden = true;
    $('stream-latest').href = '#/streams/' + id;
    if (asked !== null && !version) {
      status.textContent = '';
      throw new Error(`${json(asked.length > 40 ? asked.slice(0, 40) + '…' : asked)} is not a version of a stream: a version is a whole number from 1.`);
    }
    // retried resolves to what read() resolves to. A read that fails for
    // want of the server (unreachable, no answer, a 5xx: a proxy's 502
    // while the service restarts) is tried again, with backoff, while the
    // view is open, as the stream list's and the live log's are: the view
    // said "Stopped" and its tail never started. It resolves to undefined
    // once the view is left; a refusal stops the view, and says why.
    const retried = async (read) => {
      let said = ''; // what it last said while trying again
      for (let backoff = 1000; ; backoff = Math.min(backoff * 2, 30000)) {
        const delay = jittered(backoff);
        try {
          const v = await read();
          if (!current()) return undefined;
          if (said && $('error').textContent === said) showError('');
          return v;
        } catch (e) {
          if (!current() || e.name === 'AbortError') return undefined;
          if (e.status !== 0 && !(e.status >= 500)) {
            status.textContent = $('stream-said').textContent = 'Stopped: ' + e.message;
            status.className = 'status down';
            throw e;
          }
          said = `${e.message} Trying again in ${Math.round(delay / 1000)} s…`;
          showError(said);
        }
        await sleep(delay, signal);
        if (!current()) return undefined;
      }
    };
    const notFound = (e) => {
      if (e.status === 404) return null;
      throw e;
    };
    let info = await retried(() => api('/streams/' + id, undefined, signal).then((r) => r.body, notFound));
    if (info === undefined) return null;
    const missing = info === null;
    if (missing) info = { stream_id: id, stream_type: '—', version: 0, created_at: '—', updated_at: '—' };
    // An event's link follows nothing (showWindow): "will appear here"
    // had a user wait for events the view would never show.
    // absent is what the view said of it: the first event takes back
    // that, and nothing else the page said meanwhile (a refused count).
    const absent = !missing ? '' : version
      ? `This stream does not exist: it has no version ${version}. Its events will appear at the link to its latest events, live, once they are written.`
      : 'This stream does not exist yet; its events will appear here when they are written.';
    if (absent) showError(absent);
    const dd = {};
    const rows = [['stream_type', 'Type'], ['version', 'Version'], ['created_at', 'Created'], ['updated_at', 'Updated']];
    $('stream-info').replaceChildren(...rows.flatMap(([k, label]) => {
      dd[k] = el('dd', null, k === 'stream_type' ? named(info[k]) : String(info[k]));
      dd[k].id = 'stream-' + k.replace('_', '-');
      return [el('dt', null, label), dd[k]];
    }));

    // The last PAGE events, then everything new; older ones on demand.
    const none = (e) => {
      if (e.status === 404) return [];
      throw e;
    };
    // backward reads up to PAGE events from version from down (0: from
    // the last), newest first, and no more than about PAGE_BYTES of them.
    const backward = async (from, reads = signal) => {
      const events = [];
      let size = 0;
      for (let limit = FIRST; ;) {
        const r = await api(`/streams/${id}/events?direction=backward${from ? '&from=' + from : ''}&limit=${limit}`, undefined, reads);
        events.push(...r.body.events);
        size += r.size;
        if (!r.next || !r.body.events.length || events.length >= PAGE || size >= PAGE_BYTES) return events;
        from = events[events.length - 1].version - 1;
        limit = fit(PAGE - events.length, size / events.length, size);
      }
    };
    // forward reads up to PAGE events from version from up, oldest first,
    // and no more than about PAGE_BYTES of them; it resolves to them and
    // the stream's version as the last read found it.
    const forward = async (from) => {
      const events = [];
      let size = 0;
      for (let limit = FIRST; ;) {
        const r = await api(`/streams/${id}/events?from=${from}&limit=${limit}`, undefined, signal);
        events.push(...r.body.events);
        size += r.size;
        if (!r.next || !r.body.events.length || events.length >= PAGE || size >= PAGE_BYTES) return { events, version: r.body.version };
        from = events[events.length - 1].version + 1;
        limit = fit(PAGE - events.length, size / events.length, size);
      }
    };
    const latest = async (_, __, reads) => {
      const events = (await backward(0, reads).catch(none)).reverse();
      earliest = events.length ? events[0].version : 1;
      earlier.hidden = earliest <= 1;
      return events;
    };
    // After a pause: what came since the last event shown, read as the
    // latest are when the view opens. It read all of it, in pages of
    // 1,000 whatever their size, to keep the newest LOG_ROWS. If more came
    // than that read holds, the view starts afresh from it, as if opened
    // now, and "Load earlier events" brings the rest.
    // afresh counts the tail's fresh starts (a resume after more than it
    // keeps): a page of earlier events read before one is dropped, as the
    // live log's older events are.
    let afresh = 0;
    // Started afresh only by the last resume, and not paused since
    // (mine), as the live log's is.
    const since = async (last, mine, reads) => {
      const events = await backward(0, reads).catch(none);
      const oldest = events.length ? events[events.length - 1].version : 0;
      if (oldest > last + 1 && current() && mine()) {
        afresh++;
        live.flush();
        list.replaceChildren();
        keep = LOG_ROWS;
        earliest = oldest;
        earlier.hidden = false;
        // The earlier pages are gone: the link names them no more.
        if (location.hash !== placeHash(0)) history.replaceState(null, '', placeHash(0));
      }
      return events.filter((e) => e.version > last).reverse();
    };
    let earliest = 1; // the oldest version shown
    // The tail keeps its newest LOG_ROWS events and those loaded on demand:
    // a list that kept all that came while it was open took longer to lay
    // out with each one, and grew without end.
    let keep = LOG_ROWS;
    const earlier = $('stream-earlier');
    earlier.hidden = true;
    earlier.disabled = false;
    earlier.textContent = 'Load earlier events'; // a view left while it restored kept its words
    let clickFailed = ''; // what a failed click said: it goes once one succeeds
    // The earlier pages loaded were in no link: a reload, or the link
    // shared, showed the latest events again (or the event's page), and
    // the back button left the view. The oldest version shown is in the
    // fragment (from=), each page a click loads a new entry of the tab's
    // history; a link with it loads pages until it is shown, up to
    // RESTORE_PAGES of them.
    const placeHash = (at) => {
      const p = new URLSearchParams();
      if (version) p.set('version', String(version));
      if (at) p.set('from', String(at));
      return '#/streams/' + id + (String(p) ? '?' + p : '');
    };
    const fromAsked = q.get('from');
    const want = fromAsked !== null && /^[1-9]\d{0,14}$/.test(fromAsked) ? Number(fromAsked) : 0;
    if (fromAsked !== null && !want) fromRefused(fromAsked, placeHash(0));
    const gone = want && missing; // what it says of the link goes with the stream's absence
    let past = false; // it says the link's from= is past the stream's version
    if (gone) {
      placeGone(`The link asks for this stream's events from version ${want}, but the stream does not exist: ` +
        'it was never written, its database was reset, or the link is from another server.',
      ['Follow the stream, live', '#/streams/' + id], ['Show the live log', '#/']);
    } else if (want > info.version) {
      past = true;
      placeGone(`The link asks for this stream's events from version ${want}, but the stream is at version ${info.version}: ` +
        'its database may have been reset, or the link is from another server. ' +
        (version ? `Version ${Math.min(version, info.version)} and the events before it are shown.` : 'Its latest events are shown.'),
      [version ? `Show version ${version}` : 'Show the latest events', placeHash(0)], ['Show the stream from its start', placeHash(1)]);
    }
    // Stopped at RESTORE_PAGES short of the link's place, it said nothing,
    // and the link still named a version the view did not show: it says
    // how far it got, and the link names that.
    // While it loads them, the button stays disabled and says so, as the
    // live log's does.
    let short = ''; // what it said of a restore stopped short
    let restoring = false;
    const restore = async () => {
      if (!want || earliest <= want || earlier.hidden || !current()) return;
      restoring = true;
      earlier.disabled = true;
      earlier.textContent = $('stream-said').textContent = `Loading earlier events back to version ${want}, as the link asks…`;
      let n = 0;
      try {
        for (; earliest > want && !earlier.hidden && n < RESTORE_PAGES && current(); n++) {
          const was = earliest;
          await loadEarlier(false);
          if (earliest === was) return;
        }
      } finally {
        restoring = false;
        if (current()) {
          earlier.disabled = false;
          earlier.textContent = 'Load earlier events';
        }
      }
      if (n < RESTORE_PAGES || earliest <= want || earlier.hidden || !current()) return;
      history.replaceState(null, '', placeHash(earliest));
      short = `The link asks for the events from version ${want}: ${RESTORE_PAGES} pages of earlier events were loaded, back to version ${earliest}. Load earlier events to go further back.`;
      showError(short);
    };
    // Live events that push the oldest rows out move the lower end the
    // link names: a reload or the link shared loaded rows no longer shown.
    // Not while the page says the link's from= is past the stream's end.
    const placeKept = () => {
      if (current() && $('place').hidden && new URLSearchParams(location.hash.split('?')[1] || '').has('from')) history.replaceState(null, '', placeHash(earliest));
    };
    earlier.onclick = () => loadEarlier(true);
    let fetching = false; // a page of earlier events is on its way
    // loadEarlier loads the next page of earlier events; asked by the user
    // (a click), it puts the place in the fragment.
    const loadEarlier = async (user) => {
      // One page at a time: a second click before the first page arrives
      // would load the same events again.
      if (fetching || (user && restoring)) return;
      fetching = true;
      const start = afresh;
      const keyed = document.activeElement === earlier;
      let first = null; // the first event loaded
      earlier.disabled = true;
      try {
        const events = await backward(earliest - 1);
        if (!current() || start !== afresh) return;
        const rows = oldestFirst(events, (e) => streamItem(e, false));
        first = rows[0] ?? null;
        list.append(...rows);
        keep += events.length;
        earliest = events.length ? events[events.length - 1].version : 1;
        earlier.hidden = earliest <= 1;
        if (user && events.length) {
          history.pushState(null, '', placeHash(earliest));
          $('place').hidden = true; // the link names this place now, not the one it said
        }
        unsay(short);
        $('stream-said').textContent = events.length
          ? `Loaded ${events.length} earlier events, versions ${events[0].version} to ${events[events.length - 1].version}.` : 'No earlier events.';
        if (clickFailed && $('error').textContent === clickFailed) showError('');
      } catch (e) {
        if (current()) showError(clickFailed = 'Loading earlier events failed: ' + e.message);
      } finally {
        fetching = false;
        if (current()) {
          earlier.disabled = restoring;
          if (keyed) refocus(earlier, first, list.lastElementChild);
        }
      }
    };
    if (version) return showWindow();
    // showWindow shows the event at version and those before it, and no
    // live tail: a version past the stream's shows its latest, and says so.
    async function showWindow() {
      $('stream-window').hidden = false;
      const later = $('stream-later');
      later.hidden = true;
      later.disabled = false;
      status.textContent = 'Loading…';
      if (!missing && version > info.version) showError(`This stream has no version ${version}: it is at version ${info.version}.`);
      const top = missing ? version : Math.min(version, info.version);
      const events = await retried(() => backward(top).catch(none));
      if (events === undefined) return null;
      list.append(...oldestFirst(events, (e) => {
        const li = streamItem(e, false);
        if (e.version === version) {
          li.classList.add('target');
          li.setAttribute('aria-current', 'true');
        }
        return li;
      }));
      earliest = events.length ? events[events.length - 1].version : 1;
      earlier.hidden = earliest <= 1;
      restore();
      // What came after it, a page at a time, above it: up to the
      // stream's version as each read finds it.
      let newest = events.length ? events[0].version : 0;
      later.hidden = newest >= info.version;
      let laterFailed = '';
      later.onclick = async () => {
        if (later.disabled) return;
        const keyed = document.activeElement === later;
        let last = null; // the last event loaded
        later.disabled = true;
        try {
          const { events: more, version: at } = await forward(newest + 1);
          if (!current()) return;
          for (const e of more) {
            last = streamItem(e, false);
            list.prepend(last);
          }
          if (more.length) newest = more[more.length - 1].version;
          later.hidden = newest >= at;
          $('stream-said').textContent = more.length
            ? `Loaded ${more.length} later events, versions ${more[0].version} to ${newest}.` : 'No later events.';
          if (laterFailed && $('error').textContent === laterFailed) showError('');
        } catch (e) {
          if (current() && e.name !== 'AbortError') showError(laterFailed = 'Loading later events failed: ' + e.message);
        } finally {
          if (current()) {
            later.disabled = false;
            if (keyed) refocus(later, last, list.firstElementChild);
          }
        }
      };
      status.textContent = $('stream-said').textContent = events.length
        ? `Shown from the link to version ${events[0].version}; not following the stream.` : 'No events; not following the stream.';
      return null;
    }
    // The stream's details follow its newest event once the page's code
    // stops (a microtask), as its rows do: written at each event, a burst
    // of the stream's events was two changes of the page an event.
    // A stream that did not exist takes its type and creation from the
    // first of them (first).
    let newest = null;
    let first = null;
    const detailsShown = () => {
      dd.version.textContent = String(newest.version);
      dd.updated_at.textContent = newest.recorded_at;
      if (dd.stream_type.textContent === '—') {
        dd.stream_type.textContent = named(first.stream_type);
        dd.created_at.textContent = first.recorded_at;
        unsay(absent);
        if (gone && $('place').hidden === false) {
          // The link's from= goes with what was said of it: kept, a reload
          // said it again of the stream now at version 1.
          $('place').hidden = true;
          if (current()) history.replaceState(null, '', placeHash(0));
        }
      }
      // So does what was said of a from= past the stream's version, once
      // the stream reaches it: it said "the stream is at version 5" of a
      // stream at version 7.
      if (past && newest.version >= want) {
        past = false;
        $('place').hidden = true;
        if (current()) history.replaceState(null, '', placeHash(0));
      }
      newest = first = null;
    };
    // Not while an earlier page is on its way: it follows earliest.
    const live = liveRows(list, streamItem, () => (earlier.disabled ? Infinity : keep), () => {
      earliest = Number(list.lastChild.dataset.version);
      earlier.hidden = earliest <= 1;
      placeKept();
    });
    const w = watch({
      key: (e) => e.version, idName: 'version', status, said: $('stream-said'), signal, reading: "Reading the stream's latest events…",
      matches: (e) => e.stream_id === id,
      onEvent: (e, fresh) => {
        live.add(e, fresh);
        if (!newest) queueMicrotask(detailsShown);
        first ??= e;
        newest = e;
      },
    });
    const failed = (e) => current() && showError(e.message);
    await feed.ready;
    if (!current()) return null;
    w.start(latest, 0).then(restore).catch(failed);
    pause.hidden = false;
    // Its name says what a click does: as a toggle (aria-pressed) it was
    // read out "Resume live tail, pressed", its state said twice, at odds.
    let paused = false;
    pause.textContent = 'Pause live tail';
    pause.onclick = () => {
      paused = !paused;
      pause.textContent = paused ? 'Resume live tail' : 'Pause live tail';
      if (paused) w.stop();
      else w.resume(since).catch(failed);
    };
    return () => w.stop();
  }

  // streamID is a stream id as the API takes it: a UUID in its canonical
  // form, in either case.
  const streamID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

  // showNoStream says that #/streams/{what} names no stream: it showed the
  // live log, silently, as if the link were right. It reads nothing.
  function showNoStream(what) {
    showOnly('view-stream');
    try {
      what = decodeURIComponent(what);
    } catch {
      // Shown as written.
    }
    if (what.length > 80) what = what.slice(0, 80) + '…';
    document.title = 'No such stream · Tributary';
    $('stream-title').textContent = 'No such stream';
    $('stream-info').replaceChildren();
    $('stream-events').replaceChildren();
    $('stream-status').textContent = $('stream-said').textContent = '';
    $('stream-status').className = 'status';
    $('stream-pause').hidden = true;
    $('stream-pause').onclick = null;
    $('stream-earlier').hidden = true;
    $('stream-window').hidden = true;
    showError(`${json(what)} is not a stream id: a stream id is a UUID, like 0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10.`);
  }

  // showNoView says that the page has no view at #{path} (a typo, an old
  // link): it showed the live log, silently, as if the link were right.
  function showNoView(path) {
    for (const v of ['view-log', 'view-streams', 'view-stream']) $(v).hidden = true;
    $('nav-log').removeAttribute('aria-current');
    $('nav-streams').removeAttribute('aria-current');
    document.title = 'No such view · Tributary';
    const shown = path.length > 80 ? path.slice(0, 80) + '…' : path;
    showError(`This page has no view at ${json('#' + shown)}: its views are the live log (#/), the streams (#/streams) and a stream (#/streams/ and its id).`);
  }

  // route shows the view the location's hash names: #/ (the live log, with
  // ?stream_type=&type=), #/streams (?stream_type=), #/streams/{id}.
  let routes = 0;
  let leave = null; // aborts the current view's reads
  async function route(ev) {
    const mine = ++routes;
    const current = () => mine === routes;
    if (view) view();
    view = null;
    // The reads of the view left are given up: they went on, taking the
    // bandwidth and a connection of the six a browser opens to a server.
    if (leave) leave.abort();
    leave = new AbortController();
    const signal = leave.signal;
    showError('');
    $('place').hidden = true;
    const [path, qs] = (location.hash.replace(/^#/, '') || '/').split('?');
    const q = new URLSearchParams(qs || '');
    const m = path.match(/^\/streams\/(.+)$/);
    let shown = null; // the view's load: what stops it
    if (m && !streamID.test(m[1])) showNoStream(m[1]);
    else if (m) shown = showStream(m[1].toLowerCase(), current, signal, q);
    else if (path === '/streams' || path === '/streams/') shown = showStreams(q, current, signal);
    else if (path === '/' || path === '') shown = showLog(q, current, signal);
    else showNoView(path);
    // The focus goes to the view as it is shown, before its reads are
    // answered: moved once they were, it was taken from wherever the user
    // had put it meanwhile (a slow server, a read tried again for 30 s).
    if (ev) $('main').focus({ preventScroll: true });
    try {
      const stop = await shown;
      if (current()) view = stop;
      else if (stop) stop(); // left while it was loading
    } catch (e) {
      if (current()) showError(e.message);
    }
  }

  // "Skip to content" links to #main, where the views are in the
  // fragment: followed, it showed "This page has no view at #main" in
  // place of the view. It moves the focus, and leaves the fragment be.
  document.querySelector('a.skip').onclick = (ev) => {
    ev.preventDefault();
    $('main').focus();
  };
  // "Load older events" and "Load earlier events" come after the events
  // a view shows, up to 500 of them with a link or two each: hundreds of
  // Tabs away. Each view has a control just after its heading, shown only
  // while focused, that moves the focus to its button, and is there only
  // while the button is (an observer follows the button's hidden, set in
  // many places).
  // While the button's page loads (disabled, it takes no focus) the
  // control moved the focus nowhere: it goes to the last event shown, just
  // before the button, the next Tab's way to it.
  for (const [skipID, buttonID, listID] of [['log-skip-older', 'log-older', 'log-events'], ['stream-skip-earlier', 'stream-earlier', 'stream-events']]) {
    const skip = $(skipID);
    const button = $(buttonID);
    const follow = () => { skip.hidden = button.hidden; };
    new MutationObserver(follow).observe(button, { attributes: true, attributeFilter: ['hidden'] });
    follow();
    skip.onclick = () => {
      if (!button.disabled) button.focus();
      else $(listID).lastElementChild?.querySelector('a')?.focus();
    };
  }
  // The stream list's pager, after its 50 rows: the next page's button, or
  // the nearest one enabled ("First page" always is).
  $('streams-skip-pager').onclick = () => ['streams-next', 'streams-previous', 'streams-first'].map($).find((b) => !b.disabled)?.focus();
  setToken(token);
  window.addEventListener('hashchange', route);
  route();
})();
