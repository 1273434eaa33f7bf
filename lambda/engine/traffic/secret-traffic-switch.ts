import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { TrafficSwitch } from '../ports';

/** The application reads its connection from a JSON secret; switching rewrites its `host` field, keeping the rest. */
export class SecretTrafficSwitch implements TrafficSwitch {
  readonly description: string;
  private readonly secrets: SecretsManagerClient;

  constructor(
    private readonly secretId: string,
    secrets?: SecretsManagerClient,
    private readonly field = 'host',
  ) {
    this.description = `secret ${secretId} (field "${field}")`;
    this.secrets = secrets ?? new SecretsManagerClient({});
  }

  private async read(): Promise<Record<string, unknown>> {
    const out = await this.secrets.send(new GetSecretValueCommand({ SecretId: this.secretId }));
    try {
      const value = JSON.parse(out.SecretString ?? '') as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw new Error(`${this.description}: the secret value is not a JSON object`);
  }

  async current(): Promise<string | undefined> {
    const value = (await this.read())[this.field];
    return typeof value === 'string' ? value : undefined;
  }

  async switchTo(endpoint: string): Promise<void> {
    const secret = await this.read();
    if (secret[this.field] === endpoint) return;
    await this.secrets.send(
      new PutSecretValueCommand({
        SecretId: this.secretId,
        SecretString: JSON.stringify({ ...secret, [this.field]: endpoint }),
      }),
    );
  }
}
