import type { IncomingMessage } from 'node:http';
import { CheckinError, CheckinErrorCode } from './checkin.errors.js';

/**
 * Reads the whole request body, refusing (413) as soon as it passes `limit` bytes, whether
 * or not Content-Length announced it. The raw bytes are kept: signatures cover them exactly.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | null, body?: Buffer): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) {
        req.resume();
        reject(err);
      } else resolve(body ?? Buffer.alloc(0));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) finish(tooLarge(limit));
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    const onError = (err: Error & { code?: string }): void =>
      finish(err.code === 'ECONNRESET' || err.message === 'aborted' ? aborted(size) : err);
    const onAborted = (): void => finish(aborted(size));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/** The client went away mid-body: its business, not a fault of ours. */
function aborted(received: number): CheckinError {
  return new CheckinError(
    CheckinErrorCode.ClientAborted,
    `the client closed the connection after ${received} body bytes`,
  );
}

function tooLarge(limit: number): CheckinError {
  return new CheckinError(CheckinErrorCode.BodyTooLarge, `the body is larger than ${limit} bytes`);
}
