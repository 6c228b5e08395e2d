// Imported by main.ts before anything that loads Nest; main() restores the real constructor (see deferred-intl.ts).
import { deferDateTimeFormat } from './deferred-intl';

deferDateTimeFormat();
