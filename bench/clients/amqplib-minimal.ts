// Raw amqplib as a user would hand-write it with no metadata: the floor of what a user pays. Content type only, a
// confirm channel, socket noDelay, a prefetch large enough not to limit it, one ack per message.
import { rawAdapter } from './amqplib.js';

export const adapter = rawAdapter({
  name: 'amqplib-minimal',
  notes: [
    'amqplib 2.x as amqplib, but the message has contentType only (no timestamp, messageId, appId)',
    'prefetch 1000 (large enough not to limit it), one ack per message',
  ],
  prefetch: 1000,
  properties: () => ({ contentType: 'application/json' }),
});
