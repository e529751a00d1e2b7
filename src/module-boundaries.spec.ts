import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// The module boundaries, read from the import statements of src/ (DESIGN.md, "Modules"): a
// module reaches another only through its exported service, never its entities or
// repositories; checkin/ and device-identity/ do not import each other (AppModule wires them);
// the database folder names no module's entities (each module registers its own).

/** One import that breaks a rule: the importing file, the imported file, and the rule. */
export interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: string;
}

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s(?:[^'"`;]*?\sfrom\s*)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The relative modules a source file imports (static, re-exports, side effects, dynamic). */
export function importsOf(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    if (spec?.startsWith('.')) found.push(spec);
  }
  return found;
}

/** The top-level folder of a path under src/ (`checkin` for `checkin/x.ts`); undefined for src/'s own files. */
function moduleOf(path: string): string | undefined {
  const parts = path.split('/');
  return parts.length > 1 ? parts[0] : undefined;
}

const isEntities = (path: string): boolean => path.split('/')[1] === 'entities';
const isRepository = (path: string): boolean => /\.repository\.ts$/.test(path);

/**
 * Every broken rule in `files` (paths relative to src/, `/`-separated, mapped to their text).
 * Imports are resolved against the importing file; `.js` specifiers name `.ts` sources.
 */
export function violations(files: ReadonlyMap<string, string>): Violation[] {
  const out: Violation[] = [];
  for (const [from, source] of files) {
    const own = moduleOf(from);
    for (const spec of importsOf(source)) {
      const to = posix.normalize(posix.join(posix.dirname(from), spec)).replace(/\.js$/, '.ts');
      if (to.startsWith('..')) continue;
      const target = moduleOf(to);
      if (target === undefined || target === own) continue;
      if ((own === 'checkin' && target === 'device-identity') || (own === 'device-identity' && target === 'checkin')) {
        out.push({ from, to, rule: 'checkin/ and device-identity/ do not import each other (AppModule wires them)' });
      }
      if (own === 'database' && isEntities(to)) {
        out.push({ from, to, rule: "the database folder names no module's entities (forFeature + autoLoadEntities)" });
      } else if (own !== undefined && isEntities(to)) {
        out.push({ from, to, rule: "a module never imports another module's entities (use its exported service)" });
      }
      if (own !== undefined && isRepository(to)) {
        out.push({ from, to, rule: "a module never imports another module's repository (use its exported service)" });
      }
    }
  }
  return out;
}

function sources(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts'))
        files.set(relative(root, path).split(sep).join('/'), readFileSync(path, 'utf8'));
    }
  };
  walk(root);
  return files;
}

/** The TypeScript sources (this spec runs compiled, from .build/src). */
const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

describe('module boundaries', () => {
  it('src/ keeps them: no import breaks a rule', () => {
    const files = sources(SRC);
    assert.ok(files.size > 50, `found the sources in ${SRC}`);
    assert.ok(files.has('checkin/checkin.module.ts') && files.has('device-identity/device-identity.module.ts'));
    assert.deepStrictEqual(violations(files), []);
  });

  it('reads every form of import', () => {
    const source = [
      "import { A } from './a.js';",
      "import type { B } from '../b/b.js';",
      'import {\n  C,\n  D,\n} from "./c.js";',
      "export { E } from './e.js';",
      "export * from './f.js';",
      "import './g.js';",
      "const h = await import('./h.js');",
      "import { x } from '@nestjs/common';",
    ].join('\n');
    assert.deepStrictEqual(importsOf(source), [
      './a.js',
      '../b/b.js',
      './c.js',
      './e.js',
      './f.js',
      './g.js',
      './h.js',
    ]);
  });

  it('finds each kind of violation, and allows what the rules allow', () => {
    const files = new Map([
      ['checkin/checkin.controller.ts', "import { S } from '../device-identity/device-identity.service.js';"],
      ['device-identity/x.middleware.ts', "import type { C } from '../checkin/checkin.types.js';"],
      ['admin/a.controller.ts', "import { E } from '../enrollments/entities/device.entity.js';"],
      ['tokens/t.ts', "import { R } from '../enrollments/enrollments.repository.js';"],
      ['database/d.ts', "import { U } from '../user-channels/entities/index.js';"],
      // Allowed: a module's own entities and repository, another's service, the composition root.
      [
        'enrollments/q.ts',
        "import { D } from './entities/device.entity.js';\nimport { R } from './enrollments.repository.js';",
      ],
      ['user-channels/s.ts', "import { S } from '../enrollments/enrollments.service.js';"],
      ['app.wiring.ts', "import { M } from './device-identity/x.middleware.js';\nimport { C } from './checkin/c.js';"],
    ]);
    const found = violations(files).map((v) => `${v.from} -> ${v.to}`);
    assert.deepStrictEqual(found, [
      'checkin/checkin.controller.ts -> device-identity/device-identity.service.ts',
      'device-identity/x.middleware.ts -> checkin/checkin.types.ts',
      'admin/a.controller.ts -> enrollments/entities/device.entity.ts',
      'tokens/t.ts -> enrollments/enrollments.repository.ts',
      'database/d.ts -> user-channels/entities/index.ts',
    ]);
  });
});
