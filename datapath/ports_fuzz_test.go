package datapath

import "testing"

// FuzzPortsState: any engine ports state decodes or is an error.
func FuzzPortsState(f *testing.F) {
	f.Add([]byte(`{"version":1,"ports":[{"interface":"e0","group":{"interface":"e0","index":3,"sockets":[{"ring":true,"block_size":262144,"blocks":16,"cur":3,"batch":64,"receiver":true}]},"sender":{"batch":64}}]}`), 2)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		decodePorts(data, n)
	})
}
