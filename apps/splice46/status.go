package splice46

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/sixgate/sixgate/proxy46"
)

// StatusHandler serves the live connections: one line each, the way
// `conntrack -L` prints them, or JSON with ?format=json.
func (a *App) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conns := a.Engine().Connections()
		sort.Slice(conns, func(i, j int) bool { return conns[i].Age > conns[j].Age })
		if r.URL.Query().Get("format") == "json" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(conns)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		WriteConnections(w, conns)
	})
}

// WriteConnections prints connections one per line.
func WriteConnections(w io.Writer, conns []proxy46.ConnInfo) {
	for _, c := range conns {
		fmt.Fprintf(w, "tcp %-12s src=%s sport=%d dst=%s dport=%d",
			c.State, c.Client.Addr(), c.Client.Port(), c.VIP.Addr(), c.VIP.Port())
		if c.Backend.IsValid() {
			fmt.Fprintf(w, " src6=%s sport6=%d backend=%s", c.Client6.Addr(), c.Client6.Port(), c.Backend)
		}
		fmt.Fprintf(w, " packets=%d/%d bytes=%d/%d held=%d age=%s idle=%s",
			c.PacketsToBackend, c.PacketsToClient, c.BytesToBackend, c.BytesToClient, c.Held,
			c.Age.Truncate(time.Millisecond), c.Idle.Truncate(time.Millisecond))
		if c.Drain > 0 {
			fmt.Fprintf(w, " drain=%s", c.Drain.Truncate(time.Millisecond))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "sixgate: %d spliced connections\n", len(conns))
}
