import { randomBytes } from 'node:crypto';
import { redactUrlsInText } from '../../cli/command-line';

/** A password the rehearsal makes for a role that exists only for the rehearsal (48 hex characters). */
export function newPassword(): string {
  return `zdm-${randomBytes(24).toString('hex')}`;
}

/** libpq conninfo `password=...` (quoted or not) and `PGPASSWORD=...` assignments. */
const ASSIGNED_PASSWORD = /\b(password|pgpassword)\s*=\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'"]+)/gi;

/**
 * Every secret the rehearsal knows (the passwords of the URLs it was given, the passwords it made) and the text
 * forms secrets take (postgres URLs, conninfo `password=`): `redact` removes all of them from a text. Every line
 * the rehearsal prints and every free text in its reports goes through one of these.
 */
export class Secrets {
  private readonly values = new Set<string>();

  /** Remembers a secret (empty values are ignored). */
  add(secret: string | undefined): void {
    if (secret) this.values.add(secret);
  }

  /** Remembers the password of a postgres URL. */
  addUrl(url: string | undefined): void {
    if (!url) return;
    try {
      this.add(decodeURIComponent(new URL(url).password));
    } catch {
      // Not a URL: nothing to remember (the text forms are redacted anyway).
    }
  }

  redact(text: string): string {
    let out = redactUrlsInText(text).replace(ASSIGNED_PASSWORD, (_m, key: string) => `${key}=***`);
    // Longest first, so a secret that contains another is removed whole.
    for (const secret of [...this.values].sort((a, b) => b.length - a.length)) {
      out = out.split(secret).join('***');
    }
    return out;
  }

  /** A deep copy of a JSON-like value with every string redacted (object keys are left alone). */
  redactDeep<T>(value: T): T {
    if (typeof value === 'string') return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.redactDeep(v)) as T;
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.redactDeep(v)])) as T;
    }
    return value;
  }
}
