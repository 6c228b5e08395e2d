import { HttpClient, provideHttpClient, withInterceptors } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { strictMock } from '../testing/strict-mock';
import { authInterceptor } from './auth.interceptor';
import { AuthService } from './auth.service';

describe('authInterceptor', () => {
  let http: HttpClient;
  let backend: HttpTestingController;
  let sessionEnded: jest.Mock;

  beforeEach(() => {
    sessionEnded = jest.fn();
    TestBed.configureTestingModule({
      providers: [
        provideHttpClient(withInterceptors([authInterceptor])),
        provideHttpClientTesting(),
        { provide: AuthService, useValue: strictMock<AuthService>({ sessionEnded }, 'AuthService') },
      ],
    });
    http = TestBed.inject(HttpClient);
    backend = TestBed.inject(HttpTestingController);
  });

  afterEach(() => backend.verify());

  it('sends the session cookie with api requests only', () => {
    http.get('/api/v1/devices').subscribe();
    http.get('/assets/config.json').subscribe();

    expect(backend.expectOne('/api/v1/devices').request.withCredentials).toBe(true);
    expect(backend.expectOne('/assets/config.json').request.withCredentials).toBe(false);
  });

  it('ends the session on a 401 from the api', () => {
    let failed = false;
    http.get('/api/v1/devices').subscribe({ error: () => (failed = true) });
    backend.expectOne('/api/v1/devices').flush({ message: 'expired' }, { status: 401, statusText: 'Unauthorized' });

    expect(sessionEnded).toHaveBeenCalledTimes(1);
    expect(failed).toBe(true); // the caller still sees the error
  });

  it('leaves a failed login to the login form', () => {
    http.post('/api/v1/auth/login', {}).subscribe({ error: () => undefined });
    backend.expectOne('/api/v1/auth/login').flush(null, { status: 401, statusText: 'Unauthorized' });
    expect(sessionEnded).not.toHaveBeenCalled();
  });

  it.each([403, 404, 500])('keeps the session on a %i', (status) => {
    http.get('/api/v1/devices').subscribe({ error: () => undefined });
    backend.expectOne('/api/v1/devices').flush(null, { status, statusText: 'Error' });
    expect(sessionEnded).not.toHaveBeenCalled();
  });
});
