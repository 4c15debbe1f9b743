package command

import (
	"flag"

	"medispatcher/loadgen/farm"
)

// profileFlags are the subscriber behaviour flags `run` and `farm` share.
type profileFlags struct {
	latency    farm.Dist
	errorRatio float64
	errorKind  string
	file       string
}

func (p *profileFlags) register(fs *flag.FlagSet) {
	fs.Var(&p.latency, "latency", "subscriber latency: fixed:D, uniform:MIN:MAX or longtail:SCALE:CAP")
	fs.Float64Var(&p.errorRatio, "error-ratio", 0, "share of pushes answered with a failure")
	fs.StringVar(&p.errorKind, "error-kind", "500", "failure kind: 500, status0 or timeout")
	fs.StringVar(&p.file, "profiles", "", "TOML file of [[class]] tables (name, topics, latency, error_ratio, ...); overrides --topics and the flags above")
}

func (p *profileFlags) profile() farm.Profile {
	return farm.Profile{Name: "default", Latency: p.latency, ErrorRatio: p.errorRatio, ErrorKind: farm.ErrorKind(p.errorKind)}
}
