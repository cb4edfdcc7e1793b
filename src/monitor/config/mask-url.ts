/** A URL with the password of its userinfo masked (`scheme://user:***@host…`), for logs and errors. */
export function maskPassword(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@/]*)@/, '//$1:***@');
}
