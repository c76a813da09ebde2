// Where local listeners (proxy/) find the running tunnel: the tunnel component registers
// itself on start and leaves on stop, so a reload that replaces it needs no rewiring.
import type { TunnelStream } from './stream.ts';

export interface TunnelService {
  open(target: string, edge?: string): Promise<TunnelStream>;
  readonly opts: { role: 'edge' | 'core' };
}

class Hub {
  private current: TunnelService | null = null;
  register(t: TunnelService): void {
    this.current = t;
  }
  unregister(t: TunnelService): void {
    if (this.current === t) this.current = null;
  }
  get tunnel(): TunnelService | null {
    return this.current;
  }
  /** `edge`: on a fleet core, the name of the edge the stream goes to. */
  async open(target: string, edge?: string): Promise<TunnelStream> {
    if (!this.current) throw new Error('EDGEWAN_ERR_TUNNEL_NOT_RUNNING: the tunnel component is not running');
    return this.current.open(target, edge);
  }
}

export const hub = new Hub();
