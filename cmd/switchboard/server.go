package main

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// httpServer serves the listen address: /healthz, /readyz, /metrics, and
// whatever the channels mount on Mux (the Teams channel's
// "POST /api/messages").
type httpServer struct {
	// Mux is where handlers are mounted; safe to add to while serving.
	Mux *http.ServeMux
	srv *http.Server
	ln  net.Listener
	log zerolog.Logger
}

// newHTTPServer builds the server and its mux with the health and metrics
// routes. It does no I/O.
func newHTTPServer(log zerolog.Logger, health *Health, metrics *Metrics) *httpServer {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", serveHealthz)
	mux.HandleFunc("GET /readyz", health.ServeReady)
	mux.Handle("GET /metrics", metrics.Handler())
	hlog := log.With().Str("component", "http").Logger()
	return &httpServer{
		Mux: mux,
		log: hlog,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			// net/http's own messages can name client addresses and panic
			// values: keep their text at debug level.
			ErrorLog: stdlog.New(httpErrorWriter{hlog}, "", 0),
		},
	}
}

// Listen binds the address and returns the bound address (useful with port 0).
func (s *httpServer) Listen(ctx context.Context, addr string) (net.Addr, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.ln = ln
	return ln.Addr(), nil
}

// Serve serves until Shutdown; it returns nil after a Shutdown.
func (s *httpServer) Serve() error {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for requests in flight
// until ctx is done, then closes what is left.
func (s *httpServer) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

// httpErrorWriter routes net/http's error log into zerolog: a fixed warning,
// the text itself only at debug.
type httpErrorWriter struct{ log zerolog.Logger }

func (w httpErrorWriter) Write(p []byte) (int, error) {
	w.log.Warn().Msg("http server error")
	w.log.Debug().Str("detail", string(p)).Msg("http server error detail")
	return len(p), nil
}
