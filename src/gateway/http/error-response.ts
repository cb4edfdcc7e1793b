import { STATUS_CODES } from 'node:http';
import { dockerErrorBody } from '../../errors.js';

/**
 * A complete HTTP/1.1 error answer in Docker's shape. The connection is always closed after it:
 * whatever made the gateway answer by itself (bad framing, an engine that is gone) leaves the
 * connection in a state no later request should rely on.
 */
export function errorResponse(status: number, message: string, requestId: string | undefined): Buffer {
  const body = `${dockerErrorBody(message, requestId)}\n`;
  return Buffer.from(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n' +
      `${requestId === undefined ? '' : `X-Dockgate-Request-Id: ${requestId}\r\n`}` +
      `\r\n${body}`,
    'utf8',
  );
}

/** An answer of the gateway's own (its endpoints): status, body, request id; the connection closes. */
export function localResponse(status: number, contentType: string, body: Buffer, requestId: string): Buffer {
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'OK'}\r\n` +
    `Content-Type: ${contentType}\r\n` +
    `Content-Length: ${body.length}\r\n` +
    'Connection: close\r\n' +
    `X-Dockgate-Request-Id: ${requestId}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** The head of a streamed answer of the gateway's own: chunked, and the connection closes after. */
export function streamHead(status: number, contentType: string, requestId: string): Buffer {
  return Buffer.from(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'OK'}\r\n` +
      `Content-Type: ${contentType}\r\n` +
      'Transfer-Encoding: chunked\r\n' +
      'Connection: close\r\n' +
      `X-Dockgate-Request-Id: ${requestId}\r\n\r\n`,
    'latin1',
  );
}
