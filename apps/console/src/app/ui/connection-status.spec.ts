import { TestBed } from '@angular/core/testing';
import { ConnectionStatus } from './connection-status';

describe('ConnectionStatus', () => {
  function render(state: 'live' | 'reconnecting', commandsOverHttp?: boolean): HTMLElement {
    const fixture = TestBed.createComponent(ConnectionStatus);
    fixture.componentRef.setInput('state', state);
    if (commandsOverHttp !== undefined) fixture.componentRef.setInput('commandsOverHttp', commandsOverHttp);
    fixture.detectChanges();
    return fixture.nativeElement as HTMLElement;
  }

  it('shows the stream state alone while commands use the WebSocket', () => {
    const element = render('live');
    expect(element.textContent?.trim()).toBe('Live');
    expect(element.getAttribute('data-control')).toBe('socket');
  });

  it('says when commands go over HTTP', () => {
    const element = render('live', true);
    expect(element.textContent?.trim()).toBe('Live · commands over HTTP');
    expect(element.getAttribute('data-control')).toBe('http');
    expect(element.getAttribute('title')).toMatch(/retried in the background/);
  });
});
