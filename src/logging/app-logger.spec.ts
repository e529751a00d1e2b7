import { ConsoleLogger, Logger } from '@nestjs/common';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { AppLogger } from './app-logger.js';
import type { LogSink } from './app-logger.js';
import type { LogFormat, LogLevel } from '../config/config.js';

class CapturingSink implements LogSink {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  /** Every line parsed as JSON, after checking it is exactly one newline-terminated line. */
  entries(): Record<string, unknown>[] {
    return this.lines.map((line) => {
      assert.ok(line.endsWith('\n'), `line must end with a newline: ${JSON.stringify(line)}`);
      assert.equal(line.indexOf('\n'), line.length - 1, 'one log entry is one line');
      return JSON.parse(line) as Record<string, unknown>;
    });
  }
  only(): Record<string, unknown> {
    const entries = this.entries();
    assert.equal(entries.length, 1, `expected exactly one line, got ${this.lines.length}`);
    return entries[0]!;
  }
}

function logger(level: LogLevel = 'debug', format: LogFormat = 'json'): { log: AppLogger; sink: CapturingSink } {
  const sink = new CapturingSink();
  return { log: new AppLogger(level, format, sink), sink };
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('AppLogger JSON lines', () => {
  it('writes time, level, msg and the fields as one JSON object per line', () => {
    const { log, sink } = logger('info');
    const t0 = Date.now();
    log.emit('info', 'check-in handled', { requestId: 'r-1', status: 200, nested: { a: [1, 2] } });
    const t1 = Date.now();
    const entry = sink.only();
    assert.deepStrictEqual(Object.keys(entry).slice(0, 3), ['time', 'level', 'msg']);
    assert.equal(entry.level, 'info');
    assert.equal(entry.msg, 'check-in handled');
    assert.equal(entry.requestId, 'r-1');
    assert.equal(entry.status, 200);
    assert.deepStrictEqual(entry.nested, { a: [1, 2] });
    assert.match(String(entry.time), ISO_TIME);
    const time = Date.parse(String(entry.time));
    assert.ok(time >= t0 && time <= t1, 'time is the moment of logging');
  });

  it('writes a line without fields', () => {
    const { log, sink } = logger();
    log.emit('warn', 'plain');
    const entry = sink.only();
    assert.deepStrictEqual(Object.keys(entry), ['time', 'level', 'msg']);
    assert.equal(entry.level, 'warn');
  });

  it('keeps a message with newlines and quotes on one line', () => {
    const { log, sink } = logger();
    log.emit('error', 'line one\nline "two"', { detail: 'a\r\nb' });
    const entry = sink.only();
    assert.equal(entry.msg, 'line one\nline "two"');
    assert.equal(entry.detail, 'a\r\nb');
  });

  it('writes one line per call, in order', () => {
    const { log, sink } = logger();
    log.emit('info', 'first');
    log.emit('info', 'second');
    assert.deepStrictEqual(
      sink.entries().map((e) => e.msg),
      ['first', 'second'],
    );
  });

  it('defaults to level info', () => {
    const sink = new CapturingSink();
    const log = new AppLogger(undefined, 'json', sink);
    log.emit('debug', 'hidden');
    log.emit('info', 'shown');
    assert.deepStrictEqual(
      sink.entries().map((e) => e.msg),
      ['shown'],
    );
  });
});

describe('AppLogger level threshold', () => {
  const cases: [LogLevel, LogLevel[]][] = [
    ['error', ['error']],
    ['warn', ['error', 'warn']],
    ['info', ['error', 'warn', 'info']],
    ['debug', ['error', 'warn', 'info', 'debug']],
  ];
  for (const [threshold, shown] of cases) {
    it(`at ${threshold} writes ${shown.join(', ')}`, () => {
      const { log, sink } = logger(threshold);
      for (const level of ['debug', 'info', 'warn', 'error'] as const) {
        assert.equal(log.enabled(level), shown.includes(level), `enabled(${level})`);
        log.emit(level, `at ${level}`);
      }
      assert.deepStrictEqual(
        sink.entries().map((e) => e.level),
        ['debug', 'info', 'warn', 'error'].filter((l) => shown.includes(l as LogLevel)),
      );
    });
  }
});

describe('AppLogger text format', () => {
  it('writes time, padded level, message and key=value fields', () => {
    const { log, sink } = logger('debug', 'text');
    log.emit('info', 'device enrolled', { udid: 'ABC', attempt: 2, ok: true, extra: { a: 1 }, skipped: undefined });
    assert.equal(sink.lines.length, 1);
    const line = sink.lines[0]!;
    const m = /^(\S+) INFO {2}device enrolled udid=ABC attempt=2 ok=true extra=\{"a":1\}\n$/.exec(line);
    assert.ok(m, `unexpected text line: ${JSON.stringify(line)}`);
    assert.match(m[1]!, ISO_TIME);
  });

  it('writes no trailing space without fields, and pads every level to five characters', () => {
    const { log, sink } = logger('debug', 'text');
    log.emit('error', 'e');
    log.emit('warn', 'w');
    log.emit('info', 'i');
    log.emit('debug', 'd');
    assert.deepStrictEqual(
      sink.lines.map((l) => l.slice(l.indexOf(' ') + 1)),
      ['ERROR e\n', 'WARN  w\n', 'INFO  i\n', 'DEBUG d\n'],
    );
  });

  it('cannot be forged: values, keys and the message never break the line or pass for another field', () => {
    const { log, sink } = logger('debug', 'text');
    const forged = '\n2026-01-01T00:00:00.000Z INFO  checkin status=200';
    log.emit('warn', 'checkin\r\nfake', {
      claimedEnrollmentId: forged,
      spaced: 'a status=200',
      quoted: 'say "hi"',
      empty: '',
      separators: 'a\u2028b\u2029c\u0085d\u001be',
      ['key\nwith break']: 1,
      nested: { text: 'x\u2028y\nz' },
      plain: 'ABC-123',
      unicode: 'Zoë’s iPad',
    });
    assert.equal(sink.lines.length, 1);
    const line = sink.lines[0]!;
    // One line: the only line break is the one that ends it, and no other breaking character is left raw.
    assert.equal(line.indexOf('\n'), line.length - 1);
    for (const ch of line.slice(0, -1)) {
      const c = ch.charCodeAt(0);
      assert.ok(c >= 0x20 && !(c >= 0x7f && c <= 0x9f) && c !== 0x2028 && c !== 0x2029, `raw U+${c.toString(16)}`);
    }
    assert.match(line, / WARN {2}checkin\\r\\nfake /);
    assert.match(line, / claimedEnrollmentId="\\n2026-01-01T00:00:00.000Z INFO {2}checkin status=200" /);
    assert.match(line, / spaced="a status=200" quoted="say \\"hi\\"" empty="" /);
    assert.match(line, / separators="a\\u2028b\\u2029c\\u0085d\\u001be" /);
    assert.match(line, / key\\nwith break=1 nested=\{"text":"x\\u2028y\\nz"\} plain=ABC-123 unicode="Zoë’s iPad"\n$/);
    // The quoted values read back exactly.
    const value = /claimedEnrollmentId=("(?:[^"\\]|\\.)*")/.exec(line)?.[1];
    assert.equal(JSON.parse(value!), forged);
  });

  it('applies the threshold too', () => {
    const { log, sink } = logger('warn', 'text');
    log.emit('info', 'hidden');
    log.emit('warn', 'shown');
    assert.equal(sink.lines.length, 1);
    assert.match(sink.lines[0]!, / WARN {2}shown\n$/);
  });
});

describe('AppLogger as the Nest logger', () => {
  it('log(message, context) is debug, with the context as a field', () => {
    const { log, sink } = logger('debug');
    log.log('Mapped {/mdm/checkin, PUT} route', 'RouterExplorer');
    const entry = sink.only();
    assert.equal(entry.level, 'debug');
    assert.equal(entry.msg, 'Mapped {/mdm/checkin, PUT} route');
    assert.equal(entry.context, 'RouterExplorer');
  });

  it('log(message, context) is not written at level info', () => {
    const { log, sink } = logger('info');
    log.log('InstanceLoader dependencies initialized', 'InstanceLoader');
    log.log('no context at all');
    assert.deepStrictEqual(sink.lines, []);
  });

  it("log(message, 'NestApplication') is info", () => {
    const { log, sink } = logger('info');
    log.log('Nest application successfully started', 'NestApplication');
    const entry = sink.only();
    assert.equal(entry.level, 'info');
    assert.equal(entry.msg, 'Nest application successfully started');
    assert.equal(entry.context, 'NestApplication');
  });

  it('error(message, stack, context) keeps the stack and the context', () => {
    const { log, sink } = logger('error');
    const stack = 'Error: boom\n    at Handler.handle (handler.js:1:1)';
    log.error('boom', stack, 'ExceptionsHandler');
    const entry = sink.only();
    assert.equal(entry.level, 'error');
    assert.equal(entry.msg, 'boom');
    assert.equal(entry.stack, stack);
    assert.equal(entry.context, 'ExceptionsHandler');
  });

  it('error(Error, context) uses the error message and stack', () => {
    const { log, sink } = logger('error');
    const err = new Error('database unreachable');
    log.error(err, 'DatabaseService');
    const entry = sink.only();
    assert.equal(entry.msg, 'database unreachable');
    assert.equal(entry.stack, err.stack);
    assert.equal(entry.context, 'DatabaseService');
  });

  it('error(message, detail, context) keeps a non-stack detail', () => {
    const { log, sink } = logger('error');
    log.error('failed', { code: 'E42' }, 'Ctx');
    const entry = sink.only();
    assert.deepStrictEqual(entry.detail, { code: 'E42' });
    assert.equal(entry.context, 'Ctx');
    assert.equal('stack' in entry, false);
  });

  it('an object message spreads its fields, using msg when present', () => {
    const { log, sink } = logger('warn');
    log.warn({ msg: 'slow check-in', ms: 1200 }, 'CheckinController');
    log.warn({ ms: 5 });
    const [structured, bare] = sink.entries();
    assert.equal(structured!.msg, 'slow check-in');
    assert.equal(structured!.ms, 1200);
    assert.equal(structured!.context, 'CheckinController');
    assert.equal(bare!.msg, '{"ms":5}');
    assert.equal(bare!.ms, 5);
    assert.equal('context' in bare!, false);
  });

  it('non-string messages are stringified', () => {
    const { log, sink } = logger('warn');
    log.warn(42, 'Ctx');
    assert.equal(sink.only().msg, '42');
  });

  it('warn is warn; debug and verbose are debug', () => {
    const { log, sink } = logger('debug');
    log.warn('w', 'A');
    log.debug('d', 'B');
    log.verbose('v', 'C');
    assert.deepStrictEqual(
      sink.entries().map((e) => [e.level, e.msg, e.context]),
      [
        ['warn', 'w', 'A'],
        ['debug', 'd', 'B'],
        ['debug', 'v', 'C'],
      ],
    );
  });

  it('Nest-style calls respect the threshold', () => {
    const { log, sink } = logger('error');
    log.warn('w', 'A');
    log.log('Nest application successfully started', 'NestApplication');
    log.debug('d', 'B');
    log.verbose('v', 'C');
    assert.deepStrictEqual(sink.lines, []);
    log.error('e', 'A');
    assert.equal(sink.only().level, 'error');
  });

  it('the text format carries the context and stack as fields', () => {
    const { log, sink } = logger('debug', 'text');
    log.error('boom', 'Error: boom\n    at x', 'ExceptionsHandler');
    // On one line, escaped: a multi-line value could otherwise forge lines of its own.
    assert.match(sink.lines[0]!, / ERROR boom context=ExceptionsHandler stack="Error: boom\\n {4}at x"\n$/);
  });
});

describe("AppLogger behind Nest's Logger", () => {
  after(() => {
    Logger.overrideLogger(new ConsoleLogger());
  });

  it('receives the context Nest appends, at the mapped levels', () => {
    const { log, sink } = logger('debug');
    Logger.overrideLogger(log);
    new Logger('RoutesResolver').log('CheckinController {/mdm}');
    new Logger('NestApplication').log('Nest application successfully started');
    new Logger('ExceptionsHandler').error('boom', 'Error: boom\n    at x');
    new Logger('Bare').error('no stack');
    assert.deepStrictEqual(
      sink.entries().map((e) => [e.level, e.msg, e.context, e.stack]),
      [
        ['debug', 'CheckinController {/mdm}', 'RoutesResolver', undefined],
        ['info', 'Nest application successfully started', 'NestApplication', undefined],
        ['error', 'boom', 'ExceptionsHandler', 'Error: boom\n    at x'],
        ['error', 'no stack', 'Bare', undefined],
      ],
    );
  });
});

describe('AppLogger fields', () => {
  it("never lets a field replace the line's own time, level or message", () => {
    const lines: string[] = [];
    const logger = new AppLogger('info', 'json', { write: (l) => lines.push(l) });
    logger.emit('warn', 'real message', { msg: 'forged', level: 'debug', time: 'yesterday', other: 1 });
    const entry = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    assert.equal(entry.msg, 'real message');
    assert.equal(entry.level, 'warn');
    assert.notEqual(entry.time, 'yesterday');
    assert.equal(entry.other, 1);
  });

  it("logs Nest's fatal at error level", () => {
    const lines: string[] = [];
    new AppLogger('error', 'json', { write: (l) => lines.push(l) }).fatal('boom', 'Ctx');
    assert.equal((JSON.parse(lines[0] ?? '{}') as { level?: string }).level, 'error');
  });
});
