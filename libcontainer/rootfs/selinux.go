package rootfs

import (
	"github.com/opencontainers/selinux/go-selinux"
	"github.com/opencontainers/selinux/go-selinux/label"
)

// withMountLabel adds context="<label>" to a mount's data when SELinux is
// on; without SELinux a label is ignored, as runc does.
func withMountLabel(data, mountLabel string) string {
	if mountLabel == "" || !selinux.GetEnabled() {
		return data
	}
	return label.FormatMountLabel(data, mountLabel)
}
