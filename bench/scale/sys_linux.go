//go:build linux

package main

import (
	"fmt"
	"os"
	"syscall"
)

// evictFromPageCache drops the file's clean pages from the page cache
// (POSIX_FADV_DONTNEED), so the next reads go to the disk. It touches this
// file only: nothing else on the machine loses its cache.
func evictFromPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	const fadvDontNeed = 4
	if _, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); e != 0 {
		return fmt.Errorf("fadvise %s: %w", path, e)
	}
	return nil
}
