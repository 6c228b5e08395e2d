import type { StreamEventMap, StreamEventName } from '@iot/protocol';
import { filter, map, type Subject } from 'rxjs';
import type { StreamMessage, StreamService } from '../stream/stream.service';
import { strictMock } from './strict-mock';

/** A StreamService whose `messages` and `on()` work over a subject the spec feeds. */
export function fakeStream(messages: Subject<StreamMessage>): StreamService {
  return strictMock<StreamService>(
    {
      messages,
      on: <K extends StreamEventName>(name: K) =>
        messages.pipe(
          filter((message) => message.event === name),
          map((message) => message.data as StreamEventMap[K]),
        ),
    },
    'StreamService',
  );
}
