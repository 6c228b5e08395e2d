import { DeviceAccess, labelsMatch } from './device-access';

const scoped = (text: string) => ({
  scope: new Map(text.split(',').map((pair) => pair.split('=') as [string, string])),
});
const everything = { scope: null };

describe('labelsMatch', () => {
  it.each<[Record<string, string>, string, boolean]>([
    [{ site: 'a' }, 'site=a', true],
    [{ site: 'a', floor: '2' }, 'site=a,floor=2', true],
    [{ site: 'a', floor: '2' }, 'site=a', true],
    [{ site: 'a' }, 'site=a,floor=2', false],
    [{ site: 'b' }, 'site=a', false],
    [{}, 'site=a', false],
    [{ site: '' }, 'site=', true],
    [{}, 'site=', false],
  ])('%j against %s is %p', (labels, selector, expected) => {
    expect(labelsMatch(labels, scoped(selector).scope)).toBe(expected);
  });

  it('does not take inherited properties for labels', () => {
    expect(labelsMatch({}, new Map([['constructor', Object.prototype.constructor as unknown as string]]))).toBe(false);
    expect(labelsMatch({}, new Map([['toString', '']]))).toBe(false);
  });
});

describe('DeviceAccess', () => {
  let sut: DeviceAccess;

  beforeEach(() => {
    sut = new DeviceAccess();
    sut.load([
      { id: 'a1', labels: { site: 'a', floor: '1' } },
      { id: 'a2', labels: { site: 'a', floor: '2' } },
      { id: 'b1', labels: { site: 'b' } },
    ]);
  });

  it('lets a user without a scope see every device, known or not', () => {
    expect(sut.limited(everything)).toBe(false);
    for (const id of ['a1', 'b1', 'unknown']) expect(sut.sees(everything, id)).toBe(true);
  });

  it('lets a scoped user see only the devices whose labels match, and no unknown device', () => {
    const user = scoped('site=a');
    expect(sut.limited(user)).toBe(true);
    expect(['a1', 'a2', 'b1', 'unknown'].filter((id) => sut.sees(user, id))).toEqual(['a1', 'a2']);
    expect(['a1', 'a2', 'b1'].filter((id) => sut.sees(scoped('site=a,floor=2'), id))).toEqual(['a2']);
  });

  it('follows labels that change, devices added and removed, and a reload', () => {
    const user = scoped('site=a');
    sut.set('b1', { site: 'a' });
    sut.set('a1', { site: 'b' });
    sut.set('new', { site: 'a' });
    sut.remove('a2');
    expect(['a1', 'a2', 'b1', 'new'].filter((id) => sut.sees(user, id))).toEqual(['b1', 'new']);
    sut.load([{ id: 'a1', labels: { site: 'a' } }]);
    expect(['a1', 'b1', 'new'].filter((id) => sut.sees(user, id))).toEqual(['a1']);
  });

  it('tells whether a selector asks at least the scope, so every device it matches is in the scope', () => {
    const selector = (text: string) => scoped(text).scope;
    expect(sut.within(everything, selector('floor=2'))).toBe(true);
    expect(sut.within(scoped('site=a'), selector('site=a,floor=2'))).toBe(true);
    expect(sut.within(scoped('site=a'), selector('site=a'))).toBe(true);
    expect(sut.within(scoped('site=a'), selector('floor=2'))).toBe(false);
    expect(sut.within(scoped('site=a'), selector('site=b'))).toBe(false);
    expect(sut.within(scoped('site=a,floor=2'), selector('site=a'))).toBe(false);
  });

  it('keeps what changed while a reload was reading over what the reload read', () => {
    const user = scoped('site=a');
    sut.beginLoad();
    sut.set('new', { site: 'a' });
    sut.remove('a1');
    sut.set('b1', { site: 'a' });
    // Read before those changes.
    sut.load([
      { id: 'a1', labels: { site: 'a' } },
      { id: 'b1', labels: { site: 'b' } },
    ]);
    expect(['a1', 'b1', 'new'].filter((id) => sut.sees(user, id))).toEqual(['b1', 'new']);
    sut.load([{ id: 'a1', labels: { site: 'a' } }]);
    expect(['a1', 'b1', 'new'].filter((id) => sut.sees(user, id))).toEqual(['a1']);
  });

  it('ANDs the scope into a list selector, or says none when they ask one label for two values', () => {
    expect(sut.narrow(everything, undefined)).toBeUndefined();
    const floor = new Map([['floor', '2']]);
    expect(sut.narrow(everything, floor)).toBe(floor);
    expect([...(sut.narrow(scoped('site=a'), undefined) as Map<string, string>)]).toEqual([['site', 'a']]);
    expect([...(sut.narrow(scoped('site=a'), floor) as Map<string, string>)]).toEqual([
      ['floor', '2'],
      ['site', 'a'],
    ]);
    expect([...(sut.narrow(scoped('site=a'), new Map([['site', 'a']])) as Map<string, string>)]).toEqual([
      ['site', 'a'],
    ]);
    expect(sut.narrow(scoped('site=a'), new Map([['site', 'b']]))).toBe('none');
  });
});
