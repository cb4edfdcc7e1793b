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
  // The terminal (xterm.js) is a chunk of its own, loaded when its tab opens.
  splitting: true,
  chunkNames: 'chunk-[hash]',
  metafile: true,
  logLevel: 'warning',
});
const outputs = Object.entries(result.metafile.outputs);
const base = (f: string): string => f.slice(f.lastIndexOf('/') + 1);
const files = outputs.map(([f]) => base(f)).filter((f) => f.endsWith('.js') || f.endsWith('.css'));
// The first page: the entry's script and the stylesheet beside it; chunks come later, on demand.
const entry = outputs.find(([, o]) => o.entryPoint !== undefined && o.cssBundle !== undefined);
if (entry === undefined) throw new Error('build-web: no entry with a stylesheet in the metafile');
const js = base(entry[0]);
const css = base(entry[1].cssBundle as string);
const html = readFileSync(join(root, 'web', 'index.html'), 'utf8')
  .replace('__JS__', js)
  .replace('__CSS__', css);
writeFileSync(join(out, 'index.html'), html);
// Precompressed once, at their best, beside each hashed file: the monitor sends the one the
// browser accepts (brotli, else gzip) without compressing per request.
for (const file of files) {
  const content = readFileSync(join(out, 'assets', file));
  writeFileSync(
    join(out, 'assets', `${file}.br`),
    brotliCompressSync(content, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11 } }),
  );
  writeFileSync(join(out, 'assets', `${file}.gz`), gzipSync(content, { level: 9 }));
}
const gz = (f: string): number => gzipSync(readFileSync(join(out, 'assets', f))).length;
const total = gz(js) + gz(css);
const later = files.filter((f) => f !== js && f !== css).reduce((sum, f) => sum + gz(f), 0);
process.stderr.write(
  `dashboard: ${js} ${(gz(js) / 1024).toFixed(1)} KB + ${css} ${(gz(css) / 1024).toFixed(1)} KB gzipped = ${(total / 1024).toFixed(1)} KB (first page); ${(later / 1024).toFixed(1)} KB loaded on demand (the terminal)\n`,
);
if (total > 150 * 1024) {
  process.stderr.write('dashboard: over the 150 KB budget\n');
  process.exit(1);
}
