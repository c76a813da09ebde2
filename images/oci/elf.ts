// Minimal ELF reader: the program interpreter (PT_INTERP) and the DT_NEEDED sonames of an
// executable or shared library. The image's base layer holds exactly the closure of what
// the executable links, so a new Node that needs another library fails the build clearly
// instead of failing at container start. Spec: System V gABI, "Program Header" and
// "Dynamic Section" (https://refspecs.linuxfoundation.org/elf/gabi4+/ch5.pheader.html).
import { readFileSync } from 'node:fs';

export interface ElfInfo {
  elfClass: 1 | 2;
  machine: number;
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
  readonly code = 'EDGEWAN_ERR_OCI_ELF';
}

export function readElf(path: string): ElfInfo {
  return parseElf(readFileSync(path), path);
}

export function parseElf(b: Buffer, name = '<buffer>'): ElfInfo {
  if (b.length < 52 || b.readUInt32BE(0) !== 0x7f454c46)
    throw new ElfError(`${name}: not an ELF file (bad magic at byte 0)`);
  const elfClass = b[4] as 1 | 2;
  if (b[5] !== 1) throw new ElfError(`${name}: big-endian ELF is not supported (byte 5)`);
  const is64 = elfClass === 2;
  const u = (off: number) => (is64 ? Number(b.readBigUInt64LE(off)) : b.readUInt32LE(off));
  const machine = b.readUInt16LE(18);
  const phoff = u(is64 ? 32 : 28);
  const phentsize = b.readUInt16LE(is64 ? 54 : 42);
  const phnum = b.readUInt16LE(is64 ? 56 : 44);
  const loads: { vaddr: number; offset: number; filesz: number }[] = [];
  let interpreter: string | undefined;
  let dyn: { offset: number; size: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    const type = b.readUInt32LE(p);
    const offset = is64 ? u(p + 8) : u(p + 4);
    const vaddr = is64 ? u(p + 16) : u(p + 8);
    const filesz = is64 ? u(p + 32) : u(p + 16);
    if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
    else if (type === PT_INTERP)
      interpreter = b
        .subarray(offset, offset + filesz)
        .toString('latin1')
        .replace(/\0.*$/s, '');
    else if (type === PT_DYNAMIC) dyn = { offset, size: filesz };
  }
  const needed: string[] = [];
  if (dyn) {
    const entSize = is64 ? 16 : 8;
    const neededOffsets: number[] = [];
    let strtabVaddr = -1;
    for (let p = dyn.offset; p + entSize <= dyn.offset + dyn.size; p += entSize) {
      const tag = is64 ? Number(b.readBigInt64LE(p)) : b.readInt32LE(p);
      const val = is64 ? u(p + 8) : u(p + 4);
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
      for (const off of neededOffsets) {
        const start = strtab + off;
        const end = b.indexOf(0, start);
        needed.push(b.subarray(start, end).toString('latin1'));
      }
    }
  }
  return { elfClass, machine, interpreter, needed };
}
