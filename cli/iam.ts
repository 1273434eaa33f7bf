/**
 * `--source-iam` / `--target-iam`: IAM database authentication for RDS and Aurora. The password is a short-lived
 * token the AWS SDK's RDS signer makes from the caller's credentials (no secret to store), made again for every
 * new connection. RDS accepts it only over TLS.
 */
import type { ResolvedConnection } from './conninfo';
import { showValue, UsageError } from './command-line';

/** The region in an RDS host name (`x.cluster-abc.eu-west-1.rds.amazonaws.com`). */
export function rdsRegion(host: string): string | undefined {
  return /\.([a-z]{2}(?:-[a-z]+)+-\d)\.rds\.amazonaws\.com(?:\.cn)?$/i.exec(host)?.[1]?.toLowerCase();
}

/** The side with an IAM token as its password; the region from the host, else AWS_REGION / AWS_DEFAULT_REGION. */
export function withIamAuthentication(
  flag: string,
  c: ResolvedConnection,
  env: Readonly<Record<string, string | undefined>>,
): ResolvedConnection {
  if (!['require', 'verify-ca', 'verify-full'].includes(c.sslmode)) {
    throw new UsageError(
      `${flag}: IAM authentication needs TLS: sslmode=require, verify-ca or verify-full (got ${c.sslmode}); ` +
        `verify-full with the RDS bundle is sslmode=verify-full sslrootcert=rds`,
    );
  }
  if (c.passwordSource === 'conninfo' || c.passwordSource === 'secret') {
    throw new UsageError(`${flag}: give a password or IAM authentication, not both`);
  }
  const region = rdsRegion(c.host) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new UsageError(
      `${flag}: IAM authentication needs the region: ${showValue(c.host)} is not an RDS host name; set AWS_REGION`,
    );
  }
  const token = async (): Promise<string> => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Signer } = require('@aws-sdk/rds-signer') as typeof import('@aws-sdk/rds-signer');
    return new Signer({ hostname: c.host, port: c.port, username: c.user, region }).getAuthToken();
  };
  const { password: _unused, ...rest } = c;
  void _unused;
  return {
    ...rest,
    description: `${c.description.replace(/\)$/, '')}, IAM authentication in ${region})`,
    attempts: c.attempts.map((a) => ({ ...a, password: token })),
  };
}
