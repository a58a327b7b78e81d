/**
 * `--deadline` values: an ISO-8601 date-time with a time zone, a bare date (00:00 UTC), or a time from
 * now such as `+30m`, `+2h`, `+3d`. A date-time without a zone is refused rather than guessed: the
 * operator's local zone and the server's may differ, and a deadline off by hours closes scoring early.
 */

const RELATIVE = /^\+(\d{1,6})(s|m|h|d)$/;
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const DEADLINE_FORMS = 'an ISO-8601 time such as 2026-12-01T18:00:00Z, a date, or +30m, +2h, +3d';

export type DeadlineResult = { ok: true; date: Date } | { ok: false; message: string };

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Minutes east of UTC for `Z`, `+02`, `+0200` or `+02:00`; undefined when out of range. */
function offsetMinutes(zone: string): number | undefined {
  if (zone === 'Z' || zone === 'z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (hours > 23 || minutes > 59) return undefined;
  return sign * (hours * 60 + minutes);
}

export function parseDeadline(text: string, now: Date): DeadlineResult {
  const value = text.trim();
  const bad = (why: string): DeadlineResult => ({
    ok: false,
    message: `--deadline ${JSON.stringify(text)} ${why}; use ${DEADLINE_FORMS}`,
  });

  const relative = RELATIVE.exec(value);
  if (relative) {
    const amount = Number(relative[1]);
    if (amount === 0) return bad('is not in the future');
    return { ok: true, date: new Date(now.getTime() + amount * UNIT_MS[relative[2]!]!) };
  }

  const iso = ISO.exec(value);
  if (!iso) return bad('is not a time');
  const [, y, mo, d, h, mi, s, fraction, zone] = iso;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return bad('is not a calendar date');
  }
  if (h === undefined) return { ok: true, date: new Date(Date.UTC(year, month - 1, day)) };
  if (zone === undefined) return bad('has no time zone (add Z for UTC, or an offset such as +02:00)');
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s ?? 0);
  const offset = offsetMinutes(zone);
  if (hour > 23 || minute > 59 || second > 59 || offset === undefined) return bad('is not a valid time');
  const ms = Number((fraction ?? '').padEnd(3, '0').slice(0, 3));
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset * 60_000;
  return { ok: true, date: new Date(utc) };
}
