/** One Ajv error, with the schema it failed against (the validators run with `verbose`). */
export interface ValidationIssue {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message?: string;
  parentSchema?: unknown;
  data?: unknown;
}

export interface FieldProblem {
  field: string;
  message: string;
}

interface Schema {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  properties?: Record<string, Schema>;
}

/** Fastify's names for the parts of a request, as OpenAPI's `in` names them. */
const parts: Record<string, string> = {
  querystring: 'query',
  params: 'path',
  headers: 'header',
  body: 'body',
};

/**
 * Ajv's errors as one entry per field, each saying what the field accepts ("must be one of open,
 * closed") rather than which keyword failed: an enum or a union of literals otherwise reads as one
 * "must be equal to constant" per allowed value.
 */
export function validationProblems(issues: readonly ValidationIssue[], context?: string): FieldProblem[] {
  const part = (context && parts[context]) ?? context ?? 'request';
  const byField = new Map<string, ValidationIssue[]>();
  for (const issue of issues) {
    const field = fieldOf(part, issue);
    byField.set(field, [...(byField.get(field) ?? []), issue]);
  }
  return [...byField].map(([field, fieldIssues]) => ({ field, message: messageFor(fieldIssues) }));
}

function fieldOf(part: string, issue: ValidationIssue): string {
  const path = issue.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
  const child = issue.params.missingProperty ?? issue.params.additionalProperty;
  if (typeof child === 'string') path.push(child);
  return [part, ...path].join('.');
}

function messageFor(issues: ValidationIssue[]): string {
  // The outermost failure describes the field as a whole (the union, not one of its branches).
  const outer = issues.reduce((a, b) => (b.schemaPath.length < a.schemaPath.length ? b : a));
  const parent = asSchema(outer.parentSchema);
  if (outer.keyword === 'additionalProperty' || outer.keyword === 'additionalProperties') {
    const allowed = Object.keys(parent.properties ?? {});
    return allowed.length > 0 ? `is not allowed; allowed: ${allowed.join(', ')}` : 'is not allowed';
  }
  if (outer.keyword === 'required') {
    const missing = outer.params.missingProperty;
    const schema = typeof missing === 'string' ? parent.properties?.[missing] : undefined;
    return schema ? `is required: ${expected(schema)}` : 'is required';
  }
  return `must be ${expected(parent)}${got(outer.data)}`;
}

function expected(schema: Schema): string {
  const values = allowedValues(schema);
  if (values) return `one of ${values.map(String).join(', ')}`;
  switch (schema.type) {
    case 'integer':
      return `an integer${range(schema.minimum, schema.maximum, '')}`;
    case 'number':
      return `a number${range(schema.minimum, schema.maximum, '')}`;
    case 'string':
      if (schema.format === 'uuid') return 'a UUID';
      if (schema.format === 'date-time') return 'an RFC 3339 date-time';
      return `a string${range(schema.minLength, schema.maxLength, ' characters', 'of')}`;
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'an array';
    case 'object': {
      const fields = Object.keys(schema.properties ?? {});
      return fields.length > 0 ? `a JSON object with ${fields.join(', ')}` : 'a JSON object';
    }
    default:
      return 'valid';
  }
}

function allowedValues(schema: Schema): unknown[] | undefined {
  if (Array.isArray(schema.enum)) return schema.enum;
  if (Array.isArray(schema.anyOf)) {
    const values = schema.anyOf.map((s) => allowedValues(s) ?? ('const' in s ? [s.const] : undefined));
    if (values.every((v) => v !== undefined)) return values.flat();
  }
  return undefined;
}

function range(min: number | undefined, max: number | undefined, unit: string, both = 'from'): string {
  if (min !== undefined && max !== undefined) return ` ${both} ${min} to ${max}${unit}`;
  if (min !== undefined) return ` of at least ${min}${unit}`;
  if (max !== undefined) return ` of at most ${max}${unit}`;
  return '';
}

/** The value sent, when short enough to quote: `"3"` and `3` look alike in prose. */
function got(data: unknown): string {
  if (data === undefined) return '';
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch {
    // Nested deeper than JSON.stringify's stack goes (a body of 8,000 `[`): not short enough anyway.
    return '';
  }
  return text !== undefined && text.length <= 40 ? ` (got ${text})` : '';
}

function asSchema(value: unknown): Schema {
  return typeof value === 'object' && value !== null ? value : {};
}
