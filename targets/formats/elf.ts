// The one ELF reader: class, byte order, type, e_machine (and the canonical arch they name),
// the program interpreter (PT_INTERP) and the DT_NEEDED sonames. The build checks an
// executable's arch with it (scripts/sea.ts), `inspect` shows it, and the OCI image writer
// follows DT_NEEDED to put exactly the executable's library closure in the base layer, so a
// new Node that needs another library fails the build instead of the container's start.
// Spec: System V gABI, "ELF Header" (e_ident, e_type at 16, e_machine at 18), "Program
// Header" and "Dynamic Section".
import { readFile } from 'node:fs/promises';
import { ALL_ARCHES, ARCHES, type Arch } from '../arch.ts';

export interface ElfInfo {
  elfClass: 1 | 2;
  littleEndian: boolean;
  type: number;
  machine: number;
  /** canonical arch whose e_machine and class match, if any */
  arch?: Arch;
  interpreter?: string;
  needed: string[];
}

const PT_LOAD = 1,
  PT_DYNAMIC = 2,
  PT_INTERP = 3;
const DT_NULL = 0,
  DT_NEEDED = 1,
  DT_STRTAB = 5;

export class ElfError extends Error {
  readonly code = 'EDGEWAN_ERR_FORMAT_ELF';
}

/** The first four bytes are the ELF magic. */
export function isElf(b: Buffer): boolean {
  return b.length >= 52 && b.readUInt32BE(0) === 0x7f454c46;
}

/** Parse a whole ELF file; `name` goes into the error. */
export function parseElf(b: Buffer, name = '<buffer>'): ElfInfo {
  if (!isElf(b)) throw new ElfError(`${name}: not an ELF file (bad magic at byte 0)`);
  const elfClass = b[4] as 1 | 2;
  if (elfClass !== 1 && elfClass !== 2) throw new ElfError(`${name}: ELF class ${b[4]} at byte 4`);
  const le = b[5] === 1;
  const is64 = elfClass === 2;
  const at = (off: number, n: number) => {
    if (off < 0 || off + n > b.length)
      throw new ElfError(`${name}: truncated ELF (${n} bytes at offset ${off}, file ${b.length})`);
    return off;
  };
  const u16 = (o: number) => (le ? b.readUInt16LE(at(o, 2)) : b.readUInt16BE(at(o, 2)));
  const u32 = (o: number) => (le ? b.readUInt32LE(at(o, 4)) : b.readUInt32BE(at(o, 4)));
  const s32 = (o: number) => (le ? b.readInt32LE(at(o, 4)) : b.readInt32BE(at(o, 4)));
  const u64 = (o: number) => Number(le ? b.readBigUInt64LE(at(o, 8)) : b.readBigUInt64BE(at(o, 8)));
  const s64 = (o: number) => Number(le ? b.readBigInt64LE(at(o, 8)) : b.readBigInt64BE(at(o, 8)));
  const word = is64 ? u64 : u32;
  const machine = u16(18);
  const phoff = word(is64 ? 32 : 28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  const cstr = (start: number) => {
    const end = b.indexOf(0, at(start, 1));
    return b.subarray(start, end < 0 ? b.length : end).toString('latin1');
  };
  const loads: { vaddr: number; offset: number; filesz: number }[] = [];
  let interpreter: string | undefined;
  let dyn: { offset: number; size: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    const type = u32(p);
    const offset = word(p + (is64 ? 8 : 4));
    const vaddr = word(p + (is64 ? 16 : 8));
    const filesz = word(p + (is64 ? 32 : 16));
    if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
    else if (type === PT_INTERP) interpreter = cstr(offset);
    else if (type === PT_DYNAMIC) dyn = { offset, size: filesz };
  }
  const needed: string[] = [];
  if (dyn) {
    const entSize = is64 ? 16 : 8;
    const neededOffsets: number[] = [];
    let strtabVaddr = -1;
    for (let p = dyn.offset; p + entSize <= dyn.offset + dyn.size; p += entSize) {
      const tag = is64 ? s64(p) : s32(p);
      const val = word(p + entSize / 2);
      if (tag === DT_NULL) break;
      if (tag === DT_NEEDED) neededOffsets.push(val);
      if (tag === DT_STRTAB) strtabVaddr = val;
    }
    if (neededOffsets.length > 0) {
      // DT_STRTAB holds a virtual address: map it to a file offset through the PT_LOAD segments.
      const seg = loads.find((l) => strtabVaddr >= l.vaddr && strtabVaddr < l.vaddr + l.filesz);
      if (!seg)
        throw new ElfError(
          `${name}: DT_STRTAB address 0x${strtabVaddr.toString(16)} lies in no PT_LOAD segment`,
        );
      const strtab = strtabVaddr - seg.vaddr + seg.offset;
      for (const off of neededOffsets) needed.push(cstr(strtab + off));
    }
  }
  const arch = ALL_ARCHES.find((a) => ARCHES[a].elfMachine === machine && ARCHES[a].elfClass === elfClass);
  return { elfClass, littleEndian: le, type: u16(16), machine, arch, interpreter, needed };
}

/** Read and parse a file; undefined when it is not ELF at all (a script, a bundle). */
export async function readElf(path: string): Promise<ElfInfo | undefined> {
  const b = await readFile(path);
  return isElf(b) ? parseElf(b, path) : undefined;
}
