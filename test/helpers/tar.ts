import { pack } from 'tar-stream';

/** A tar archive of `files` (name → content), whole in memory: a build context, an archive to put. */
export async function tarOf(files: Record<string, string | Buffer>, mode = 0o644): Promise<Buffer> {
  const tar = pack();
  for (const [name, content] of Object.entries(files)) tar.entry({ name, mode }, content);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
