// Package lazyfs is a FUSE filesystem that forgets what was not fsynced:
// a power-loss simulator for any program that keeps its data in a
// directory. Mount passes a mount point through to a backing directory;
// Lose puts the backing directory back to exactly what was made durable,
// as a machine that lost power would find its disk.
//
// # The model
//
// Following Jepsen's lazyfs, the filesystem drops every un-fsynced change
// (strict POSIX, no journalling filesystem's kindness):
//
//   - File contents and size (write, truncate, fallocate) are durable once
//     the file is fsynced: fsync and fdatasync through any handle of the
//     file count alike (no timestamps are modelled, so they differ in
//     nothing this filesystem keeps). A write through a handle opened with
//     O_SYNC or O_DSYNC counts as the write followed by an fsync of the
//     file (the kernel sends that fsync itself; the handle's flag is
//     honoured too). That makes earlier writes to the file durable with
//     it, which is more than POSIX promises for O_DSYNC: the filesystem
//     may lose less than a disk could, never more.
//   - Names (create, mkdir, mknod, symlink, link, unlink, rmdir, rename)
//     are durable once their directory is fsynced (open the directory,
//     fsync the descriptor). A rename is durable once both its
//     directories are. A file's own fsync does not make its name durable:
//     a file created and fsynced in a directory that is never fsynced
//     vanishes, contents and all.
//   - sync_file_range never reaches a FUSE filesystem and promises no
//     durability anyway: it counts as nothing. sync(2) and syncfs(2) do
//     not reach it either (go-fuse has no SYNCFS): they count as nothing,
//     so a program that relies on syncfs alone loses data here that a
//     disk would keep. Say so in a finding before blaming the program.
//   - Modes, owners and times pass through and are not modelled.
//     Extended attributes are not offered (ENOSYS): otherwise the kernel
//     asks for security.capability before every write, a third of the
//     requests of an append-and-fsync workload.
//
// Options.KeepNames makes every change of names durable at once, so that
// Lose drops only un-fsynced contents: the model of Jepsen's lazyfs, and
// close to ext4 and xfs for a program that fsyncs its files but not their
// directories (there a file's fsync commits the journal that holds its
// name). nats-server is such a program (harness.Test.PowerKeepsNames).
//
// Lose drops everything not durable. LoseTorn keeps, per file, a random
// prefix of the un-fsynced writes in the order they were made (the last
// kept write possibly cut short), as a disk that wrote some of its queue
// before the power went; names are lost as with Lose.
//
// # Why an undo log, not a buffer of pending writes
//
// The filesystem writes every change through to the backing directory at
// once and keeps, in its own memory, what is needed to undo it: the bytes
// a write or truncate overwrote and the file's former size; for a removed
// or replaced name, the file itself, moved (renamed or hard-linked) into a
// trash directory next to the backing directory instead of deleted. An
// fsync forgets the file's undo records; a directory's fsync forgets its
// names' records and empties their trash. Lose applies what is left, newest
// first.
//
// The other design, holding un-fsynced writes in memory and writing them
// out at fsync, makes every read, stat, directory listing and mmap merge
// the pending state with the backing file. The undo log leaves the backing
// directory always current, so all of those are plain loopback, and the
// cost of a power loss is paid at Lose, which is rare. Appends, the common
// write of logs and journals, cost only the former size. The un-fsynced
// state is still held by the filesystem process alone, which is what makes
// it possible to drop: if that process dies, Lose cannot be applied and
// the backing directory keeps the un-fsynced data (a power fault then
// fails loudly; it never loses more than it should).
//
// The undo is exact when programs fsync files and directories before they
// rely on them, which is what the model asks of them. A later change made
// durable on top of an earlier one that was not (a file written into a
// directory whose own creation was never fsynced in its parent) is undone
// as a disk would lose it: the directory goes, with what it held.
//
// # What the kernel is told
//
// FUSE passthrough is off (every write must reach the filesystem to be
// recorded), copy_file_range is refused (the kernel then copies through
// read and write), and the kernel caches no entries or attributes, so
// that after Lose it sees the backing directory as it is. A program that
// opens a file after Lose reads what is on the backing file: FUSE drops a
// file's cached pages at open.
//
// # Mounts left behind
//
// Every mount is named faultline-lazyfs in /proc/self/mountinfo (type
// fuse.faultline-lazyfs) with its owner's pid and start time as its
// source. Reap lazily unmounts the mounts whose owner is gone, and only
// those, so a harness that died leaves nothing mounted after the next
// start, and a live run's mounts are never touched.
package lazyfs
