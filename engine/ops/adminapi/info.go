package adminapi

import "time"

// Info is the answer of GET /info: what runs, since when, with which
// configuration (no secrets).
type Info struct {
	Version       string       `json:"version"`
	BuildTime     string       `json:"build_time"`
	GitHash       string       `json:"git_hash"`
	Started       time.Time    `json:"started"`
	UptimeS       float64      `json:"uptime_s"`
	Config        string       `json:"config"`
	Servers       []ServerInfo `json:"servers"`
	MainTube      string       `json:"main_tube"`
	ChannelPrefix string       `json:"channel_prefix"`
	Source        string       `json:"subscription_source"`
	Subscriptions int          `json:"subscriptions"`
	// Paused says why the main tube is not being dispatched (no
	// subscription loaded: a missing file, an empty Redis hash); "" = it is.
	Paused       string    `json:"main_tube_paused,omitempty"`
	Redis        RedisInfo `json:"redis"`
	LogDir       string    `json:"log_dir"`
	ReceptionEnv string    `json:"reception_env"`
	RunAtBench   bool      `json:"run_at_bench"`
	Endpoints    Endpoints `json:"endpoints"`
}

// ServerInfo is one beanstalkd server.
type ServerInfo struct {
	Addr    string `json:"addr"`
	Healthy bool   `json:"healthy"`
}

// RedisInfo says where Redis is and whether it is connected.
type RedisInfo struct {
	Addr      string `json:"addr"`
	Connected bool   `json:"connected"`
}

// Endpoints are the daemon's listening addresses ("" = off).
type Endpoints struct {
	Admin      string `json:"admin"`
	Statistics string `json:"statistics"`
	Metrics    string `json:"metrics"`
	Debug      string `json:"debug"`
}
