package haproxy

import (
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
)

// Server is one server of a backend as HAProxy sees it, joined from `show servers
// state` (administrative and operational state) and `show stat` (sessions, checks).
type Server struct {
	Name    string
	Address string // host:port HAProxy sends traffic to
	Admin   AdminState
	// Up is HAProxy's operational state. A server in maintenance is never up.
	Up bool
	// Checked says HAProxy health-checks the server (check configured and enabled).
	Checked bool
	// CheckStatus, CheckDesc and LastCheck are HAProxy's words for the last check
	// (L7OK, "Layer7 check passed", "HTTP status check returned code <503>").
	CheckStatus, CheckDesc, LastCheck string
	// Sessions is scur: the sessions the server holds now, WebSockets included.
	Sessions int
	// Queued is qcur: requests waiting for a connection to the server.
	Queued        int
	Weight        int // the weight set by configuration or `set server ... weight`
	InitialWeight int // the weight of the configuration
}

// Admin state bits of srv_admin_state (management.txt, "show servers state").
const (
	admForcedMaint     = 0x01
	admInheritedMaint  = 0x02
	admConfigMaint     = 0x04
	admForcedDrain     = 0x08
	admInheritedDrain  = 0x10
	admResolutionMaint = 0x20
)

// Check state bits of srv_check_state.
const (
	chkConfigured = 0x02
	chkEnabled    = 0x04
)

// Operational states of srv_op_state.
const (
	opStarting = 1
	opRunning  = 2
)

// Servers lists the servers of a backend, in HAProxy's order.
func (c *Client) Servers(ctx context.Context, backend string) ([]Server, error) {
	if err := checkNames(backend); err != nil {
		return nil, err
	}
	states, err := c.serversState(ctx, backend)
	if err != nil {
		return nil, err
	}
	stats, err := c.serverStats(ctx, "", backend)
	if err != nil {
		return nil, err
	}
	leaving, err := c.leavingSessions(ctx, backend)
	if err != nil {
		return nil, err
	}
	out := make([]Server, 0, len(states))
	for _, st := range states {
		s := Server{Name: st["srv_name"], Address: st["srv_addr"]}
		if port := st["srv_port"]; port != "" && port != "0" {
			s.Address = s.Address + ":" + port
			if strings.Contains(st["srv_addr"], ":") {
				s.Address = "[" + st["srv_addr"] + "]:" + port
			}
		}
		admin, err := atoi(st, "srv_admin_state")
		if err != nil {
			return nil, err
		}
		switch {
		case admin&(admForcedMaint|admInheritedMaint|admConfigMaint|admResolutionMaint) != 0:
			s.Admin = StateMaint
		case admin&(admForcedDrain|admInheritedDrain) != 0:
			s.Admin = StateDrain
		default:
			s.Admin = StateReady
		}
		op, err := atoi(st, "srv_op_state")
		if err != nil {
			return nil, err
		}
		s.Up = s.Admin != StateMaint && (op == opRunning || op == opStarting)
		check, err := atoi(st, "srv_check_state")
		if err != nil {
			return nil, err
		}
		s.Checked = check&(chkConfigured|chkEnabled) == chkConfigured|chkEnabled
		if s.Weight, err = atoi(st, "srv_uweight"); err != nil {
			return nil, err
		}
		if s.InitialWeight, err = atoi(st, "srv_iweight"); err != nil {
			return nil, err
		}
		// A server removed between the two commands has no stats: it is gone.
		stat, ok := stats[s.Name]
		if !ok {
			continue
		}
		// "* " marks a check in progress; the status is still the last one's.
		s.CheckStatus = strings.TrimPrefix(stat["check_status"], "* ")
		s.CheckDesc, s.LastCheck = stat["check_desc"], stat["last_chk"]
		if s.Sessions, err = atoi(stat, "scur"); err != nil {
			return nil, err
		}
		if s.Queued, err = atoi(stat, "qcur"); err != nil {
			return nil, err
		}
		s.Sessions += leaving[s.Name]
		out = append(out, s)
	}
	return out, nil
}

// leavingSessions counts, through the master CLI, the sessions (scur + qcur) per
// server that old workers still hold after a reload: the new worker's stats do not
// show them, and a drain is not over while they last. Through a stats socket there is
// no way to reach old workers: nil. A worker that ends while it is asked holds nothing.
func (c *Client) leavingSessions(ctx context.Context, backend string) (map[string]int, error) {
	master, err := c.IsMaster(ctx)
	if err != nil || !master {
		return nil, err
	}
	pids, err := c.OldWorkers(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, pid := range pids {
		stats, err := c.serverStats(ctx, fmt.Sprintf("@!%d ", pid), backend)
		if err != nil {
			continue
		}
		for name, row := range stats {
			scur, _ := atoi(row, "scur")
			qcur, _ := atoi(row, "qcur")
			out[name] += scur + qcur
		}
	}
	return out, nil
}

// serversState parses `show servers state <backend>`: a format version line, a header
// line starting with '#', then one line of space-separated fields per server.
func (c *Client) serversState(ctx context.Context, backend string) ([]map[string]string, error) {
	cmd := "show servers state " + backend
	out, err := c.run(ctx, cmd)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 2 || lines[0] != "1" || !strings.HasPrefix(lines[1], "# ") {
		return nil, &RuntimeError{Command: cmd, Reply: strings.TrimSpace(out)}
	}
	header := strings.Fields(strings.TrimPrefix(lines[1], "# "))
	var rows []map[string]string
	for _, line := range lines[2:] {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < len(header) {
			return nil, fmt.Errorf("%s: a line has %d fields, the header %d: %q", cmd, len(f), len(header), line)
		}
		row := make(map[string]string, len(header))
		for i, h := range header {
			row[h] = f[i]
		}
		if row["be_name"] == backend {
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// serverStats parses `show stat <backend> 4 -1` (servers only) by server name, from
// the serving worker, or from the process a master CLI prefix ("@!<pid> ") names.
func (c *Client) serverStats(ctx context.Context, prefix, backend string) (map[string]map[string]string, error) {
	cmd := "show stat " + backend + " 4 -1"
	var out string
	var err error
	if prefix == "" {
		out, err = c.run(ctx, cmd)
	} else {
		out, err = c.Exec(ctx, prefix+cmd)
	}
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(out, "# pxname,") {
		return nil, &RuntimeError{Command: cmd, Reply: strings.TrimSpace(out)}
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	records, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	header := records[0]
	byName := map[string]map[string]string{}
	for _, rec := range records[1:] {
		row := make(map[string]string, len(header))
		for i, h := range header {
			if i < len(rec) {
				row[h] = rec[i]
			}
		}
		if row["pxname"] == backend && row["svname"] != "BACKEND" && row["svname"] != "FRONTEND" {
			byName[row["svname"]] = row
		}
	}
	return byName, nil
}

func atoi(row map[string]string, field string) (int, error) {
	v := row[field]
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("haproxy field %s is %q, not a number", field, v)
	}
	return n, nil
}

// Healthy is HAProxy's verdict: up, and its last health check passed. HAProxy starts
// servers up before it has checked them (they must fail "fall" checks to go down), so
// being up is not enough where there is a check: a check must have passed.
func (s Server) Healthy() bool {
	if !s.Up {
		return false
	}
	if !s.Checked {
		return true
	}
	switch s.CheckStatus {
	case "L4OK", "L6OK", "L7OK", "L7OKC":
		return true
	}
	return false
}
