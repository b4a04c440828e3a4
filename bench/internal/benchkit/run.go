//go:build linux

package benchkit

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// InterruptContext returns a context that ends on the first SIGINT or
// SIGTERM, so that the benchmark stops its gateway in order and reports
// what it has; a second signal ends the program at once (the kernel then
// ends the children, see ChildAttr). stop releases the signals.
func InterruptContext() (ctx context.Context, stop context.CancelFunc) {
	ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // back to the default action for the next signal
	}()
	return ctx, stop
}

// Build is the gateway binary a benchmark runs.
type Build struct {
	// Root is the module root (ModuleRoot).
	Root string
	// Bin is the frontdoor binary.
	Bin string
	// Info says what it was built from (BuildInfo), for reports.
	Info string
}

// PrepareGateway finds the module root and builds bin/frontdoor there
// (saying so with logf: it takes a while), or, when bin is not "", uses
// that binary, which Info then says.
func PrepareGateway(ctx context.Context, bin string, logf func(format string, args ...any)) (Build, error) {
	root, err := ModuleRoot()
	if err != nil {
		return Build{}, err
	}
	b := Build{Root: root, Bin: bin, Info: BuildInfo(root)}
	if bin != "" {
		b.Info = "given binary " + bin + " (source at " + b.Info + ")"
		return b, nil
	}
	logf("building bin/frontdoor")
	if b.Bin, err = BuildGateway(ctx, root); err != nil {
		return Build{}, err
	}
	return b, nil
}

// WorkDir makes a temporary directory whose name starts with prefix.
// remove deletes it, or with keep leaves it and says where it is with logf.
func WorkDir(prefix string, keep bool, logf func(format string, args ...any)) (dir string, remove func() error, err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, fmt.Errorf("benchkit: temporary directory: %w", err)
	}
	return dir, func() error {
		if keep {
			logf("kept %s", dir)
			return nil
		}
		return os.RemoveAll(dir)
	}, nil
}

// CommandLine is the command as it was given, for reports: "go run pkg"
// and the flags that were set.
func CommandLine(pkg string) string {
	parts := []string{"go run " + pkg}
	flag.Visit(func(f *flag.Flag) {
		parts = append(parts, fmt.Sprintf("-%s=%s", f.Name, f.Value))
	})
	return strings.Join(parts, " ")
}
