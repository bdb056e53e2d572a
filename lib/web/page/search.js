// The search panel: reads the history through GET /search (since, until, a query of path=value terms and text) and
// streams what matches into its own table as the server scans, with the server's progress; Stop (or a new search)
// closes the stream, and the server stops reading. The live view goes on beside it.
const form = document.getElementById('search-form');
const since = document.getElementById('search-since');
const until = document.getElementById('search-until');
const query = document.getElementById('search-query');
const start = document.getElementById('search-start');
const stop = document.getElementById('search-stop');
const status = document.getElementById('search-progress');
const table = document.getElementById('search-results');
const body = table.querySelector('tbody');
let source;

// The pickers: a native date-time picker beside Since and Until (in the browser's time zone, to the second). A pick
// fills the field with that time in ISO 8601 with its offset from UTC (2026-12-02T03:00:00+01:00, or Z), which the
// since grammar reads as it is, so the server searches from the instant picked. Typing in the field still takes the
// whole grammar (10m, start, now, an offset, a time with its zone); the picker then shows a typed time, else nothing.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;
const two = (n) => String(n).padStart(2, '0');
const localTime = (date) => `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}T${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;

function isoWithOffset(date) {
  const minutes = -date.getTimezoneOffset();
  const zone = minutes === 0 ? 'Z' : `${minutes > 0 ? '+' : '-'}${two(Math.floor(Math.abs(minutes) / 60))}:${two(Math.abs(minutes) % 60)}`;
  return `${localTime(date)}${zone}`;
}

function pairPicker(field, picker) {
  picker.addEventListener('input', () => {
    // An unfinished pick (a part of the date still blank) has no value yet: the field keeps what it had.
    if (picker.value === '') return;
    // A value without a zone is the browser's local time: the Date takes it so, and says the offset then in force.
    const picked = new Date(picker.value);
    if (!Number.isNaN(picked.getTime())) field.value = isoWithOffset(picked);
  });
  field.addEventListener('input', () => {
    const text = field.value.trim();
    const time = ISO_TIME.test(text) ? new Date(text) : undefined;
    picker.value = time && !Number.isNaN(time.getTime()) ? localTime(time) : '';
  });
}
pairPicker(since, document.getElementById('search-since-pick'));
pairPicker(until, document.getElementById('search-until-pick'));

const count = (n) => Number(n).toLocaleString('en-US');

// The server's progress line: the one tail draws on a terminal (offset, scanned, matched, events/s, time left).
const progressText = (p) => p.text ?? 'nothing read yet';

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text;
  row.append(td);
}

function addRow(record) {
  const row = document.createElement('tr');
  row.dataset.level = record.level;
  cell(row, record.time);
  cell(row, record.offset === undefined ? '' : String(record.offset));
  cell(row, record.level);
  cell(row, `${record.host ?? '?'}/${record.appId ?? '?'}`);
  // An event over 16 KiB comes as the server's preview, and says so.
  cell(row, record.truncated ? `${record.truncated.preview}… (${record.truncated.bytes} bytes, cut by the server)` : JSON.stringify(record.data));
  body.append(row);
}

function finish(text) {
  source?.close();
  source = undefined;
  stop.disabled = true;
  start.disabled = false;
  if (text) status.textContent = text;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  finish();
  body.replaceChildren();
  table.hidden = false;
  const params = new URLSearchParams({ since: since.value.trim() || 'start', until: until.value.trim(), q: query.value });
  let last = {};
  status.textContent = 'searching…';
  stop.disabled = false;
  start.disabled = true;
  source = new EventSource(`/search?${params}`);
  source.addEventListener('match', (message) => addRow(JSON.parse(message.data)));
  source.addEventListener('progress', (message) => {
    last = JSON.parse(message.data);
    status.textContent = progressText(last);
  });
  source.addEventListener('done', (message) => {
    const { reason, limit } = JSON.parse(message.data);
    finish(`${reason === 'limit' ? `stopped at ${count(limit)} matches (narrow the search)` : 'done'}: ${progressText(last)}`);
  });
  source.addEventListener('failed', (message) => finish(`failed: ${JSON.parse(message.data).message}`));
  let opened = false;
  source.onopen = () => (opened = true);
  // EventSource says only "error": a search refused before it began (a bad since, until or query: 400; no history:
  // 404) is asked again with fetch for the server's words; a stream cut later is said to be cut.
  source.onerror = () => {
    if (!source) return;
    const current = source;
    finish(opened ? `the search was cut off: ${progressText(last)}` : 'the search could not begin');
    if (opened) return;
    const ask = new AbortController();
    fetch(current.url, { signal: ask.signal })
      .then(async (response) => {
        if (!response.ok && !source) status.textContent = `the search could not begin: ${(await response.text()).trim()}`;
      })
      .catch(() => undefined)
      .finally(() => ask.abort());
  };
});

stop.addEventListener('click', () => finish(`stopped: ${status.textContent}`));
