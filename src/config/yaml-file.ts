import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { DockgateError } from '../errors.js';

/**
 * A YAML config file read and validated against one zod schema: duplicate keys refused, and
 * every error names the file and the key ("config monitor.yaml: engines.0.url: …").
 */
export function readYamlFile<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DockgateError('DG_CONFIG_INVALID', `config ${file}: ${(error as Error).message}`);
  }
  return parseYamlText(text, file, schema);
}

export function parseYamlText<S extends z.ZodType>(text: string, file: string, schema: S): z.output<S> {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `config ${file}: ${doc.errors[0]?.message ?? 'invalid YAML'}`,
    );
  }
  const parsed = schema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new DockgateError('DG_CONFIG_INVALID', `config ${file}: ${where}${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
