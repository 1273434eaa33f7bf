/** `--source-secret` / `--target-secret`: connections read from Secrets Manager (mocked at the SDK client). */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { main } from '../../cli/main';
import { LOCAL_SUPERUSER_PASSWORD } from '../../rehearsal/local/embedded-postgres';
import { serverPort } from '../support/databases';
import { openPair, type Pair } from '../lambda/engine/validation/helpers';

const sm = mockClient(SecretsManagerClient);
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:zdm/target-AbCdEf';

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {} });
  return { code, out, err };
}

describe('zdm --source-secret / --target-secret', () => {
  let p: Pair;
  beforeAll(async () => {
    p = await openPair('cli_secret');
    await p.both(`CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1), (2);`);
  });
  afterAll(() => p.close());
  beforeEach(() => sm.reset());

  it('connects with the secret host, port, user, password and database; conninfo keywords go on top', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        engine: 'postgres',
        host: '127.0.0.1',
        port: serverPort('target'),
        username: 'postgres',
        password: LOCAL_SUPERUSER_PASSWORD,
        dbname: p.name,
      }),
    });
    const r = await run(
      'validate',
      '--source',
      p.sourceUrl,
      '--target-secret',
      ARN,
      '--target',
      'sslmode=disable',
      '-q',
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(sm.commandCalls(GetSecretValueCommand)[0].args[0].input).toEqual({ SecretId: ARN });
  });

  it('never prints the secret password, and names the secret and the field when it is unusable', async () => {
    const password = 'Zq-secret-pw-42';
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        host: '127.0.0.1',
        port: serverPort('target'),
        username: 'postgres',
        password,
        dbname: p.name,
      }),
    });
    const wrong = await run('validate', '--source', p.sourceUrl, '--target-secret', ARN, '--json');
    expect(wrong.code).toBe(2);
    expect(wrong.err).toContain(`cannot connect to 127.0.0.1:${serverPort('target')}/${p.name} as postgres`);
    expect(wrong.out + wrong.err).not.toContain(password);

    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'x', password }) });
    const noHost = await run('validate', '--source', p.sourceUrl, '--target-secret', ARN);
    expect(noHost.code).toBe(2);
    expect(noHost.err).toContain(`secret ${ARN} lacks the "host" field`);
    expect(noHost.out + noHost.err).not.toContain(password);

    sm.on(GetSecretValueCommand).rejects(
      Object.assign(new Error('Secrets Manager cannot find the specified secret.'), {
        name: 'ResourceNotFoundException',
      }),
    );
    const missing = await run('validate', '--source', p.sourceUrl, '--target-secret', ARN);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain(`cannot read secret ${ARN}: ResourceNotFoundException`);
  });

  it('checks the rest of the command line before reading any secret', async () => {
    for (const [argv, message] of [
      [['validate', '--source', p.sourceUrl, '--target-secret', ARN, '--mode', 'fast'], '--mode must be quick or full'],
      [
        ['validate', '--source', p.sourceUrl, '--target-secret', 'not a secret!'],
        '--target-secret must be a Secrets Manager secret ARN or name',
      ],
    ] as const) {
      const r = await run(...argv);
      expect(r.code).toBe(2);
      expect(r.err).toContain(message);
    }
    expect(sm.calls()).toHaveLength(0);
  });
});
