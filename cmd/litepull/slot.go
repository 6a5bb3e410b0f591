package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/litepull/litepull"
)

// slotAbout is the slot command's help: why a slot must not be forgotten.
const slotAbout = `A source with changes: logical streams through a replication slot and a
publication at the source, both made by the first run. The slot keeps the
source's write-ahead log from where litepull last confirmed: a slot nobody
reads any more (litepull stopped for good, the source taken out of the
config or switched to polling) keeps WAL until the source's disk is full.
"slot drop" removes the slot and the publication. It does not write the
replica and takes no lock: stop litepull serve first if it streams from the
slot. If litepull streams the source again later, its tables in the replica
are copied again from a new slot on the next run.`

func runSlot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("slot drop", flag.ContinueOnError)
	config := fs.String("config", "", "the config `file` (YAML)")
	source := fs.String("source", "", "the `id` of the source (changes: logical) whose slot and publication to drop")
	slot := fs.String("slot", "", "the slot's `name`, for a source that streamed before and polls now (default: the config's)")
	pub := fs.String("publication", "", "the publication's `name`, likewise (default: the config's, or the slot's name)")
	switch {
	case len(args) > 0 && args[0] == "drop":
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
	case len(args) == 0 || strings.HasPrefix(args[0], "-"):
		if err := parseFlags(fs, args); err != nil {
			return err // -h: the help
		}
		return usageErrorf("say what to do with the slot: litepull slot drop -config FILE -source ID")
	default:
		return usageErrorf("unknown slot subcommand %q: want drop", args[0])
	}
	if *config == "" || *source == "" {
		return usageErrorf("-config and -source are required")
	}
	cfg, err := litepull.LoadConfig(*config)
	if err != nil {
		return err
	}
	sc, err := streamedSource(cfg, *source, *slot, *pub)
	if err != nil {
		return err
	}
	open, ok := sourceKinds[sc.Kind]
	if !ok {
		return fmt.Errorf("source %s: unknown kind %q (one of %s)", sc.ID, sc.Kind, kindNames())
	}
	src, err := open(sc)
	if err != nil {
		return fmt.Errorf("open source %s: %w", sc.ID, err)
	}
	defer src.Close()
	return dropSlot(ctx, sc, src, stdout, newLogger(stderr, false))
}

// streamedSource is the config's source id, with the slot and publication
// to drop: the config's, unless named. A source that polls its tables
// now (it may have streamed before, and left its slot behind) needs the
// slot named.
func streamedSource(cfg *litepull.Config, id, slot, pub string) (litepull.SourceConfig, error) {
	var ids []string
	for _, sc := range cfg.Sources {
		if sc.ID != id {
			ids = append(ids, sc.ID)
			continue
		}
		if sc.Changes == litepull.ChangesBinlog {
			return sc, fmt.Errorf("source %s reads the binlog (changes: binlog), which holds no slot: there is nothing to drop, and nothing kept at the source for litepull", id)
		}
		if sc.Changes != litepull.ChangesLogical && (slot == "" || sc.Kind != "postgres") {
			return sc, fmt.Errorf("source %s has no slot to drop: it polls its tables by cursor (only a source with changes: logical streams through a slot); "+
				"if it streamed before, its slot may still keep WAL at the source: name it with -slot (and -publication; both were %s unless the config named them)",
				id, sc.ChangeOptions(nil).Slot)
		}
		if slot != "" {
			sc.Slot, sc.Publication = slot, cmp.Or(pub, slot)
		} else if pub != "" {
			sc.Publication = pub
		}
		return sc, nil
	}
	return litepull.SourceConfig{}, fmt.Errorf("no source %q in the config (it has %s); to drop the slot of a source taken out of the config, "+
		"put it back for this command, or at the source: SELECT pg_drop_replication_slot('SLOT'); DROP PUBLICATION PUBLICATION", id, strings.Join(ids, ", "))
}

// dropSlot removes the source's slot and publication and says so.
func dropSlot(ctx context.Context, sc litepull.SourceConfig, src litepull.Source, stdout io.Writer, logger *slog.Logger) error {
	cs, ok := src.(litepull.ChangeSource)
	if !ok {
		return fmt.Errorf("source %s (%s) cannot stream its changes, so it has no slot to drop", sc.ID, sc.Kind)
	}
	opts := sc.ChangeOptions(nil)
	opts.Logger = logger // says so if it waits for a slot a stopped litepull's walsender holds
	if err := cs.DropChanges(ctx, opts); err != nil {
		return fmt.Errorf("drop slot %s and publication %s of source %s (if litepull serve streams from it, stop it first): %w",
			opts.Slot, opts.Publication, sc.ID, err)
	}
	fmt.Fprintf(stdout, "dropped replication slot %s and publication %s of source %s (either may have been absent already): the source keeps no WAL for litepull any more\n",
		opts.Slot, opts.Publication, sc.ID)
	fmt.Fprintf(stdout, "the replica is unchanged: its streamed tables of %s are copied again, from a new slot, on the next run (litepull run or serve)\n", sc.ID)
	return nil
}
