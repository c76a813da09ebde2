// `edgewan-build inspect <image>.img`: our own reader for the disk images we write — the
// GPT (UEFI spec §5.3: header at LBA 1, CRC32s checked) or, for Raspberry Pi images, the
// MBR's four primary entries, and per partition the ext4 superblock (UUID, label) or FAT32
// boot sector (volume id, label). No mount, no loop.
import { open } from 'node:fs/promises';
import { zlibCrc32 } from './crc32.ts';

function guid(b: Buffer): string {
  // mixed-endian on disk: first three fields little-endian
  const h = (x: Buffer) => x.toString('hex');
  const le = (o: number, n: number) => h(Buffer.from(b.subarray(o, o + n)).reverse());
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${h(b.subarray(8, 10))}-${h(b.subarray(10, 16))}`.toUpperCase();
}

function fsUuid(b: Buffer): string {
  const x = b.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export async function inspectDisk(path: string): Promise<unknown> {
  const fh = await open(path, 'r');
  try {
    const read = async (pos: number, len: number) => {
      const b = Buffer.alloc(len);
      const { bytesRead } = await fh.read(b, 0, len, pos);
      return b.subarray(0, bytesRead);
    };
    const size = (await fh.stat()).size;
    const fsOf = async (offset: number): Promise<Record<string, unknown> | null> => {
      const sb = await read(offset + 1024, 256);
      const boot = await read(offset, 512);
      if (sb.length >= 0x88 && sb.readUInt16LE(0x38) === 0xef53) {
        return {
          type: 'ext4',
          uuid: fsUuid(sb.subarray(0x68, 0x78)),
          label: sb.toString('latin1', 0x78, 0x88).replace(/\0.*$/s, ''),
          blocks: sb.readUInt32LE(4),
          blockSize: 1024 << sb.readUInt32LE(0x18),
        };
      }
      if (boot.toString('latin1', 0x52, 0x5a) === 'FAT32   ') {
        const id = boot.readUInt32LE(0x43).toString(16).toUpperCase().padStart(8, '0');
        return {
          type: 'vfat',
          uuid: `${id.slice(0, 4)}-${id.slice(4)}`,
          label: boot.toString('latin1', 0x47, 0x52).trim(),
        };
      }
      return null;
    };
    const mbr = await read(0, 512);
    const hdr = await read(512, 92);
    if (hdr.toString('latin1', 0, 8) !== 'EFI PART') {
      // MBR (Raspberry Pi images): entries at 0x1BE, 16 bytes each; PARTUUID is <disk id>-<NN>
      if (mbr.length < 512 || mbr[510] !== 0x55 || mbr[511] !== 0xaa)
        throw new Error(
          `${path}: neither a GPT header at LBA 1 nor an MBR signature (not a disk image we write)`,
        );
      const diskId = mbr.readUInt32LE(0x1b8).toString(16).padStart(8, '0');
      const partitions = [];
      for (let i = 0; i < 4; i++) {
        const e = mbr.subarray(0x1be + i * 16, 0x1be + (i + 1) * 16);
        if (e[4] === 0) continue;
        const offset = e.readUInt32LE(8) * 512;
        partitions.push({
          index: i + 1,
          type: `0x${e[4].toString(16).padStart(2, '0')}`,
          bootable: e[0] === 0x80,
          partuuid: `${diskId}-${String(i + 1).padStart(2, '0')}`,
          offset,
          size: e.readUInt32LE(12) * 512,
          fs: await fsOf(offset),
        });
      }
      return { format: 'disk-image', table: 'dos', path, size, diskId, partitions };
    }
    const hdrCrc = hdr.readUInt32LE(16);
    const zeroed = Buffer.from(hdr);
    zeroed.writeUInt32LE(0, 16);
    const entriesLba = Number(hdr.readBigUInt64LE(72));
    const count = hdr.readUInt32LE(80);
    const esize = hdr.readUInt32LE(84);
    const entries = await read(entriesLba * 512, count * esize);
    const partitions = [];
    for (let i = 0; i < count; i++) {
      const e = entries.subarray(i * esize, (i + 1) * esize);
      if (e.subarray(0, 16).every((x) => x === 0)) continue;
      const first = Number(e.readBigUInt64LE(32));
      const last = Number(e.readBigUInt64LE(40));
      const name = e.toString('utf16le', 56, 128).replace(/\0.*$/s, '');
      const offset = first * 512;
      const fs = await fsOf(offset);
      partitions.push({
        index: i + 1,
        name,
        type: guid(e.subarray(0, 16)),
        partuuid: guid(e.subarray(16, 32)),
        offset,
        size: (last - first + 1) * 512,
        fs,
      });
    }
    return {
      format: 'disk-image',
      table: 'gpt',
      path,
      size,
      diskGuid: guid(hdr.subarray(56, 72)),
      headerCrcOk: zlibCrc32(zeroed) === hdrCrc,
      entriesCrcOk: zlibCrc32(entries) === hdr.readUInt32LE(88),
      backupLba: Number(hdr.readBigUInt64LE(32)),
      partitions,
    };
  } finally {
    await fh.close();
  }
}
