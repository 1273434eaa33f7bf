import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';

/** Where the layer puts the CA in a function (layers are extracted under `/opt`). */
export const SOURCE_CA_PATH = '/opt/zdm/source-ca.pem';

/** How the functions get the source CA: a layer with the file and the variable that names it, or the PEM itself. */
export interface CaDelivery {
  /** `SOURCE_DB_SSL_CA_FILE` (with a layer) or `SOURCE_DB_SSL_CA_PEM` (a PEM known only at deploy time). */
  readonly environment: Record<string, string>;
  /** The layer holding {@link SOURCE_CA_PATH}, for every function that reads the variable. */
  readonly layer?: lambda.ILayerVersion;
}

/**
 * The source CA PEM as a file in a Lambda layer rather than as environment text. Lambda allows 4 KB for all of a
 * function's variables, measured after CloudFormation resolves every ARN: with a 2,600-character CA the database
 * function's environment came to about 5.5 KB, so a function with `VERIFY_FULL` and a real CA could not be created.
 * A file costs the environment one short path, needs no AWS call, permission or network route at run time, and is
 * read synchronously when the pg `ssl` option is built. A PEM that is a token (known only at deploy time) cannot be
 * written at synth: it stays in the environment as before.
 */
export function sourceCaDelivery(
  scope: Construct,
  id: string,
  pem: string,
  variables: { readonly file: string; readonly pem: string },
): CaDelivery {
  if (Token.isUnresolved(pem)) return { environment: { [variables.pem]: pem } };
  // One directory per certificate (named by its hash): repeated synths reuse it instead of leaving copies behind.
  const digest = crypto.createHash('sha256').update(pem).digest('hex').slice(0, 32);
  const dir = path.join(os.tmpdir(), `zdm-source-ca-${digest}`);
  const file = path.join(dir, path.relative('/opt', SOURCE_CA_PATH));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, pem.endsWith('\n') ? pem : `${pem}\n`);
  const layer = new lambda.LayerVersion(scope, id, {
    code: lambda.Code.fromAsset(dir),
    description: `CA certificate that verifies the source database (${SOURCE_CA_PATH})`,
  });
  return { environment: { [variables.file]: SOURCE_CA_PATH }, layer };
}
