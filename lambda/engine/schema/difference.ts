import type {
  SchemaDifference,
  SchemaDifferenceCode,
  SchemaDifferenceKind,
  SchemaObjectType,
  Severity,
} from '../validation/types';

/** Longest definition quoted inside a message. */
const IN_MESSAGE_MAX = 160;
const MESSAGE_MAX = 480;
/** Longest `source` / `target` definition in a difference. */
const DEFINITION_MAX = 1000;
const FIX_MAX = 4000;

/** `text`, shortened to at most `max` characters (code points) with a trailing `…` when longer. */
export function clip(text: string, max = IN_MESSAGE_MAX): string {
  if (text.length <= max) return text;
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** Collapses runs of white space, so that layout alone never makes two definitions differ. */
export function normalizeSpace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export interface DifferenceInput {
  readonly objectType: SchemaObjectType;
  readonly object: string;
  readonly kind: SchemaDifferenceKind;
  /** @default `<objectType>-<kind>` */
  readonly code?: SchemaDifferenceCode;
  readonly severity: Severity;
  readonly message: string;
  readonly source?: string;
  readonly target?: string;
  readonly fix?: string;
}

/** A difference with every text bounded in length. */
export function difference(d: DifferenceInput): SchemaDifference {
  const fix =
    d.fix === undefined || d.fix.length <= FIX_MAX
      ? d.fix
      : `${clip(d.fix, 300)} (shortened: take the full definition from the source)`;
  return {
    objectType: d.objectType,
    object: d.object,
    kind: d.kind,
    code: d.code ?? `${d.objectType}-${d.kind}`,
    severity: d.severity,
    ...(d.source !== undefined ? { source: clip(d.source, DEFINITION_MAX) } : {}),
    ...(d.target !== undefined ? { target: clip(d.target, DEFINITION_MAX) } : {}),
    message: clip(d.message, MESSAGE_MAX),
    ...(fix ? { fix } : {}),
  };
}
