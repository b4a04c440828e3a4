package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// `frontdoor status`: the admin endpoint's status page (status.go) for a
// browser. Caddy's admin endpoint refuses requests a browser makes by
// typing an address (they carry Sec-Fetch-Mode and no Origin: its defence
// against cross-site requests), so this command serves the page on a
// loopback address of its own and fetches it from the admin endpoint for
// each view.

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "status",
		Usage: "[--listen 127.0.0.1:2020] [--address <admin>] [--config <path> [--adapter <name>]]",
		Short: "Serves the gateway's status page to a browser on this machine",
		Long: `
Serves the running gateway's read-only status page — the last hour's sign-ins,
failures, challenges and risk decisions, top offenders, surge state, webhook
backlog — at http://127.0.0.1:2020/ (--listen), fetching it from the admin
endpoint at each view. Loopback addresses only: the page names offenders.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("listen", "127.0.0.1:2020", "Loopback address to serve the page on")
			cmd.Flags().String("address", "", "Address of the administration listener, if different from config")
			cmd.Flags().StringP("config", "c", "", "Configuration file, to find the administration listener")
			cmd.Flags().StringP("adapter", "a", "", "Name of the config adapter")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdStatus)
		},
	})
}

func cmdStatus(fl caddycmd.Flags) (int, error) {
	listen := fl.String("listen")
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return caddy2ExitUsage, fmt.Errorf("--listen %q: want host:port", listen)
	}
	if ip, err := netip.ParseAddr(host); host != "localhost" && (err != nil || !ip.Unmap().IsLoopback()) {
		return caddy2ExitUsage, fmt.Errorf("--listen %q: a loopback address only (the page names offenders)", listen)
	}
	adminAddr, err := caddycmd.DetermineAdminAPIAddress(fl.String("address"), nil, fl.String("config"), fl.String("adapter"))
	if err != nil {
		return 1, err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return 1, err
	}
	srv := &http.Server{Handler: statusViewer(adminAddr), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("Status page: http://%s/ (Ctrl-C to stop)\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return 1, err
	}
	return 0, nil
}

// statusViewer serves / and /frontdoor/status from the admin endpoint,
// with the page's own headers (its CSP among them); nothing else.
func statusViewer(adminAddr string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			http.Redirect(w, r, "/frontdoor/status", http.StatusFound)
			return
		case r.URL.Path != "/frontdoor/status":
			http.NotFound(w, r)
			return
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET")
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		path := "/frontdoor/status"
		if r.URL.RawQuery != "" {
			path += "?" + r.URL.RawQuery
		}
		resp, err := caddycmd.AdminAPIRequest(adminAddr, http.MethodGet, path, nil, nil)
		if err != nil {
			http.Error(w, "the gateway's admin endpoint did not answer: "+err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for _, h := range []string{"Content-Type", "Content-Security-Policy", "X-Frame-Options", "Cache-Control", "Referrer-Policy", "X-Content-Type-Options"} {
			if v := resp.Header.Get(h); v != "" {
				w.Header().Set(h, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, io.LimitReader(resp.Body, 8<<20))
	})
}
