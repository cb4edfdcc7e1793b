import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createContainer, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { type MonitorProcess, startMonitor } from '../helpers/monitor-process.js';
import { type PromServer, promtool, startPrometheus } from '../helpers/prometheus.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 27, metrics: the monitor's /metrics in cAdvisor's names plus what cAdvisor lacks, linted by
 * the real promtool, scraped by a real Prometheus 2.42 running the rules that ship in
 * examples/prometheus, and read by the Grafana dashboard of examples/grafana.
 */
const client = testClient();
const root = new URL('../..', import.meta.url).pathname;
const cleanup: string[] = [];
let monitor: MonitorProcess;

const scrape = async (m: MonitorProcess = monitor): Promise<string> =>
  (await fetch(`${m.url}/metrics`)).text();

/** `name{labels} value` lines (no comments), parsed. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[k as string] = v as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

before(async () => {
  monitor = await startMonitor([
    '--engine',
    `local=${testEngine().host}`,
    '--data',
    mkdtempSync(join(tmpdir(), 'dockgate-prom-')),
    '--interval',
    '1s',
  ]);
});

after(async () => {
  await monitor?.stop();
  for (const id of cleanup) await removeContainer(client, id).catch(() => {});
});

describe('/metrics: cAdvisor names, and what cAdvisor lacks', () => {
  it('promtool check metrics reports nothing; a crash counted from events; ≤ 30 series per container; a removed container gone', async () => {
    const running = await createContainer(client, ['sleep', '300']);
    const crashed = await createContainer(client, ['sh', '-c', 'sleep 1; exit 3']);
    cleanup.push(running, crashed);
    await waitFor(
      async () => {
        const all = samples(await scrape());
        return (
          all.some(
            (s) => s.name === 'container_cpu_usage_seconds_total' && s.labels.id === `/docker/${running}`,
          ) &&
          all.some(
            (s) =>
              s.name === 'dockgate_container_exits_total' &&
              s.labels.id === `/docker/${crashed}` &&
              s.labels.expected === 'false' &&
              s.value === 1,
          )
        );
      },
      { what: 'the running container sampled and the crash counted' },
    );
    const text = await scrape();
    const lint = promtool(['check', 'metrics'], text);
    assert.equal(lint.out, '', lint.out);
    assert.equal(lint.code, 0);
    assert.doesNotMatch(text, /^[a-z_]+(\{[^}]*\})? \S+ \d+$/m, 'no timestamps on samples');

    const all = samples(text);
    const of = (id: string) => all.filter((s) => s.labels.id === `/docker/${id}`);
    const mine = of(running);
    const names = new Set(mine.map((s) => s.name));
    for (const name of [
      'container_cpu_usage_seconds_total',
      'container_memory_working_set_bytes',
      'container_memory_usage_bytes',
      'container_spec_memory_limit_bytes',
      'container_fs_reads_bytes_total',
      'container_fs_writes_bytes_total',
      'container_pids',
      'container_start_time_seconds',
      'container_last_seen',
      'dockgate_container_info',
      'dockgate_container_restarts_total',
      'dockgate_container_oom_kills_total',
      'dockgate_container_exits_total',
    ])
      assert.ok(names.has(name), `${name} for the running container`);
    const info = mine.find((s) => s.name === 'dockgate_container_info');
    assert.equal(info?.labels.state, 'running');
    assert.equal(info?.labels.engine, 'local');
    assert.match(info?.labels.name ?? '', /./);
    // The stopped one: info (cAdvisor forgets it), its exit code, its unexpected exit; no stats.
    const stopped = of(crashed);
    assert.equal(stopped.find((s) => s.name === 'dockgate_container_info')?.labels.state, 'exited');
    assert.equal(stopped.find((s) => s.name === 'dockgate_container_exit_code')?.value, 3);
    assert.equal(
      stopped.some((s) => s.name === 'container_cpu_usage_seconds_total'),
      false,
    );
    // Series per container (the docs say it), labelled by id or by name (the earlier gauges).
    const name = info?.labels.name;
    const perContainer = all.filter(
      (s) => s.labels.id === `/docker/${running}` || (s.labels.name === name && s.labels.id === undefined),
    );
    assert.ok(perContainer.length <= 30, `${perContainer.length} series for one running container`);

    await removeContainer(client, crashed);
    await waitFor(async () => !(await scrape()).includes(crashed), {
      what: 'the removed container gone from /metrics',
    });
  });

  it('--metrics-compat cadvisor: no earlier gauges; dockgate: no cAdvisor names; a bad value refused at start', async () => {
    const id = await createContainer(client, ['sleep', '300']);
    cleanup.push(id);
    for (const [compat, present, absent] of [
      ['cadvisor', 'container_cpu_usage_seconds_total', 'dockgate_container_cpu_percent'],
      ['dockgate', 'dockgate_container_cpu_percent', 'container_cpu_usage_seconds_total'],
    ] as const) {
      const m = await startMonitor([
        '--engine',
        `local=${testEngine().host}`,
        '--data',
        mkdtempSync(join(tmpdir(), 'dockgate-prom-compat-')),
        '--interval',
        '1s',
        '--metrics-compat',
        compat,
      ]);
      try {
        await waitFor(async () => (await scrape(m)).includes(`${present}{`), {
          what: `${present} with ${compat}`,
        });
        const text = await scrape(m);
        assert.equal(text.includes(`${absent}{`), false, `${absent} absent with ${compat}`);
        assert.match(text, /dockgate_container_info\{/);
        assert.equal(promtool(['check', 'metrics'], text).out, '');
      } finally {
        await m.stop();
      }
    }
    await assert.rejects(
      startMonitor(
        ['--engine', `local=${testEngine().host}`, '--metrics-compat', 'prometheus'],
        {},
        { waitUp: false },
      ),
      /--metrics-compat: "prometheus" is not one of cadvisor, dockgate, both/,
    );
  });

  it('the Grafana dashboard reads only metrics and labels the monitor exports', async () => {
    const text = await scrape();
    // Every metric the monitor declares (a stopped container's exit code may have no sample now).
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
    const labels = new Set(samples(text).flatMap((s) => Object.keys(s.labels)));
    const dashboard = JSON.parse(
      readFileSync(join(root, 'examples/grafana/dockgate-containers.json'), 'utf8'),
    ) as {
      panels: { title: string; targets: { expr: string }[] }[];
      templating: { list: { query?: string | { query: string } }[] };
    };
    const queries = [
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
      ...dashboard.templating.list
        .map((v) => (typeof v.query === 'object' ? v.query.query : ''))
        .filter((q) => q.startsWith('label_values')),
    ];
    assert.ok(queries.length >= 10);
    for (const query of queries) {
      const { metrics, labelNames } = promqlNames(query);
      assert.ok(metrics.length > 0, query);
      for (const metric of metrics) assert.ok(exported.has(metric), `${metric} (in ${query}) is exported`);
      for (const label of labelNames)
        assert.ok(labels.has(label), `label ${label} (in ${query}) is exported`);
    }
  });
});

/** The metric and label names a PromQL query (or Grafana's label_values) refers to. */
function promqlNames(query: string): { metrics: string[]; labelNames: string[] } {
  const words = new Set([
    'sum',
    'count',
    'avg',
    'min',
    'max',
    'rate',
    'irate',
    'increase',
    'by',
    'without',
    'on',
    'ignoring',
    'or',
    'and',
    'unless',
    'offset',
    'bool',
    'vector',
    'label_values',
    'topk',
    'bottomk',
    'group_left',
    'group_right',
    'abs',
    'time',
    'changes',
    'resets',
    'delta',
    'deriv',
    'histogram_quantile',
  ]);
  const labelNames: string[] = [];
  let rest = query.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\$\{?\w+\}?/g, '');
  // Label names in selectors and in by/without lists.
  rest = rest.replace(/\{([^}]*)\}/g, (_m, inner: string) => {
    for (const [, name] of inner.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g))
      labelNames.push(name as string);
    return ' ';
  });
  rest = rest.replace(/\b(by|without)\s*\(([^)]*)\)/g, (_m, _k, inner: string) => {
    for (const name of inner
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean))
      labelNames.push(name);
    return ' ';
  });
  // label_values(metric, label): the second argument is a label.
  rest = rest.replace(
    /label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*([a-zA-Z_]\w*)\s*\)/,
    (_m, metric: string, label: string) => {
      labelNames.push(label);
      return ` ${metric} `;
    },
  );
  rest = rest.replace(/\[[^\]]*\]/g, ' ');
  const metrics = [...rest.matchAll(/[a-zA-Z_:][\w:]*/g)]
    .map((m) => m[0])
    .filter((w) => !words.has(w) && !/^\d/.test(w));
  return { metrics, labelNames };
}

describe('a real Prometheus 2.42 scraping the monitor, with the shipped rules', () => {
  let prometheus: PromServer;
  before(async () => {
    const target = new URL(monitor.url).host;
    prometheus = await startPrometheus(
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'rule_files: [dockgate.rules.yml]',
        'scrape_configs:',
        '  - job_name: dockgate-monitor',
        `    static_configs: [{ targets: ["${target}"] }]`,
        '',
      ].join('\n'),
      {
        'dockgate.rules.yml': readFileSync(
          join(root, 'examples/prometheus/rules/dockgate.rules.yml'),
          'utf8',
        ),
      },
    );
  });
  after(async () => {
    await prometheus?.stop();
  });

  const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
    const answer = (await (
      await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(q)}`)
    ).json()) as {
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return answer.data.result;
  };

  it('rate(container_cpu_usage_seconds_total) of a busy-looping container is one core, within 20 %', async () => {
    const busy = `busy-${testEngine().runId}`;
    const id = await createContainer(client, ['sh', '-c', 'while :; do :; done'], {
      config: { name: undefined },
    });
    cleanup.push(id);
    await client.containers.rename(id, busy);
    let seen = 0;
    await waitFor(
      async () => {
        const [result] = await query(`rate(container_cpu_usage_seconds_total{name="${busy}"}[20s])`);
        seen = Number(result?.value[1] ?? 0);
        return Math.abs(seen - 1) <= 0.2;
      },
      { what: 'one core', timeout: 90_000, interval: 1000 },
    );
    assert.ok(Math.abs(seen - 1) <= 0.2, `${seen} cores`);
    await removeContainer(client, id);
  });

  it('the shipped ContainerCrashed rule fires for a container that exits 1', async () => {
    const name = `crash-${testEngine().runId}`;
    const id = await createContainer(client, ['sh', '-c', 'sleep 6; exit 1'], { start: false });
    cleanup.push(id);
    await client.containers.rename(id, name);
    await client.containers.start(id);
    await waitFor(
      async () => {
        const answer = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as {
          data: { alerts: { labels: Record<string, string>; state: string }[] };
        };
        return answer.data.alerts.some(
          (a) => a.labels.alertname === 'ContainerCrashed' && a.labels.name === name && a.state === 'firing',
        );
      },
      { what: 'ContainerCrashed firing', timeout: 60_000, interval: 500 },
    );
  });
});

describe('examples/prometheus: checked and unit-tested by promtool', () => {
  it('promtool check rules, and promtool test rules: every shipped alert fires when it should and not when it should not', () => {
    const dir = join(root, 'examples/prometheus');
    const check = promtool(['check', 'rules', join(dir, 'rules/dockgate.rules.yml')]);
    assert.equal(check.code, 0, check.out);
    assert.match(check.out, /SUCCESS: 15 rules found/);
    const tests = promtool(['test', 'rules', join(dir, 'tests/dockgate.rules.test.yml')]);
    assert.equal(tests.code, 0, tests.out);
    assert.match(tests.out, /SUCCESS/);
    // Each alerting rule has a unit test.
    const rules = readFileSync(join(dir, 'rules/dockgate.rules.yml'), 'utf8');
    const tested = readFileSync(join(dir, 'tests/dockgate.rules.test.yml'), 'utf8');
    for (const [, alert] of rules.matchAll(/- alert: (\w+)/g))
      assert.match(tested, new RegExp(`alertname: ${alert}\\b`), `${alert} has a test`);
  });
});
