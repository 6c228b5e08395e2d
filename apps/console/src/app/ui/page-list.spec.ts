import { createEnvironmentInjector, EnvironmentInjector, runInInjectionContext } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { Subject } from 'rxjs';
import { pageList } from './page-list';

describe('pageList', () => {
  let loads: Array<Subject<readonly string[]>>;
  /** The page's injector: destroyed with it. */
  let page: EnvironmentInjector;

  function create() {
    loads = [];
    page = createEnvironmentInjector([], TestBed.inject(EnvironmentInjector));
    return runInInjectionContext(page, () =>
      pageList(() => {
        const load = new Subject<readonly string[]>();
        loads.push(load);
        return load;
      }, 'the things'),
    );
  }

  it('is loading until the list comes, then shows it', () => {
    const sut = create();
    expect(sut.loading()).toBe(true);
    sut.reload();
    loads[0].next(['a', 'b']);
    expect(sut.items()).toEqual(['a', 'b']);
    expect(sut.loading()).toBe(false);
    expect(sut.error()).toBeNull();
  });

  it('says what it could not load, keeps what it showed, and clears the error on reload', () => {
    const sut = create();
    sut.reload();
    loads[0].next(['a']);
    sut.reload();
    loads[1].error(new Error('the network is down'));
    expect(sut.error()).toBe('Could not load the things: the network is down');
    expect(sut.items()).toEqual(['a']);
    expect(sut.loading()).toBe(false);
    sut.reload();
    expect(sut.error()).toBeNull();
    expect(sut.loading()).toBe(true);
  });

  it('drops a load still under way when reloaded, and the last one when the page goes', () => {
    const sut = create();
    sut.reload();
    sut.reload();
    expect(loads[0].observed).toBe(false);
    loads[1].next(['new']);
    expect(sut.items()).toEqual(['new']);
    sut.reload();
    page.destroy();
    expect(loads[2].observed).toBe(false);
  });
});
