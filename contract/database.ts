/** The two databases of a migration. */
export type DatabaseSide = 'source' | 'target';

/** TLS modes of a database connection, like libpq's `sslmode` (and DMS's `SslMode`): `*_DB_SSL_MODE` values. */
export const DATABASE_SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type DatabaseSslMode = (typeof DATABASE_SSL_MODES)[number];
