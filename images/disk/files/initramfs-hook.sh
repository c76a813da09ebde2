#!/bin/sh
# edgewan disk image (images/disk/rootfs.ts): the drivers the root filesystem can sit behind
# on a branch box — VMs (virtio), PCs (SATA, NVMe, USB), SBCs (SD/eMMC, incl. Raspberry Pi
# 3/4) — plus ext4/vfat. udev loads them by modalias; names missing on one arch are skipped.
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0 ;; esac
. /usr/share/initramfs-tools/hook-functions
manual_add_modules virtio_pci virtio_mmio virtio_blk virtio_scsi sd_mod sr_mod \
	ahci ata_piix nvme usb_storage uas xhci_pci xhci_plat_hcd ehci_pci ehci_platform ohci_pci dwc2 \
	mmc_block sdhci_pci sdhci_acpi sdhci_of_arasan sdhci_iproc bcm2835 dw_mmc_rockchip sunxi_mmc meson_gx_mmc \
	pcie_brcmstb reset_raspberrypi ext4 crc32c_generic vfat nls_cp437 nls_ascii nls_utf8
