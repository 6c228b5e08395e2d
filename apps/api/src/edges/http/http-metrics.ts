import type { NextFunction, Request, Response } from 'express';
import type { MetricsService } from '../../platform/metrics/metrics.service';

/** The methods counted by name; any other is `other`, so a client cannot add label values. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** The route label of a request no route took (a 404, a refusal before routing, a console file). */
export const UNMATCHED_ROUTE = 'unmatched';

export function methodLabel(method: string | undefined): string {
  return method !== undefined && METHODS.has(method) ? method : 'other';
}

/** The pattern of the route that took the request (`/api/v1/devices/:id`), never its URL. */
export function routeLabel(req: Request): string {
  const path: unknown = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? req.baseUrl + path : UNMATCHED_ROUTE;
}

/**
 * Counts every request Express answers, and how long it took, by method,
 * route pattern and status (iot_http_requests_total,
 * iot_http_request_duration_seconds). Mounted first, so refusals before
 * routing count too. A request whose client went away before the answer
 * ended counts once, with the status it was given.
 */
export function httpMetrics(metrics: MetricsService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const start = performance.now();
    let counted = false;
    const count = () => {
      if (counted) return;
      counted = true;
      metrics.httpRequest(methodLabel(req.method), routeLabel(req), res.statusCode, (performance.now() - start) / 1000);
    };
    res.once('finish', count);
    res.once('close', count);
    next();
  };
}
