// The Image Builder recipe for partners who bake the service into firmware (docs/openwrt.md):
// a files/ overlay (the usign key of our feeds, a uci-defaults example) and build.sh, which
// copies our .ipk of the given arch into the Image Builder's packages/, stages the overlay with
// that arch's feed line in etc/opkg/customfeeds.conf, and runs the documented
// `make image PROFILE=… PACKAGES=… FILES=…` line.
import type { PackageInfo } from '../target.ts';

export interface RecipeFile {
  data: Buffer;
  mode: number;
}

export function makeImageLine(name: string): string {
  return `make image PROFILE="$PROFILE" PACKAGES="${name} $EXTRA_PACKAGES" FILES="$FILES"`;
}

/** base: the URL of the feeds root (dist/openwrt/24.10); each arch's feed is base/<arch>. */
export function imageBuilderFiles(
  info: PackageInfo,
  publicKey: Buffer,
  keyFile: string,
  base: string,
): Record<string, RecipeFile> {
  const n = info.name;
  const text = (s: string, mode = 0o644): RecipeFile => ({ data: Buffer.from(s), mode });
  return {
    [`files/etc/opkg/keys/${keyFile}`]: { data: publicKey, mode: 0o644 },
    [`files/etc/uci-defaults/80-${n}-site`]: text(
      `#!/bin/sh
# Site defaults for ${n}, applied once at first boot (then deleted by OpenWRT).
# Edit for your deployment; every option is described in /etc/config/${n} and docs/openwrt.md.
# uci set ${n}.main.tunnel_connect='core.example.net:9618'
# uci set ${n}.main.psk='…'
# uci set ${n}.main.state_dir='/mnt/data/${n}'
uci -q commit ${n}
exit 0
`,
      0o755,
    ),
    'build.sh': text(
      `#!/bin/sh
# Bake ${n} into an OpenWRT 24.10 firmware image with the official Image Builder.
# Usage: build.sh IMAGEBUILDER_DIR PROFILE OPENWRT_ARCH [EXTRA_PACKAGES]
#   e.g. build.sh ./openwrt-imagebuilder-24.10.4-x86-64.Linux-x86_64 generic x86_64
# The arch is the Image Builder's package arch (grep CONFIG_TARGET_ARCH_PACKAGES .config);
# it must be one of the names ${n} is built for, or use ${n}-node (which needs the node package).
set -eu
IB=$1 PROFILE=$2 ARCH=$3 EXTRA_PACKAGES=\${4:-}
RECIPE=$(cd "$(dirname "$0")" && pwd)
FEED="$RECIPE/../24.10/$ARCH"
set -- "$FEED"/${n}_*_"$ARCH".ipk
[ -f "$1" ] || { echo "no ${n} package for $ARCH in $FEED" >&2; exit 1; }
mkdir -p "$IB/packages"
cp "$1" "$IB/packages/"
# The overlay plus this arch's feed line: later opkg updates on the router come from there.
FILES="$IB/${n}-files"
rm -rf "$FILES"
cp -R "$RECIPE/files" "$FILES"
mkdir -p "$FILES/etc/opkg"
printf '# added by the ${n} Image Builder recipe: later opkg updates come from here\\nsrc/gz ${n} %s/%s\\n' '${base}' "$ARCH" > "$FILES/etc/opkg/customfeeds.conf"
cd "$IB"
${makeImageLine(n)}
`,
      0o755,
    ),
  };
}
