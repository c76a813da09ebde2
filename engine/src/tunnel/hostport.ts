// "host:port" / "[v6]:port" parsing shared by the tunnel and the listeners.
export function splitHostPort(s: string): [string, number] {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`EDGEWAN_ERR_TUNNEL_ADDRESS: "${s}" is not host:port (IPv6 in brackets, e.g. "[::1]:8080")`);
  return [m[1] ?? m[2], port];
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
