// How the tunnel's one byte budget (memory.split.chunkMemory, sized from the memory limit in
// policy.ts) is shared when one process serves many links (a fleet core with N edges). Three
// things live in it, and their sum stays within it for any N:
//   - the peer models, one per link (tunnel/peer-model.ts: the chunks the peer is believed to
//     hold), together at most PEER_MODELS_SHARE of the budget; each link may fill an equal
//     share of that and never less than a floor, so one busy edge cannot push out the others;
//   - the sender's sketch index (resemble.ts) and manifest-range index (runs.ts), one each per
//     process, sized like the memory tier;
//   - the chunk store's memory tier: what is left, but at least STORE_MIN_SHARE.
// When N floors do not fit beside the store's minimum, the floor shrinks: the sum holds first.
// Pure: the tunnel component (tunnel/component.ts) calls it whenever links come and go.

/** The peer models' total while few links share it (more links: N floors, see linkSplit). */
export const PEER_MODELS_SHARE = 0.125;
/** Each link's peer model may hold at least this (~2,700 chunks, ~21 MiB of data at 8 KiB), while it fits. */
export const PEER_LINK_FLOOR = 256 * 1024;
/** The chunk store's memory tier keeps at least this share of the budget... */
export const STORE_MIN_SHARE = 0.25;
/** ...and at least its own minimum (cache/store.ts): below a 4 MiB budget the peer models get less. */
export const STORE_MIN_BYTES = 1 << 20;

export interface LinkSplit {
  /** the whole budget (bytes) */
  readonly budgetBytes: number;
  /** the most the peer models of all links may hold together */
  readonly peerModelsBytes: number;
  /** the most one link's peer model may hold now */
  readonly perLinkBytes: number;
  /** what every link may hold whatever the others do */
  readonly floorBytes: number;
  /** reserved for the sketch index */
  readonly sketchBytes: number;
  /** reserved for the manifest-range index (codec/runs.ts) */
  readonly runBytes: number;
  /** the chunk store's memory tier before open streams take their part (component.ts fitCache) */
  readonly storeBytes: number;
}

/** The split of `budgetBytes` for `links` live links, with `sketchBytes` / `runBytes` for the two indexes. */
export function linkSplit(budgetBytes: number, links: number, sketchBytes: number, runBytes = 0): LinkSplit {
  const n = Math.max(1, links);
  const storeMin = Math.max(
    Math.floor(STORE_MIN_SHARE * budgetBytes),
    Math.min(budgetBytes, STORE_MIN_BYTES),
  );
  const sketch = Math.min(sketchBytes, budgetBytes - storeMin);
  const runs = Math.min(runBytes, budgetBytes - storeMin - sketch);
  const room = Math.max(0, budgetBytes - storeMin - sketch - runs); // what the peer models may ever take
  const floor = Math.min(PEER_LINK_FLOOR, Math.floor(room / n));
  const share = Math.floor(PEER_MODELS_SHARE * budgetBytes);
  const perLink = Math.min(Math.max(floor, Math.floor(share / n)), Math.floor(room / n));
  const peerModels = perLink * n;
  return {
    budgetBytes,
    peerModelsBytes: peerModels,
    perLinkBytes: perLink,
    floorBytes: floor,
    sketchBytes: sketch,
    runBytes: runs,
    storeBytes: budgetBytes - peerModels - sketch - runs,
  };
}
