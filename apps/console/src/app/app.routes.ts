import type { Route } from '@angular/router';
import { adminGuard, authGuard, guestGuard } from './core/auth/auth.guard';

/**
 * Every page loads lazily. Signed-in pages are children of the guarded route,
 * so later pages (device views, control) only add a child.
 */
export const appRoutes: Route[] = [
  {
    path: 'login',
    canActivate: [guestGuard],
    title: 'Sign in · IoT console',
    loadComponent: () => import('./login/login.page').then((m) => m.LoginPage),
  },
  {
    path: '',
    canActivateChild: [authGuard],
    children: [
      {
        path: '',
        pathMatch: 'full',
        title: 'Fleet · IoT console',
        loadComponent: () => import('./fleet/fleet.page').then((m) => m.FleetPage),
      },
      {
        path: 'devices/:id',
        title: 'Device · IoT console',
        loadComponent: () => import('./device/device.page').then((m) => m.DevicePage),
      },
      {
        path: 'bulk/:id',
        title: 'Bulk · IoT console',
        loadComponent: () => import('./bulk/bulk.page').then((m) => m.BulkPage),
      },
      {
        path: 'alarms',
        title: 'Alarms · IoT console',
        loadComponent: () => import('./alarms/alarms.page').then((m) => m.AlarmsPage),
      },
      {
        path: 'alarms/rules',
        title: 'Alarm rules · IoT console',
        loadComponent: () => import('./alarms/rules.page').then((m) => m.RulesPage),
      },
      {
        path: 'admin/webhooks',
        canActivate: [adminGuard],
        title: 'Webhooks · IoT console',
        loadComponent: () => import('./admin/webhooks.page').then((m) => m.WebhooksPage),
      },
      {
        path: 'admin/users',
        canActivate: [adminGuard],
        title: 'Users · IoT console',
        loadComponent: () => import('./admin/users.page').then((m) => m.UsersPage),
      },
      {
        path: 'admin/audit',
        canActivate: [adminGuard],
        title: 'Audit log · IoT console',
        loadComponent: () => import('./admin/audit.page').then((m) => m.AuditPage),
      },
    ],
  },
  { path: '**', redirectTo: '' },
];
