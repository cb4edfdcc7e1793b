import { z } from 'zod';
import { MODES } from '../policy/profile.js';
import { parseYamlText, readYamlFile } from './yaml-file.js';

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const condition = z
  .object({
    equals: scalar.optional(),
    in: z.array(scalar).optional(),
    notIn: z.array(scalar).optional(),
    matches: z.string().optional(),
    absent: z.boolean().optional(),
  })
  .strict();

const rule = z
  .object({
    allow: z.string().optional(),
    deny: z.string().optional(),
    when: z.record(z.string(), condition).optional(),
  })
  .strict();

const rate = z
  .object({ perSecond: z.number().positive(), burst: z.number().int().positive().optional() })
  .strict();

const allowances = z
  .object({
    privileged: z.boolean(),
    capAdd: z.array(z.string().transform((c) => c.toUpperCase().replace(/^CAP_/, ''))),
    devices: z.boolean(),
    hostNamespaces: z.boolean(),
    hostNetwork: z.boolean(),
    unconfined: z.boolean(),
    sysctls: z.boolean(),
    cgroupParent: z.boolean(),
    runtimes: z.array(z.string()),
    bindPaths: z.array(z.string().startsWith('/', 'bind paths must be absolute')),
    volumeDrivers: z.array(z.string()),
    networkDrivers: z.array(z.string()),
    logDrivers: z.array(z.string()),
    execPrivileged: z.boolean(),
    execRoot: z.boolean(),
  })
  .strict()
  .partial();

export const profileSchema = z
  .object({
    description: z.string().optional(),
    extends: z.string().optional(),
    mode: z.enum(MODES).optional(),
    rules: z.array(rule).optional(),
    inspect: z.boolean().optional(),
    allow: allowances.optional(),
    ownership: z.boolean().optional(),
    redactEnv: z.boolean().optional(),
    methodNotAllowed: z.boolean().optional(),
    bodyLimit: z
      .number()
      .int()
      .min(1024)
      .max(256 * 1024 * 1024)
      .optional(),
    rateLimit: rate.optional(),
    concurrency: z.number().int().positive().optional(),
  })
  .strict();

const identity = z
  .object({
    profile: z.string().optional(),
    certNames: z.array(z.string().min(1)).optional(),
    allowFrom: z.array(z.string()).optional(),
    rateLimit: rate.optional(),
    concurrency: z.number().int().positive().optional(),
  })
  .strict();

const listener = z
  .object({
    listen: z.string(),
    profile: z.string().optional(),
    allowFrom: z.array(z.string()).optional(),
  })
  .strict();

/** The whole config file. One schema; every error names the key it is about. */
export const configFileSchema = z
  .object({
    version: z.literal(1, { error: () => 'version: 1 is the only config version' }),
    tokens: z.string().optional(),
    listeners: z.array(listener).optional(),
    profiles: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'profile names are lower case: a-z 0-9 . _ -'),
        profileSchema,
      )
      .optional(),
    identities: z.record(z.string(), identity).optional(),
    audit: z
      .object({
        file: z.string().optional(),
        maxSize: z
          .string()
          .regex(/^\d+[KMG]?$/, 'maxSize is bytes, or a number with K, M or G')
          .optional(),
        keep: z.number().int().min(1).max(1000).optional(),
      })
      .strict()
      .optional(),
    admin: z.object({ listen: z.string() }).strict().optional(),
  })
  .strict();

export type ConfigFile = z.output<typeof configFileSchema>;

/** Reads and validates a config file; errors say file, key and what is wrong. */
export function readConfigFile(file: string): ConfigFile {
  return readYamlFile(file, configFileSchema);
}

export function parseConfigText(text: string, file: string): ConfigFile {
  return parseYamlText(text, file, configFileSchema);
}
