package loadgen

import (
	"fmt"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/loadgen/farm"
)

// Topic is one topic of the run.
type Topic struct {
	Index int    // 0-based, the producer's round-robin position
	Name  string // "lg.t0001"
	Class int
	Subs  []int64 // subscription ids
}

// Plan is the run's topics and subscriptions.
type Plan struct {
	Topics []Topic
	Subs   []*subs.Subscription // in id order
	subCls map[int64]int        // subscription id → class
}

// TopicName is the name of topic index i.
func TopicName(i int) string { return fmt.Sprintf("lg.t%04d", i+1) }

// NewPlan lays out the topics of cfg's classes in order and gives each its
// subscriptions, ids counting up from cfg.FirstSubID, pushing to f.
func NewPlan(cfg *Config, f *farm.Farm) *Plan {
	p := &Plan{subCls: map[int64]int{}}
	id := cfg.FirstSubID
	for ci, cl := range cfg.Classes {
		fc := f.ClassIndex(cl.Name)
		for range cl.Topics {
			t := Topic{Index: len(p.Topics), Name: TopicName(len(p.Topics)), Class: ci}
			for range cl.SubsPerTopic {
				t.Subs = append(t.Subs, id)
				p.subCls[id] = ci
				p.Subs = append(p.Subs, &subs.Subscription{
					ID:           id,
					Topic:        t.Name,
					SubscriberID: id,
					URL:          f.URL(id, t.Index, fc),
					TimeoutMS:    cl.TimeoutMS,
					Concurrency:  cl.Concurrency,
					Rate:         cl.RateLimit,
					Burst:        cl.Burst,
					ReceiveBench: true,
				})
				id++
			}
			p.Topics = append(p.Topics, t)
		}
	}
	return p
}

// ClassOf returns the class of subscription id.
func (p *Plan) ClassOf(id int64) int { return p.subCls[id] }
