// Command upstream is the origin of the side-by-side benchmark
// (bench/peers): ../shared/peerbench/upstream — the same fixed 1 KiB body
// and the same stats listener — plus paths ending in /__echo, which answer with
// the request headers it received, so the harness can check that identity
// headers really reach the backend before it measures. Measured requests
// never take that path: it costs them one string comparison.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
)

// EchoPath (at the end of any path: /__echo, /pub/__echo) answers with the
// request's headers, one "Name: value" a line.
const EchoPath = "/__echo"

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address (loopback only)")
	stats := flag.String("stats", "127.0.0.1:9001", "stats listen address (loopback only); empty disables")
	flag.Parse()

	body := bytes.Repeat([]byte("a"), 1023)
	body = append(body, '\n') // 1024 bytes total
	clen := strconv.Itoa(len(body))

	var conns, reqs atomic.Int64

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, EchoPath) {
			echo(w, r)
			return
		}
		reqs.Add(1)
		hdr := w.Header()
		hdr["Content-Type"] = []string{"text/plain; charset=utf-8"}
		hdr["Content-Length"] = []string{clen}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
	srv := &http.Server{
		Addr:    *addr,
		Handler: h,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	}

	if *stats != "" {
		go func() {
			sh := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprintf(w, "%d %d\n", conns.Load(), reqs.Load())
			})
			log.Fatal(http.ListenAndServe(*stats, sh))
		}()
	}

	log.Printf("upstream listening on %s (body %d bytes), stats on %s, header echo at %s", *addr, len(body), *stats, EchoPath)
	log.Fatal(srv.ListenAndServe())
}

// echo writes the request's headers (Cookie included) as plain text.
func echo(w http.ResponseWriter, r *http.Request) {
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, k := range names {
		for _, v := range r.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(b.Bytes())
}
