import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Notifier } from '../ports';

/** SNS subjects: ASCII, no line breaks, at most 100 characters. */
export function snsSubject(subject: string): string {
  const ascii = subject
    .replace(/[—–]/g, '-')
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  const text = ascii.length > 0 ? ascii : 'zdm notice';
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}

/** Operator notices to an SNS topic (subject sanitised, attributes as String message attributes). */
export class SnsNotifier implements Notifier {
  private readonly sns: SNSClient;

  constructor(
    private readonly topicArn: string,
    sns?: SNSClient,
  ) {
    this.sns = sns ?? new SNSClient({});
  }

  async notify(subject: string, message: string, attributes: Record<string, string> = {}): Promise<void> {
    const MessageAttributes = Object.fromEntries(
      Object.entries(attributes)
        .filter(([, v]) => typeof v === 'string' && v.length > 0)
        .slice(0, 10)
        .map(([k, v]) => [k, { DataType: 'String', StringValue: v }]),
    );
    await this.sns.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: snsSubject(subject),
        // SNS messages are at most 256 KB; notices are far smaller, but never fail a step over it.
        Message: message.length > 200_000 ? `${message.slice(0, 200_000)}\n… (truncated)` : message,
        ...(Object.keys(MessageAttributes).length > 0 ? { MessageAttributes } : {}),
      }),
    );
  }
}
