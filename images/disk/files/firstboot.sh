#!/bin/sh
# @NAME@ first boot (installed by the disk image; runs once, before @SERVICE@.service):
# grow the data partition to the end of the disk, create the tunnel credentials and an
# admin token. Every step is idempotent, so an interrupted first boot simply runs again.
set -eu
NAME=@NAME@
CONF=/etc/$NAME/$NAME.json
KEYS=/etc/$NAME/keys

if [ "@GROW@" = yes ]; then
	part=$(readlink -f /dev/disk/by-partuuid/@DATA_PARTUUID@)
	disk=/dev/$(lsblk -no PKNAME "$part")
	num=$(cat "/sys/class/block/${part##*/}/partition")
	# The image was written to a bigger disk: move the backup GPT to the real end first (an
	# MBR, on a Pi, has none), then let the last partition take the rest (--no-reread: it is mounted).
	if sfdisk --dump "$disk" | grep -q '^label: gpt'; then sfdisk --quiet --relocate gpt-bak-std "$disk"; fi
	echo ", +" | sfdisk --quiet --no-reread --no-tell-kernel -N "$num" "$disk" || true
	partx --update --nr "$num" "$disk"
	resize2fs "$part"
	echo "$NAME-firstboot: data partition $part now $(lsblk -bno SIZE "$part") bytes"
fi

if [ "@KEYGEN@" = yes ] && [ -z "$(ls -A "$KEYS" 2>/dev/null)" ]; then
	install -d -o root -g "$NAME" -m 0750 "$KEYS"
	/usr/bin/$NAME keygen --out "$KEYS"
	chown -R root:"$NAME" "$KEYS"
	find "$KEYS" -type f -exec chmod 0640 {} +
	echo "$NAME-firstboot: tunnel credentials written to $KEYS"
fi

# Only a token the image shipped as null is replaced: an operator's config is left alone.
if [ "@TOKEN@" = yes ] && grep -q '^    "token": null' "$CONF"; then
	token=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
	umask 077
	printf '%s\n' "$token" > /etc/$NAME/admin-token
	sed -i "/^  \"admin\": {/,/^  }/ s|^    \"token\": null|    \"token\": \"$token\"|" "$CONF"
	echo "$NAME-firstboot: admin token written to /etc/$NAME/admin-token and $CONF"
fi
touch /etc/$NAME/.firstboot-done
