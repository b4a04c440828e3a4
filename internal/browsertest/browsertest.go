// Package browsertest starts headless Chromium for tests. make test
// installs Chromium and sets FRONTDOOR_REQUIRE_BROWSER, so a missing
// browser fails there instead of skipping. Under -short every test that
// asks for a browser skips, whatever the environment says.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
)

// New starts headless Chromium with its own profile and returns its
// context (closed when the test ends). extra options are appended to the
// defaults (no sandbox, no GPU: CI runs as root in containers).
func New(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: starts Chromium")
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		if path, err = exec.LookPath("chromium-browser"); err != nil {
			if os.Getenv("FRONTDOOR_REQUIRE_BROWSER") != "" {
				t.Fatal("chromium not found (make deps installs it)")
			}
			t.Skip("chromium not installed; run make deps")
		}
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-component-update", true),
	)
	opts = append(opts, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	return ctx
}
