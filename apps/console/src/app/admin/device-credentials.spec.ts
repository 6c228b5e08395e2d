import { LiveAnnouncer } from '@angular/cdk/a11y';
import { Clipboard } from '@angular/cdk/clipboard';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { COPIED_FEEDBACK_MS, DeviceCredentialsView } from './device-credentials';
import { adminProviders, BROKER, buttonByText, fakeClipboard, someCredentials } from './testing';

describe('DeviceCredentialsView', () => {
  let fixture: ComponentFixture<DeviceCredentialsView>;
  let view: HTMLElement;
  let copied: string[];
  let announce: jest.SpyInstance;

  const value = (key: string) => view.querySelector(`.value-${key}`)?.textContent;
  const code = (key: string) => view.querySelector(`.code-${key}`)?.textContent ?? '';

  async function create(clipboardWorks = true): Promise<void> {
    const fake = fakeClipboard(clipboardWorks);
    copied = fake.copied;
    TestBed.configureTestingModule({
      imports: [DeviceCredentialsView],
      providers: [...adminProviders(), { provide: Clipboard, useValue: fake.clipboard }],
    });
    announce = jest.spyOn(TestBed.inject(LiveAnnouncer), 'announce').mockResolvedValue();
    fixture = TestBed.createComponent(DeviceCredentialsView);
    fixture.componentRef.setInput('credentials', someCredentials('boiler-1', 's3cr3t-Value'));
    view = fixture.nativeElement as HTMLElement;
    await fixture.whenStable();
  }

  afterEach(() => jest.useRealTimers());

  it('shows the id, the secret, the broker (from BrokerDirectory) and the topic, and warns that the secret is shown once', async () => {
    await create();

    expect(value('id')).toBe('boiler-1');
    expect(value('secret')).toBe('s3cr3t-Value');
    expect(value('broker')).toBe('mqtt://iot.example:1883');
    expect(value('topic')).toBe('devices/boiler-1/telemetry');
    expect(view.querySelector('.warning')?.textContent).toContain('it is not shown again');
    expect(view.textContent).toContain('MQTT client id and username');
  });

  it('gives ready-to-paste snippets with this device’s id, secret and topic', async () => {
    await create();

    expect(code('mosquitto')).toContain("-i boiler-1 -u boiler-1 -P 's3cr3t-Value'");
    expect(code('mosquitto')).toContain('-t devices/boiler-1/telemetry');
    expect(code('mosquitto')).toContain('-h iot.example -p 1883 -V mqttv311');
    expect(code('sdk')).toContain("deviceId: 'boiler-1'");
    expect(code('sdk')).toContain("password: 's3cr3t-Value'");
    // Each snippet is named by its heading and reachable by keyboard, to scroll.
    const pre = view.querySelector('.code-sdk');
    expect(pre?.getAttribute('tabindex')).toBe('0');
    expect(view.querySelector(`#${pre?.getAttribute('aria-labelledby')}`)?.textContent).toContain('device SDK');
  });

  it('says when the broker address is worked out rather than configured, and not otherwise', async () => {
    await create();
    expect(view.textContent).toContain('worked out from this page');

    fixture.componentRef.setInput('broker', {
      ...BROKER,
      host: 'iot.example.com',
      port: 8883,
      scheme: 'mqtts',
      guessed: false,
    });
    await fixture.whenStable();
    expect(view.textContent).not.toContain('worked out from this page');
    expect(value('broker')).toBe('mqtts://iot.example.com:8883');
  });

  it('copies each value and snippet, says so on the button and to screen readers, then resets', async () => {
    await create();
    // Rendered synchronously from here: the fake clock would stall whenStable().
    jest.useFakeTimers();

    buttonByText(view, 'Copy secret').click();
    fixture.detectChanges();
    expect(copied).toEqual(['s3cr3t-Value']);
    expect(announce).toHaveBeenCalledWith('Copied the secret.');
    expect(buttonByText(view, 'Copied secret')).toBeTruthy();

    buttonByText(view, 'Copy mosquitto_pub command').click();
    fixture.detectChanges();
    expect(copied[1]).toMatch(/^mosquitto_pub /);
    expect(buttonByText(view, 'Copied mosquitto_pub command')).toBeTruthy();
    expect(buttonByText(view, 'Copy secret')).toBeTruthy();

    jest.advanceTimersByTime(COPIED_FEEDBACK_MS);
    fixture.detectChanges();
    expect(view.textContent).not.toContain('Copied');
  });

  it('says how to copy by hand when the browser refuses', async () => {
    await create(false);

    buttonByText(view, 'Copy device id').click();
    await fixture.whenStable();

    expect(announce).toHaveBeenCalledWith('Could not copy the device id: select it and copy it by hand.');
    expect(buttonByText(view, 'Copy failed device id')).toBeTruthy();
  });
});
