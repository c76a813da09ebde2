// The gear-hash scan of chunker.ts as a tiny hand-assembled WebAssembly function. The JS
// loop runs at ~300–400 MB/s here, the WASM one at several times that (docs/tunnel.md), and
// the scan is the largest cost of a warm (all-duplicate) encode after SHA-256.
// No native code and no build step: the module's bytes are assembled below at load time,
// from opcodes written out with their names, so the bundle and the arm executables carry
// them like any other code. Same algorithm and gear table as the JS scan, so the cut points
// are identical (tests compare both on random, text and edge-case inputs); findCut() falls
// back to JS when WebAssembly is unavailable.

// Linear memory: the gear table (256 × i32) at 0, the bytes to scan from DATA_AT.
const DATA_AT = 1024;

// Opcodes (WebAssembly core spec §5.4).
const BLOCK = 0x02,
  LOOP = 0x03,
  IF = 0x04,
  END = 0x0b,
  BR = 0x0c,
  BR_IF = 0x0d,
  RETURN = 0x0f,
  VOID = 0x40;
const GET = 0x20,
  SET = 0x21,
  I32_CONST = 0x41,
  LOAD = 0x28,
  LOAD8_U = 0x2d;
const EQZ = 0x45,
  GT_U = 0x4b,
  GE_U = 0x4f,
  ADD = 0x6a,
  AND = 0x71,
  SHL = 0x74;
// Params: 0 i (scan address), 1 normal (end of the strict-mask part), 2 limit, 3 maskS,
// 4 maskL; locals 5 h (the hash), 6 and 7 the gear values of the current byte pair.
const I = 0,
  NORMAL = 1,
  LIMIT = 2,
  MASK_S = 3,
  MASK_L = 4,
  H = 5,
  G0 = 6,
  G1 = 7;

/** push GEAR[mem[i + off]] */
const gear = (off: number) => [GET, I, LOAD8_U, 0, off, I32_CONST, 2, SHL, LOAD, 2, 0];
/** i += k */
const advance = (k: number) => [GET, I, I32_CONST, k, ADD, SET, I];

/** One byte: h = (h << 1) + GEAR[mem[i]]; i++; branch to $found (depth) when (h & mask) == 0. */
function step(mask: number, found: number): number[] {
  return [
    GET,
    H,
    I32_CONST,
    1,
    SHL,
    ...gear(0),
    ADD,
    SET,
    H,
    ...advance(1),
    GET,
    H,
    GET,
    mask,
    AND,
    EQZ,
    BR_IF,
    found,
  ];
}

/**
 * Two bytes per turn (FastCDC 2020's "roll two bytes" idea, checks kept per byte so the cuts
 * equal the one-byte scan): h2 = (h << 2) + ((G0 << 1) + G1) makes the loop-carried chain a
 * shift and an add per two bytes; the middle hash (h << 1) + G0 is only tested.
 */
function pairStep(mask: number, found: number): number[] {
  return [
    ...gear(0),
    SET,
    G0,
    ...gear(1),
    SET,
    G1,
    GET,
    H,
    I32_CONST,
    1,
    SHL,
    GET,
    G0,
    ADD,
    GET,
    mask,
    AND,
    EQZ,
    IF,
    VOID,
    ...advance(1),
    BR,
    found + 1,
    END,
    GET,
    H,
    I32_CONST,
    2,
    SHL,
    GET,
    G0,
    I32_CONST,
    1,
    SHL,
    GET,
    G1,
    ADD,
    ADD,
    SET,
    H,
    ...advance(2),
    GET,
    H,
    GET,
    mask,
    AND,
    EQZ,
    BR_IF,
    found,
  ];
}

/** `while (i + 2 <= end) pairStep; if (i < end) step;` — inside $found (depth 0 outside this). */
function scan(end: number, mask: number): number[] {
  return [
    BLOCK,
    VOID,
    LOOP,
    VOID,
    GET,
    I,
    I32_CONST,
    2,
    ADD,
    GET,
    end,
    GT_U,
    BR_IF,
    1, // depth 1: this loop's exit block
    ...pairStep(mask, 2),
    BR,
    0,
    END,
    END,
    BLOCK,
    VOID,
    GET,
    I,
    GET,
    end,
    GE_U,
    BR_IF,
    0,
    ...step(mask, 1),
    END,
  ];
}

function body(): number[] {
  const code = [
    1,
    3,
    0x7f, // one local group: 3 × i32 (h, g0, g1)
    BLOCK,
    VOID, // $found: branching here returns i
    ...scan(NORMAL, MASK_S),
    ...scan(LIMIT, MASK_L),
    I32_CONST,
    0,
    RETURN, // no boundary before limit
    END,
    GET,
    I,
    END,
  ];
  return [...leb(code.length), ...code];
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const section = (id: number, bytes: number[]) => [id, ...leb(bytes.length), ...bytes];
const name = (s: string) => [s.length, ...Buffer.from(s, 'latin1')];

function moduleBytes(): Uint8Array {
  const code = body();
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, 0x60, 5, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 1, 0x7f]), // type: (i32 ×5) → i32
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0x00, 1]), // one memory, 1 page minimum, growable
    ...section(7, [2, ...name('cut'), 0x00, 0, ...name('mem'), 0x02, 0]),
    ...section(10, [1, ...code]),
  ]);
}

export interface GearScanner {
  /**
   * Scan bytes[from..limit) with the gear hash starting from h = 0: the strict mask up to
   * `normal`, the loose one after. Returns the index just past the first boundary, or -1.
   */
  scan(bytes: Uint8Array, from: number, normal: number, limit: number, maskS: number, maskL: number): number;
}

// The few WebAssembly JS API pieces used here (the project's TS lib has no DOM types).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/** A WASM scanner using this gear table, or null when WebAssembly is not usable here. */
export function wasmGearScanner(gear: Int32Array): GearScanner | null {
  const W = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  let inst: InstanceType<WasmApi['Instance']>;
  try {
    inst = new W!.Instance(new W!.Module(moduleBytes()), {});
  } catch {
    return null;
  }
  const mem = inst.exports.mem as WasmMemory;
  const cut = inst.exports.cut as (
    i: number,
    normal: number,
    limit: number,
    ms: number,
    ml: number,
  ) => number;
  let view = new Uint8Array(mem.buffer);
  new Int32Array(mem.buffer, 0, 256).set(gear); // little-endian, as WASM loads it
  return {
    scan(bytes, from, normal, limit, maskS, maskL) {
      const n = limit - from;
      if (n <= 0) return -1;
      if (DATA_AT + n > view.length) {
        mem.grow(Math.ceil((DATA_AT + n - view.length) / 65536));
        view = new Uint8Array(mem.buffer);
      }
      // A plain Uint8Array view: Buffer#subarray would go through the slower Buffer species.
      view.set(new Uint8Array(bytes.buffer, bytes.byteOffset + from, n), DATA_AT);
      const r = cut(DATA_AT, DATA_AT + (normal - from), DATA_AT + n, maskS, maskL);
      return r === 0 ? -1 : from + (r - DATA_AT);
    },
  };
}
