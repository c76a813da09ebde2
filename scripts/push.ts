// `edgewan-build push`: publishing is the format owners' job (e.g. OCI images to a registry).
// This file is the dispatcher: each owner adds ONE line to PUSHERS, keyed by target name.
// A pusher receives the dist/ directory and the remaining arguments.
import { pushOci } from '../images/oci/push-cli.ts';

export type Pusher = (opts: { outDir: string; args: string[]; json: boolean; log: (m: string) => void }) => Promise<unknown>;

export const PUSHERS: Record<string, Pusher> = {
  oci: pushOci,
};
