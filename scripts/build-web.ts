/**
 * Builds the dashboard (web/) into dist/web/ with esbuild: one minified JS bundle and one CSS
 * file, content-hashed (served with a year's cache), and index.html pointing at them (served
 * without cache). Prints the gzipped size: JS + CSS must stay under 150 KB.
 *
 *   node --import tsx scripts/build-web.ts
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync, constants as zlibConstants } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'web');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
const result = await build({
  // One entry: the CSS it imports (its own and uPlot's) comes out as one stylesheet beside it.
  entryPoints: [join(root, 'web', 'src', 'main.tsx')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
});
const files = Object.keys(result.metafile.outputs).map((f) => f.slice(f.lastIndexOf('/') + 1));
const js = files.find((f) => f.endsWith('.js')) as string;
const css = files.find((f) => f.endsWith('.css')) as string;
const html = readFileSync(join(root, 'web', 'index.html'), 'utf8')
  .replace('__JS__', js)
  .replace('__CSS__', css);
writeFileSync(join(out, 'index.html'), html);
// Precompressed once, at their best, beside each hashed file: the monitor sends the one the
// browser accepts (brotli, else gzip) without compressing per request.
for (const file of [js, css]) {
  const content = readFileSync(join(out, 'assets', file));
  writeFileSync(
    join(out, 'assets', `${file}.br`),
    brotliCompressSync(content, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11 } }),
  );
  writeFileSync(join(out, 'assets', `${file}.gz`), gzipSync(content, { level: 9 }));
}
const gz = (f: string): number => gzipSync(readFileSync(join(out, 'assets', f))).length;
const total = gz(js) + gz(css);
process.stderr.write(
  `dashboard: ${js} ${(gz(js) / 1024).toFixed(1)} KB + ${css} ${(gz(css) / 1024).toFixed(1)} KB gzipped = ${(total / 1024).toFixed(1)} KB\n`,
);
if (total > 150 * 1024) {
  process.stderr.write('dashboard: over the 150 KB budget\n');
  process.exit(1);
}
