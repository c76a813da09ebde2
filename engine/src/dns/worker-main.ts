// Entry point of the UDP worker bundle (scripts/bundle.ts builds it on its own and embeds the
// result in the engine bundle as __EDGEWAN_DNS_WORKER__; workers.ts starts it with eval).
import { runDnsWorker } from './worker.ts';

runDnsWorker();
