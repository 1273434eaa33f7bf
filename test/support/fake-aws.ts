/**
 * Small in-memory stand-ins for AWS services, for tests that mock the SDK only at the client boundary
 * (aws-sdk-client-mock): a DynamoDB table that evaluates the condition and update expressions the state store
 * sends, an SSM parameter store, DMS replication tasks that start and stop, and an AWS-Lambda-style error for a
 * handler's exception.
 *
 * Each fake implements only what the production code uses and throws on anything else, so a change in what the
 * code sends fails the test loudly instead of being silently accepted.
 */
import { ConditionalCheckFailedException, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import type { GetCommandInput, PutCommandInput, UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { ParameterAlreadyExists, ParameterNotFound, type ParameterType } from '@aws-sdk/client-ssm';
import {
  InvalidResourceStateFault,
  ResourceNotFoundFault,
  type DescribeReplicationTasksCommandInput,
  type ReplicationTask,
} from '@aws-sdk/client-database-migration-service';

type Item = Record<string, unknown>;

/** The error DynamoDB returns for a malformed request (the SDK raises it with this name). */
function validationException(message: string): Error {
  const error = new Error(message);
  error.name = 'ValidationException';
  return error;
}

function conditionFailed(): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
}

/** What marshalling (`removeUndefinedValues: true`) and a round trip through DynamoDB leave of a value. */
function stored<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Tracks which expression attribute names/values a request used (DynamoDB rejects unused ones). */
class ExpressionContext {
  private readonly usedNames = new Set<string>();
  private readonly usedValues = new Set<string>();

  constructor(
    private readonly names: Record<string, string> = {},
    private readonly values: Record<string, unknown> = {},
  ) {}

  /** A document path `a.#b.c` → ['a', 'b', 'c'] (no list indexes: the store never uses them). */
  path(text: string): string[] {
    return text
      .trim()
      .split('.')
      .map((token) => {
        if (token.startsWith('#')) {
          if (!(token in this.names)) {
            throw validationException(
              `An expression attribute name used in the document path is not defined; attribute name: ${token}`,
            );
          }
          this.usedNames.add(token);
          return this.names[token];
        }
        if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(token)) {
          throw new Error(
            `fake DynamoDB: unsupported document path token ${JSON.stringify(token)} in ${JSON.stringify(text)}`,
          );
        }
        return token;
      });
  }

  value(token: string): unknown {
    const t = token.trim();
    if (!t.startsWith(':')) throw new Error(`fake DynamoDB: unsupported operand ${JSON.stringify(t)} (only :values)`);
    if (!(t in this.values)) {
      throw validationException(
        `An expression attribute value used in expression is not defined; attribute value: ${t}`,
      );
    }
    this.usedValues.add(t);
    return stored(this.values[t]);
  }

  /** DynamoDB: "Value provided in ExpressionAttributeNames unused in expressions". */
  assertAllUsed(): void {
    const names = Object.keys(this.names).filter((n) => !this.usedNames.has(n));
    if (names.length > 0) {
      throw validationException(
        `Value provided in ExpressionAttributeNames unused in expressions: keys: {${names.join(', ')}}`,
      );
    }
    const values = Object.keys(this.values).filter((v) => !this.usedValues.has(v));
    if (values.length > 0) {
      throw validationException(
        `Value provided in ExpressionAttributeValues unused in expressions: keys: {${values.join(', ')}}`,
      );
    }
  }
}

function lookup(item: Item | undefined, path: readonly string[]): unknown {
  let current: unknown = item;
  for (const key of path) {
    if (!current || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = (current as Item)[key];
  }
  return current;
}

/**
 * `attribute_exists(p)`, `attribute_not_exists(p)` and `p = :v`, joined by AND or by OR (not both in one
 * expression): the conditions the state store uses (a new record, or one replacing a rolled-back run's). Every
 * operand is read, as DynamoDB does (unused names and values are errors).
 */
function evaluateCondition(expression: string | undefined, item: Item | undefined, ctx: ExpressionContext): boolean {
  if (expression === undefined) return true;
  const or = /\s+OR\s+/.test(expression);
  if (or && /\s+AND\s+/.test(expression)) {
    throw new Error(`fake DynamoDB: unsupported condition (AND with OR) ${JSON.stringify(expression)}`);
  }
  const results = expression.split(or ? /\s+OR\s+/ : /\s+AND\s+/).map((clause) => {
    const fn = /^\s*(attribute_exists|attribute_not_exists)\(\s*([^)]+?)\s*\)\s*$/.exec(clause);
    if (fn) {
      const exists = lookup(item, ctx.path(fn[2])) !== undefined;
      return fn[1] === 'attribute_exists' ? exists : !exists;
    }
    const eq = /^\s*([^\s=]+)\s*=\s*(:[A-Za-z0-9_]+)\s*$/.exec(clause);
    if (eq) {
      const actual = lookup(item, ctx.path(eq[1]));
      return actual !== undefined && JSON.stringify(actual) === JSON.stringify(ctx.value(eq[2]));
    }
    throw new Error(`fake DynamoDB: unsupported condition ${JSON.stringify(clause)}`);
  });
  return or ? results.some(Boolean) : results.every(Boolean);
}

/**
 * `SET p = :v, ... [REMOVE p, ...]`: the only update expressions the state store uses. Returns DynamoDB's error
 * for a SET into a missing map (raised only if the condition holds), after reading every name and value.
 */
function applyUpdate(expression: string, item: Item, ctx: ExpressionContext): Error | undefined {
  let invalidPath: Error | undefined;
  const sections = [...expression.matchAll(/(SET|REMOVE)\s+([\s\S]*?)(?=\s+(?:SET|REMOVE)\s+|$)/g)];
  if (
    sections.length === 0 ||
    sections
      .map((s) => s[0])
      .join(' ')
      .replace(/\s+/g, ' ') !== expression.trim().replace(/\s+/g, ' ')
  ) {
    throw new Error(`fake DynamoDB: unsupported update expression ${JSON.stringify(expression)}`);
  }
  for (const [, action, body] of sections) {
    for (const part of body.split(',')) {
      if (action === 'SET') {
        const m = /^\s*([^=]+?)\s*=\s*(\S+)\s*$/.exec(part);
        if (!m) throw new Error(`fake DynamoDB: unsupported SET action ${JSON.stringify(part)}`);
        const path = ctx.path(m[1]);
        const value = ctx.value(m[2]);
        const parent = path.length === 1 ? item : lookup(item, path.slice(0, -1));
        if (!parent || typeof parent !== 'object' || Array.isArray(parent)) {
          invalidPath ??= validationException(
            'The document path provided in the update expression is invalid for update',
          );
        } else {
          (parent as Item)[path[path.length - 1]] = value;
        }
      } else {
        const path = ctx.path(part);
        const parent = path.length === 1 ? item : lookup(item, path.slice(0, -1));
        if (parent && typeof parent === 'object') delete (parent as Item)[path[path.length - 1]];
      }
    }
  }
  return invalidPath;
}

/**
 * One DynamoDB table (string partition key) behind `DynamoDBDocumentClient` Get/Put/Update commands, with
 * DynamoDB's semantics for what the state store sends: strongly consistent reads, conditional writes failing
 * with ConditionalCheckFailedException, nested SET only into an existing map, unused expression attribute
 * names/values rejected.
 */
export class FakeDynamoDbTable {
  private readonly items = new Map<string, Item>();

  constructor(
    readonly tableName: string,
    readonly partitionKey: string,
  ) {}

  /** A copy of the stored item. */
  item(key: string): Item | undefined {
    const item = this.items.get(key);
    return item ? stored(item) : undefined;
  }

  private keyOf(tableName: string | undefined, key: Record<string, unknown> | undefined): string {
    if (tableName !== this.tableName) {
      throw new ResourceNotFoundException({ message: `Requested resource not found: ${tableName}`, $metadata: {} });
    }
    const names = Object.keys(key ?? {});
    const value = key?.[this.partitionKey];
    if (names.length !== 1 || typeof value !== 'string' || value.length === 0) {
      throw validationException('The provided key element does not match the schema');
    }
    return value;
  }

  get(input: GetCommandInput): { Item?: Item } {
    const item = this.items.get(this.keyOf(input.TableName, input.Key));
    return item ? { Item: stored(item) } : {};
  }

  put(input: PutCommandInput): Record<string, never> {
    const item = stored(input.Item ?? {}) as Item;
    const key = this.keyOf(input.TableName, { [this.partitionKey]: item[this.partitionKey] });
    const ctx = new ExpressionContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    const ok = evaluateCondition(input.ConditionExpression, this.items.get(key), ctx);
    ctx.assertAllUsed();
    if (!ok) throw conditionFailed();
    this.items.set(key, item);
    return {};
  }

  update(input: UpdateCommandInput): Record<string, never> {
    const key = this.keyOf(input.TableName, input.Key);
    if (!input.UpdateExpression) throw new Error('fake DynamoDB: UpdateItem without UpdateExpression is not supported');
    const ctx = new ExpressionContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    const existing = this.items.get(key);
    const ok = evaluateCondition(input.ConditionExpression, existing, ctx);
    const next: Item = existing ? stored(existing) : { [this.partitionKey]: key };
    const invalidPath = applyUpdate(input.UpdateExpression, next, ctx);
    ctx.assertAllUsed();
    // the condition is checked against the stored item before the update is applied to it
    if (!ok) throw conditionFailed();
    if (invalidPath) throw invalidPath;
    this.items.set(key, next);
    return {};
  }
}

/** SSM Parameter Store: GetParameter / PutParameter with SSM's rules for new and existing parameters. */
export class FakeParameterStore {
  private readonly parameters = new Map<string, { value: string; type: ParameterType; version: number }>();

  set(name: string, value: string, type: ParameterType = 'String'): void {
    this.parameters.set(name, { value, type, version: 1 });
  }

  value(name: string): string | undefined {
    return this.parameters.get(name)?.value;
  }

  get(input: { Name?: string }): { Parameter: { Name: string; Value: string; Type: ParameterType; Version: number } } {
    const p = input.Name === undefined ? undefined : this.parameters.get(input.Name);
    if (!p) throw new ParameterNotFound({ message: `Parameter ${input.Name} not found`, $metadata: {} });
    return { Parameter: { Name: input.Name!, Value: p.value, Type: p.type, Version: p.version } };
  }

  put(input: { Name?: string; Value?: string; Type?: ParameterType; Overwrite?: boolean }): { Version: number } {
    if (!input.Name || input.Value === undefined) throw validationException('Name and Value are required');
    const existing = this.parameters.get(input.Name);
    if (existing && !input.Overwrite) {
      throw new ParameterAlreadyExists({ message: `The parameter ${input.Name} already exists.`, $metadata: {} });
    }
    if (!existing && !input.Type)
      throw validationException('A parameter type is required when you create a parameter.');
    const version = (existing?.version ?? 0) + 1;
    this.parameters.set(input.Name, { value: input.Value, type: existing?.type ?? input.Type!, version });
    return { Version: version };
  }
}

/**
 * DMS replication tasks by ARN: DescribeReplicationTasks (by `replication-task-arn`), StartReplicationTask of a task
 * that is not running and StopReplicationTask of a running one, each state change taking effect at once.
 */
export class FakeReplicationTasks {
  private readonly statuses = new Map<string, string>();

  set(arn: string, status: string): void {
    this.statuses.set(arn, status);
  }

  private task(arn: string | undefined): ReplicationTask {
    const status = arn === undefined ? undefined : this.statuses.get(arn);
    if (!status) throw new ResourceNotFoundFault({ message: 'Replication Task not found', $metadata: {} });
    return { ReplicationTaskArn: arn, Status: status, ReplicationTaskStats: { FullLoadProgressPercent: 100 } };
  }

  describe(input: DescribeReplicationTasksCommandInput): { ReplicationTasks: ReplicationTask[] } {
    const arns = input.Filters?.find((f) => f.Name === 'replication-task-arn')?.Values;
    if (!arns || input.Filters!.length !== 1)
      throw new Error('fake DMS: only a replication-task-arn filter is supported');
    return { ReplicationTasks: arns.map((arn) => this.task(arn)) };
  }

  start(input: { ReplicationTaskArn?: string }): { ReplicationTask: ReplicationTask } {
    return this.change(input.ReplicationTaskArn, (status) => status !== 'running', 'running');
  }

  stop(input: { ReplicationTaskArn?: string }): { ReplicationTask: ReplicationTask } {
    return this.change(input.ReplicationTaskArn, (status) => status === 'running', 'stopped');
  }

  private change(arn: string | undefined, allowed: (status: string) => boolean, to: string) {
    const { Status } = this.task(arn);
    if (!allowed(Status!)) {
      throw new InvalidResourceStateFault({ message: `Replication task is ${Status}`, $metadata: {} });
    }
    this.statuses.set(arn!, to);
    return { ReplicationTask: this.task(arn) };
  }
}

/**
 * What Step Functions sees when a Node.js Lambda function throws: the error name is the `errorType`, the cause is
 * the JSON error object `{"errorType","errorMessage","trace"}`.
 */
export function lambdaFunctionError(error: unknown): Error {
  const e = error instanceof Error ? error : new Error(String(error));
  const out = new Error(
    JSON.stringify({ errorType: e.name, errorMessage: e.message, trace: (e.stack ?? '').split('\n') }),
  );
  out.name = e.name;
  return out;
}
