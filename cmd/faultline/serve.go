package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/results"
)

func newServeCmd() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve [runs-dir]",
		Short: "Browse the runs and their reports over HTTP (127.0.0.1:8080 by default)",
		Long: `serve lists the runs of a runs directory (default: runs), newest first,
with their verdicts, and serves each run's report.html, linearizability.html
and node logs. It binds to loopback unless --addr says otherwise, and serves
nothing outside the runs directory.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "runs"
			if len(args) == 1 {
				dir = args[0]
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			srv, err := results.NewServer(dir, log)
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("serve: listen on %s: %w (choose another --addr host:port)", addr, err)
			}
			if host, _, _ := net.SplitHostPort(addr); host != "" {
				if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
					log.Warn("serving beyond loopback: anyone who can reach this address can read the runs", "addr", ln.Addr().String())
				}
			} else {
				log.Warn("serving on every interface: anyone who can reach this host can read the runs", "addr", ln.Addr().String())
			}
			// Requests must name the server as it was bound (or by a
			// loopback name): DNS rebinding is refused.
			srv.AllowHost(addr)
			srv.AllowHost(ln.Addr().String())
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
			surviveBrokenPipe()
			ctx, stop := signal.NotifyContext(cmd.Context(), stopSignals...)
			defer stop()
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				hs.Shutdown(sctx)
			}()
			fmt.Fprintf(cmd.OutOrStdout(), "serving %s at http://%s/\n", dir, ln.Addr())
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "host:port to listen on (loopback by default)")
	return cmd
}
