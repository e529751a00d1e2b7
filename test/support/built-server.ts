import { spawn } from 'node:child_process';
import { request } from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestDatabase } from './test-db.js';

/** The server as the image runs it (built by `npm test` before the tests). */
export const DIST_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist', 'main.js');

/** The environment of a server started on `db`, on a free port, with nothing inherited but PATH. */
export function serverEnv(db: TestDatabase, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    DATABASE_URL: db.url,
    DATA_DIR: db.dataDir,
    PORT: '0',
    LOG_FORMAT: 'json',
    ...extra,
  };
}

/** The first line of the child's output that matches; rejects when it exits first. */
export function waitForLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('utf8');
      const line = seen.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) {
        child.stdout?.off('data', onData);
        resolve(line);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code} before "${pattern.source}": ${seen}`)));
  });
}

/** What a server printed, and how it ended. */
export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: string[];
}

/** Starts dist/main.js as an operator would and collects what it prints until it exits; `then` runs once `untilLine` shows, and SIGTERM follows. */
export function runServer(
  env: NodeJS.ProcessEnv,
  untilLine?: RegExp,
  then?: (line: string) => Promise<void>,
): Promise<Run> {
  const child = spawn(process.execPath, [DIST_MAIN], { env });
  let out = '';
  let err = '';
  let triggered = false;
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (untilLine === undefined || triggered) return;
    const line = out.split('\n').find((l) => untilLine.test(l));
    if (line === undefined) return;
    triggered = true;
    void (then ?? (() => Promise.resolve()))(line).finally(() => child.kill('SIGTERM'));
  });
  return new Promise((resolve) =>
    child.once('exit', (code, signal) =>
      resolve({ code, signal, lines: `${out}${err}`.split('\n').filter((l) => l !== '') }),
    ),
  );
}

/** The status of a GET, or the connection error's code (ECONNREFUSED…) instead of throwing. */
export function statusOf(host: string, port: number, path: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end();
  });
}
