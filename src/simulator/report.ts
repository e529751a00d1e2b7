// What the simulator counts and prints: statuses and latencies per message, the first few
// unexpected answers, and a progress display (a bar on a terminal, plain lines otherwise).

/** The value at percentile `p` (0–100) of ascending `sorted`, nearest-rank; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

interface Row {
  sent: number;
  unexpected: number;
  statuses: Map<string, number>;
  latencies: number[];
}

export interface Unexpected {
  readonly label: string;
  readonly device: string;
  readonly status: string;
  readonly detail: string;
}

const MAX_UNEXPECTED_KEPT = 20;

export class Stats {
  private readonly rows = new Map<string, Row>();

  /** `order`: labels listed first, in this order; others follow in the order they were first seen. */
  constructor(private readonly order: readonly string[] = []) {}

  readonly unexpected: Unexpected[] = [];
  unexpectedTotal = 0;
  requests = 0;

  /** Records one answer; `status` is the HTTP status or a transport error name. */
  record(label: string, status: number | string, ms: number, expected: boolean, device: string, detail = ''): void {
    let row = this.rows.get(label);
    if (row === undefined) {
      row = { sent: 0, unexpected: 0, statuses: new Map(), latencies: [] };
      this.rows.set(label, row);
    }
    const key = String(status);
    row.sent += 1;
    row.statuses.set(key, (row.statuses.get(key) ?? 0) + 1);
    row.latencies.push(ms);
    this.requests += 1;
    if (!expected) {
      row.unexpected += 1;
      this.unexpectedTotal += 1;
      if (this.unexpected.length < MAX_UNEXPECTED_KEPT) {
        this.unexpected.push({ label, device, status: key, detail: detail.trim().slice(0, 200) });
      }
    }
  }

  /** The summary table: one line per message. */
  table(): string {
    const header = ['message', 'sent', 'statuses', 'unexpected', 'p50 ms', 'p95 ms', 'max ms'];
    const lines: string[][] = [header];
    const rank = (label: string): number => {
      const i = this.order.indexOf(label);
      return i === -1 ? this.order.length : i;
    };
    const rows = [...this.rows.entries()].sort(([a], [b]) => rank(a) - rank(b));
    for (const [label, row] of rows) {
      const sorted = [...row.latencies].sort((a, b) => a - b);
      const statuses = [...row.statuses.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([s, n]) => `${s}×${n}`)
        .join(' ');
      lines.push([
        label,
        String(row.sent),
        statuses,
        String(row.unexpected),
        fmt(percentile(sorted, 50)),
        fmt(percentile(sorted, 95)),
        fmt(sorted[sorted.length - 1] ?? Number.NaN),
      ]);
    }
    const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
    const render = (l: string[]): string =>
      l.map((cell, i) => (i === 0 || i === 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
    const rule = widths.map((w) => '-'.repeat(w)).join('  ');
    return [render(header), rule, ...lines.slice(1).map(render)].join('\n');
  }
}

function fmt(ms: number): string {
  return Number.isNaN(ms) ? '-' : ms < 10 ? ms.toFixed(1) : ms.toFixed(0);
}

/** A progress bar redrawn in place on a terminal; a plain line every few seconds otherwise. */
export class Progress {
  private lastLine = 0;
  private readonly started = performance.now();

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WriteStream,
    private readonly intervalMs = 2000,
  ) {}

  update(done: number, stats: Stats, force = false): void {
    const now = performance.now();
    const tty = this.out.isTTY;
    if (!force && now - this.lastLine < (tty ? 100 : this.intervalMs)) return;
    this.lastLine = now;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? stats.requests / seconds : 0;
    const text = `${done}/${this.total} devices  ${stats.requests} requests  ${rate.toFixed(0)} req/s  ${stats.unexpectedTotal} unexpected  ${seconds.toFixed(1)} s`;
    if (tty) {
      const width = 30;
      const filled = this.total === 0 ? width : Math.round((done / this.total) * width);
      this.out.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}\x1b[K`);
    } else {
      this.out.write(`${text}\n`);
    }
  }

  finish(done: number, stats: Stats): void {
    this.update(done, stats, true);
    if (this.out.isTTY) this.out.write('\n');
  }
}
