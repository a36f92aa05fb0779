// The month calendar of availability (residents' start, verify, manage and second visit).
// It says when each month opens and each day closes for booking, counts down on the server's
// clock to the next opening or closing and reloads at that second, so a month opens without a
// reload; seat counts are refreshed every minute while the page is visible. A day whose seats
// the web can no longer take is full; when seats held for phone bookings remain, it says so
// (call, or wait for their release), and the page may offer the day's waiting list under it.

import { api, serverClock } from './api.js';
import * as endpoints from './endpoints.js';
import { WORDS } from '/assets/words.js';
import { h, clear, replace } from './dom.js';
import {
  parts, isoDate, addDays, daysInMonth, fmtDate, fmtMonth, fmtTime, fmtDateTime, fmtCountdown,
} from './format.js';

const STR = {
  ja: {
    prev: '前の月', next: '次の月',
    weekdays: ['日', '月', '火', '水', '木', '金', '土'],
    weekdaysLong: ['日曜日', '月曜日', '火曜日', '水曜日', '木曜日', '金曜日', '土曜日'],
    caption: '{month}の空き状況',
    loading: '空き状況を読み込んでいます…',
    loadFailed: '空き状況を読み込めませんでした。',
    retry: '再読み込み',
    opensOn: '{month}分の予約受付は {at} に始まります。',
    countdown: '受付開始まで あと {left}',
    openNow: '{month}分の予約を受付中です。各日の受付は、その日の{days}日前の{time}までです。',
    monthClosed: '{month}分の予約受付は終了しました。',
    opened: '{month}分の予約受付が始まりました。',
    // A narrow day breaks these only at the word (U+200B), never as 受付終 / 了 (see .day-note).
    avail: '空き\u200bあり', few: '残り\u200bわずか', full: '満員', closed: '休み', pending: '受付前', ended: '受付\u200b終了',
    legendAvail: '空きあり', legendFew: '残りわずか', legendFull: '満員', legendClosed: '休み・受付期間外',
    reason: WORDS.ja.closed_reason,
    issuance: '休日交付日',
    dayHours: '受付時間 {opens}〜{closes}',
    dayWindow: '予約受付: {opens} 〜 {closes}(締切)',
    dayPending: '{at} から予約できます。',
    lottery: '抽選',
    dayLottery: 'この月は抽選で予約を決めます(抽選日時 {at})。メールアドレスの確認のあと、希望の時間帯を3つまで選んで申し込めます。抽選後の空きは先着順で予約できます。',
    dayEnded: 'この日の予約受付は終了しました。',
    dayClosed: 'この日は窓口がお休みです({reason})。',
    dayFull: 'この日は満員です。',
    fullWeb: 'Web満員',
    fullWebLong: 'Web予約は満員(電話予約枠あり)',
    dayFullWeb: 'この日のWeb予約の枠は満員です。電話予約用の枠が残っているため、お電話でご予約いただけます。',
    heldRelease: '電話予約用の枠は {at} からWebでも予約できるようになります。',
    slotHeld: '電話予約枠のみ',
    pickDay: 'カレンダーから日付を選んでください。',
    slotsLabel: '{date}の時間帯',
    left: '残り{n}', slotFull: '満員', slotClosed: '受付外',
    chosen: '選択中',
    startsShort: '{md} {time}〜',
  },
  en: {
    prev: 'Previous month', next: 'Next month',
    weekdays: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'],
    weekdaysLong: ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'],
    caption: 'Availability in {month}',
    loading: 'Loading availability…',
    loadFailed: 'Availability could not be loaded.',
    retry: 'Reload',
    opensOn: 'Booking for {month} opens at {at} (Japan time).',
    countdown: 'Opens in {left}',
    openNow: 'Booking for {month} is open. Each day can be booked until {time} {days} days before.',
    monthClosed: 'Booking for {month} has closed.',
    opened: 'Booking for {month} is now open.',
    avail: 'Free', few: 'Few left', full: 'Full', closed: 'Closed', pending: 'Not yet open', ended: 'Closed for booking',
    legendAvail: 'free seats', legendFew: 'few left', legendFull: 'full', legendClosed: 'closed / outside the booking window',
    reason: WORDS.en.closed_reason,
    issuance: 'Holiday opening',
    dayHours: 'Open {opens}–{closes}',
    dayWindow: 'Booking: {opens} – {closes} (closes)',
    dayPending: 'Booking opens at {at}.',
    lottery: 'Lottery',
    dayLottery: 'This month is drawn by lottery (drawn at {at}). After verifying your address, pick up to three times to enter; seats left after the draw are booked first-come.',
    dayEnded: 'Booking for this day has closed.',
    dayClosed: 'The counter is closed on this day ({reason}).',
    dayFull: 'This day is full.',
    fullWeb: 'Full online',
    fullWebLong: 'full online (telephone seats left)',
    dayFullWeb: 'This day is full for online booking. Seats kept for telephone bookings remain: please call.',
    heldRelease: 'Seats kept for telephone bookings can be booked online from {at}.',
    slotHeld: 'Telephone only',
    pickDay: 'Choose a day in the calendar.',
    slotsLabel: 'Times on {date}',
    left: '{n} left', slotFull: 'Full', slotClosed: 'Not bookable',
    chosen: 'Chosen',
    startsShort: '{md} {time}–',
  },
};

const fill = (s, vars) => s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
const FEW = 3;
const MAX_TIMER = 60 * 60 * 1000;

let uid = 0;

export class AvailabilityCalendar {
  /**
   * opts: counter, lang, onSlot(slot, day), selectedSlotId, initialDate ('YYYY-MM-DD'),
   * minDate/maxDate (limit the days offered), extraForDay(day, el) (adds content under a day's
   * slots, e.g. the waiting list), headingLevel (default 3), phone (the counter's number),
   * pickPending (a slot of a day not yet open may be chosen, as a preference for the opening),
   * markFor(slotId) (a word shown on a chosen slot, e.g. 第1希望; replaces "chosen").
   */
  constructor(root, opts) {
    this.root = root;
    this.opts = opts;
    this.lang = opts.lang === 'en' ? 'en' : 'ja';
    this.s = STR[this.lang];
    this.id = 'cal' + ++uid;
    this.days = new Map();
    this.selectedDate = null;
    this.selectedSlotId = opts.selectedSlotId || null;
    this.timers = [];
    this.month = null;
    this.loadSeq = 0;
    this.retries = 0;
    this.build();
    this.onVisible = () => { if (document.visibilityState === 'visible' && this.month) this.load({ quiet: true }); };
    document.addEventListener('visibilitychange', this.onVisible);
    this.ticker = setInterval(() => this.tick(), 1000);
    const start = opts.initialDate || (this.selectedSlotId && slotDate(this.selectedSlotId)) || null;
    if (start) {
      const p = parts(start);
      this.selectedDate = start;
      this.goto(p.y, p.m);
    } else {
      this.gotoToday();
    }
  }

  destroy() {
    this.clearTimers();
    clearInterval(this.ticker);
    document.removeEventListener('visibilitychange', this.onVisible);
    clear(this.root);
  }

  async gotoToday() {
    // The server's date decides which month is "this month": guess it from the clock known so
    // far, then correct it with the answer's X-Madoguchi-Now.
    let guess = parts(serverClock.today());
    this.skeleton(guess.y, guess.m);
    try {
      let days = await this.fetchMonth(guess.y, guess.m);
      const today = parts(this.today);
      if (today.y !== guess.y || today.m !== guess.m) {
        guess = today;
        days = await this.fetchMonth(guess.y, guess.m);
      }
      const min = this.opts.minDate && this.opts.minDate > this.today ? parts(this.opts.minDate) : guess;
      if (min.y !== guess.y || min.m !== guess.m) days = await this.fetchMonth(min.y, min.m);
      // The first month with a free seat within three months, else the first one.
      let target = min;
      for (let i = 0; i < 3; i++) {
        if (days.some((d) => d.bookable_now && this.inRange(d.date) && d.slots.some((s) => s.bookable && s.remaining > 0))) {
          return this.goto(target.y, target.m, days);
        }
        target = parts(isoDate(target.y, target.m + 1, 1));
        if (this.opts.maxDate && isoDate(target.y, target.m, 1) > this.opts.maxDate) break;
        days = await this.fetchMonth(target.y, target.m);
      }
      return this.goto(min.y, min.m);
    } catch (e) {
      return this.goto(guess.y, guess.m);
    }
  }

  build() {
    const s = this.s;
    this.prevBtn = h('button', { type: 'button', class: 'btn secondary small cal-nav', 'aria-label': s.prev, onclick: () => this.shift(-1) }, '‹');
    this.nextBtn = h('button', { type: 'button', class: 'btn secondary small cal-nav', 'aria-label': s.next, onclick: () => this.shift(1) }, '›');
    this.title = h('h' + (this.opts.headingLevel || 3), { id: this.id + '-title', 'aria-live': 'polite' });
    this.windowEl = h('p', { class: 'cal-window', 'data-testid': 'cal-window' });
    this.table = h('table', { class: 'cal-grid', 'aria-labelledby': this.id + '-title' });
    this.status = h('p', { class: 'cal-status', role: 'status', 'aria-live': 'polite' });
    this.dayPanel = h('div', { class: 'cal-day', 'aria-live': 'polite' });
    const legend = h('ul', { class: 'cal-legend', 'aria-hidden': 'true' },
      h('li', { class: 'avail' }, h('b', null, '○'), s.legendAvail),
      h('li', { class: 'few' }, h('b', null, '△'), s.legendFew),
      h('li', { class: 'full' }, h('b', null, '×'), s.legendFull),
      h('li', null, h('b', null, '－'), s.legendClosed));
    replace(this.root, h('div', { class: 'cal', 'data-counter': this.opts.counter },
      h('div', { class: 'cal-head' }, this.prevBtn, this.title, this.nextBtn),
      this.windowEl, this.status, this.table, legend, this.dayPanel));
    this.table.addEventListener('keydown', (e) => this.onKey(e));
  }

  shift(n) {
    if (!this.month) return;
    const p = parts(isoDate(this.month.y, this.month.m + n, 1));
    this.goto(p.y, p.m);
  }

  bounds() {
    const today = this.today || serverClock.today();
    const min = this.opts.minDate && this.opts.minDate > today ? this.opts.minDate : today;
    const max = this.opts.maxDate || isoDate(parts(today).y, parts(today).m + 4, 0);
    return { min, max };
  }

  async goto(y, m, prefetched) {
    this.month = { y, m };
    this.title.textContent = fmtMonth(y, m, this.lang);
    const { min, max } = this.bounds();
    const first = isoDate(y, m, 1);
    this.prevBtn.disabled = first <= min.slice(0, 8) + '01';
    this.nextBtn.disabled = isoDate(y, m + 1, 1) > max;
    this.skeleton(y, m);
    await this.load({ prefetched });
  }

  /**
   * The month's grid, empty, while its days load (before the first answer only): the calendar
   * takes its full height at once instead of growing under the reader when the answer comes
   * (a layout shift).
   */
  skeleton(y, m) {
    if (this.days.size) return;
    const was = this.month;
    this.month = { y, m };
    this.table.classList.add('skeleton');
    this.renderGrid();
    if (was) this.month = was;
  }

  async fetchMonth(y, m) {
    const from = isoDate(y, m, 1);
    const to = isoDate(y, m, daysInMonth(y, m));
    const data = await api(endpoints.availability(this.opts.counter, from, to));
    this.today = serverClock.today();
    return data.days;
  }

  async load({ quiet = false, prefetched } = {}) {
    const seq = ++this.loadSeq;
    const { y, m } = this.month;
    if (!quiet && !prefetched) {
      this.status.className = 'cal-status loading';
      this.status.textContent = this.s.loading;
    }
    let days;
    try {
      days = prefetched || await this.fetchMonth(y, m);
    } catch (e) {
      if (seq !== this.loadSeq) return;
      this.status.className = 'cal-status';
      replace(this.status, this.s.loadFailed + ' ',
        h('button', { type: 'button', class: 'btn quiet small', onclick: () => this.load() }, this.s.retry));
      this.schedule(15000);
      return;
    }
    if (seq !== this.loadSeq) return;
    const wasPending = this.monthPending();
    this.days = new Map(days.map((d) => [d.date, d]));
    this.status.className = 'cal-status';
    this.status.textContent = '';
    if (wasPending && !this.monthPending() && this.monthOpensAt() && serverClock.now() >= Date.parse(this.monthOpensAt())) {
      this.status.textContent = fill(this.s.opened, { month: fmtMonth(y, m, this.lang) });
    }
    // A reload redraws the grid and the slots: keep the keyboard where it was.
    const active = document.activeElement;
    const keep = active && this.root.contains(active)
      ? (active.dataset.date ? `button.day[data-date="${active.dataset.date}"]` : active.dataset.slot ? `.slot[data-slot="${active.dataset.slot}"]` : null)
      : null;
    this.renderGrid();
    this.renderWindow();
    this.renderDay();
    if (keep) {
      const again = this.root.querySelector(keep);
      if (again && !again.disabled) again.focus({ preventScroll: true });
    }
    this.planNextLoad();
  }

  // ---- timing: reload at the next opening or closing second, and every minute ----

  clearTimers() {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  schedule(ms) {
    this.clearTimers();
    this.timers.push(setTimeout(() => this.load({ quiet: true }), Math.max(0, Math.min(ms, MAX_TIMER))));
  }

  planNextLoad() {
    const now = serverClock.now();
    let next = Infinity;
    let overdue = false;
    for (const d of this.days.values()) {
      if (!d.open) continue;
      for (const at of [Date.parse(d.booking_opens_at), Date.parse(d.booking_closes_at)]) {
        if (at > now) next = Math.min(next, at);
      }
      // The server says "not yet" although our clock says it opened: ask again shortly.
      if (!d.bookable_now && Date.parse(d.booking_opens_at) <= now && Date.parse(d.booking_closes_at) > now) overdue = true;
    }
    if (overdue && this.retries < 20) {
      this.retries++;
      this.schedule(300);
      return;
    }
    this.retries = 0;
    const refresh = document.visibilityState === 'visible' ? 60000 : MAX_TIMER;
    // A few ms after the boundary, so the server's clock has passed it too.
    this.schedule(Math.min(refresh, next - now + 60));
  }

  monthOpensAt() {
    for (const d of this.days.values()) if (d.open) return d.booking_opens_at;
    const first = this.days.values().next().value;
    return first ? first.booking_opens_at : null;
  }

  monthPending() {
    const at = this.monthOpensAt();
    if (!at) return false;
    return [...this.days.values()].some((d) => d.open && !d.bookable_now) && ![...this.days.values()].some((d) => d.bookable_now);
  }

  tick() {
    const at = this.monthOpensAt();
    if (!at || !this.countdownEl) return;
    const left = Date.parse(at) - serverClock.now();
    this.countdownEl.textContent = fill(this.s.countdown, { left: fmtCountdown(left, this.lang) });
    if (this.dayCountdownEl) this.dayCountdownEl.textContent = fill(this.s.countdown, { left: fmtCountdown(left, this.lang) });
  }

  // ---- rendering ----

  dayState(d) {
    const now = serverClock.now();
    if (!d.open) return 'closed';
    // A month drawn by a lottery not drawn yet: its slots are preferences for the entry.
    if (d.lottery) return 'pending';
    if (now < Date.parse(d.booking_opens_at) && !d.bookable_now) return 'pending';
    if (!d.bookable_now) return 'ended';
    if (!this.inRange(d.date)) return 'ended';
    const free = webFree(d);
    if (!free) return d.slots.length ? 'full' : 'ended';
    return free <= FEW ? 'few' : 'avail';
  }

  inRange(date) {
    if (this.opts.minDate && date < this.opts.minDate) return false;
    if (this.opts.maxDate && date > this.opts.maxDate) return false;
    return true;
  }

  renderWindow() {
    const s = this.s;
    const { y, m } = this.month;
    const month = fmtMonth(y, m, this.lang);
    const at = this.monthOpensAt();
    this.countdownEl = null;
    this.windowEl.className = 'cal-window';
    if (!at) { this.windowEl.textContent = ''; return; }
    const now = serverClock.now();
    if (now < Date.parse(at) && this.monthPending()) {
      this.windowEl.classList.add('opening');
      this.countdownEl = h('span', { class: 'countdown', 'aria-hidden': 'true' });
      replace(this.windowEl, fill(s.opensOn, { month, at: fmtDateTime(at, this.lang) }), ' ', this.countdownEl);
      this.tick();
      return;
    }
    const open = [...this.days.values()].filter((d) => d.open);
    if (open.length && open.every((d) => now >= Date.parse(d.booking_closes_at))) {
      this.windowEl.textContent = fill(s.monthClosed, { month });
      return;
    }
    const sample = open[0];
    if (sample) {
      const before = Math.round((Date.parse(sample.date + 'T00:00:00Z') - Date.parse(parts(sample.booking_closes_at).date + 'T00:00:00Z')) / 86400000);
      this.windowEl.textContent = fill(s.openNow, { month, days: before, time: fmtTime(sample.booking_closes_at) });
    }
  }

  renderGrid() {
    const s = this.s;
    const { y, m } = this.month;
    const n = daysInMonth(y, m);
    const firstDow = parts(isoDate(y, m, 1)).dow;
    const head = h('tr', null, s.weekdays.map((w, i) => h('th', {
      scope: 'col', abbr: s.weekdaysLong[i], class: i === 0 ? 'sun' : i === 6 ? 'sat' : null,
    }, w)));
    const body = h('tbody');
    let row = h('tr');
    for (let i = 0; i < firstDow; i++) row.append(h('td', null, h('span', { class: 'day outside', 'aria-hidden': 'true' })));
    const focusDate = this.focusDate();
    for (let d = 1; d <= n; d++) {
      const date = isoDate(y, m, d);
      const dow = (firstDow + d - 1) % 7;
      row.append(h('td', { class: dow === 0 ? 'sun' : dow === 6 ? 'sat' : null }, this.dayCell(date, focusDate)));
      if (dow === 6) { body.append(row); row = h('tr'); }
    }
    if (row.children.length) {
      while (row.children.length < 7) row.append(h('td', null, h('span', { class: 'day outside', 'aria-hidden': 'true' })));
      body.append(row);
    }
    replace(this.table, h('caption', { class: 'visually-hidden' }, fill(s.caption, { month: fmtMonth(y, m, this.lang) })), h('thead', null, head), body);
    if (this.days.size) this.table.classList.remove('skeleton');
  }

  focusDate() {
    const dates = [...this.days.values()].filter((d) => d.open && d.date >= (this.today || '')).map((d) => d.date);
    if (this.selectedDate && this.days.has(this.selectedDate) && this.days.get(this.selectedDate).open) return this.selectedDate;
    const bookable = [...this.days.values()].find((d) => ['avail', 'few'].includes(this.dayState(d)));
    return bookable ? bookable.date : dates[0] || null;
  }

  dayCell(date, focusDate) {
    const s = this.s;
    const d = this.days.get(date);
    const p = parts(date);
    const num = h('span', { class: 'day-num', 'aria-hidden': 'true' }, p.d);
    const label = fmtDate(date, this.lang);
    if (!d) return h('span', { class: 'day closed' }, num);
    const state = this.dayState(d);
    const past = this.today && date < this.today;
    const cls = ['day', past ? 'past' : state, date === this.today ? 'today' : null];
    if (state === 'closed' || past) {
      const why = d.closed_reason ? s.reason[d.closed_reason] || s.closed : s.ended;
      return h('span', { class: cls },
        num,
        h('span', { class: 'day-mark', 'aria-hidden': 'true' }, '－'),
        h('span', { class: 'day-note', 'aria-hidden': 'true' }, d.closed_reason ? s.closed : ''),
        h('span', { class: 'visually-hidden' }, `${label} ${why}`));
    }
    const held = state === 'full' && heldSeats(d) > 0;
    const mark = { avail: '○', few: '△', full: '×', pending: '－', ended: '－' }[state];
    let note = { avail: s.avail, few: s.few, full: held ? s.fullWeb : s.full, pending: s.pending, ended: s.ended }[state];
    if (state === 'pending' && d.lottery) {
      note = s.lottery;
    } else if (state === 'pending') {
      const o = parts(d.booking_opens_at);
      // The date is the same for the whole month (the banner says it): a phone's narrow day
      // shows the time alone, in one line, so that the day is as tall as it is once opened.
      const [before, after] = s.startsShort.split('{md}');
      note = [before, h('span', { class: 'md' }, `${o.m}/${o.d}`), fill(after, { time: fmtTime(d.booking_opens_at) })];
    }
    const sr = `${label} ${{ avail: s.avail, few: s.few, full: held ? s.fullWebLong : s.full, pending: s.pending, ended: s.ended }[state]}${d.holiday_issuance ? ' ' + s.issuance : ''}`;
    return h('button', {
      type: 'button', class: cls, 'data-date': date, 'data-state': state, 'data-held': held ? 'phone' : null,
      'aria-pressed': String(date === this.selectedDate),
      tabindex: date === focusDate ? '0' : '-1',
      onclick: () => this.selectDay(date, true),
    },
    num,
    h('span', { class: 'visually-hidden' }, sr),
    h('span', { class: 'day-mark', 'aria-hidden': 'true' }, mark),
    h('span', { class: 'day-note', 'aria-hidden': 'true' }, note),
    d.holiday_issuance ? h('span', { class: 'issuance', 'aria-hidden': 'true' }, s.issuance) : null);
  }

  onKey(e) {
    const btn = e.target.closest('button.day');
    if (!btn) return;
    const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 }[e.key];
    let target = null;
    const buttons = [...this.table.querySelectorAll('button.day')];
    if (step) {
      let date = btn.dataset.date;
      for (let i = 0; i < 62; i++) {
        date = addDays(date, step);
        const b = this.table.querySelector(`button.day[data-date="${date}"]`);
        if (b) { target = b; break; }
        if (!this.days.has(date) && !this.inMonth(date)) break;
      }
      if (!target && Math.abs(step) === 1) target = buttons[buttons.indexOf(btn) + step] || null;
    } else if (e.key === 'Home') target = buttons[0];
    else if (e.key === 'End') target = buttons[buttons.length - 1];
    else if (e.key === 'PageUp' || e.key === 'PageDown') {
      e.preventDefault();
      this.shift(e.key === 'PageUp' ? -1 : 1);
      return;
    }
    if (target) {
      e.preventDefault();
      for (const b of buttons) b.tabIndex = -1;
      target.tabIndex = 0;
      target.focus();
    }
  }

  inMonth(date) {
    const p = parts(date);
    return this.month && p.y === this.month.y && p.m === this.month.m;
  }

  selectDay(date, fromUser) {
    this.selectedDate = date;
    for (const b of this.table.querySelectorAll('button.day')) {
      b.setAttribute('aria-pressed', String(b.dataset.date === date));
      b.tabIndex = b.dataset.date === date ? 0 : -1;
    }
    this.renderDay();
    if (fromUser) {
      const first = this.dayPanel.querySelector('.slot:not(:disabled)');
      this.dayPanel.scrollIntoView({ block: 'nearest', behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
      if (first && matchMedia('(pointer: fine)').matches === false) first.focus({ preventScroll: true });
    }
  }

  renderDay() {
    const s = this.s;
    this.dayCountdownEl = null;
    const d = this.selectedDate && this.days.get(this.selectedDate);
    if (!d) {
      replace(this.dayPanel, h('p', { class: 'hint' }, s.pickDay));
      return;
    }
    const state = this.dayState(d);
    const parts_ = [h('h' + ((this.opts.headingLevel || 3) + 1), null, fmtDate(d.date, this.lang, { year: true }),
      d.holiday_issuance ? h('span', { class: 'status-badge offered' }, ' ' + s.issuance) : null)];
    if (!d.open) {
      parts_.push(h('p', null, fill(s.dayClosed, { reason: s.reason[d.closed_reason] || s.closed })));
      replace(this.dayPanel, ...parts_);
      return;
    }
    const meta = [];
    if (d.hours) meta.push(fill(s.dayHours, d.hours));
    meta.push(fill(s.dayWindow, { opens: fmtDateTime(d.booking_opens_at, this.lang), closes: fmtDateTime(d.booking_closes_at, this.lang) }));
    parts_.push(h('p', { class: 'meta' }, meta.join(' ・ ')));
    if (state === 'pending' && d.lottery) {
      parts_.push(h('p', { class: 'notice warn', 'data-testid': 'day-lottery' }, fill(s.dayLottery, { at: fmtDateTime(d.lottery.draw_at, this.lang) })));
    } else if (state === 'pending') {
      this.dayCountdownEl = h('strong', { class: 'countdown' });
      parts_.push(h('p', { class: 'notice warn' }, fill(s.dayPending, { at: fmtDateTime(d.booking_opens_at, this.lang) }), ' ', this.dayCountdownEl));
    } else if (state === 'ended') {
      parts_.push(h('p', { class: 'notice' }, s.dayEnded));
    } else if (state === 'full' && heldSeats(d) > 0) {
      const release = d.phone_release_at && Date.parse(d.phone_release_at) > serverClock.now()
        ? ' ' + fill(s.heldRelease, { at: fmtDateTime(d.phone_release_at, this.lang) }) : '';
      parts_.push(h('p', { class: 'notice warn', 'data-testid': 'day-full-web' }, s.dayFullWeb,
        this.opts.phone ? [' ☎ ', h('a', { href: 'tel:' + this.opts.phone.replace(/[^\d+]/g, '') }, this.opts.phone)] : null, release));
    } else if (state === 'full') {
      parts_.push(h('p', { class: 'notice warn' }, s.dayFull));
    }
    const slotLabel = fill(s.slotsLabel, { date: fmtDate(d.date, this.lang) });
    const list = h('ul', { class: 'slots', 'aria-label': slotLabel });
    for (const slot of d.slots) {
      const free = slot.bookable && slot.remaining > 0;
      const pendingPick = state === 'pending' && !!this.opts.pickPending && this.inRange(d.date);
      const ok = pendingPick || (free && this.inRange(d.date) && state !== 'pending');
      const heldOnly = !free && slot.held_for_phone > 0;
      const mark = this.opts.markFor ? this.opts.markFor(slot.id) : null;
      const chosen = mark ? true : slot.id === this.selectedSlotId;
      const left = state === 'pending' ? s.pending
        : free ? fill(s.left, { n: slot.remaining })
          : heldOnly ? s.slotHeld
            : slot.remaining === 0 ? s.slotFull : s.slotClosed;
      list.append(h('li', null, h('button', {
        type: 'button', class: 'slot', disabled: !ok, 'data-slot': slot.id, 'data-held': heldOnly ? 'phone' : null,
        'aria-pressed': String(chosen),
        onclick: () => this.pick(slot, d),
      }, h('span', { class: 'time' }, `${fmtTime(slot.starts_at)}〜${fmtTime(slot.ends_at)}`), h('span', { class: 'left' }, chosen ? `${mark || s.chosen}・${left}` : left))));
    }
    parts_.push(list);
    replace(this.dayPanel, ...parts_);
    if (this.opts.extraForDay) {
      const extra = h('div', { class: 'cal-extra' });
      this.dayPanel.append(extra);
      this.opts.extraForDay(d, extra, state);
    }
    this.tick();
  }

  /** Draws the open day again (after the page changed what markFor says). */
  refresh() { this.renderDay(); }

  /** Whether a day is still before its booking window (its slots are preferences only). */
  isPending(day) { return this.dayState(day) === 'pending'; }

  pick(slot, day) {
    this.selectedSlotId = slot.id;
    this.renderDay();
    if (this.opts.onSlot) this.opts.onSlot(slot, day);
  }

  /** The slot (with its day) if it is loaded, for re-checking a chosen slot. */
  slot(id) {
    for (const d of this.days.values()) {
      const s = d.slots.find((x) => x.id === id);
      if (s) return { slot: s, day: d };
    }
    return null;
  }
}

/** Seats the web may book on a day (the bookable slots' remaining seats). */
export function webFree(day) {
  return day.slots.filter((s) => s.bookable).reduce((n, s) => n + s.remaining, 0);
}

/** Free seats of a day held for phone bookings (not yet released to the web). */
export function heldSeats(day) {
  return day.slots.reduce((n, s) => n + (s.held_for_phone || 0), 0);
}

/** A day open for booking whose seats the web can no longer take: its waiting list's day. */
export function fullForWeb(day) {
  return !!day && day.open && day.bookable_now && day.slots.length > 0 && webFree(day) === 0;
}

/** The date inside a slot id (city-hall.2027-02-01.0900). */
export function slotDate(id) {
  const m = /\.(\d{4}-\d{2}-\d{2})\.\d{4}$/.exec(String(id || ''));
  return m ? m[1] : null;
}

/** Loads one slot's current state (with its day) from availability. */
export async function loadSlot(counter, slotId) {
  const date = slotDate(slotId);
  if (!date) return null;
  const data = await api(endpoints.availability(counter, date, date));
  const day = data.days[0];
  if (!day) return null;
  const slot = day.slots.find((s) => s.id === slotId);
  return slot ? { slot, day } : null;
}
