package litepull

import (
	"context"
	"time"
)

// maxLagSamples bounds the samples a stream keeps to date positions.
const maxLagSamples = 256

// posSample says the source stood at pos at time at.
type posSample struct {
	pos Position
	at  time.Time
}

// lagClock dates stream positions by when the source reached them, from
// samples of its position taken as the stream goes: a position is dated
// by the first sample that stood past it. Positions compare only through
// includes (ChangeStream.Includes).
type lagClock struct {
	includes func(at, commit Position) bool
	samples  []posSample // ascending
}

// add records that the source stood at pos at time at.
func (c *lagClock) add(pos Position, at time.Time) {
	if n := len(c.samples); n > 0 && !c.includes(pos, c.samples[n-1].pos) {
		return // not past the last: it dates the positions before it sooner
	}
	if len(c.samples) == maxLagSamples { // keep every other one: coarser, as long
		for i := 1; i < len(c.samples)/2; i++ {
			c.samples[i] = c.samples[2*i]
		}
		c.samples = c.samples[:len(c.samples)/2]
	}
	c.samples = append(c.samples, posSample{pos, at})
}

// since is when the source first stood past through, the position the
// replica holds everything before: the date of the oldest change the
// replica lacks, or zero when it holds all the source had at the last
// sample. Before the first sample that stood past through, the source
// reached it at some time before that sample, after last (the source's
// commit time of the last transaction applied, when known).
func (c *lagClock) since(through Position, last time.Time) time.Time {
	for len(c.samples) > 1 && !c.includes(c.samples[1].pos, through) {
		c.samples = c.samples[1:] // no longer needed to date what is to come
	}
	switch {
	case len(c.samples) == 0 || !c.includes(c.samples[len(c.samples)-1].pos, through):
		return time.Time{}
	case !c.includes(c.samples[0].pos, through):
		return c.samples[1].at
	case !last.IsZero() && last.Before(c.samples[0].at):
		return last
	}
	return c.samples[0].at
}

// behindSince is the date of the oldest source change the replica's
// readers do not see; zero when there is none. That is the first source
// transaction in the open replica transaction, or else the source
// transaction being read (their commit times), or else the first change
// past where the stream stands, dated by the source's samples.
func (s *streamRun) behindSince() time.Time {
	switch {
	case s.tx != nil && !s.txFirstTs.IsZero():
		return s.txFirstTs
	case s.inTx && !s.beginTs.IsZero() && !s.cs.Includes(s.pos, s.begin):
		return s.beginTs
	}
	return s.lag.since(s.through, s.commitTs)
}

// passed notes that the replica's readers see every source transaction
// before pos, when nothing is left uncommitted before it, and publishes
// the lag.
func (s *streamRun) passed(pos Position) {
	if s.tx == nil && s.cs.Includes(pos, s.through) {
		s.through = pos
	}
	s.publishLag()
}

// sampleLag samples the source's position every lagSampleEvery, and
// publishes the stream's lag when it changed.
func (s *streamRun) sampleLag(ctx context.Context) {
	if time.Since(s.sampledAt) >= lagSampleEvery {
		s.sampledAt = time.Now()
		if cur, err := s.samplePosition(ctx); err == nil {
			s.lag.add(cur, s.sampledAt)
		} else if ctx.Err() == nil {
			s.log.Debug("sample the source's position for the stream's lag", LogKeyError, err)
		}
	}
	s.publishLag()
}

// publishLag publishes when the replica fell behind, if that changed.
func (s *streamRun) publishLag() {
	since := s.behindSince()
	if since.Equal(s.published) {
		return
	}
	s.published = since
	s.e.mu.Lock()
	si := s.e.streams[s.bs.Config.ID]
	si.behind = since
	s.setStream(si)
	s.e.mu.Unlock()
}

// setStream stores a source's stream info; s.e.mu is held.
func (s *streamRun) setStream(si StreamInfo) {
	if s.e.streams == nil {
		s.e.streams = map[string]StreamInfo{}
	}
	si.SourceID = s.bs.Config.ID
	s.e.streams[s.bs.Config.ID] = si
}

// endLag marks, when a session ends (or fails to open), that the replica
// lacks whatever the source commits from now on: its lag grows until a
// session catches up again.
func (s *streamRun) endLag() {
	s.e.mu.Lock()
	if si, ok := s.e.streams[s.bs.Config.ID]; ok && si.behind.IsZero() {
		si.behind = time.Now()
		s.setStream(si)
	}
	s.e.mu.Unlock()
}

// samplePosition reads the source's current position the cheapest way
// the stream offers.
func (s *streamRun) samplePosition(ctx context.Context) (Position, error) {
	if ps, ok := s.cs.(PositionSampler); ok {
		return ps.SamplePosition(ctx)
	}
	return s.cs.Current(ctx)
}
