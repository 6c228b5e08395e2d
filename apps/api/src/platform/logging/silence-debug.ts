// Imported first by main.ts: runs before aedes loads mqtt-packet.
import { silenceDebugUnlessAsked } from './quiet-debug';

silenceDebugUnlessAsked();
