import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Two validators. Bodies are JSON with real types, so nothing is coerced: "3", 3.5 and true are not a
 * score, and unknown fields are refused rather than silently dropped (Fastify's default would do
 * both). Path, query and headers arrive as strings, so there numbers are coerced from their text.
 * `verbose` keeps each error's schema, from which validation-messages.ts says what a field accepts.
 */
const base: Options = { allErrors: true, useDefaults: true, strict: false, verbose: true };
const bodyAjv = addFormats.default(new Ajv({ ...base, coerceTypes: false, removeAdditional: false }));
const textAjv = addFormats.default(new Ajv({ ...base, coerceTypes: true, removeAdditional: false }));

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : textAjv).compile(schema);
