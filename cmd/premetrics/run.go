package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/premetrics/premetrics/config"
	"github.com/premetrics/premetrics/ingest"
	"github.com/premetrics/premetrics/pipeline"
)

// defaultRouteCacheSeries is --route-cache.series' default: 131,072
// series in 16 MiB.
const defaultRouteCacheSeries = 1 << 17

type runFlags struct {
	configFile      string
	listenAddress   string
	storagePath     string
	checkpointEvery time.Duration
	shutdownTimeout time.Duration
	logLevel        string
	logFormat       string
	enablePprof     bool
	memoryLimit     string
	gcPercent       int
	routeCache      int
}

func runCommand(args []string, stderr io.Writer) int {
	var f runFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.configFile, "config.file", "premetrics.yaml", "configuration file")
	fs.StringVar(&f.listenAddress, "web.listen-address", "", "listen address; overrides server.listen_address")
	fs.StringVar(&f.storagePath, "storage.path", "data", "directory for the disk queue and checkpoints (created if missing)")
	fs.DurationVar(&f.checkpointEvery, "storage.checkpoint-interval", 30*time.Second,
		"how often the aggregation state (open windows, counter baselines, dedup state) is saved\n"+
			"to --storage.path/checkpoint, and restored at the next start; also saved at shutdown.\n"+
			"After a crash, samples received since the last checkpoint are lost from open windows.\n"+
			"0: no checkpoints; state is lost on restart and shutdown emits open windows early")
	fs.DurationVar(&f.shutdownTimeout, "shutdown.timeout", 30*time.Second, "how long shutdown may take to flush windows and drain remote write queues")
	fs.StringVar(&f.logLevel, "log.level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log.format", "logfmt", "logfmt or json")
	fs.BoolVar(&f.enablePprof, "web.enable-pprof", false,
		"serve Go profiles (net/http/pprof) under /debug/pprof/ on the listen address, e.g.\n"+
			"go tool pprof http://ADDR/debug/pprof/profile?seconds=30; off by default: profiles\n"+
			"expose internals and cost CPU while they are taken")
	fs.StringVar(&f.memoryLimit, "memory.limit", memoryLimitAuto,
		"soft memory limit of the Go runtime (debug.SetMemoryLimit): the GC works harder as the\n"+
			"heap nears it instead of letting it grow past. auto: 90% of the cgroup memory limit\n"+
			"if there is one, unless GOMEMLIMIT is set; off: none; a size (2GiB, 1500MB); or a\n"+
			"share of the cgroup limit or physical memory (75%). A soft limit: it makes the GC\n"+
			"collect garbage sooner, it cannot make live data smaller")
	fs.IntVar(&f.gcPercent, "memory.gc-percent", 0,
		"garbage collection target (debug.SetGCPercent): the heap may grow this many percent over\n"+
			"live data before the GC runs. 0: GOGC if set, else 50 — aggregation state is mostly\n"+
			"pointer-free, so collecting more often costs little CPU and saves memory; -1: off")
	fs.IntVar(&f.routeCache, "route-cache.series", defaultRouteCacheSeries,
		"input series whose routes through the aggregations are remembered, so that a series\n"+
			"pushed again skips matching, grouping and the group lookup (128 bytes each: the\n"+
			"default takes 16 MiB, used as series arrive). More series than this still work, those\n"+
			"that do not fit at the cost of a lookup; 0: off")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "premetrics:", err)
		return 2
	}
	memLimit, err := resolveMemoryLimit(f.memoryLimit, os.DirFS("/"), os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "premetrics:", err)
		return 2
	}
	if memLimit.bytes > 0 {
		debug.SetMemoryLimit(memLimit.bytes)
	}
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		log.Info("go runtime memory limit", "bytes", limit, "source", memLimit.source)
	} else {
		log.Info("no go runtime memory limit", "source", memLimit.source)
	}
	gcPercent, gcSource := resolveGCPercent(f.gcPercent, os.Getenv)
	if gcSource != "GOGC" {
		debug.SetGCPercent(gcPercent)
	}
	log.Info("go garbage collection target", "percent", gcPercent, "source", gcSource)
	if err := run(f, log); err != nil {
		log.Error("premetrics stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "logfmt":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log.format: want logfmt or json, got %q", format)
}

// mqttStartTimeout bounds how long startup waits for a required MQTT
// broker.
const mqttStartTimeout = 30 * time.Second

// run starts sinks first and sources last, and stops in the reverse order:
// stop accepting requests, flush windows whose end has passed, drain the
// remote write queues within the shutdown timeout.
func run(f runFlags, log *slog.Logger) error {
	cfg, err := config.LoadFile(f.configFile)
	if err != nil {
		return err
	}
	if f.listenAddress != "" {
		cfg.Server.ListenAddress = f.listenAddress
	}
	if err := os.MkdirAll(f.storagePath, 0o755); err != nil {
		return fmt.Errorf("cannot create --storage.path: %w", err)
	}
	obs := newObservability(log)
	c, err := compile(cfg, obs)
	if err != nil {
		return err
	}
	// What premetrics check rejects does not start either: a derive record
	// whose inputs never close together, an alert on a label the pipeline
	// drops.
	if err := checkPipeline(cfg); err != nil {
		return fmt.Errorf("%s", invalidConfig(f.configFile, err))
	}
	defer obs.stopAllEnrich() // enrichment refresh loops end after the last Ingest
	if err := obs.startEnrich(c.enrich); err != nil {
		return err // a required enrichment table could not be loaded
	}
	if f.routeCache < 0 {
		return fmt.Errorf("--route-cache.series must be >= 0, got %d", f.routeCache)
	}
	c.pipeline.EnableRouteCache(2*f.routeCache, pipeline.NewRouteCacheMetrics(obs.reg)) // two lines a series: see package routecache
	if f.checkpointEvery > 0 {
		c.pipeline.EnableCheckpoints(pipeline.Checkpoints{
			Dir:      filepath.Join(f.storagePath, "checkpoint"),
			Interval: f.checkpointEvery,
			Metrics:  pipeline.NewCheckpointMetrics(obs.reg),
		})
		c.pipeline.Restore(time.Now())
	}

	for _, q := range c.queues {
		q.Start()
	}
	flushCtx, stopFlushing := context.WithCancel(context.Background())
	flushDone := make(chan struct{})
	go func() {
		defer close(flushDone)
		c.pipeline.Run(flushCtx)
	}()

	var ready atomic.Bool
	rl := newReloader(f, cfg, c, obs, log.With("component", "reload"))
	mux := newMux(cfg, c, obs, log, &ready, rl, f.enablePprof)
	ln, err := net.Listen("tcp", cfg.Server.ListenAddress)
	if err != nil {
		stopFlushing()
		<-flushDone
		return fmt.Errorf("cannot listen on %s: %w", cfg.Server.ListenAddress, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	// Sources last: an MQTT input with required: true gets mqttStartTimeout
	// to connect before startup fails.
	startCtx, cancelStart := context.WithTimeout(flushCtx, mqttStartTimeout)
	for i, s := range c.mqtt {
		if err := s.Start(startCtx); err != nil {
			cancelStart()
			for _, started := range c.mqtt[:i] {
				_ = started.Stop(context.Background())
			}
			_ = srv.Close()
			stopFlushing()
			<-flushDone
			return err
		}
	}
	cancelStart()
	ready.Store(true)
	log.Info("premetrics started", "version", version, "listen_address", ln.Addr().String(),
		"aggregations", len(cfg.Aggregations), "remote_write", len(cfg.RemoteWrite))

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	var runErr error
wait:
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				_ = rl.reload() // logged; the running config stays on error
				continue
			}
			log.Info("shutting down", "signal", sig.String())
			break wait
		case err := <-serveErr:
			runErr = fmt.Errorf("http server failed: %w", err)
			break wait
		}
	}

	ready.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	for _, s := range c.mqtt {
		if err := s.Stop(ctx); err != nil {
			log.Warn("MQTT input did not stop cleanly", "err", err)
		}
	}
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http server did not stop cleanly", "err", err)
	}
	c = rl.current().c // no reload runs after srv.Shutdown
	stopFlushing()
	<-flushDone
	if err := c.pipeline.Shutdown(ctx, time.Now()); err != nil {
		log.Error("aggregation state not saved: open windows are lost", "err", err)
	}
	for _, q := range c.queues {
		if err := q.Stop(ctx); err != nil {
			log.Warn("remote write queue not fully drained", "err", err)
		}
	}
	log.Info("premetrics stopped")
	return runErr
}

// newMux returns the daemon's HTTP handler: ingest, self metrics, health,
// readiness, reload and, with enablePprof, the Go profiles.
func newMux(cfg *config.Config, c *components, obs *observability, log *slog.Logger, ready *atomic.Bool, rl *reloader, enablePprof bool) *http.ServeMux {
	mux := http.NewServeMux()
	ingest.Register(mux, cfg.Server, c.inputs, c.pipeline, obs.ingest, log.With("component", "ingest"))
	mux.Handle("/metrics", promhttp.HandlerFor(obs.reg, promhttp.HandlerOpts{Registry: obs.reg}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "premetrics is healthy.")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "premetrics is not ready.", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "premetrics is ready.")
	})
	if rl != nil {
		mux.HandleFunc("/-/reload", rl.reloadHandler)
	}
	if enablePprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index) // heap, allocs, goroutine, mutex, block, ...
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}
