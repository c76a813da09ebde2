// The tunnel's addresses (tunnel.listen, tunnel.connect, a stream's target): host:port with a
// port, parsed by the one parser (engine/src/net/hostport.ts), refused with the tunnel's code.
import { splitHostPort } from '../net/hostport.ts';

export function tunnelAddress(s: string): [string, number] {
  const hp = splitHostPort(s);
  if (!hp)
    throw new Error(
      `EDGEWAN_ERR_TUNNEL_ADDRESS: "${s}" is not host:port (IPv6 in brackets, e.g. "[::1]:8080")`,
    );
  return [hp.host, hp.port];
}
