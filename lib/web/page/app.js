// The page of `event-bus-logger web`: a plain ES module, served as is (no build step). It reads the server's
// Server-Sent Events at /events and shows them. Everything that comes from the bus enters the page as text
// (textContent, never innerHTML), so hostile data stays text; the server's Content-Security-Policy forbids
// inline script besides. Bounded: the page keeps MAX_ROWS rows and says how many older ones it let go.
const MAX_ROWS = 2000;
const PREVIEW_CHARS = 300;
const FULL_CHARS = 100_000;
const SEARCH_CHARS = 4000;
const CHART_SECONDS = 300;
const MAX_NOTICES = 50;

const $ = (id) => document.getElementById(id);
const view = {
  events: $('events'),
  levels: $('levels'),
  text: $('text-filter'),
  connection: $('connection'),
  bus: $('bus'),
  rate: $('rate'),
  chart: $('chart'),
  notices: $('notices'),
  letGo: $('let-go'),
  history: $('history'),
  replay: $('replay'),
  newEvents: $('new-events'),
};

const state = {
  boot: undefined,
  serverUp: false,
  busUp: false,
  hidden: new Set(),
  text: '',
  pending: [],
  letGo: 0,
  unseen: 0,
  follow: true,
  rates: [],
  flushScheduled: false,
};

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const clip = (text, max) => (text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text);
const levelClass = (level) => `level level-${String(level).toLowerCase().replace(/[^a-z0-9_-]/g, '_')}`;
// The levels whose rows stand out as rows (tinted, with a bar), not only by their label.
const SEVERE = new Set(['critical', 'fatal', 'error', 'alert', 'emergency']);
const cssColor = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

// --- the connection ---------------------------------------------------------------------------------------------

function showConnection() {
  const [name, text] = !state.serverUp
    ? ['reconnecting', 'reconnecting to the server…']
    : state.busUp
      ? ['connected', 'connected']
      : ['reconnecting', 'the server is reconnecting to the broker…'];
  view.connection.dataset.state = name;
  view.connection.textContent = text;
}

const source = new EventSource('/events');
source.addEventListener('open', () => {
  state.serverUp = true;
  showConnection();
});
source.addEventListener('error', () => {
  state.serverUp = false;
  showConnection();
});
source.addEventListener('hello', (message) => {
  const hello = JSON.parse(message.data);
  if (state.boot !== undefined && hello.boot !== state.boot) notice({ kind: 'server', text: 'the server restarted', time: new Date().toISOString() });
  state.boot = hello.boot;
  state.busUp = hello.connected === true;
  view.bus.textContent = String(hello.bus ?? '');
  for (const level of hello.levels ?? []) addLevel(String(level));
  state.backlogEvents = Number(hello.backlogEvents) || 1000;
  showReplay(hello.replay);
  showHistory(hello.history);
  if (Array.isArray(hello.chart)) setChart(hello.chart);
  showConnection();
});
source.addEventListener('event', (message) => receive(JSON.parse(message.data)));
source.addEventListener('notice', (message) => notice(JSON.parse(message.data)));
source.addEventListener('tick', (message) => tick(JSON.parse(message.data)));
source.addEventListener('dropped', (message) => {
  const { dropped, total } = JSON.parse(message.data);
  notice({ kind: 'dropped', text: `the server dropped ${dropped} event(s) for this page, which did not keep up (${total} in all)`, time: new Date().toISOString() });
});

// --- notices, counts, chart -----------------------------------------------------------------------------------

function notice({ kind, text, time }) {
  if (kind === 'connected') state.busUp = true;
  if (kind === 'disconnected') state.busUp = false;
  showConnection();
  const line = element('div', `notice notice-${String(kind).replace(/[^a-z]/g, '')}`, `${String(time ?? '').slice(11, 19)} ${clip(String(text), 1000)}`);
  view.notices.append(line);
  while (view.notices.childElementCount > MAX_NOTICES) view.notices.firstElementChild.remove();
  view.notices.scrollTop = view.notices.scrollHeight;
}

const levelBoxes = new Map();
function addLevel(level) {
  if (levelBoxes.has(level)) return;
  const label = element('label', levelClass(level));
  const box = element('input');
  box.type = 'checkbox';
  box.checked = !state.hidden.has(level);
  box.value = level;
  box.addEventListener('change', () => {
    if (box.checked) state.hidden.delete(level);
    else state.hidden.add(level);
    refilter();
  });
  const count = element('span', 'count', '0');
  label.append(box, ` ${level} `, count);
  view.levels.append(label);
  levelBoxes.set(level, count);
}

// On a bus with history: what `event-bus-logger history-info` says: the first and last offsets and their times, how
// many events that is, and the retention the config declares.
const utc = (time) => (time ? `${String(time).replace('T', ' ').replace(/Z$/, '')} UTC` : 'no time');
const mebibytes = (bytes) => (bytes >= 1024 ** 3 ? `${+(bytes / 1024 ** 3).toFixed(2)} GiB` : `${+(bytes / 1024 ** 2).toFixed(2)} MiB`);
function showHistory(history) {
  if (!history) return;
  view.history.hidden = false;
  const held =
    history.first && history.last
      ? `offsets ${history.first.offset}–${history.last.offset} (${count(history.last.offset - history.first.offset + 1)} events), ${utc(history.first.time)} to ${utc(history.last.time)}`
      : 'empty';
  const retention = [history.maxAge && `max age ${history.maxAge}`, history.maxBytes && `max size ${mebibytes(history.maxBytes)}`, history.maxSegmentBytes && `segments of ${mebibytes(history.maxSegmentBytes)}`].filter(Boolean);
  view.history.textContent = `history: ${held}${retention.length > 0 ? `; retention: ${retention.join(', ')}` : ''}`;
}

function tick({ rate, counts, chart, replay, history }) {
  showHistory(history);
  view.rate.textContent = `${rate} ev/s`;
  // Once a second, a view that follows is put back at the newest row, should rows have grown since (see toNewest).
  if (state.follow && view.events.scrollTop + view.events.clientHeight < view.events.scrollHeight - 1) toNewest();
  for (const [level, count] of Object.entries(counts ?? {})) {
    addLevel(level);
    levelBoxes.get(level).textContent = String(count);
  }
  showReplay(replay);
  // The server's chart: every event it has by its own time, replayed ones too, not only what this page saw.
  if (Array.isArray(chart)) setChart(chart);
  else {
    state.rates.push(Number(rate) || 0);
    if (state.rates.length > CHART_SECONDS) state.rates.shift();
    drawChart();
  }
}

function setChart(chart) {
  state.rates = chart.slice(-CHART_SECONDS).map((count) => Number(count) || 0);
  drawChart();
}

const count = (n) => Number(n).toLocaleString('en');

// With --since: how many events the server replayed from the history (the level counts include them), and that a
// page gets only the last ones the server keeps.
function showReplay(replay) {
  if (!replay) return;
  const since = String(replay.since);
  view.replay.hidden = false;
  view.replay.textContent = replay.done
    ? `${count(replay.replayed)} event(s) replayed from the history since ${since}: the counts include them; a page gets the last ${count(state.backlogEvents ?? 1000)} events the server keeps, then the live ones.`
    : `Replaying the history since ${since}: ${count(replay.replayed)} event(s) so far (the counts include them); a page gets the last ${count(state.backlogEvents ?? 1000)} the server keeps.`;
}

function drawChart() {
  const canvas = view.chart;
  const context = canvas.getContext('2d');
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  const max = Math.max(1, ...state.rates);
  const barWidth = width / CHART_SECONDS;
  context.fillStyle = cssColor('--chart-bar') || '#33aa77';
  state.rates.forEach((rate, index) => {
    const barHeight = (rate / max) * (height - 12);
    context.fillRect(width - (state.rates.length - index) * barWidth, height - barHeight, Math.max(1, barWidth - 0.5), barHeight);
  });
  context.fillStyle = cssColor('--muted') || '#5f5f5f';
  context.font = '10px sans-serif';
  const label = `max ${max} ev/s, last ${CHART_SECONDS / 60} min`;
  context.fillText(label, 4, 10);
  canvas.setAttribute('aria-label', `events per second over the last ${CHART_SECONDS / 60} minutes, by the time they were published: ${label}, ${state.rates.at(-1) ?? 0} in the last second`);
}

// --- rows -----------------------------------------------------------------------------------------------------

function receive(record) {
  state.pending.push(record);
  // A burst faster than the page draws: keep only what could be shown anyway.
  if (state.pending.length > MAX_ROWS) state.letGo += state.pending.splice(0, state.pending.length - MAX_ROWS).length;
  // Drawn in batches, at most ten times a second: a burst costs one layout per batch, not one per event.
  if (!state.flushScheduled) {
    state.flushScheduled = true;
    setTimeout(() => requestAnimationFrame(flush), 100);
    setTimeout(flush, 300); // a background tab gets no animation frames
  }
}

function flush() {
  if (!state.flushScheduled) return;
  state.flushScheduled = false;
  const records = state.pending.splice(0);
  const rows = document.createDocumentFragment();
  for (const record of records) rows.append(row(record));
  view.events.append(rows);
  let extra = view.events.childElementCount - MAX_ROWS;
  state.letGo += Math.max(0, extra);
  while (extra-- > 0) view.events.firstElementChild.remove();
  keepTabStop();
  view.letGo.hidden = state.letGo === 0;
  view.letGo.textContent = `${state.letGo} older event(s) let go: the page keeps the last ${MAX_ROWS}`;
  if (state.follow) toNewest();
  else {
    state.unseen += records.length;
    view.newEvents.hidden = false;
    view.newEvents.textContent = `${state.unseen} new event(s) ↓`;
  }
}

// Scrolls to the newest row, and keeps it there for the next frames: off-screen rows are laid out at an estimated
// height (content-visibility), and the ones scrolled into view take their real one a frame or more later.
let settleFrames = 0;
function toNewest() {
  view.events.scrollTop = view.events.scrollHeight;
  const running = settleFrames > 0;
  settleFrames = 30;
  if (!running) requestAnimationFrame(settle);
}

function settle() {
  const events = view.events;
  if (!state.follow) settleFrames = 0;
  else if (events.scrollTop + events.clientHeight < events.scrollHeight - 1) events.scrollTop = events.scrollHeight;
  if (--settleFrames > 0) requestAnimationFrame(settle);
}

function row(record) {
  const node = element('div', SEVERE.has(String(record.level).toLowerCase()) ? 'row row-critical' : 'row');
  const dataText = record.truncated ? String(record.truncated.preview) : JSON.stringify(record.data);
  const source = `${record.host ?? '-'}/${record.appId ?? '-'}`;
  // The time is the row's button: it expands the event (Enter or Space), and is the row's one tab stop.
  const expand = element('button', 'time', String(record.time ?? '').replace('T', ' ').replace(/Z$/, ''));
  expand.type = 'button';
  expand.tabIndex = -1;
  expand.setAttribute('aria-expanded', 'false');
  expand.title = 'show the whole event';
  node.append(
    expand,
    element('span', levelClass(record.level), String(record.level).toUpperCase()),
    element('span', 'source', source),
    element('span', 'data', clip(dataText, PREVIEW_CHARS) + (record.truncated ? ` (${record.truncated.bytes} bytes, cut by the server)` : '')),
  );
  node.level = String(record.level);
  node.search = `${record.level} ${source} ${dataText.slice(0, SEARCH_CHARS)}`.toLowerCase();
  node.record = record;
  node.hidden = !visible(node);
  return node;
}

function visible(node) {
  return !state.hidden.has(node.level) && (state.text === '' || node.search.includes(state.text));
}

function refilter() {
  for (const node of view.events.children) node.hidden = !visible(node);
  keepTabStop();
}

// --- the keyboard: the rows are one tab stop (roving tabindex); arrows, Home and End move between visible rows --

const rowButton = (node) => node?.querySelector(':scope > button.time');
const visibleRows = () => [...view.events.children].filter((node) => !node.hidden);

// Exactly one visible row's button is in the tab order: the one last focused, else the first visible row's.
function keepTabStop() {
  const current = view.events.querySelector(':scope > .row > button.time[tabindex="0"]');
  if (current && !current.parentElement.hidden) return;
  if (current) current.tabIndex = -1;
  const first = rowButton(visibleRows()[0]);
  if (first) first.tabIndex = 0;
}

function focusRow(node) {
  const button = rowButton(node);
  if (!button) return;
  for (const other of view.events.querySelectorAll(':scope > .row > button.time[tabindex="0"]')) other.tabIndex = -1;
  button.tabIndex = 0;
  button.focus();
}

view.events.addEventListener('keydown', (key) => {
  const node = key.target.closest?.('.row');
  if (!node || key.target !== rowButton(node)) return;
  const rows = visibleRows();
  const at = rows.indexOf(node);
  const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: rows.length - 1, PageDown: at + 10, PageUp: at - 10 }[key.key];
  if (to === undefined) return;
  key.preventDefault();
  focusRow(rows[Math.max(0, Math.min(rows.length - 1, to))]);
});
view.events.addEventListener('focusin', (focus) => {
  const node = focus.target.closest?.('.row');
  if (node && focus.target === rowButton(node) && focus.target.tabIndex !== 0) focusRow(node);
});

view.events.addEventListener('click', (click) => {
  const node = click.target.closest('.row');
  if (!node || click.target.closest('.full')) return;
  const open = node.querySelector('.full');
  rowButton(node)?.setAttribute('aria-expanded', open ? 'false' : 'true');
  if (open) return void open.remove();
  const { record } = node;
  const text = record.truncated
    ? `${record.truncated.preview}\n… the data was ${record.truncated.bytes} bytes; the server sent the first ${record.truncated.preview.length} characters`
    : JSON.stringify(record.data, null, 2);
  const meta = `level ${record.level} · host ${record.host} · pid ${record.pid} · appId ${record.appId} · messageId ${record.messageId}`;
  node.append(element('pre', 'full', `${meta}\n${clip(text, FULL_CHARS)}`));
});

view.text.addEventListener('input', () => {
  state.text = view.text.value.trim().toLowerCase();
  refilter();
});

// Follow the newest events unless the reader scrolled up; then a button counts the new ones and returns.
//
// Only the reader stops the following: a scroll away from the bottom stops it when it comes of the reader's own
// doing (the wheel, a touch, a key, a press on the list or its scrollbar, seen just before it, or a pointer still
// held). Any other scroll is the page's or the layout's: rows off-screen are laid out at an estimated height
// (content-visibility), so the list's height shifts under a view at the bottom, the browser moves the view, and the
// scroll event for it comes a frame later, when the view may no longer be at the bottom; that one must not stop the
// following (it did, under load: the view then stayed where the layout left it).
const READER_FRAMES = 10;
let readerFrames = 0;
let counting = false;
let pointerHeld = false;
function readerActs() {
  readerFrames = READER_FRAMES;
  if (counting) return;
  counting = true;
  requestAnimationFrame(countReaderFrames);
}
function countReaderFrames() {
  readerFrames = Math.max(0, readerFrames - 1);
  if (readerFrames > 0) requestAnimationFrame(countReaderFrames);
  else counting = false;
}
// Not passive: the page sees the wheel before the scroll it makes.
view.events.addEventListener('wheel', readerActs);
view.events.addEventListener('touchmove', readerActs, { passive: true });
view.events.addEventListener('keydown', readerActs);
view.events.addEventListener('pointerdown', () => {
  pointerHeld = true;
  readerActs();
});
for (const type of ['pointerup', 'pointercancel']) {
  window.addEventListener(type, () => {
    if (!pointerHeld) return;
    pointerHeld = false;
    readerActs();
  });
}

view.events.addEventListener('scroll', () => {
  const atBottom = view.events.scrollTop + view.events.clientHeight >= view.events.scrollHeight - 4;
  if (atBottom) state.follow = true;
  else if (pointerHeld || readerFrames > 0) {
    state.follow = false;
    readerFrames = 0;
  }
  if (state.follow) {
    state.unseen = 0;
    view.newEvents.hidden = true;
  }
});
view.newEvents.addEventListener('click', () => {
  state.follow = true;
  state.unseen = 0;
  view.newEvents.hidden = true;
  toNewest();
});

showConnection();
drawChart();
