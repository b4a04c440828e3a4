// Command limitermem measures the edge defences' memory under a flood of
// new client addresses (issue 13, finding 5): it sends n sign-in attempts
// through botdefense.Defender.Check on the memory counter, as many
// addresses as attempts, and prints the live heap and RSS before and
// after. It uses only API that existed before the fix, so the same file
// measures the old code (see docs/BENCHMARKS.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/botdefense"
)

func main() {
	n := flag.Int("n", 1_000_000, "attempts, each from a new address")
	scenario := flag.String("scenario", "one64", "one64: addresses of one /64 (the review's flood); many56: each address in its own /56 (a flood from that many networks)")
	flag.Parse()

	start := time.Date(2026, 11, 23, 12, 0, 30, 0, time.UTC) // one window for the whole run
	d := botdefense.NewDefender(botdefense.NewMemoryCounter(), botdefense.NewMemoryBlocks(), botdefense.NewMemorySeen(), []byte("0123456789abcdef0123456789abcdef"), func() time.Time { return start })
	p := botdefense.DefaultPolicy()
	ctx := context.Background()
	fp := botdefense.Fingerprint{UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", AcceptLanguage: true, Accept: true}

	heap0, rss0 := measure()
	actions := map[string]int{}
	t0 := time.Now()
	for i := range *n {
		var a [16]byte
		copy(a[:], netip.MustParseAddr("2001:db8::").AsSlice())
		switch *scenario {
		case "one64":
			a[8], a[12], a[13], a[14], a[15] = 0xfd, byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		case "many56":
			a[2], a[3], a[4], a[5], a[6] = 0x10, byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
			a[15] = 1
		default:
			fmt.Fprintln(os.Stderr, "unknown scenario", *scenario)
			os.Exit(2)
		}
		dec, err := d.Check(ctx, &p, botdefense.Attempt{
			Route: botdefense.RouteLogin, Site: "https://shop.test", IP: netip.AddrFrom16(a).String(),
			Account: fmt.Sprintf("victim%d@example.com", i%1000), Fingerprint: fp, Challengeable: true,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		actions[dec.Action.String()]++
	}
	elapsed := time.Since(t0)
	heap1, rss1 := measure()
	fmt.Printf("scenario %s, %d attempts in %v (%.1f µs each)\n", *scenario, *n, elapsed.Round(time.Millisecond), float64(elapsed.Microseconds())/float64(*n))
	fmt.Printf("decisions %v\n", actions)
	fmt.Printf("live heap %.1f MB -> %.1f MB; RSS %.1f MB -> %.1f MB\n", heap0, heap1, rss0, rss1)
	runtime.KeepAlive(d)
}

// measure returns the live heap after a collection and the process's
// resident set, in MB.
func measure() (heap, rss float64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				var kb float64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				rss = kb / 1e3
			}
		}
	}
	return float64(m.HeapAlloc) / 1e6, rss
}
