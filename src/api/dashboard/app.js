// amtemu dashboard: fleet table and device page over the control API, live via SSE.
// Plain browser JS, no build step; every request goes to the same origin.
'use strict';

const state = { devices: new Map(), fleet: null, current: null, filter: '', token: null, source: null };
const MAX_ROWS = 500;
const REFRESH_TYPES = /^(power|hostpower|lifecycle|dhcp\.(lease|released)|link|window|nvram|host|consent)\./;

function tokenRequired() { return document.body.dataset.tokenRequired === 'true'; }

function initToken() {
  const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (m) { sessionStorage.setItem('amtemu-token', decodeURIComponent(m[1])); location.hash = '#/'; }
  state.token = sessionStorage.getItem('amtemu-token');
  if (tokenRequired() && !state.token) {
    state.token = prompt('This amtemu API needs its bearer token (printed by amtemu serve):') || '';
    sessionStorage.setItem('amtemu-token', state.token);
  }
}

async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.authorization = 'Bearer ' + state.token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error((data && data.error) ? data.error.code + ': ' + data.error.message : 'HTTP ' + res.status);
  return data;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function fmtTime(ms) {
  const neg = ms < 0; let r = Math.abs(Math.round(ms));
  const d = Math.floor(r / 86400000); r -= d * 86400000;
  const h = Math.floor(r / 3600000); r -= h * 3600000;
  const m = Math.floor(r / 60000); r -= m * 60000;
  const s = Math.floor(r / 1000);
  const p = (n) => String(n).padStart(2, '0');
  return (neg ? '-' : '+') + (d ? d + 'd ' : '') + p(h) + ':' + p(m) + ':' + p(s);
}

function fmtWindow(w) {
  if (!w || w.kind === 'closed') return 'closed';
  return w.kind + ', ' + fmtTime(w.remainingMs).slice(1) + ' left';
}

function summaryOf(data) {
  return Object.entries(data || {}).filter(([, v]) => v !== undefined).map(([k, v]) => k + '=' + (typeof v === 'string' ? v : JSON.stringify(v))).join(' ');
}

function eventCell(e) {
  const td = el('td', { class: 'ev' });
  if (!e) { td.textContent = '–'; return td; }
  td.append(el('span', { class: 't', text: fmtTime(e.t) }), el('span', { class: 'type', text: e.type }));
  if (e.code) td.append(el('span', { class: 'code', text: e.code }));
  return td;
}

// ---- fleet view -------------------------------------------------------------------------------

function renderCounts() {
  const f = state.fleet; if (!f) return;
  document.getElementById('fleet-name').textContent = f.name;
  document.getElementById('count-total').textContent = f.devices;
  for (const s of ['Pre', 'In', 'Post']) document.getElementById('count-' + s).textContent = f.byState[s] || 0;
  document.getElementById('count-powered').textContent = f.powered;
  renderClock(f.time);
}

function renderClock(t) {
  document.getElementById('clock-kind').textContent = t.kind === 'virtual' ? 'virtual time' : 'time x' + t.scale;
  document.getElementById('clock-now').textContent = fmtTime(t.now);
  document.getElementById('time-controls').hidden = t.kind !== 'virtual';
}

function rowFor(d) {
  const tr = el('tr', { 'data-id': d.id });
  tr.append(
    el('td', {}, el('a', { href: '#/device/' + encodeURIComponent(d.id), text: d.id })),
    el('td', {}, el('span', { class: 'state ' + d.state, text: d.state })),
    el('td', { text: d.controlMode === 'none' ? d.mode : d.controlMode }),
    el('td', {}, el('span', { class: 'power ' + (d.powered ? 'on' : 'off'), text: d.powered ? 'on' : 'off' })),
    el('td', { text: d.address || d.plannedAddress || '' }),
    el('td', { text: fmtWindow(d.window) }),
    eventCell(d.lastEvent),
    el('td', {}, el('a', { class: 'open', href: '#/device/' + encodeURIComponent(d.id), text: 'open →' })),
  );
  return tr;
}

function matchesFilter(d) {
  if (!state.filter) return true;
  const f = state.filter.toLowerCase();
  return [d.id, d.state, d.controlMode, d.mode, d.address || '', d.plannedAddress || ''].some((s) => s.toLowerCase().includes(f));
}

function renderTable() {
  const body = document.getElementById('device-rows');
  const list = [...state.devices.values()].filter(matchesFilter);
  body.replaceChildren(...list.slice(0, MAX_ROWS).map(rowFor));
  document.getElementById('shown').textContent = list.length > MAX_ROWS ? 'showing ' + MAX_ROWS + ' of ' + list.length : list.length + ' shown';
}

function updateRow(d, flash) {
  const old = document.querySelector('#device-rows tr[data-id="' + CSS.escape(d.id) + '"]');
  if (!old) return;
  const tr = rowFor(d);
  if (flash) tr.classList.add('flash');
  old.replaceWith(tr);
}

async function loadFleet() {
  const [fleet, list] = await Promise.all([api('GET', '/api/fleet'), api('GET', '/api/devices?limit=20000')]);
  state.fleet = fleet;
  state.devices = new Map(list.devices.map((d) => [d.id, d]));
  renderCounts();
  renderTable();
}

// ---- device view ------------------------------------------------------------------------------

function renderDevice(d) {
  document.getElementById('dev-title').textContent = d.id;
  const facts = document.getElementById('dev-facts');
  const fact = (label, value, cls) => el('div', {}, el('span', { text: label }), el('b', cls ? { class: cls, id: 'fact-' + label } : { id: 'fact-' + label }, value));
  facts.replaceChildren(
    fact('state', el('span', { class: 'state ' + d.state, text: d.state })),
    fact('control mode', d.controlMode), fact('mode', d.mode + ' / ' + d.trigger),
    fact('power', d.powered ? 'on' : 'off', 'power ' + (d.powered ? 'on' : 'off')), fact('link', d.link ? 'up' : 'down'),
    fact('host', fmtHostPower(d.hostPower)),
    fact('address', d.address || '(no lease) ' + (d.plannedAddress || '')), fact('window', fmtWindow(d.window)),
    fact('profile', d.profile + ' ' + d.firmwareVersion), fact('uuid', d.uuid),
    fact('redirection', fmtRedirection(d.redirection)),
    // What the PC's screen shows while a console waits for user consent: the code the user reads out.
    fact('screen', d.consent && d.consent.code ? 'user consent code ' + d.consent.code : '—', d.consent && d.consent.code ? 'consent-code' : ''),
    fact('user consent', d.consent ? OPT_IN_STATE[d.consent.state] || String(d.consent.state) : '—'),
  );
}

// The host's power as CIM names it (docs/reference-host-power.md).
function fmtHostPower(h) {
  if (!h) return '—';
  const name = { S0: 'on (S0)', S3: 'sleep (S3)', S4: 'hibernate (S4)', S5: 'soft off (S5)', G3: 'no AC (G3)' }[h.state] || h.state;
  return name + (h.transitioning ? ' · changing' : '') + (h.osAgent ? ' · OS agent' : '');
}

// IPS_OptInService.OptInState (docs/reference-user-consent.md).
const OPT_IN_STATE = ['not started', 'requested', 'displayed', 'received', 'in session'];

function fmtRedirection(r) {
  if (!r) return '—';
  // AMT_RedirectionService.EnabledState: 32768 none, 32769 IDER, 32770 SOL, 32771 IDER + SOL.
  const on = [];
  if (r.enabledState === 32769 || r.enabledState === 32771) on.push('IDER');
  if (r.enabledState === 32770 || r.enabledState === 32771) on.push('SOL');
  if (r.kvmEnabled) on.push('KVM');
  return (r.listenerEnabled ? 'listener on' : 'listener off') + (on.length ? ' · ' + on.join(', ') : ' · nothing enabled');
}

function timelineRow(e) {
  return el('tr', {}, el('td', { text: fmtTime(e.t) }), el('td', {}, e.type, e.code ? el('span', { class: 'code', text: e.code }) : null), el('td', { class: 'd', text: summaryOf(e.data) }));
}

async function loadDevice(id) {
  const [d, tl, nvram] = await Promise.all([
    api('GET', '/api/devices/' + encodeURIComponent(id)),
    api('GET', '/api/timeline?limit=200&deviceId=' + encodeURIComponent(id)),
    api('GET', '/api/devices/' + encodeURIComponent(id) + '/nvram'),
  ]);
  state.devices.set(d.id, d);
  renderDevice(d);
  document.getElementById('dev-timeline').replaceChildren(...tl.events.slice().reverse().map(timelineRow));
  document.getElementById('dev-nvram').textContent = JSON.stringify(nvram, null, 2);
}

async function act(method, path, body, label) {
  const out = document.getElementById('dev-result');
  out.className = 'result';
  out.textContent = label + '…';
  try {
    const r = await api(method, path, body);
    const rv = r && r.returnValue !== undefined ? (r.returnValue === 0 ? 'ReturnValue 0' : 'refused, ReturnValue ' + r.returnValue + (r.reason ? ': ' + r.reason : '')) : null;
    out.textContent = label + ': ' + (r && r.statusName ? r.statusName + (r.value !== undefined ? ' ' + JSON.stringify(r.value) : '') : rv || 'done');
  } catch (e) {
    out.className = 'result err';
    out.textContent = label + ': ' + e.message;
  }
  if (state.current) await loadDevice(state.current).catch(() => {});
}

// ---- live updates -----------------------------------------------------------------------------

const pending = new Set();
let timer = null;
function scheduleRefresh(id) {
  pending.add(id);
  if (timer) return;
  timer = setTimeout(async () => {
    timer = null;
    const ids = [...pending]; pending.clear();
    try {
      state.fleet = await api('GET', '/api/fleet');
      renderCounts();
      for (const id of ids.slice(0, 50)) {
        const d = await api('GET', '/api/devices/' + encodeURIComponent(id));
        state.devices.set(d.id, d);
        updateRow(d, true);
        if (state.current === d.id) renderDevice(d);
      }
      if (state.current && ids.includes(state.current)) {
        const nvram = await api('GET', '/api/devices/' + encodeURIComponent(state.current) + '/nvram');
        document.getElementById('dev-nvram').textContent = JSON.stringify(nvram, null, 2);
      }
    } catch (e) { /* the next event retries */ }
  }, 150);
}

function connect() {
  const url = '/api/events' + (state.token ? '?access_token=' + encodeURIComponent(state.token) : '');
  const src = new EventSource(url);
  state.source = src;
  const live = document.getElementById('live');
  src.onopen = () => { live.className = 'live on'; };
  src.onerror = () => { live.className = 'live off'; };
  src.addEventListener('timeline', (msg) => {
    const e = JSON.parse(msg.data);
    const d = state.devices.get(e.deviceId);
    if (d) { d.lastEvent = e; updateRow(d, false); }
    if (state.fleet) { state.fleet.time.now = Math.max(state.fleet.time.now, e.t); renderClock(state.fleet.time); }
    if (state.current === e.deviceId) {
      const body = document.getElementById('dev-timeline');
      body.prepend(timelineRow(e));
      while (body.children.length > 200) body.lastChild.remove();
    }
    if (REFRESH_TYPES.test(e.type)) scheduleRefresh(e.deviceId);
  });
  src.addEventListener('gap', () => loadFleet().catch(() => {}));
}

// ---- routing and wiring -----------------------------------------------------------------------

async function route() {
  const m = /^#\/device\/(.+)$/.exec(location.hash);
  state.current = m ? decodeURIComponent(m[1]) : null;
  document.getElementById('fleet-view').hidden = !!m;
  // The id is known from the URL: show it at once rather than a blank heading while the device loads.
  if (m) document.getElementById('dev-title').textContent = state.current;
  document.getElementById('device-view').hidden = !m;
  if (m) await loadDevice(state.current).catch((e) => { document.getElementById('dev-title').textContent = e.message; });
  else renderTable();
}

document.addEventListener('click', (ev) => {
  const b = ev.target.closest('button');
  if (!b) return;
  if (b.dataset.advance) {
    api('POST', '/api/time/advance', { by: b.dataset.advance }).then((t) => { if (state.fleet) { state.fleet.time = t; renderClock(t); } loadFleet(); }).catch((e) => alert(e.message));
    return;
  }
  const id = state.current; if (!id) return;
  const base = '/api/devices/' + encodeURIComponent(id);
  if (b.dataset.power) act('POST', base + '/power', { action: b.dataset.power }, 'power ' + b.dataset.power);
  else if (b.dataset.hostpower) act('POST', base + '/host-power', { action: b.dataset.hostpower }, 'host ' + b.dataset.hostpower);
  else if (b.dataset.link) act('POST', base + '/link', { up: b.dataset.link === 'true' }, b.dataset.link === 'true' ? 'cable in' : 'cable out');
  else if (b.dataset.host) act('POST', base + '/host/' + b.dataset.host, b.dataset.body ? JSON.parse(b.dataset.body) : {}, b.dataset.host);
  else if (b.dataset.unprovision) act('POST', base + '/unprovision', { kind: b.dataset.unprovision }, 'unprovision ' + b.dataset.unprovision);
});

document.getElementById('filter').addEventListener('input', (e) => { state.filter = e.target.value; renderTable(); });
window.addEventListener('hashchange', route);

initToken();
loadFleet().then(route).then(connect).catch((e) => { document.getElementById('shown').textContent = 'cannot load the fleet: ' + e.message; });
