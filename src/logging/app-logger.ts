import type { LoggerService } from '@nestjs/common';
import type { LogFormat, LogLevel } from '../config/config.js';

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** Structured fields of a log line. Never put secrets (tokens, keys) here. */
export type LogFields = Record<string, unknown>;

export interface LogSink {
  write(line: string): void;
}

/**
 * Whether a character ends or reshapes a line on a terminal or in a log shipper: C0 and C1
 * controls (newline, carriage return, escape, NEL) and the Unicode line and paragraph separators.
 */
function breaksLine(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029;
}

const SHORT_ESCAPES: Record<number, string> = { 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

/** `text` with every line-breaking character written as a JSON escape. */
function escapeBreaks(text: string): string {
  let out = '';
  let done = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!breaksLine(c)) continue;
    out += text.slice(done, i) + (SHORT_ESCAPES[c] ?? `\\u${c.toString(16).padStart(4, '0')}`);
    done = i + 1;
  }
  return done === 0 ? text : out + text.slice(done);
}

/** A text-format string value needs quotes when it is empty or holds a space, '"', '=', '\\' or a line break. */
function needsQuotes(v: string): boolean {
  if (v === '') return true;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c <= 0x20 || breaksLine(c) || c === 0x22 || c === 0x3d || c === 0x5c) return true;
  }
  return false;
}

/** A string field: bare when that is unambiguous, else a JSON string (escaped, quoted). */
function textValue(v: string): string {
  return needsQuotes(v) ? escapeBreaks(JSON.stringify(v)) : v;
}

const stdoutSink: LogSink = { write: (line) => process.stdout.write(line) };

/**
 * One logger for the whole process: JSON lines (one object per line, searchable by field)
 * or plain text for a terminal. It also serves as Nest's logger so framework messages
 * share the format.
 */
export class AppLogger implements LoggerService {
  private readonly threshold: number;

  constructor(
    level: LogLevel = 'info',
    private readonly format: LogFormat = 'json',
    private readonly sink: LogSink = stdoutSink,
  ) {
    this.threshold = RANK[level];
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] <= this.threshold;
  }

  emit(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    const time = new Date().toISOString();
    if (this.format === 'json') {
      // A field may not pass itself off as the line's own time, level or message.
      const line: LogFields = { time, level, msg };
      for (const [k, v] of Object.entries(fields)) if (!(k in line)) line[k] = v;
      this.sink.write(`${JSON.stringify(line)}\n`);
      return;
    }
    // Values may come from a body nobody has verified: escaped, they cannot start a line of
    // their own or pass for another field.
    const extra = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${escapeBreaks(k)}=${typeof v === 'string' ? textValue(v) : escapeBreaks(JSON.stringify(v))}`)
      .join(' ');
    this.sink.write(`${time} ${level.toUpperCase().padEnd(5)} ${escapeBreaks(msg)}${extra ? ` ${extra}` : ''}\n`);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    this.fromNest('error', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    // Nest's ExceptionHandler reports an error that ends start-up and then rethrows it to
    // whoever started the app (main.ts), which logs it once, with its context.
    if (rest[rest.length - 1] === 'ExceptionHandler') return;
    this.fromNest('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.fromNest('warn', message, rest);
  }
  log(message: unknown, ...rest: unknown[]): void {
    // Nest's start-up chatter (modules loaded, routes mapped) is debug detail; its own
    // "application started" line stays at info.
    const context = rest[rest.length - 1];
    this.fromNest(context === 'NestApplication' ? 'info' : 'debug', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.fromNest('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.fromNest('debug', message, rest);
  }

  /** Nest passes (message, ...optional params, context?). The last string is the context. */
  private fromNest(level: LogLevel, message: unknown, rest: unknown[]): void {
    if (!this.enabled(level)) return;
    const context = typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    const fields: LogFields = { context };
    for (const extra of rest) {
      if (typeof extra === 'string' && extra.includes('\n')) fields.stack = extra;
      else if (extra !== undefined) fields.detail = extra;
    }
    if (message instanceof Error) {
      this.emit(level, message.message, { ...fields, stack: message.stack });
    } else if (typeof message === 'object' && message !== null) {
      const { msg, ...others } = message as LogFields;
      this.emit(level, typeof msg === 'string' ? msg : JSON.stringify(message), { ...fields, ...others });
    } else {
      this.emit(level, String(message), fields);
    }
  }
}
