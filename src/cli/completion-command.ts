import type { Command } from 'commander';
import { DockgateError } from '../errors.js';

/** A command of the tree, by its path of names ("monitor token add"). */
interface Node {
  readonly path: readonly string[];
  readonly description: string;
  readonly subcommands: readonly string[];
  readonly options: readonly {
    readonly long: string;
    readonly takesValue: boolean;
    readonly description: string;
  }[];
}

/**
 * `dockgate completion bash|zsh|fish`: a completion script made from the command tree itself
 * (commander's), so it never falls behind a new command or option.
 *   bash: source <(dockgate completion bash)      (or save it in /etc/bash_completion.d/dockgate)
 *   zsh:  source <(dockgate completion zsh)       (bash's completion through bashcompinit)
 *   fish: dockgate completion fish > ~/.config/fish/completions/dockgate.fish
 */
export function registerCompletionCommand(program: Command): void {
  program
    .command('completion <shell>')
    .description('print a shell completion script: bash, zsh or fish')
    .action((shell: string) => {
      const nodes = walk(program, []);
      if (shell === 'bash') process.stdout.write(bash(nodes));
      else if (shell === 'zsh') process.stdout.write(zsh(nodes));
      else if (shell === 'fish') process.stdout.write(fish(nodes));
      else throw new DockgateError('DG_CONFIG_INVALID', `completion for "${shell}": bash, zsh or fish`);
    });
}

function walk(command: Command, path: readonly string[]): Node[] {
  const node: Node = {
    path,
    description: command.description(),
    subcommands: command.commands.map((c) => c.name()),
    options: command.options
      .filter((o) => o.long !== undefined)
      .map((o) => ({
        long: o.long as string,
        takesValue: o.required || o.optional,
        description: o.description,
      })),
  };
  return [node, ...command.commands.flatMap((c) => walk(c, [...path, c.name()]))];
}

const key = (path: readonly string[]): string =>
  path.length === 0 ? '_' : path.join('_').replace(/-/g, '_');

function bash(nodes: readonly Node[]): string {
  const cases = nodes
    .map(
      (n) =>
        `    ${key(n.path)}) subs="${n.subcommands.join(' ')}"; opts="${n.options.map((o) => o.long).join(' ')}"; valued="${n.options
          .filter((o) => o.takesValue)
          .map((o) => o.long)
          .join(' ')}" ;;`,
    )
    .join('\n');
  return `# dockgate completion for bash (dockgate completion bash)
_dockgate() {
  local cur prev path subs opts valued i word
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  path="_"
  # Walk the words typed so far down the command tree, skipping options and their values.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$word" in -*) continue ;; esac
    _dockgate_node "$path"
    case " $valued " in *" \${COMP_WORDS[i-1]} "*) continue ;; esac
    case " $subs " in *" $word "*) if [ "$path" = "_" ]; then path="$word"; else path="\${path}_$word"; fi; path="\${path//-/_}" ;; esac
  done
  _dockgate_node "$path"
  case " $valued " in *" $prev "*) COMPREPLY=($(compgen -f -- "$cur")); return ;; esac
  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
  else COMPREPLY=($(compgen -W "$subs" -- "$cur")); fi
}
_dockgate_node() {
  case "$1" in
${cases}
    *) subs=""; opts=""; valued="" ;;
  esac
}
complete -F _dockgate dockgate
`;
}

function zsh(nodes: readonly Node[]): string {
  return `#compdef dockgate
# dockgate completion for zsh (dockgate completion zsh): bash's, through bashcompinit.
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bash(nodes)}`;
}

function fish(nodes: readonly Node[]): string {
  const quote = (text: string): string => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const lines = ['# dockgate completion for fish (dockgate completion fish)', 'complete -c dockgate -f'];
  for (const n of nodes) {
    // The condition: exactly this command path typed (its last name seen, none of its children).
    const condition =
      n.path.length === 0
        ? '__fish_use_subcommand'
        : `__fish_seen_subcommand_from ${n.path[n.path.length - 1]}${
            n.subcommands.length > 0 ? `; and not __fish_seen_subcommand_from ${n.subcommands.join(' ')}` : ''
          }`;
    for (const sub of nodes.filter(
      (m) => m.path.length === n.path.length + 1 && m.path.slice(0, -1).join(' ') === n.path.join(' '),
    ))
      lines.push(
        `complete -c dockgate -n ${quote(condition)} -a ${quote(sub.path[sub.path.length - 1] as string)} -d ${quote(sub.description)}`,
      );
    for (const o of n.options)
      lines.push(
        `complete -c dockgate -n ${quote(condition)} -l ${o.long.slice(2)}${o.takesValue ? ' -r -F' : ''} -d ${quote(o.description)}`,
      );
  }
  return `${lines.join('\n')}\n`;
}
