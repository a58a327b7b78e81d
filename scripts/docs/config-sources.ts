import type { z } from 'zod';
import { lineProviderConfigSchema } from '@scoreline/line-provider';
import { apiConfigSchema, workerConfigSchema } from '@scoreline/score-maker';
// The admin CLI is not part of line-provider's package API; its schema module has no side effects.
import {
  cliAdminConfigSchema,
  cliConfigSchema,
} from '../../services/line-provider/src/entry-points/cli/cli-config.js';
import { quickstartSchema } from '../quickstart/settings.js';

/**
 * Every process that reads settings, in the order the reference lists them. A process either names
 * its exported schemas (read at run time, with each setting's doc comment taken from `file`), or
 * only a file: the `NAME: env.…` entries written inline there are read from the source.
 */
export interface ProcessSource {
  label: string;
  /** How it is started. */
  command: string;
  file: string;
  schemas?: { constName: string; shape: z.ZodRawShape }[];
}

export const processSources: ProcessSource[] = [
  {
    label: 'line-provider',
    command: 'npm run start:line-provider',
    file: 'services/line-provider/src/config.ts',
    schemas: [{ constName: 'lineProviderConfigSchema', shape: lineProviderConfigSchema }],
  },
  {
    label: 'score-maker API',
    command: 'npm run start:score-maker',
    file: 'services/score-maker/src/config.ts',
    schemas: [{ constName: 'apiConfigSchema', shape: apiConfigSchema }],
  },
  {
    label: 'score-maker worker',
    command: 'npm run start:worker',
    file: 'services/score-maker/src/config.ts',
    schemas: [{ constName: 'workerConfigSchema', shape: workerConfigSchema }],
  },
  {
    label: 'quick start',
    command: 'npm start',
    file: 'scripts/quickstart/settings.ts',
    schemas: [{ constName: 'quickstartSchema', shape: quickstartSchema }],
  },
  {
    label: 'admin CLI',
    command: 'npm run cli',
    file: 'services/line-provider/src/entry-points/cli/cli-config.ts',
    schemas: [
      { constName: 'cliConfigSchema', shape: cliConfigSchema },
      { constName: 'cliAdminConfigSchema', shape: cliAdminConfigSchema },
    ],
  },
  {
    label: 'token CLI',
    command: 'npm run token',
    file: 'services/score-maker/src/entry-points/cli/token.ts',
  },
  {
    label: 'sagas CLI',
    command: 'npm run sagas',
    file: 'services/score-maker/src/entry-points/cli/sagas.ts',
  },
  { label: 'migration', command: 'node --import tsx deploy/migrate.ts', file: 'deploy/migrate.ts' },
  {
    label: 'gRPC health probe',
    command: 'node --import tsx deploy/grpc-health.ts',
    file: 'deploy/grpc-health.ts',
  },
];

/**
 * Values for .env.example where a default cannot serve: required secrets (set, for a development
 * machine only) and optional settings worth showing (commented out).
 */
export const examples: Record<string, { value: string; set?: boolean }> = {
  LINE_PROVIDER_ADMIN_TOKEN: { value: 'change-me-admin-token', set: true },
  LINE_PROVIDER_INTERNAL_TOKEN: { value: 'change-me-internal-token', set: true },
  JWT_SECRET: { value: 'change-me-to-a-secret-of-at-least-32-characters', set: true },
  JWT_JWKS_URL: { value: 'https://id.example.com/.well-known/jwks.json' },
  JWT_ISSUER: { value: 'https://id.example.com/' },
  JWT_AUDIENCE: { value: 'scoreline' },
};
