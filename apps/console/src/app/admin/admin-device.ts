import type { DeviceView } from '@iot/protocol';

/** What the admin card and dialogs need of a device: its id (for the api) and name (for people). */
export type AdminDevice = Pick<DeviceView, 'id' | 'name'>;
