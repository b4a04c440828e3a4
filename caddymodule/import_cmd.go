package caddymodule

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/frontdoorhq/frontdoor/authflow"
)

// `frontdoor import customers --file customers.jsonl`: the admin API's
// import (import_admin.go) fed from a file, in batches, with a progress
// bar and a summary of what was skipped and why. The gateway must be
// running (its store is locked by it, and the import goes through its
// checks); a re-run imports nothing twice, so an interrupted import is
// resumed by running it again.

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "import",
		Usage: "customers --file <customers.jsonl> [--address <admin>] [--config <path> [--adapter <name>]] [--store bolt|redis] [--reset-weak] [--report <file>]",
		Short: "Imports customers from a legacy system into the running gateway",
		Long: `
Imports customers, one JSON object per line, into the store of the running
gateway through its admin endpoint:

  {"email": "ann@example.com", "email_verified": true, "name": "Ann Lee",
   "profile": {"phone": "+44 20 7946 0000"}, "created_at": "2019-03-01T10:00:00Z",
   "password_hash": "$2b$12$…", "reset_required": false}

Only email is required. Legacy password hashes (bcrypt, scrypt, PBKDF2 SHA-1/
SHA-256/SHA-512, argon2i/argon2id, SHA-256/512-crypt, salted SHA-256) are kept
and replaced by argon2id at each customer's first sign-in. --reset-weak makes
customers with a weak scheme choose a new password at their first sign-in.

Addresses that have an account already are left alone: running the import
again resumes it. Lines that cannot be imported are listed with their number
and the reason; --report writes every line's result as JSON lines.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().StringP("file", "f", "", "JSON lines file of customers (required)")
			cmd.Flags().String("address", "", "Address of the administration listener, if different from config")
			cmd.Flags().StringP("config", "c", "", "Configuration file, to find the administration listener")
			cmd.Flags().StringP("adapter", "a", "", "Name of the config adapter")
			cmd.Flags().String("store", "", "bolt or redis, when the gateway runs both")
			cmd.Flags().Bool("reset-weak", false, "Customers whose password hash is of a weak scheme must choose a new password")
			cmd.Flags().String("report", "", "Write every line's result to this file (JSON lines)")
			cmd.Flags().Int("batch", 500, "Lines per request (1 to 1000)")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdImport)
		},
	})
}

func cmdImport(fl caddycmd.Flags) (int, error) {
	if args := fl.Args(); len(args) != 1 || args[0] != "customers" {
		return caddy2ExitUsage, errors.New("usage: frontdoor import customers --file <customers.jsonl>")
	}
	path := fl.String("file")
	if path == "" {
		return caddy2ExitUsage, errors.New("--file is required")
	}
	batch := fl.Int("batch")
	if batch < 1 || batch > importBatch {
		return caddy2ExitUsage, fmt.Errorf("--batch: 1 to %d", importBatch)
	}
	total, err := countLines(path)
	if err != nil {
		return 1, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 1, err
	}
	defer f.Close()
	adminAddr, err := caddycmd.DetermineAdminAPIAddress(fl.String("address"), nil, fl.String("config"), fl.String("adapter"))
	if err != nil {
		return 1, err
	}
	q := url.Values{}
	if s := fl.String("store"); s != "" {
		q.Set("store", s)
	}
	if fl.Bool("reset-weak") {
		q.Set("reset_weak", "1")
	}
	post := func(body []byte) ([]byte, error) {
		resp, err := caddycmd.AdminAPIRequest(adminAddr, http.MethodPost, "/frontdoor/customers/import?"+q.Encode(), nil, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	}
	var report io.Writer
	if p := fl.String("report"); p != "" {
		rf, err := os.Create(p)
		if err != nil {
			return 1, err
		}
		defer rf.Close()
		report = rf
	}
	sum, err := runImport(f, total, batch, post, os.Stderr, report)
	sum.print(os.Stdout)
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// caddy2ExitUsage is Caddy's exit code for a wrong command line.
const caddy2ExitUsage = 2

// countLines counts a file's non-blank lines (the progress bar's end).
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	err = eachLine(f, func(int, []byte, bool) error { n++; return nil })
	return n, err
}

// eachLine calls fn with each non-blank line, its number, and whether it
// was longer than authflow.MaxImportLine (then cut): a long line is a
// line's problem, not the file's.
func eachLine(r io.Reader, fn func(n int, line []byte, tooLong bool) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	n := 0
	for {
		var line []byte
		tooLong := false
		for {
			part, isPrefix, err := br.ReadLine()
			if err == io.EOF {
				if len(line) > 0 || tooLong {
					break
				}
				return nil
			}
			if err != nil {
				return err
			}
			if len(line)+len(part) > authflow.MaxImportLine {
				tooLong = true
			} else {
				line = append(line, part...)
			}
			if !isPrefix {
				break
			}
		}
		n++
		if len(bytes.TrimSpace(line)) == 0 && !tooLong {
			continue
		}
		if err := fn(n, line, tooLong); err != nil {
			return err
		}
	}
}

// importSummary counts an import's results.
type importSummary struct {
	Lines, Imported, Exists, Skipped, ResetRequired int
	// SkippedLines are the first skipped lines, for the summary.
	SkippedLines []authflow.ImportResult
}

const maxSummarySkipped = 100

func (s *importSummary) add(r authflow.ImportResult) {
	s.Lines++
	switch r.Status {
	case authflow.ImportCreated:
		s.Imported++
		if r.ResetRequired {
			s.ResetRequired++
		}
	case authflow.ImportExists:
		s.Exists++
	default:
		s.Skipped++
		if len(s.SkippedLines) < maxSummarySkipped {
			s.SkippedLines = append(s.SkippedLines, r)
		}
	}
}

func (s importSummary) print(w io.Writer) {
	fmt.Fprintf(w, "imported %d · already there %d · skipped %d (of %d lines)\n", s.Imported, s.Exists, s.Skipped, s.Lines)
	if s.ResetRequired > 0 {
		fmt.Fprintf(w, "%d will choose a new password at their first sign-in\n", s.ResetRequired)
	}
	if len(s.SkippedLines) > 0 {
		fmt.Fprintln(w, "skipped:")
		for _, r := range s.SkippedLines {
			fmt.Fprintf(w, "  line %d: %s\n", r.Line, r.Reason)
		}
		if s.Skipped > len(s.SkippedLines) {
			fmt.Fprintf(w, "  … and %d more (--report lists every line)\n", s.Skipped-len(s.SkippedLines))
		}
	}
}

// importLine is one line of an import request.
type importLine struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

// runImport reads the file's lines, sends them in batches through post,
// draws the progress on progress and writes each result to report (nil:
// none). It stops at the first failed request (the summary says how far
// it came; running it again resumes).
func runImport(r io.Reader, total, batch int, post func([]byte) ([]byte, error), progress, report io.Writer) (importSummary, error) {
	var (
		sum     importSummary
		pending []importLine
		enc     *json.Encoder
	)
	if report != nil {
		enc = json.NewEncoder(report)
	}
	record := func(res authflow.ImportResult) {
		sum.add(res)
		if enc != nil {
			_ = enc.Encode(res)
		}
	}
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		body, err := json.Marshal(map[string]any{"lines": pending})
		if err != nil {
			return err
		}
		out, err := post(body)
		if err != nil {
			return fmt.Errorf("import stopped at line %d: %w (run it again to resume)", pending[0].N, err)
		}
		var ans struct {
			Results []authflow.ImportResult `json:"results"`
		}
		if err := json.Unmarshal(out, &ans); err != nil || len(ans.Results) != len(pending) {
			return fmt.Errorf("import stopped at line %d: unexpected answer from the gateway (run it again to resume)", pending[0].N)
		}
		for _, res := range ans.Results {
			record(res)
		}
		pending = pending[:0]
		drawProgress(progress, sum, total)
		return nil
	}
	err := eachLine(r, func(n int, line []byte, tooLong bool) error {
		if tooLong {
			record(authflow.ImportResult{Line: n, Status: authflow.ImportSkipped, Reason: fmt.Sprintf("longer than %d bytes", authflow.MaxImportLine)})
			return nil
		}
		pending = append(pending, importLine{N: n, Text: string(line)})
		if len(pending) >= batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if progress != nil {
		fmt.Fprintln(progress)
	}
	return sum, err
}

// drawProgress redraws the progress bar on one line.
func drawProgress(w io.Writer, s importSummary, total int) {
	if w == nil {
		return
	}
	const width = 30
	done := width
	if total > 0 {
		done = min(width, s.Lines*width/total)
	}
	bar := strings.Repeat("=", done) + strings.Repeat(" ", width-done)
	fmt.Fprintf(w, "\r[%s] %d/%d lines  imported %d  already there %d  skipped %d", bar, s.Lines, total, s.Imported, s.Exists, s.Skipped)
}
