#!/bin/sh
# First-boot / install defaults for @NAME@: the key directory the service user may read.
# Runs once (default_postinst or first boot), then OpenWRT deletes it.
mkdir -p /etc/@NAME@/keys
chown root:@NAME@ /etc/@NAME@/keys 2>/dev/null
chmod 0750 /etc/@NAME@/keys
exit 0
