import { parseClusterNotice } from './cluster';

describe('parseClusterNotice', () => {
  it.each([
    [{ kind: 'sessions.ended', sessionIds: ['s1'] }],
    [{ kind: 'user.changed', username: 'ada' }],
    [{ kind: 'device.changed', deviceId: 'd1' }],
    [{ kind: 'device.model', deviceId: 'd1' }],
    [{ kind: 'alarm.rules' }],
  ])('reads %j', (notice) => {
    expect(parseClusterNotice(JSON.stringify(notice))).toEqual(notice);
  });

  it('keeps only the fields of the kind', () => {
    expect(parseClusterNotice('{"kind":"alarm.rules","extra":1}')).toEqual({ kind: 'alarm.rules' });
  });

  it.each(['', 'null', '[]', '{"kind":"device.changed"}', '{"kind":"device.changed","deviceId":1}', '{"kind":"nope"}'])(
    'refuses %s',
    (text) => {
      expect(parseClusterNotice(text)).toBeUndefined();
    },
  );
});
