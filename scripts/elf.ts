// Minimal ELF header reader: class, endianness, type and e_machine — enough to prove an
// executable is for the intended arch (targets/arch.ts elfMachine/elfClass) and to show it in
// `inspect`. Spec: System V ABI, "ELF Header" (e_ident, e_type at 16, e_machine at 18).
import { open } from 'node:fs/promises';
import { ALL_ARCHES, ARCHES, type Arch } from '../targets/arch.ts';

export interface ElfFacts {
  elfClass: 1 | 2;
  littleEndian: boolean;
  type: number;
  machine: number;
  /** canonical arch whose e_machine and class match, if any */
  arch?: Arch;
  interpreter?: string;
}

export async function readElf(path: string): Promise<ElfFacts | undefined> {
  const fh = await open(path, 'r');
  try {
    const h = Buffer.alloc(64);
    const { bytesRead } = await fh.read(h, 0, 64, 0);
    if (bytesRead < 52 || h.readUInt32BE(0) !== 0x7f454c46) return undefined;
    const elfClass = h[4] as 1 | 2;
    const le = h[5] === 1;
    const u16 = (o: number) => (le ? h.readUInt16LE(o) : h.readUInt16BE(o));
    const u32 = (o: number) => (le ? h.readUInt32LE(o) : h.readUInt32BE(o));
    const u64 = (o: number) => Number(le ? h.readBigUInt64LE(o) : h.readBigUInt64BE(o));
    const machine = u16(18);
    const arch = ALL_ARCHES.find((a) => ARCHES[a].elfMachine === machine && ARCHES[a].elfClass === elfClass);
    // Program headers: find PT_INTERP (3) for the loader path.
    const phoff = elfClass === 2 ? u64(32) : u32(28);
    const phentsize = u16(elfClass === 2 ? 54 : 42);
    const phnum = u16(elfClass === 2 ? 56 : 44);
    let interpreter: string | undefined;
    for (let i = 0; i < Math.min(phnum, 64); i++) {
      const ph = Buffer.alloc(phentsize);
      await fh.read(ph, 0, phentsize, phoff + i * phentsize);
      const pt = le ? ph.readUInt32LE(0) : ph.readUInt32BE(0);
      if (pt !== 3) continue;
      const off =
        elfClass === 2
          ? Number(le ? ph.readBigUInt64LE(8) : ph.readBigUInt64BE(8))
          : le
            ? ph.readUInt32LE(4)
            : ph.readUInt32BE(4);
      const size =
        elfClass === 2
          ? Number(le ? ph.readBigUInt64LE(32) : ph.readBigUInt64BE(32))
          : le
            ? ph.readUInt32LE(16)
            : ph.readUInt32BE(16);
      const b = Buffer.alloc(Math.min(size, 256));
      await fh.read(b, 0, b.length, off);
      interpreter = b.toString('latin1').replace(/\0.*$/s, '');
    }
    return { elfClass, littleEndian: le, type: u16(16), machine, arch, interpreter };
  } finally {
    await fh.close();
  }
}
