/** Keeps the databases' passwords out of what the cutover steps report. */
import { redactSecrets } from '../pg/connection';
import type { CutoverDeps } from './deps';

/** Removes both databases' passwords from a message. */
export async function redactAll(deps: CutoverDeps, message: string): Promise<string> {
  let out = message;
  for (const get of [deps.source, deps.target]) {
    try {
      out = redactSecrets(out, await get());
    } catch {
      // The spec itself could not be resolved; nothing of it can be in the message.
    }
  }
  return out;
}
