// The disk layout: GPT with a fixed disk GUID, ESP | root (fixed size) | data (last, grown
// on first boot); for a Raspberry Pi (board "rpi") an MBR instead (Pi 3's boot ROM reads
// only MBR), its first partition the FAT firmware partition. Every GUID/UUID and the FAT volume id is derived from the image name, so
// rebuilds are byte-identical and two different images never share a filesystem UUID.
import { createHash } from 'node:crypto';
import type { ImageDefinition } from './definition.ts';
import { sha256 } from '../../targets/formats/hash.ts';

const MIB = 1024 * 1024;
const SECTOR = 512;

// GPT partition type GUIDs (UEFI spec; Discoverable Partitions Specification for root).
export const TYPE_ESP = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
export const TYPE_LINUX = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
export const TYPE_ROOT: Record<string, string> = {
  amd64: '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709',
  arm64: 'B921B045-1DF0-41C3-AF44-4C6F280D3FAE',
};

export interface Part {
  label: string;
  /** byte offset and size in the image */
  offset: number;
  size: number;
  type: string;
  partuuid: string;
  /** filesystem UUID (ext4) or FAT volume id as XXXX-XXXX */
  fsUuid: string;
}

export interface Layout {
  /** gpt (uefi) or dos (rpi) */
  table: 'gpt' | 'dos';
  /** GPT disk GUID, or the MBR disk id as 8 hex digits */
  diskGuid: string;
  esp: Part;
  root: Part;
  data: Part;
  /** the whole image, including the backup GPT's last MiB */
  size: number;
  /** ext4 directory hash seeds */
  rootHashSeed: string;
  dataHashSeed: string;
}

/** A version-4-shaped UUID from sha256(name/what): stable per image, distinct per role. */
export function stableUuid(name: string, what: string): string {
  const h = createHash('sha256').update(`edgewan-disk/${name}/${what}`).digest();
  h[6] = (h[6] & 0x0f) | 0x40;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export function planLayout(def: ImageDefinition): Layout {
  const n = def.name;
  const volid = sha256(`edgewan-disk/${n}/esp-volid`).slice(0, 8).toUpperCase();
  const dos = def.board === 'rpi';
  // MBR partitions have no GUIDs: Linux's PARTUUID is <disk id>-<2-digit number>
  const diskGuid = dos ? stableUuid(n, 'disk').slice(0, 8) : stableUuid(n, 'disk');
  let at = MIB; // 1 MiB alignment; the primary GPT lives before it
  let num = 0;
  const part = (label: string, mib: number, type: string, fsUuid: string): Part => {
    num += 1;
    const p = {
      label,
      offset: at,
      size: mib * MIB,
      type,
      partuuid: dos ? `${diskGuid}-0${num}` : stableUuid(n, `part-${label}`),
      fsUuid,
    };
    at += mib * MIB;
    return p;
  };
  // Debian's own Pi images call the firmware partition RASPIFIRM
  const esp = part(
    dos ? 'RASPIFIRM' : 'ESP',
    def.sizes.espMiB,
    dos ? 'c' : TYPE_ESP,
    `${volid.slice(0, 4)}-${volid.slice(4)}`,
  );
  const root = part(
    'root',
    def.sizes.rootMiB,
    dos ? '83' : (TYPE_ROOT[def.debArch] ?? TYPE_LINUX),
    stableUuid(n, 'fs-root'),
  );
  const data = part('data', def.sizes.dataMiB, dos ? '83' : TYPE_LINUX, stableUuid(n, 'fs-data'));
  return {
    table: dos ? 'dos' : 'gpt',
    diskGuid,
    esp,
    root,
    data,
    size: at + MIB,
    rootHashSeed: stableUuid(n, 'hash-root'),
    dataHashSeed: stableUuid(n, 'hash-data'),
  };
}

/** sfdisk script for the layout (sectors; fixed GUIDs / disk id). */
export function sfdiskScript(l: Layout): string {
  if (l.table === 'dos') {
    const line = (p: Part) => `start=${p.offset / SECTOR}, size=${p.size / SECTOR}, type=${p.type}`;
    return [
      'label: dos',
      `label-id: 0x${l.diskGuid}`,
      'unit: sectors',
      '',
      `${line(l.esp)}, bootable`,
      line(l.root),
      line(l.data),
      '',
    ].join('\n');
  }
  const line = (p: Part) =>
    `start=${p.offset / SECTOR}, size=${p.size / SECTOR}, type=${p.type}, uuid=${p.partuuid.toUpperCase()}, name="${p.label}"`;
  return [
    'label: gpt',
    `label-id: ${l.diskGuid.toUpperCase()}`,
    'unit: sectors',
    'first-lba: 2048',
    `last-lba: ${l.size / SECTOR - 34}`,
    '',
    line(l.esp),
    line(l.root),
    line(l.data),
    '',
  ].join('\n');
}
