import { API_BASE_PATH } from '@iot/protocol';

/** `apiUrl('/devices')` → `/api/v1/devices`: the console talks to its own origin only. */
export function apiUrl(path: `/${string}`): string {
  return `${API_BASE_PATH}${path}`;
}

/** Whether a request URL goes to the platform API (and so carries the session cookie). */
export function isApiUrl(url: string): boolean {
  return url === API_BASE_PATH || url.startsWith(`${API_BASE_PATH}/`);
}
