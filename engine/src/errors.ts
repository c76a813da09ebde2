// The engine's error catalogue: every code `edgewan` can print or log, written out in full so
// grep finds each use, with when it happens and what to do. The typed error classes take
// their code from this table (EngineErrorCode); docs/errors.md is rendered from it
// (node --import tsx scripts/gen-error-docs.ts), and test/unit/error-codes.test.ts fails on a
// code used but not catalogued, a code built at run time, a catalogued code no longer used,
// or a doc out of date. The builder has its own table (targets/error-codes.ts).
// Pure: no imports, so every engine folder may use it.

export interface EngineErrorEntry {
  /** when it happens */
  when: string;
  /** what to do */
  fix: string;
}

export const ENGINE_ERRORS = {
  EDGEWAN_ERR_USAGE: {
    when: 'unknown command, a missing argument or option (exit 64)',
    fix: 'see `edgewan --help`',
  },
  EDGEWAN_ERR_INTERNAL: {
    when: 'an error no part of the engine handled reached the process (exit 70)',
    fix: 'a bug: report it with the log line before it',
  },
  EDGEWAN_ERR_CONFIG_INVALID: {
    when: 'the config has more than one problem (each is listed under it with its own code; exit 78)',
    fix: 'fix every listed file#pointer',
  },
  EDGEWAN_ERR_CONFIG_READ: {
    when: 'the config file cannot be read',
    fix: 'check the path and that the service user may read it',
  },
  EDGEWAN_ERR_CONFIG_JSON: {
    when: 'the config is not JSON (the line and column are named)',
    fix: 'fix the syntax at that place',
  },
  EDGEWAN_ERR_CONFIG_DUPLICATE_KEY: {
    when: 'a JSON object names the same key twice',
    fix: 'keep one of them',
  },
  EDGEWAN_ERR_CONFIG_DEPTH: {
    when: 'the config nests deeper than 32 levels',
    fix: 'flatten it: no field of the schema nests that deep',
  },
  EDGEWAN_ERR_CONFIG_UNKNOWN_KEY: {
    when: 'a key the schema does not have (often a typo)',
    fix: 'remove or rename it (docs/config.md lists the fields)',
  },
  EDGEWAN_ERR_CONFIG_MISSING: {
    when: 'a required field is absent',
    fix: 'add the field the pointer names',
  },
  EDGEWAN_ERR_CONFIG_TYPE: {
    when: 'a value has the wrong JSON type',
    fix: 'use the type the message names',
  },
  EDGEWAN_ERR_CONFIG_VALUE: {
    when: 'a value outside what the schema allows (enum, pattern, range)',
    fix: 'use one of the allowed values the message lists',
  },
  EDGEWAN_ERR_CONFIG_RANGE: {
    when: 'two fields disagree (dns.minTtlS above dns.maxTtlS, backoff initial above max)',
    fix: 'order them as the message says',
  },
  EDGEWAN_ERR_CONFIG_ROLE: {
    when: 'a field the role does not use (a core with tunnel.connect, an edge with tunnel.listen)',
    fix: 'set it to null or change the role',
  },
  EDGEWAN_ERR_CONFIG_LISTEN_CONFLICT: {
    when: 'two listeners (DNS, tunnel, forwards, SOCKS, admin, intercept) on the same address and port',
    fix: 'give each its own port',
  },
  EDGEWAN_ERR_CONFIG_SIZE: {
    when: 'a size that is not an exact byte count (above 2^53 - 1)',
    fix: 'use a smaller size',
  },
  EDGEWAN_ERR_CONFIG_MEMORY_LIMIT: {
    when: 'memory.limit below 32 MiB or above 1 TiB',
    fix: 'set a limit the device has, or "auto"',
  },
  EDGEWAN_ERR_CONFIG_BUDGET: {
    when: 'memory.split leaves a cache below its floor at this limit',
    fix: 'raise memory.limit or change memory.split as the message says',
  },
  EDGEWAN_ERR_CONFIG_STATE_DIR: {
    when: 'stateDir is not a directory the service user can write',
    fix: 'create it, owned by the service user',
  },
  EDGEWAN_ERR_CONFIG_ADMIN_TOKEN: {
    when: 'admin listens beyond loopback without a token (or the token is too short)',
    fix: 'set admin.token (EDGEWAN_ADMIN_TOKEN) or listen on 127.0.0.1',
  },
  EDGEWAN_ERR_CONFIG_FILE: {
    when: 'a file the config names (dns.hostsFile) is missing or unreadable',
    fix: 'create it or fix the path',
  },
  EDGEWAN_ERR_CONFIG_DNS_RECORD: {
    when: 'a dns.records value that is not valid for its type (an A that is not an IPv4 address, a bad MX)',
    fix: 'fix the value the pointer names',
  },
  EDGEWAN_ERR_CONFIG_TUNNEL_AUTH: {
    when: 'a key, certificate, pin, PSK or fleet file in tunnel.auth is missing, unreadable or malformed',
    fix: 'run `edgewan keygen` (or the fleet steps of docs/fleet.md) and point tunnel.auth at the files',
  },
  EDGEWAN_ERR_CONFIG_FLEET: {
    when: 'a fleet-only field (forwards[].edge) on a side that is not a fleet core',
    fix: 'set tunnel.auth.ca on the core, or drop the field',
  },
  EDGEWAN_ERR_CONFIG_INTERCEPT: {
    when: 'an intercept rule with a bad CIDR or port, an empty or overlapping rule set',
    fix: 'fix the rule the pointer names (docs/intercept.md)',
  },
  EDGEWAN_ERR_CONFIG_INTERCEPT_LOOP: {
    when: "an intercept rule would catch the tunnel's own connection to the core",
    fix: "exclude the core's address from the rule",
  },
  EDGEWAN_ERR_DNS_LISTEN: {
    when: 'the DNS cache cannot bind its listen address (port in use, no permission)',
    fix: 'stop the other resolver on that port or choose another dns.listen',
  },
  EDGEWAN_ERR_DNS_ADDRESS: {
    when: 'a DNS listen or upstream address that is not host:port or [v6]:port',
    fix: 'write it as the message shows',
  },
  EDGEWAN_ERR_DNS_ACL: {
    when: 'a dns.allowFrom entry that is not an address or CIDR',
    fix: 'fix the entry',
  },
  EDGEWAN_ERR_DNS_RECORD: {
    when: 'a local DNS record cannot be encoded',
    fix: 'fix the record in dns.records',
  },
  EDGEWAN_ERR_DNS_MALFORMED: {
    when: 'a query or upstream answer that is not a valid DNS message (answered FORMERR or dropped, counted)',
    fix: 'nothing on this side: the sender is broken or hostile',
  },
  EDGEWAN_ERR_DNS_NO_UPSTREAM: {
    when: 'a query missed the cache and no upstream is configured',
    fix: 'set dns.upstreams',
  },
  EDGEWAN_ERR_DNS_OVERLOAD: {
    when: 'too many upstream queries in flight (answered SERVFAIL, counted)',
    fix: "check the upstreams' health; raise the limit only with memory to spare",
  },
  EDGEWAN_ERR_DNS_UPSTREAM: {
    when: 'every upstream failed for a query (answered SERVFAIL)',
    fix: 'see the upstream errors logged before it',
  },
  EDGEWAN_ERR_DNS_UPSTREAM_IO: {
    when: 'a socket error talking to an upstream',
    fix: 'check the route to that upstream',
  },
  EDGEWAN_ERR_DNS_UPSTREAM_TIMEOUT: {
    when: 'an upstream did not answer in time (it is marked down for a while)',
    fix: 'check that upstream; others are tried meanwhile',
  },
  EDGEWAN_ERR_DNS_UPSTREAM_RCODE: {
    when: 'an upstream answered SERVFAIL or REFUSED',
    fix: "check that upstream's configuration",
  },
  EDGEWAN_ERR_DNS_UPSTREAM_MISMATCH: {
    when: 'an upstream answer does not match its question (counted and dropped)',
    fix: 'nothing on this side unless it persists: a spoofing attempt or a broken upstream',
  },
  EDGEWAN_ERR_DNS_SNAPSHOT: {
    when: 'the saved cache snapshot is corrupt or from another version (ignored, the cache starts empty)',
    fix: 'nothing: it is rewritten at the next stop',
  },
  EDGEWAN_ERR_DNS_SNAPSHOT_WRITE: {
    when: 'the cache snapshot could not be written at stop',
    fix: 'check that stateDir is writable and has space',
  },
  EDGEWAN_ERR_KEYGEN_WRITE: {
    when: '`edgewan keygen` cannot write into its --out directory (exit 73)',
    fix: 'choose a writable directory',
  },
  EDGEWAN_ERR_TUNNEL_KEYS_EXIST: {
    when: '`edgewan keygen` would overwrite existing keys (exit 73)',
    fix: 'move the old keys away first; both peers need the new set',
  },
  EDGEWAN_ERR_FLEET: {
    when: 'a fleet CA, CSR, certificate or edge name is unreadable or invalid (`ca`, `keygen --csr`, `enroll`; exit 65 or 73)',
    fix: 'follow docs/fleet.md; the message names the file',
  },
  EDGEWAN_ERR_FLEET_REVOCATION: {
    when: 'the revocation list cannot be read or a line is neither an edge name nor serial:HEX (the last good list stays in force, counted)',
    fix: 'fix the line the message names, then reload',
  },
  EDGEWAN_ERR_TUNNEL_AUTH: {
    when: 'a peer was refused: wrong pin, PSK, CA, an expired, revoked or duplicate edge certificate (logged with the reason, counted)',
    fix: 'give the peer credentials this side accepts (docs/tunnel.md, docs/fleet.md)',
  },
  EDGEWAN_ERR_TUNNEL_ADDRESS: {
    when: 'an edge has no core to connect to',
    fix: 'set tunnel.connect',
  },
  EDGEWAN_ERR_TUNNEL_HELLO: {
    when: "the peer's HELLO is not the edgewan protocol, another protocol version, a bad role or window",
    fix: 'run the same release on both sides and point the edge at a core',
  },
  EDGEWAN_ERR_TUNNEL_ROLE: {
    when: 'both sides of a link have the same role',
    fix: 'make one side edge and the other core',
  },
  EDGEWAN_ERR_TUNNEL_PROTOCOL: {
    when: 'the peer broke the link protocol (a frame before HELLO, a frame for an unknown stream); the link is closed',
    fix: 'a bug or a hostile peer: report it with both versions',
  },
  EDGEWAN_ERR_TUNNEL_FRAME_TYPE: {
    when: 'the peer sent a frame type this side does not know; the link is closed',
    fix: 'run the same release on both sides',
  },
  EDGEWAN_ERR_TUNNEL_FRAME_LENGTH: {
    when: 'a frame whose payload length is out of bounds for its type; the link is closed',
    fix: 'a bug or a hostile peer: report it with both versions',
  },
  EDGEWAN_ERR_TUNNEL_OP_TRUNCATED: {
    when: 'a data op that ends before its declared length; the link is closed',
    fix: 'a bug or a hostile peer: report it with both versions',
  },
  EDGEWAN_ERR_TUNNEL_OP_LENGTH: {
    when: 'a data op with a length out of bounds (a possible decompression bomb); the link is closed',
    fix: 'a bug or a hostile peer: report it with both versions',
  },
  EDGEWAN_ERR_TUNNEL_OP_TYPE: {
    when: 'a data op type this side does not know; the link is closed',
    fix: 'run the same release on both sides',
  },
  EDGEWAN_ERR_TUNNEL_CHUNK: {
    when: 'a chunk sent for a reference does not match its fingerprint, or a CHUNK frame is malformed',
    fix: 'a bug or a hostile peer: report it with both versions',
  },
  EDGEWAN_ERR_TUNNEL_CHUNK_LOST: {
    when: 'neither side holds a chunk a stream references any more; that stream is reset',
    fix: 'nothing: the client retries and the chunk is sent whole',
  },
  EDGEWAN_ERR_TUNNEL_CODEC: {
    when: 'a stream op in a codec this side did not offer in HELLO; the stream is reset, the link stays',
    fix: 'a bug or a hostile peer: report it with both versions',
  },
  EDGEWAN_ERR_TUNNEL_MANIFEST: {
    when: 'a reference run (REFM) that names something other than a manifest, or whose sizes disagree; the stream is reset',
    fix: 'a bug or a hostile peer: report it with both versions',
  },
  EDGEWAN_ERR_TUNNEL_RUN_RANGE: {
    when: 'a manifest range (REFN) beyond the entries of its manifest, or whose chunks do not add up to its declared length; the stream is reset',
    fix: 'a bug or a hostile peer: report it with both versions',
  },
  EDGEWAN_ERR_TUNNEL_DICT_RANGE: {
    when: 'a delta op that names more dictionary chunks than allowed, or a checked delta of several chunks; the stream is reset',
    fix: 'a bug or a hostile peer: report it with both versions',
  },
  EDGEWAN_ERR_TUNNEL_DECOMPRESS: {
    when: 'a delta op that does not decompress to its declared size; the stream is reset, nothing is stored',
    fix: 'a bug or a hostile peer: report it with both versions',
  },
  EDGEWAN_ERR_TUNNEL_CHECK: {
    when: 'a delta whose result does not match its fingerprint; the stream is reset, nothing is stored',
    fix: 'nothing if rare (a cache damaged on one side heals by itself); report it if it repeats',
  },
  EDGEWAN_ERR_TUNNEL_INTERNAL: {
    when: 'an unexpected error while handling a frame; the link is closed and re-established',
    fix: 'a bug: report it with the log line',
  },
  EDGEWAN_ERR_TUNNEL_LINK_DOWN: {
    when: "a stream was opened while the link is down (the client's connection is reset)",
    fix: 'nothing: the edge reconnects; check /status if it persists',
  },
  EDGEWAN_ERR_TUNNEL_NOT_RUNNING: {
    when: 'a forward or SOCKS connection arrived while the tunnel component is stopped or restarting',
    fix: "see the tunnel's own error logged before it",
  },
  EDGEWAN_ERR_TUNNEL_OPEN: {
    when: "the far side could not open the stream's target (refused, unreachable, timed out)",
    fix: 'check the target from the far side',
  },
  EDGEWAN_ERR_TUNNEL_RESET: {
    when: 'the peer reset a stream (its client or target went away, or bad input)',
    fix: 'nothing unless frequent: the reason is logged',
  },
  EDGEWAN_ERR_TUNNEL_LOCAL_RESET: {
    when: 'the local client or target reset its connection; the far side is reset too',
    fix: 'nothing: the stream is aborted end to end',
  },
  EDGEWAN_ERR_TUNNEL_LOCAL_CLOSED: {
    when: 'the local connection closed before the stream ended cleanly; the far side is reset',
    fix: 'nothing: the stream is aborted end to end',
  },
  EDGEWAN_ERR_TUNNEL_EDGE_DOWN: {
    when: 'a fleet core got a stream for an edge that is not connected',
    fix: 'check that edge in /status',
  },
  EDGEWAN_ERR_TUNNEL_EDGE_UNNAMED: {
    when: 'a fleet core got a stream that names no edge',
    fix: "set forwards[].edge, or the SOCKS username, to the edge's name",
  },
  EDGEWAN_ERR_TUNNEL_CONNECT_TIMEOUT: {
    when: "a target (or an intercepted destination dialled directly) did not accept within 10 s, or an edge's dial to a core did not finish its TLS handshake within tunnel.connectTimeoutS (the next core is tried)",
    fix: "check the target's (or core's) reachability from that side",
  },
  EDGEWAN_ERR_PROXY_LISTEN: {
    when: 'a forward or SOCKS listener cannot bind its address',
    fix: 'free the port or choose another listen address',
  },
  EDGEWAN_ERR_PROXY_SOCKS: {
    when: 'a SOCKS client broke the handshake (bad version, method, address or it went away)',
    fix: 'use a SOCKS5 client; the message names the step',
  },
  EDGEWAN_ERR_INTERCEPT_LISTEN: {
    when: 'the interception listener cannot bind its port',
    fix: 'free the port or change the intercept port',
  },
  EDGEWAN_ERR_INTERCEPT_NFT: {
    when: 'nft is missing or refused the edgewan table (nothing is left half-applied)',
    fix: 'install nftables; run with CAP_NET_ADMIN (docs/intercept.md)',
  },
  EDGEWAN_ERR_INTERCEPT_CONNTRACK: {
    when: 'the conntrack table cannot be read (/proc/net/nf_conntrack or `conntrack -L`)',
    fix: 'load nf_conntrack or install conntrack (docs/intercept.md)',
  },
  EDGEWAN_ERR_INTERCEPT_NO_ORIGINAL: {
    when: 'an intercepted connection had no conntrack entry (refused and counted)',
    fix: 'nothing if rare; if constant, check the rules redirect only what the table tracks',
  },
  EDGEWAN_ERR_INTERCEPT_DIRECT: {
    when: 'tunnel down, fail-open: the direct dial to an intercepted destination was refused or unreachable (the client is reset and counted)',
    fix: "check the destination's reachability from the router, or bring the tunnel back (/status)",
  },
  EDGEWAN_ERR_CODEC_CHUNK_SIZE: {
    when: 'a chunker asked for an average size that is not a power of two in [256 B, 4 MiB]',
    fix: 'a bug: report it',
  },
  EDGEWAN_ERR_TEST_FAULT: {
    when: 'a start failure injected by EDGEWAN_TEST_FAIL (tests only, docs/config.md "Testing hook")',
    fix: 'unset EDGEWAN_TEST_FAIL',
  },
} as const satisfies Record<string, EngineErrorEntry>;

export type EngineErrorCode = keyof typeof ENGINE_ERRORS;
