package benchkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/eml"
)

// WaitMail waits up to 30 s for a mail to `to` in dir (a `mailer dir`)
// holding a link with needle, removes the mail and returns the link.
func WaitMail(ctx context.Context, dir, to, needle string) (string, error) {
	re := regexp.MustCompile(`https://[^\s"<>]*` + regexp.QuoteMeta(needle) + `[^\s"<>]*`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		sort.Strings(files)
		for _, f := range files {
			if strings.HasPrefix(filepath.Base(f), ".") {
				continue // still being written
			}
			text, rcpt := eml.Read(f)
			if !strings.EqualFold(rcpt, to) {
				continue
			}
			if l := re.FindString(text); l != "" {
				_ = os.Remove(f)
				return l, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("benchkit: no mail to %s with %s", to, needle)
}
