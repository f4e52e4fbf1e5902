// HTTP status lines and the few responses a transport writes on its own (before the wall's handler sees a request).

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  202: 'Accepted',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  421: 'Misdirected Request',
  426: 'Upgrade Required',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Status';
}

/** `200 OK`: what uWS's writeStatus and a raw HTTP/1.1 status line need. */
export function statusLine(status: number): string {
  return `${status} ${statusText(status)}`;
}

export const TOO_LARGE_BODY = '{"error":{"code":"PAYLOAD_TOO_LARGE","message":"request body too large"}}';
export const BAD_TARGET_BODY = '{"error":{"code":"BAD_REQUEST","message":"malformed request target"}}';
export const INTERNAL_ERROR_BODY = '{"error":{"code":"INTERNAL","message":"internal error"}}';
