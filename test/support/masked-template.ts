/**
 * Templates for jest snapshots: every 64-hex-digit string (asset hashes: S3 keys, bundle hashes, the placeholder
 * of a skipped bundling) becomes `<asset-hash>`, so a snapshot changes when the template does, not when a handler's
 * code or a dependency's bundle does.
 */
export function maskAssetHashes(template: unknown): unknown {
  return JSON.parse(JSON.stringify(template).replace(/[0-9a-f]{64}/g, '<asset-hash>'));
}
