import { EventEmitter } from 'node:events';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from '../../platform/metrics/metrics.service';
import { UNMATCHED_ROUTE, httpMetrics, methodLabel, routeLabel } from './http-metrics';

function request(method: string, route?: { path: unknown }, baseUrl = ''): Request {
  return { method, route, baseUrl } as unknown as Request;
}

describe('http metrics labels', () => {
  it('names the route pattern, or unmatched when no route took the request', () => {
    expect(routeLabel(request('GET', { path: '/api/v1/devices/:id' }))).toBe('/api/v1/devices/:id');
    expect(routeLabel(request('GET', { path: '/:id' }, '/api/v1/things'))).toBe('/api/v1/things/:id');
    expect(routeLabel(request('GET'))).toBe(UNMATCHED_ROUTE);
    expect(routeLabel(request('GET', { path: /regexp/ }))).toBe(UNMATCHED_ROUTE);
  });

  it('bounds the method label', () => {
    expect(methodLabel('PATCH')).toBe('PATCH');
    expect(methodLabel('PROPFIND')).toBe('other');
    expect(methodLabel(undefined)).toBe('other');
  });
});

describe('httpMetrics', () => {
  it('counts a request once, when its answer ends, with the route it matched by then', () => {
    const metrics = new MetricsService();
    const spy = jest.spyOn(metrics, 'httpRequest');
    const req = request('GET') as Request & { route?: { path: string } };
    const res = Object.assign(new EventEmitter(), { statusCode: 200 }) as unknown as Response;
    const next = jest.fn() as NextFunction;
    httpMetrics(metrics)(req, res, next);
    expect(next).toHaveBeenCalledTimes(1);
    expect(spy).not.toHaveBeenCalled();
    req.route = { path: '/api/v1/devices/:id' };
    res.statusCode = 404;
    res.emit('finish');
    res.emit('close');
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy).toHaveBeenCalledWith('GET', '/api/v1/devices/:id', 404, expect.any(Number));
  });
});
