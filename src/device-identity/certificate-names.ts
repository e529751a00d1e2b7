import type { X509Certificate } from 'node:crypto';

/** The subjectAltName kinds a device identity may name its device in. */
const SAN_KINDS = new Set(['DNS', 'URI', 'email']);

/**
 * Every name a device identity certificate gives its subject, for DEVICE_CERT_MATCH: the
 * subject's CN values, its serialNumber attribute (2.5.4.5) values, and the DNS names, URIs
 * and e-mail addresses of subjectAltName. SCEP and ACME profiles put the UDID or serial in
 * one of these; nothing else (O, OU, other SAN kinds) is read, so a name cannot be smuggled
 * in through an attribute nobody checks.
 */
export function certificateNames(cert: X509Certificate): string[] {
  const names: string[] = [];
  const subject = cert.toLegacyObject().subject as Record<string, string | string[] | undefined> | undefined;
  for (const key of ['CN', 'serialNumber']) {
    const v = subject?.[key];
    if (v !== undefined) names.push(...(Array.isArray(v) ? v : [v]));
  }
  names.push(...subjectAltNames(cert.subjectAltName));
  return names;
}

/**
 * Node prints subjectAltName as `KIND:value, KIND:value`, with a value JSON-quoted when it
 * holds a comma, quote or other special character; read back in one left-to-right pass.
 */
export function subjectAltNames(printed: string | undefined): string[] {
  if (printed === undefined || printed === '') return [];
  const out: string[] = [];
  const entry = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/y;
  let at = 0;
  while (at < printed.length) {
    entry.lastIndex = at;
    const m = entry.exec(printed);
    if (m === null) {
      // An entry in a shape not documented (a DirName with commas, say): skip to the next one.
      const comma = printed.indexOf(', ', at);
      if (comma < 0) break;
      at = comma + 2;
      continue;
    }
    const kind = m[1] ?? '';
    const raw = m[2] ?? '';
    if (SAN_KINDS.has(kind)) {
      try {
        out.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
      } catch {
        // A quoted value that is not JSON: not a name that can be compared.
      }
    }
    if (entry.lastIndex <= at) break;
    at = entry.lastIndex;
  }
  return out;
}

/** Whether one of `names` is `wanted`, compared whole and ignoring case (UDIDs and serials are printed either way). */
export function namesInclude(names: readonly string[], wanted: string | null | undefined): boolean {
  if (wanted === null || wanted === undefined || wanted === '') return false;
  const w = wanted.toUpperCase();
  return names.some((n) => n.toUpperCase() === w);
}
