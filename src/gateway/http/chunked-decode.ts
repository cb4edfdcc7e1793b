/**
 * The payload of a complete chunked body that ChunkedScanner has already validated: sizes,
 * extensions and trailers are dropped, the data kept. Used where a body is inspected or
 * rewritten whole (policy bodies, redacted answers); everything else is forwarded as framed.
 */
export function decodeChunked(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', pos, 'latin1');
    if (lineEnd < 0) break;
    const sizeText = raw.toString('latin1', pos, lineEnd).split(';')[0]?.trim() ?? '';
    const size = Number.parseInt(sizeText, 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    pos = lineEnd + 2 + size + 2;
  }
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}
