import { HttpErrorResponse } from '@angular/common/http';
import { TestBed } from '@angular/core/testing';
import { MatDialogRef } from '@angular/material/dialog';
import { Subject } from 'rxjs';
import { dialogRequest } from './dialog-request';

describe('dialogRequest', () => {
  const dialogRef = { disableClose: false };

  function create() {
    dialogRef.disableClose = false;
    TestBed.configureTestingModule({ providers: [{ provide: MatDialogRef, useValue: dialogRef }] });
    return TestBed.runInInjectionContext(() => dialogRequest());
  }

  it('is pending and holds the dialog open until the answer, then hands it on', () => {
    const sut = create();
    const answer = new Subject<string>();
    const next = jest.fn();
    sut.error.set('an earlier error');
    sut.run(answer, next);
    expect(sut.pending()).toBe(true);
    expect(sut.error()).toBeNull();
    expect(dialogRef.disableClose).toBe(true);
    answer.next('done');
    expect(next).toHaveBeenCalledWith('done');
  });

  it('sends nothing while a request is pending', () => {
    const sut = create();
    sut.run(new Subject<never>(), jest.fn());
    const second = new Subject<string>();
    sut.run(second, jest.fn());
    expect(second.observed).toBe(false);
  });

  it('on failure shows the error and releases the dialog', () => {
    const sut = create();
    const answer = new Subject<never>();
    sut.run(answer, jest.fn());
    answer.error(new HttpErrorResponse({ status: 0 }));
    expect(sut.pending()).toBe(false);
    expect(dialogRef.disableClose).toBe(false);
    expect(sut.error()).toEqual(expect.any(String));
    expect(sut.error()).not.toBe('');
  });

  it('words the error as asked, or leaves it to the dialog when handled', () => {
    const sut = create();
    const worded = new Subject<never>();
    sut.run(worded, jest.fn(), () => 'the username ada is taken');
    worded.error(new Error('conflict'));
    expect(sut.error()).toBe('the username ada is taken');

    const handled = new Subject<never>();
    sut.run(handled, jest.fn(), () => null);
    handled.error(new Error('gone'));
    expect(sut.pending()).toBe(true);
    expect(dialogRef.disableClose).toBe(true);
    expect(sut.error()).toBeNull();
  });
});
