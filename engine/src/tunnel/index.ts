// Public surface of the tunnel for main.ts: keygen and the Component factories.
export { generateCredentials, certPin, type GeneratedCredentials } from './credentials.ts';
