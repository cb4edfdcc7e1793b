import { request } from 'undici';

/** What a receiver answered: its status and the start of its body (kept with the delivery). */
export interface Answer {
  readonly status: number | null;
  readonly body: string;
}

/**
 * POSTs `body` and reads the answer; a status of 300 or more is an error carrying `status` and
 * `body`, so the delivery record says what the receiver said.
 */
export async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<Answer> {
  const response = await request(url, { method: 'POST', body, headers, signal });
  const text = (await response.body.text()).slice(0, 2000);
  if (response.statusCode >= 300)
    throw Object.assign(new Error(`answered ${response.statusCode}: ${text.slice(0, 200)}`), {
      status: response.statusCode,
      body: text,
    });
  return { status: response.statusCode, body: text };
}
