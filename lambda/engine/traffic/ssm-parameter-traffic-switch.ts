import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { TrafficSwitch } from '../ports';

/** The application reads its database host from an SSM parameter; switching overwrites it. */
export class SsmParameterTrafficSwitch implements TrafficSwitch {
  readonly description: string;
  private readonly ssm: SSMClient;

  constructor(
    private readonly parameterName: string,
    ssm?: SSMClient,
  ) {
    this.description = `SSM parameter ${parameterName}`;
    this.ssm = ssm ?? new SSMClient({});
  }

  async current(): Promise<string | undefined> {
    try {
      const out = await this.ssm.send(new GetParameterCommand({ Name: this.parameterName, WithDecryption: true }));
      return out.Parameter?.Value;
    } catch (error) {
      if ((error as Error).name === 'ParameterNotFound') return undefined;
      throw error;
    }
  }

  async switchTo(endpoint: string): Promise<void> {
    const current = await this.current();
    if (current === endpoint) return;
    // An existing parameter keeps its type (String or SecureString); a new one is a String.
    await this.ssm.send(
      new PutParameterCommand({
        Name: this.parameterName,
        Value: endpoint,
        Overwrite: true,
        ...(current === undefined ? { Type: 'String' as const } : {}),
      }),
    );
  }
}
