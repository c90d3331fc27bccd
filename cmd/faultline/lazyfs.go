package main

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/lazyfs"
)

func newLazyFSCmd() *cobra.Command {
	var torn bool
	var seed uint64
	cmd := &cobra.Command{
		Use:   "lazyfs <backing-dir> <mount-point>",
		Short: "Mount a filesystem that loses un-fsynced writes on demand (power loss by hand)",
		Long: `lazyfs mounts <mount-point> as a FUSE filesystem passing through to
<backing-dir>, and holds until interrupted. Run any program on the mount
point; then SIGKILL it, send lazyfs SIGUSR1 to lose every change that was
not fsynced (as a power loss would; with --torn, each file keeps a random
prefix of its un-fsynced writes), and start the program again on what is
left. SIGINT or SIGTERM unmount and exit; the backing directory keeps
whatever is there. It needs /dev/fuse and root (or fusermount3). A mount
left behind by a lazyfs that was killed is unmounted by the next lazyfs
or faultline run.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			if done, err := lazyfs.Reap(""); err != nil {
				return err
			} else if len(done) > 0 {
				log.Info("unmounted stale lazyfs mounts", "mounts", done)
			}
			fs, err := lazyfs.Mount(args[0], args[1], lazyfs.Options{AllowOther: os.Geteuid() == 0})
			if err != nil {
				return err
			}
			defer fs.Unmount()
			sig := make(chan os.Signal, 4)
			signal.Notify(sig, syscall.SIGUSR1, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sig)
			r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
			log.Info("mounted; SIGUSR1 loses un-fsynced changes, SIGINT unmounts", "mount", fs.Mountpoint(), "backing", fs.Backing(), "pid", os.Getpid())
			for s := range sig {
				if s != syscall.SIGUSR1 {
					log.Info("unmounting", "signal", s.String())
					return fs.Unmount()
				}
				held := fs.Stats()
				if torn {
					err = fs.LoseTorn(r)
				} else {
					err = fs.Lose()
				}
				if err != nil {
					log.Error("lose", "err", err)
					continue
				}
				log.Info("lost un-fsynced changes", "files", held.Files, "writes", held.Writes, "names", held.Names, "torn", torn)
			}
			return fmt.Errorf("lazyfs: signal channel closed")
		},
	}
	cmd.Flags().BoolVar(&torn, "torn", false, "keep a random prefix of each file's un-fsynced writes")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the torn prefixes")
	return cmd
}
