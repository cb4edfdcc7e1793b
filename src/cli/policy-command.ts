import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { defaultTokenFile } from '../auth/tokens.js';
import { readConfigFile } from '../config/policy-file.js';
import { loadPolicy } from '../config/policy-source.js';
import { DockgateError } from '../errors.js';
import { decide } from '../policy/decide.js';
import type { Policy } from '../policy/policy.js';
import type { Profile } from '../policy/profile.js';
import { routeClass } from '../policy/routes.js';

/** A policy from a config file alone (no listeners: what identities and profiles say). */
function policyOf(file: string | undefined, tokens: string | undefined): Policy {
  const config = file === undefined ? undefined : readConfigFile(file);
  return loadPolicy(
    {
      configFile: file,
      tokensFile: tokens ?? config?.tokens ?? defaultTokenFile(),
      listeners: [],
      tecnativa: false,
      clientCertsRequired: false,
      insecure: true,
    },
    1,
    config,
  );
}

/** `dockgate policy check|explain`. */
export function registerPolicyCommand(program: Command): void {
  const policy = program.command('policy').description('check a config file, explain a decision');
  policy
    .command('check <file>')
    .description('validate a config file (schema, profiles, rules, identities); exit 2 when invalid')
    .option('--tokens <file>', 'token store to check against')
    .action((file: string, options: { tokens?: string }) => {
      const p = policyOf(file, options.tokens);
      const own = Object.keys(readConfigFile(file).profiles ?? {});
      process.stdout.write(
        `${file}: ok — ${own.length} profile(s) of its own (${own.join(', ') || 'none'}), ${p.identities.size} identit${p.identities.size === 1 ? 'y' : 'ies'}\n`,
      );
    });
  policy
    .command('explain <method> <path>')
    .description('print the decision for a request and the rule that made it')
    .requiredOption('--as <identity>', 'an identity (token name or config identity) or a profile name')
    .option('--body <file>', 'request body to inspect (JSON)')
    .option('--config <file>', 'config file')
    .option('--tokens <file>', 'token store')
    .action(
      (
        method: string,
        path: string,
        options: { as: string; body?: string; config?: string; tokens?: string },
      ) => {
        const p = policyOf(options.config, options.tokens);
        const identity = p.identities.get(options.as);
        const profile: Profile | undefined = identity?.profile ?? p.profiles.get(options.as);
        if (profile === undefined) {
          throw new DockgateError('DG_CONFIG_INVALID', `--as ${options.as}: no such identity or profile`);
        }
        const body = options.body === undefined ? undefined : readFileSync(options.body);
        const lines: string[] = [
          `identity: ${identity?.name ?? '(none)'}`,
          `profile:  ${profile.name} (mode ${profile.mode})`,
        ];
        const m = method.toUpperCase();
        const { decision, head, outcome } = decide(profile, m, path, body, identity?.name ?? 'anonymous');
        if (head.kind === 'allow') {
          lines.push(`route:    ${routeClass(m, head.normalised.path)} (path ${head.normalised.path})`);
        }
        if (!decision.allow) {
          lines.unshift(`decision: deny (${decision.status})`);
          lines.push(`rule:     ${decision.rule}`, `reason:   ${decision.reason}`);
        } else if (head.kind === 'allow' && outcome?.kind === 'allow') {
          const would = decision.wouldDeny;
          lines.unshift(
            would === undefined
              ? 'decision: allow'
              : `decision: allow (would deny in enforce: ${would.status})`,
          );
          lines.push(`rule:     ${head.rule.name} (${head.rule.source})`);
          if (would !== undefined) lines.push(`reason:   ${would.reason} [${would.rule}]`);
          const e = outcome.effects;
          if (e.target !== undefined) lines.push(`forwards: ${e.target}`);
          if (e.body !== undefined)
            lines.push(`body:     rewritten with the owner label (${e.body.length} bytes)`);
          for (const c of e.ownerChecks)
            lines.push(`checks:   ${c.kind} ${c.id} must be owned by ${identity?.name ?? 'anonymous'}`);
          for (const t of e.targetChecks)
            lines.push(
              t.kind === 'volume'
                ? `volume:   ${t.via} mounts volume ${t.ref}: refused if it is a bind of a host path the profile refuses (looked up in the engine; a volume that does not exist yet is created plain)`
                : t.only === 'bound-volumes'
                  ? `target:   ${t.via} runs container ${t.ref}: refused if a named volume it mounts is a bind of a host path the profile refuses (looked up in the engine)`
                  : `target:   ${t.via} reaches into ${t.kind} ${t.ref}: refused if ${t.kind === 'exec' ? 'it or its container holds' : 'it holds'} a host escape the profile refuses at create (looked up in the engine)`,
            );
          if (e.redactEnv) lines.push('answer:   Config.Env values redacted');
        }
        process.stdout.write(`${lines.join('\n')}\n`);
        if (!lines[0]?.startsWith('decision: allow')) process.exitCode = 1;
      },
    );
}
