import { addDays, isIsoDate, monthStart } from '../shared/clock.ts';
import { InputError } from '../shared/errors.ts';

/**
 * Run-parameter templates of a schedule, evaluated once per tick into the body of the run the
 * tick admits (the body `resolveRunParameters` then checks like any other request's).
 *
 * A template maps a parameter name to a string, number or boolean. Numbers and booleans are
 * used as they are; a string may hold `{{ expression }}` placeholders, either the whole value
 * (`"{{ today - 3 days }}"`) or inside text (`"exports/{{ yesterday }}/"`), each replaced by
 * the `YYYY-MM-DD` date it evaluates to. Grammar (whitespace between tokens is free):
 *
 *   value       := { text | "{{" expr "}}" }
 *   expr        := primary { ("+" | "-") INT ("day" | "days") }
 *   primary     := "today" | "yesterday"
 *                | "month_start" "(" expr ")"                  first day of that date's month
 *                | "previous_month_start" "(" expr ")"         first day of the month before
 *                | ("earliest" | "latest") "(" expr "," expr { "," expr } ")"
 *                | "if_day_of_month_at_most" "(" DAY "," expr "," expr ")"
 *   INT         := 0..3660 (decimal digits)
 *   DAY         := 1..31
 *
 * `today` is the tick's date in the schedule's timezone, `yesterday` the day before.
 * `if_day_of_month_at_most(3, a, b)` is `a` when today is the 1st-3rd of its month, else `b`.
 * It is there because a billing re-pull window ("the previous month on the 1st-3rd, else
 * the last 3 days") is not monotonic in today: it jumps back a month on the 1st, and `today`,
 * offsets, month starts, `earliest` and `latest` are all monotonic, so no combination of them
 * can express it.
 *
 * There is no eval: a small tokenizer and a recursive-descent parser compile each placeholder
 * to a function of today.
 */
export type ScheduleTemplate = Record<string, string | number | boolean>;

export interface ScheduleTick {
  /** The tick's date in the schedule's timezone, `YYYY-MM-DD`. */
  localDate: string;
}

const NAME = /^[a-z][a-z0-9_]*$/;
/** A parameter string is at most 1000 characters at admission (run-parameters.ts). */
const MAX_TEXT = 1000;
const MAX_OFFSET_DAYS = 3660;
const FUNCTIONS = ['month_start', 'previous_month_start', 'earliest', 'latest', 'if_day_of_month_at_most'] as const;
const EXPECTED_NAMES = `today, yesterday, ${FUNCTIONS.map((name) => `${name}(…)`).join(', ')}`;

type DateFn = (today: string) => string;
type Part = string | DateFn;

/** Parses every value of a template without evaluating it: for load time and for API input. */
export function checkScheduleTemplate(template: ScheduleTemplate): void {
  compileTemplate(template);
}

/** The run body of one tick: every placeholder replaced by its date for `tick.localDate`. */
export function evaluateScheduleTemplate(template: ScheduleTemplate, tick: ScheduleTick): ScheduleTemplate {
  if (!isIsoDate(tick.localDate)) throw new InputError(`the tick's local date must be YYYY-MM-DD, got ${JSON.stringify(tick.localDate)}`, { field: 'localDate' });
  const body: ScheduleTemplate = {};
  for (const [name, value] of compileTemplate(template)) {
    if (!Array.isArray(value)) {
      body[name] = value;
      continue;
    }
    let text = '';
    for (const part of value) {
      if (typeof part === 'string') {
        text += part;
        continue;
      }
      // Offsets of up to 3660 days, chained, can leave years 0000-9999 (where Date, given the
      // text of such a year, throws a RangeError).
      const day = outsideYears(() => part(tick.localDate));
      if (!isIsoDate(day)) throw new InputError(`parameters.${name}: ${quote(String(template[name]))} evaluates to a date outside 0000-9999 for ${tick.localDate}`, { field: `parameters.${name}` });
      text += day;
    }
    body[name] = text;
  }
  return body;
}

function outsideYears(evaluate: () => string): string {
  try {
    return evaluate();
  } catch (error) {
    if (error instanceof RangeError) return '';
    throw error;
  }
}

function compileTemplate(template: unknown): Map<string, string | number | boolean | Part[]> {
  if (typeof template !== 'object' || template === null || Array.isArray(template)) throw new InputError('parameters must be an object of parameter name to string, number or boolean', { field: 'parameters' });
  const compiled = new Map<string, string | number | boolean | Part[]>();
  for (const [name, value] of Object.entries(template)) {
    const field = `parameters.${clip(name, 64)}`;
    if (!NAME.test(name)) throw new InputError(`${field}: a parameter name is lowercase letters, digits and underscores, starting with a letter`, { field });
    if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) compiled.set(name, value);
    else if (typeof value === 'string') compiled.set(name, compileText(value, field));
    else throw new InputError(`${field} must be a string, a finite number or a boolean, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`, { field });
  }
  return compiled;
}

function compileText(text: string, field: string): string | Part[] {
  if (text.length > MAX_TEXT) throw new InputError(`${field} is longer than ${MAX_TEXT} characters`, { field });
  if (!text.includes('{{')) return text;
  const parts: Part[] = [];
  let at = 0;
  for (let open = text.indexOf('{{', at); open !== -1; open = text.indexOf('{{', at)) {
    const close = text.indexOf('}}', open + 2);
    if (close === -1) throw new InputError(`${field}: "{{" without a closing "}}" in ${quote(text)}`, { field });
    if (open > at) parts.push(text.slice(at, open));
    parts.push(compileExpression(text.slice(open + 2, close), text, field));
    at = close + 2;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}

interface Token {
  kind: 'name' | 'int' | 'punct';
  text: string;
}

function compileExpression(source: string, text: string, field: string): DateFn {
  const fail = (what: string, hint?: string) => new InputError(`${field}: ${what} in ${quote(text)}${hint ? `; ${hint}` : ''}`, { field });
  const tokens = tokenize(source, fail);
  let next = 0;
  const peek = () => tokens[next];
  const shown = (token: Token | undefined) => (token ? `"${clip(token.text, 20)}"` : 'the end of the expression');
  const expect = (punct: string, after: string) => {
    const token = tokens[next++];
    if (token?.kind !== 'punct' || token.text !== punct) throw fail(`expected "${punct}" ${after}, got ${shown(token)}`);
  };
  const integer = (min: number, max: number, what: string) => {
    const token = tokens[next++];
    if (token?.kind !== 'int') throw fail(`expected ${what} (${min}..${max}), got ${shown(token)}`);
    const value = Number(token.text);
    if (value < min || value > max) throw fail(`${what} must be ${min}..${max}, got ${clip(token.text, 20)}`);
    return value;
  };

  const expression = (): DateFn => {
    let fn = primary();
    for (let token = peek(); token?.kind === 'punct' && (token.text === '+' || token.text === '-'); token = peek()) {
      next++;
      const days = integer(0, MAX_OFFSET_DAYS, 'a number of days');
      const unit = tokens[next++];
      if (unit?.kind !== 'name' || (unit.text !== 'day' && unit.text !== 'days')) throw fail(`expected "days" after ${token.text} ${days}, got ${shown(unit)}`);
      const base = fn;
      const signed = token.text === '+' ? days : -days;
      fn = (today) => addDays(base(today), signed);
    }
    return fn;
  };

  const primary = (): DateFn => {
    const token = tokens[next++];
    if (token?.kind !== 'name') throw fail(`expected a date (${EXPECTED_NAMES}), got ${shown(token)}`);
    switch (token.text) {
      case 'today':
        return (today) => today;
      case 'yesterday':
        return (today) => addDays(today, -1);
      case 'month_start':
      case 'previous_month_start': {
        expect('(', `after ${token.text}`);
        const arg = expression();
        expect(')', `to close ${token.text}(`);
        return token.text === 'month_start' ? (today) => monthStart(arg(today)) : (today) => monthStart(addDays(monthStart(arg(today)), -1));
      }
      case 'earliest':
      case 'latest': {
        expect('(', `after ${token.text}`);
        const args = [expression()];
        expect(',', `between the dates of ${token.text}(…) (it takes two or more)`);
        args.push(expression());
        for (let more = peek(); more?.kind === 'punct' && more.text === ','; more = peek()) {
          next++;
          args.push(expression());
        }
        expect(')', `to close ${token.text}(`);
        // YYYY-MM-DD strings order like the dates they name.
        const pick = token.text === 'earliest' ? (a: string, b: string) => (b < a ? b : a) : (a: string, b: string) => (b > a ? b : a);
        return (today) => args.map((arg) => arg(today)).reduce(pick);
      }
      case 'if_day_of_month_at_most': {
        expect('(', `after ${token.text}`);
        const day = integer(1, 31, 'a day of the month');
        expect(',', `after the day of if_day_of_month_at_most(${day}`);
        const then = expression();
        expect(',', 'between the two dates of if_day_of_month_at_most(…)');
        const otherwise = expression();
        expect(')', `to close ${token.text}(`);
        return (today) => (Number(today.slice(8, 10)) <= day ? then(today) : otherwise(today));
      }
      default:
        throw fail(`unknown name "${clip(token.text, 40)}"`, `expected ${EXPECTED_NAMES}`);
    }
  };

  const fn = expression();
  if (next < tokens.length) throw fail(`unexpected ${shown(tokens[next])} after a complete date`);
  return fn;
}

function tokenize(source: string, fail: (what: string, hint?: string) => InputError): Token[] {
  const tokens: Token[] = [];
  const pattern = /\s*(?:([A-Za-z_][A-Za-z0-9_]*)|(\d+)|([(),+-]))/y;
  let at = 0;
  while (at < source.length) {
    if (/^\s*$/.test(source.slice(at))) break;
    pattern.lastIndex = at;
    const match = pattern.exec(source);
    if (!match) throw fail(`unexpected "${source.slice(at).trimStart()[0]}"`);
    const [whole, name, int, punct] = match;
    // Names are lowercase; `Today` is an unknown name, said so by the parser.
    if (name !== undefined) tokens.push({ kind: 'name', text: name });
    else if (int !== undefined) tokens.push({ kind: 'int', text: int });
    else tokens.push({ kind: 'punct', text: punct ?? '' });
    at += whole.length;
  }
  if (tokens.length === 0) throw fail('an empty placeholder');
  return tokens;
}

function quote(text: string): string {
  return JSON.stringify(clip(text, 80));
}

function clip(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length)}…` : text;
}
